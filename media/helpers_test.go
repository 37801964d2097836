package media_test

import (
	"io"
	"testing"
	"time"

	"reelay/media"
	"reelay/media/mediatest"
)

// openFixture opens a fixture and a demuxer over it, both closed when the
// test ends.
func openFixture(t testing.TB, name string) *media.Demuxer {
	t.Helper()
	return mediatest.OpenDemuxer(t, mediatest.Fixture(t, name))
}

// decodeAudio decodes stream idx to the end and calls fn with each block.
func decodeAudio(t testing.TB, d *media.Demuxer, idx int, fn func(pts time.Duration, s []float32) error) {
	t.Helper()
	a, err := media.NewAudioDecoder(d, idx)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	mediatest.EachPacket(t, d, func(p *media.Packet) error {
		if p.StreamIndex() != idx {
			return nil
		}
		return a.Decode(p, fn)
	})
	if err := a.Decode(nil, fn); err != nil {
		t.Fatal(err)
	}
}

// countingReader counts the I/O done on a reader.
type countingReader struct {
	r            io.ReadSeeker
	reads, seeks int
	bytes        int64
}

func (c *countingReader) Read(b []byte) (int, error) {
	c.reads++
	n, err := c.r.Read(b)
	c.bytes += int64(n)
	return n, err
}

func (c *countingReader) Seek(off int64, whence int) (int64, error) {
	c.seeks++
	return c.r.Seek(off, whence)
}

// within fails the test if fn does not return within limit: a hang must
// show up as a failure, not as a stuck test binary.
func within(t *testing.T, limit time.Duration, fn func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn()
	}()
	select {
	case <-done:
	case <-time.After(limit):
		t.Fatalf("did not finish within %v", limit)
	}
}
