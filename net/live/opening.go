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
// demuxer reads before it has, of every track, the first sample its
// decoder puts out (firstSampleEnd): the header, the moov when it comes
// first, and the media data up to the end of the last of those samples
// (a demuxer reads the file in order). A player opening the file at its
// start asks for them all at once, where it would otherwise ask for the
// first bytes, and for the rest only once the moov told where the
// samples lie. ok is false for a
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

// maxOpeningSamples bounds the samples of a track counted as its first:
// the tables read for them, and what a sound's priming can ask for.
const maxOpeningSamples = 8

// firstSampleEnd is where the first sample of the trak [from, to) that a
// decoder puts out ends: for a picture its first sample, a keyframe; for
// a sound, the sample its edit list starts the presentation in, as an
// encoder's priming (AAC's 1024 samples) is cut off the first packet or
// two. The samples are located by the sample-to-chunk table (stsc), the
// chunks' offsets (stco or co64) and the samples' sizes (stsz).
func (s *Scanner) firstSampleEnd(r io.ReaderAt, from, to int64) (int64, bool) {
	mdia, ok := s.path(r, from, to, "mdia")
	if !ok {
		return 0, false
	}
	stbl, ok := s.path(r, mdia[0], mdia[1], "minf", "stbl")
	if !ok {
		return 0, false
	}
	var t sampleTables
	err := s.eachBox(r, stbl[0], stbl[1], func(typ string, start, end int64) error {
		var err error
		switch typ {
		case "stco":
			t.chunks, err = readTable(r, start, end, 4, 0, 4)
		case "co64":
			t.chunks, err = readTable(r, start, end, 8, 0, 8)
		case "stsz":
			// sample_size, or 0 and a table of each sample's.
			var b [8]byte
			if end-start < 12 {
				return errMalformed
			}
			if err := readAt(r, b[:], start+4); err != nil {
				return err
			}
			if t.size = int64(binary.BigEndian.Uint32(b[:4])); t.size == 0 {
				t.sizes, err = readTable(r, start+4, end, 4, 0, 4)
			}
		case "stsc":
			if t.firstChunks, err = readTable(r, start, end, 12, 0, 4); err == nil {
				t.perChunk, err = readTable(r, start, end, 12, 4, 4)
			}
		case "stts":
			var b [16]byte
			if end-start >= 16 && readAt(r, b[:], start) == nil && binary.BigEndian.Uint32(b[4:]) > 0 {
				t.delta = int64(binary.BigEndian.Uint32(b[12:]))
			}
		}
		return err
	})
	if err != nil {
		return 0, false
	}
	first := 0
	if s.handler(r, mdia) == "soun" && t.delta > 0 {
		if skip := s.editStart(r, from, to); skip > 0 {
			first = int(min(skip/t.delta, maxOpeningSamples-1))
		}
	}
	return t.end(first)
}

// sampleTables are the first entries of a trak's sample tables.
type sampleTables struct {
	// chunks are the chunks' offsets.
	chunks []int64
	// size is every sample's size, or 0 and sizes each one's.
	size  int64
	sizes []int64
	// firstChunks and perChunk are the sample-to-chunk entries: from
	// chunk firstChunks[i] (1-based) on, perChunk[i] samples a chunk.
	firstChunks, perChunk []int64
	// delta is the first samples' duration, 0 if unknown.
	delta int64
}

// end is where sample i (0-based) ends; ok is false when the tables read
// do not locate it.
func (t *sampleTables) end(i int) (int64, bool) {
	sizeOf := func(j int) int64 {
		if t.size > 0 {
			return t.size
		}
		if j < len(t.sizes) {
			return t.sizes[j]
		}
		return 0
	}
	perChunk := func(chunk int) int64 {
		n := int64(0)
		for k, fc := range t.firstChunks {
			if int64(chunk) >= fc && k < len(t.perChunk) {
				n = t.perChunk[k]
			}
		}
		return n
	}
	if len(t.chunks) == 0 || len(t.perChunk) == 0 || perChunk(1) <= 0 {
		return 0, false
	}
	chunk, inChunk, off := 1, int64(0), t.chunks[0]
	for j := range i {
		off += sizeOf(j)
		if inChunk++; inChunk == perChunk(chunk) {
			if chunk++; chunk > len(t.chunks) || perChunk(chunk) <= 0 {
				return 0, false
			}
			inChunk, off = 0, t.chunks[chunk-1]
		}
	}
	if n := sizeOf(i); n > 0 {
		return off + n, true
	}
	return 0, false
}

// readTable reads, of the first maxOpeningSamples entries of the full box
// [start, end) holding an entry count and entries of stride bytes, each
// entry's field of width bytes (4 or 8) at skip bytes in.
func readTable(r io.ReaderAt, start, end, stride, skip, width int64) ([]int64, error) {
	var b [8]byte
	if end-start < 8 {
		return nil, errMalformed
	}
	if err := readAt(r, b[:8], start); err != nil {
		return nil, err
	}
	n := min(int64(binary.BigEndian.Uint32(b[4:8])), maxOpeningSamples, (end-start-8)/stride)
	out := make([]int64, 0, n)
	for i := range n {
		if err := readAt(r, b[:width], start+8+i*stride+skip); err != nil {
			return nil, err
		}
		if width == 8 {
			out = append(out, int64(binary.BigEndian.Uint64(b[:8])&math.MaxInt64))
		} else {
			out = append(out, int64(binary.BigEndian.Uint32(b[:4])))
		}
	}
	return out, nil
}

// handler is the trak's handler type ("vide", "soun"), from mdia's hdlr.
func (s *Scanner) handler(r io.ReaderAt, mdia [2]int64) string {
	hdlr, ok := s.path(r, mdia[0], mdia[1], "hdlr")
	var b [4]byte
	if !ok || hdlr[1]-hdlr[0] < 12 || readAt(r, b[:], hdlr[0]+8) != nil {
		return ""
	}
	return string(b[:])
}

// editStart is where in the media the trak's presentation starts, in
// its timescale: the media time of the edit list's first edit that is
// not empty; 0 without an edit list.
func (s *Scanner) editStart(r io.ReaderAt, from, to int64) int64 {
	elst, ok := s.path(r, from, to, "edts", "elst")
	var b [20]byte
	if !ok || elst[1]-elst[0] < 8 || readAt(r, b[:8], elst[0]) != nil {
		return 0
	}
	v1 := b[0] == 1
	stride := int64(12)
	if v1 {
		stride = 20
	}
	n := min(int64(binary.BigEndian.Uint32(b[4:8])), (elst[1]-elst[0]-8)/stride, maxOpeningSamples)
	for i := range n {
		if readAt(r, b[:stride], elst[0]+8+i*stride) != nil {
			return 0
		}
		var t int64
		if v1 {
			t = int64(binary.BigEndian.Uint64(b[8:16]))
		} else {
			t = int64(int32(binary.BigEndian.Uint32(b[4:8])))
		}
		if t >= 0 {
			return t
		}
	}
	return 0
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
