package sync

import (
	"errors"
	"io"

	"reelay/net/track"
)

// joinView shows a demuxer a track from a join point (track.JoinPoint):
// the track's header, then the filler the demuxer skips, then the track
// from the point on, every byte at its own offset, as the file's offsets
// are what a fragmented MP4 or a Matroska file refers to. For a point
// with no header (MPEG-TS) it is the track from the point on, as if it
// began there. Bytes between the filler and the point are never fetched:
// a demuxer that asks for them gets zeros.
type joinView struct {
	// r is the track's reader; its position is the view's plus base, once
	// read.
	r io.ReadSeeker
	// jp is the point the view starts at.
	jp track.JoinPoint
	// base is where the view's offset 0 is in the track: the point for a
	// point without header, else 0.
	base int64
	// pos is the view's position.
	pos int64
	// at is the reader's position, -1 when unknown (after a Seek of the
	// view), to seek it only when a read is elsewhere.
	at int64
}

func newJoinView(r io.ReadSeeker, jp track.JoinPoint) *joinView {
	v := &joinView{r: r, jp: jp, at: -1}
	if jp.Header == 0 {
		v.base = jp.Offset
	}
	return v
}

func (v *joinView) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	h, f := v.jp.Header, int64(len(v.jp.Filler))
	switch {
	case v.base > 0, v.pos < h, v.pos >= v.jp.Offset:
		if v.pos < h {
			p = p[:min(int64(len(p)), h-v.pos)]
		}
		if v.at != v.pos+v.base {
			if _, err := v.r.Seek(v.pos+v.base, io.SeekStart); err != nil {
				v.at = -1
				return 0, err
			}
		}
		n, err := v.r.Read(p)
		v.pos += int64(n)
		v.at = v.pos + v.base
		return n, err
	case v.pos < h+f:
		n := copy(p, v.jp.Filler[v.pos-h:])
		v.pos += int64(n)
		return n, nil
	default:
		// Inside the span the filler covers: a demuxer skips it.
		n := int(min(int64(len(p)), v.jp.Offset-v.pos))
		clear(p[:n])
		v.pos += int64(n)
		return n, nil
	}
}

var errViewNegative = errors.New("sync: seek before the start of a track")

func (v *joinView) Seek(off int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		off += v.pos
	case io.SeekEnd:
		end, err := v.r.Seek(0, io.SeekEnd)
		if err != nil {
			return 0, err
		}
		v.at = end
		off += end - v.base
	default:
		return 0, errors.New("sync: bad whence")
	}
	if off < 0 {
		return 0, errViewNegative
	}
	v.pos = off
	return off, nil
}

// Live says the track is still being written, when the reader can tell.
func (v *joinView) Live() bool {
	l, ok := v.r.(interface{ Live() bool })
	return ok && l.Live()
}

// Size is the track's size as the view shows it.
func (v *joinView) Size() int64 {
	if s, ok := v.r.(interface{ Size() int64 }); ok {
		return s.Size() - v.base
	}
	return -1
}
