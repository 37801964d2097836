package live

import (
	"bytes"
	"encoding/binary"
	"io"
	"math"
)

// What a demuxer reads of a finished file as it opens it, besides its
// first bytes: a viewer across a link asks for both at once rather than
// for the second a round trip after the first.

// maxTopBoxes bounds the top-level boxes TrailingIndex walks: a recorder
// writes a handful (ftyp, free, mdat, moov, perhaps udta or uuid).
const maxTopBoxes = 32

// maxOggPage is the largest Ogg page (RFC 3533: a 27-byte header, 255
// lacing values, 255 segments of 255 bytes): the last page, whose
// granule position gives the file's duration, starts within this many
// bytes of the end.
const maxOggPage = 27 + 255 + 255*255

// TrailingIndex returns the bytes [off, off+n) a demuxer reads near the
// end of the file as it opens it: a plain MP4's moov when it follows the
// media data, as a recorder that could not go back to the start writes it
// (ffmpeg without faststart, OBS), and an Ogg file's last page, which
// tells its duration. ok is false for any other file: an MP4 whose moov
// comes first or is missing, another container, one it cannot read.
func TrailingIndex(r io.ReaderAt, size int64) (off, n int64, ok bool) {
	var magic [4]byte
	if _, err := r.ReadAt(magic[:], 0); err != nil {
		return 0, 0, false
	}
	if bytes.Equal(magic[:], []byte("OggS")) {
		if size <= maxOggPage {
			return 0, 0, false // all of it is the first read
		}
		return size - maxOggPage, maxOggPage, true
	}
	at, n, _, afterMedia, ok := NewScanner().findMoov(r, size)
	return at, n, ok && afterMedia
}

// findMoov walks a plain MP4's top-level boxes to its moov, and returns
// where the box starts, its size and header's length, and whether media
// data (an mdat) came before it. ok is false for a file whose walk breaks
// off (not an MP4, or cut short) or meets a moof first (fragmented), and
// for one with no moov within maxTopBoxes boxes.
func (s *Scanner) findMoov(r io.ReaderAt, size int64) (at, boxSize, hlen int64, afterMedia, ok bool) {
	for i := 0; i < maxTopBoxes && at < size; i++ {
		typ, n, h, whole, err := s.boxHeader(r, at, size)
		if err != nil || !whole || n == 0 || n > size-at {
			return 0, 0, 0, false, false
		}
		switch typ {
		case "mdat":
			afterMedia = true
		case "moov":
			return at, n, h, afterMedia, true
		case "moof":
			return 0, 0, 0, false, false
		}
		at += n
	}
	return 0, 0, 0, false, false
}

// FirstSamples returns how many bytes from the start of a plain MP4 a
// demuxer reads before it has the first sample of every track: the
// header, the moov when it comes first, and the media data up to the end
// of the last of the tracks' first samples (a demuxer reads the file in
// order). A player opening the file at its start asks for them all at
// once, where it would otherwise ask for the first bytes, and for the
// rest only once the moov told where the samples lie. ok is false for a
// file that is not a plain MP4 with a whole moov, and for a first sample
// that does not lie within size.
func FirstSamples(r io.ReaderAt, size int64) (end int64, ok bool) {
	s := NewScanner()
	at, n, hlen, _, ok := s.findMoov(r, size)
	if !ok {
		return 0, false
	}
	moov := [2]int64{at + hlen, at + n}
	var traks [][2]int64
	if err := s.eachBox(r, moov[0], moov[1], func(typ string, start, end int64) error {
		if typ == "trak" && len(traks) < 64 {
			traks = append(traks, [2]int64{start, end})
		}
		return nil
	}); err != nil || len(traks) == 0 {
		return 0, false
	}
	// A moov before the media lies before every sample, so the samples'
	// end covers it; one after the media is the trailing index, asked
	// for on its own.
	for _, t := range traks {
		sampleEnd, ok := s.firstSampleEnd(r, t[0], t[1])
		if !ok || sampleEnd > size {
			return 0, false
		}
		end = max(end, sampleEnd)
	}
	return end, end > 0
}

// firstSampleEnd is where the first sample of the trak [from, to) ends:
// the first chunk's offset (stco or co64) plus the first sample's size
// (stsz).
func (s *Scanner) firstSampleEnd(r io.ReaderAt, from, to int64) (int64, bool) {
	stbl, ok := s.path(r, from, to, "mdia", "minf", "stbl")
	if !ok {
		return 0, false
	}
	off, size := int64(-1), int64(-1)
	err := s.eachBox(r, stbl[0], stbl[1], func(typ string, start, end int64) error {
		switch typ {
		case "stco", "co64":
			w := int64(4)
			if typ == "co64" {
				w = 8
			}
			if end-start < 8+w {
				return errMalformed
			}
			b := s.scratch[:8+w]
			if err := readAt(r, b, start); err != nil {
				return err
			}
			if binary.BigEndian.Uint32(b[4:]) == 0 {
				return errMalformed
			}
			if w == 4 {
				off = int64(binary.BigEndian.Uint32(b[8:]))
			} else {
				off = int64(binary.BigEndian.Uint64(b[8:]) & math.MaxInt64)
			}
		case "stsz":
			// sample_size, or 0 and a table whose first entry is the
			// first sample's.
			if end-start < 16 {
				return errMalformed
			}
			b := s.scratch[:16]
			if err := readAt(r, b, start); err != nil {
				return err
			}
			if binary.BigEndian.Uint32(b[8:]) == 0 {
				return errMalformed
			}
			if size = int64(binary.BigEndian.Uint32(b[4:])); size == 0 {
				size = int64(binary.BigEndian.Uint32(b[12:]))
			}
		}
		return nil
	})
	if err != nil || off < 0 || size <= 0 {
		return 0, false
	}
	return off + size, true
}

// path finds the box reached from [from, to) through the child boxes
// named, and returns its payload's bounds.
func (s *Scanner) path(r io.ReaderAt, from, to int64, names ...string) ([2]int64, bool) {
	at := [2]int64{from, to}
	for _, name := range names {
		found := [2]int64{-1, -1}
		if err := s.eachBox(r, at[0], at[1], func(typ string, start, end int64) error {
			if typ == name && found[0] < 0 {
				found = [2]int64{start, end}
			}
			return nil
		}); err != nil || found[0] < 0 {
			return at, false
		}
		at = found
	}
	return at, true
}
