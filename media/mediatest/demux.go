package mediatest

import (
	"errors"
	"io"
	"os"
	"testing"

	"reelay/media"
)

// OpenDemuxer opens the file at path and a demuxer over it, both closed
// when the test ends.
func OpenDemuxer(tb testing.TB, path string) *media.Demuxer {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { f.Close() })
	d, err := media.OpenDemuxer(f, media.DemuxerOptions{})
	if err != nil {
		tb.Fatalf("OpenDemuxer(%s): %v", path, err)
	}
	tb.Cleanup(func() { d.Close() })
	return d
}

// FirstStream returns the index of the demuxer's first stream of kind k,
// or -1.
func FirstStream(d *media.Demuxer, k media.StreamKind) int {
	for _, s := range d.Streams() {
		if s.Kind == k {
			return s.Index
		}
	}
	return -1
}

// EachPacket calls fn with every packet of the demuxer until the end of
// the file, unreferencing each afterwards; an error fails the test.
func EachPacket(tb testing.TB, d *media.Demuxer, fn func(p *media.Packet) error) {
	tb.Helper()
	p := media.NewPacket()
	defer p.Free()
	for {
		err := d.ReadPacket(p)
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			tb.Fatal(err)
		}
		err = fn(p)
		p.Unref()
		if err != nil {
			tb.Fatal(err)
		}
	}
}
