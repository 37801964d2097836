package media

import (
	"errors"
	"fmt"
	"io"

	"github.com/asticode/go-astiav"
)

// FFmpeg's whence flags for the AVIOContext seek callback (libavformat/avio.h).
const (
	avseekSize  = 0x10000
	avseekForce = 0x20000
)

// maxEmptyReads bounds how often a reader may answer (0, nil) in a row
// before it is treated as stuck, so a misbehaving reader cannot spin FFmpeg
// forever.
const maxEmptyReads = 100

// avioReader adapts an io.ReadSeeker to the read and seek callbacks of a
// custom AVIOContext. It translates Go's io.EOF into AVERROR_EOF, answers
// AVSEEK_SIZE, keeps the reader's own error so the demuxer can report it
// instead of FFmpeg's generic EIO, and counts the I/O done.
type avioReader struct {
	// r is the byte source: a file, or a remote track over the network.
	r io.ReadSeeker
	// size is the stream length once known (-1 before the first AVSEEK_SIZE,
	// -2 if the reader cannot tell).
	size int64
	// err is the first error the reader returned other than io.EOF; once
	// set, every later read fails with it, since FFmpeg may retry.
	err error
	// sawEOF says the reader reached its end at least once; for formats
	// with a complete index that means the file is cut short.
	sawEOF bool
	// reads, seeks and bytes count I/O for OpenStats.
	reads, seeks int
	bytes        int64
}

func newAVIOReader(r io.ReadSeeker) *avioReader {
	return &avioReader{r: r, size: -1}
}

func (a *avioReader) read(b []byte) (n int, err error) {
	if a.err != nil {
		return 0, astiav.ErrEio
	}
	defer a.recoverPanic(&err)
	for empty := 0; ; empty++ {
		a.reads++
		n, err = a.r.Read(b)
		a.bytes += int64(n)
		if n > 0 {
			// The error, if any, comes back on the next call; FFmpeg only
			// looks at one of count or error.
			return n, nil
		}
		switch {
		case err == nil && empty < maxEmptyReads:
			continue
		case err == nil:
			a.err = fmt.Errorf("media: reader returned no data %d times in a row: %w", maxEmptyReads, io.ErrNoProgress)
			return 0, astiav.ErrEio
		case errors.Is(err, io.EOF):
			a.sawEOF = true
			return 0, astiav.ErrEof
		default:
			a.err = err
			return 0, astiav.ErrEio
		}
	}
}

func (a *avioReader) seek(offset int64, whence int) (n int64, err error) {
	if a.err != nil {
		return 0, astiav.ErrEio
	}
	defer a.recoverPanic(&err)
	whence &^= avseekForce
	if whence == avseekSize {
		return a.streamSize()
	}
	if whence == io.SeekEnd && a.live() {
		// FFmpeg's avio_size falls back to seeking to the end: a live
		// track has none yet (streamSize).
		return 0, astiav.ErrEio
	}
	a.seeks++
	pos, err := a.r.Seek(offset, whence)
	if err != nil {
		a.err = fmt.Errorf("media: seeking to %d (whence %d) failed: %w", offset, whence, err)
		return 0, astiav.ErrEio
	}
	return pos, nil
}

// streamSize answers AVSEEK_SIZE. A reader with Size() int64 (like
// *bytes.Reader or a remote track) is asked directly; otherwise the size is
// found by seeking to the end and back, once. A track still being written
// (a reader whose Live() is true) has no size yet: a demuxer that knows a
// file's size reads its end as it opens (FFmpeg's MPEG-TS demuxer, for the
// duration), which for a live track waits for bytes not yet written.
func (a *avioReader) streamSize() (int64, error) {
	if a.live() {
		return 0, astiav.ErrEio
	}
	switch {
	case a.size >= 0:
		return a.size, nil
	case a.size == -2:
		return 0, astiav.ErrEio
	}
	if s, ok := a.r.(interface{ Size() int64 }); ok && s.Size() >= 0 {
		a.size = s.Size()
		return a.size, nil
	}
	cur, err := a.r.Seek(0, io.SeekCurrent)
	if err != nil {
		a.size = -2
		return 0, astiav.ErrEio
	}
	end, err := a.r.Seek(0, io.SeekEnd)
	if err != nil {
		a.size = -2
		return 0, astiav.ErrEio
	}
	if _, err := a.r.Seek(cur, io.SeekStart); err != nil {
		a.err = fmt.Errorf("media: restoring position %d after size query failed: %w", cur, err)
		return 0, astiav.ErrEio
	}
	a.size = end
	return end, nil
}

// live says the reader is a track still being written.
func (a *avioReader) live() bool {
	l, ok := a.r.(interface{ Live() bool })
	return ok && l.Live()
}

// recoverPanic turns a panic in the reader into an error: a panic unwinding
// through FFmpeg's C frames would kill the process.
func (a *avioReader) recoverPanic(err *error) {
	if r := recover(); r != nil {
		a.err = fmt.Errorf("media: reader panicked: %v", r)
		*err = astiav.ErrEio
	}
}
