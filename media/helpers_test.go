package media_test

import (
	"errors"
	"io"
	"os"
	"testing"
	"time"

	"reelay/media"
	"reelay/media/mediatest"
)

// openFixture opens a fixture file and a demuxer over it, both closed when
// the test ends.
func openFixture(t testing.TB, name string) *media.Demuxer {
	t.Helper()
	f, err := os.Open(mediatest.Fixture(t, name))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	d, err := media.OpenDemuxer(f, media.DemuxerOptions{})
	if err != nil {
		t.Fatalf("OpenDemuxer(%s): %v", name, err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// firstStream returns the index of the first stream of kind k, or -1.
func firstStream(d *media.Demuxer, k media.StreamKind) int {
	for _, s := range d.Streams() {
		if s.Kind == k {
			return s.Index
		}
	}
	return -1
}

// eachPacket calls fn with every packet of the demuxer until the end of the
// file, unreferencing each afterwards.
func eachPacket(t testing.TB, d *media.Demuxer, fn func(p *media.Packet) error) {
	t.Helper()
	p := media.NewPacket()
	defer p.Free()
	for {
		err := d.ReadPacket(p)
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		err = fn(p)
		p.Unref()
		if err != nil {
			t.Fatal(err)
		}
	}
}

// decodeAudio decodes stream idx to the end and calls fn with each block.
func decodeAudio(t testing.TB, d *media.Demuxer, idx int, fn func(pts time.Duration, s []float32) error) {
	t.Helper()
	a, err := media.NewAudioDecoder(d, idx)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	eachPacket(t, d, func(p *media.Packet) error {
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
