package live

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// ErrNoSplice is returned when a file cannot be presented from a point:
// its format has no join points, or the gap cannot hold a filler (the
// caller then uses an earlier point, or reads from the header on).
var ErrNoSplice = errors.New("live: cannot splice there")

// Filler returns the bytes a reader shows at [header, offset) so that a
// demuxer that has read the file's first header bytes skips to offset: for
// fragmented MP4 a free box's header (8 bytes, or 16 with a 64-bit size
// for a gap of 4 GiB or more), for Matroska an EBML Void element's header
// (ID 0xEC and an 8-byte size), each with its size spanning the gap
// exactly. The rest of the gap is never read by such a demuxer; a reader
// may show zeros there. An empty gap needs no filler. MPEG-TS needs none
// at all: a TS demuxer starts at the point itself (see Splice).
func Filler(f Format, header, offset int64) ([]byte, error) {
	if header < 0 || offset < header {
		return nil, fmt.Errorf("%w: point at %d before the header's end %d", ErrNoSplice, offset, header)
	}
	gap := offset - header
	switch f {
	case FormatMPEGTS:
		return nil, nil
	case FormatFragmentedMP4:
		switch {
		case gap == 0:
			return nil, nil
		case gap < 8:
			return nil, fmt.Errorf("%w: %d bytes cannot hold a free box", ErrNoSplice, gap)
		case gap < 1<<32:
			b := make([]byte, 8)
			binary.BigEndian.PutUint32(b, uint32(gap))
			copy(b[4:], "free")
			return b, nil
		default:
			b := make([]byte, 16)
			binary.BigEndian.PutUint32(b, 1)
			copy(b[4:], "free")
			binary.BigEndian.PutUint64(b[8:], uint64(gap))
			return b, nil
		}
	case FormatMatroska:
		const hlen = 9 // ID and an 8-byte size
		switch {
		case gap == 0:
			return nil, nil
		case gap < hlen:
			return nil, fmt.Errorf("%w: %d bytes cannot hold a Void element", ErrNoSplice, gap)
		case gap-hlen >= 1<<56-1: // all ones would mean "unknown size"
			return nil, fmt.Errorf("%w: %d bytes are too many for a Void element", ErrNoSplice, gap)
		}
		b := make([]byte, hlen)
		binary.BigEndian.PutUint64(b[1:], uint64(gap-hlen))
		b[0], b[1] = idVoid, 0x01 // the size's length marker: 8 bytes
		return b, nil
	}
	return nil, fmt.Errorf("%w: %v has no join points", ErrNoSplice, f)
}

// Splice is a file as a demuxer that starts at a join point should see it.
// For fragmented MP4 and Matroska every byte stays at its own offset (MP4
// data offsets are absolute): the header [0, Index.Header) is the file's,
// then the Filler, then zeros up to the point, then the file from the point
// on. A demuxer reads the header, skips the filler's element and goes on
// at the point; the zeros and the skipped fragments are never read from
// the file. For MPEG-TS the view is the file from the point on, shifted to
// start at 0: Base is the point's offset.
type Splice struct {
	r      io.ReaderAt
	base   int64  // the file offset shown at the view's offset 0
	header int64  // the view shows the file's own bytes below this offset
	filler []byte // shown at header
	from   int64  // the view shows the file's own bytes again from this offset
}

// NewSplice returns the view of r, a file with index idx, for a demuxer
// starting at the join point p.
func NewSplice(r io.ReaderAt, idx Index, p Point) (*Splice, error) {
	if p.Offset < 0 {
		return nil, fmt.Errorf("%w: offset %d", ErrNoSplice, p.Offset)
	}
	if idx.Format == FormatMPEGTS {
		return &Splice{r: r, base: p.Offset, from: 0}, nil
	}
	fill, err := Filler(idx.Format, idx.Header, p.Offset)
	if err != nil {
		return nil, err
	}
	return &Splice{r: r, header: idx.Header, filler: fill, from: p.Offset}, nil
}

// Base is the file offset at the view's offset 0: the point's offset for
// MPEG-TS, 0 for the others. A file of n bytes is a view of n-Base bytes.
func (s *Splice) Base() int64 { return s.base }

// ReadAt reads the view at off: the file's bytes where the view shows them,
// the filler and zeros elsewhere, without reading the file there.
func (s *Splice) ReadAt(b []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("live: negative offset %d", off)
	}
	done := 0
	for done < len(b) {
		p, at := b[done:], off+int64(done)
		switch {
		case at < s.header:
			k := int(min(int64(len(p)), s.header-at))
			n, err := s.r.ReadAt(p[:k], at+s.base)
			done += n
			if n < k {
				if err == nil {
					err = io.ErrUnexpectedEOF
				}
				return done, err
			}
		case at < s.from:
			n := int(min(int64(len(p)), s.from-at))
			clear(p[:n])
			if k := at - s.header; k < int64(len(s.filler)) {
				copy(p[:n], s.filler[k:])
			}
			done += n
		default:
			n, err := s.r.ReadAt(p, at+s.base)
			return done + n, err
		}
	}
	return done, nil
}
