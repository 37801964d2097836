package net

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	stdnet "net"
	"path/filepath"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
)

// remoteTrack is one track of size random bytes shared by a real host and
// dialled by another, both on loopback.
type remoteTrack struct {
	data   []byte
	sHost  host.Host
	vHost  host.Host
	rec    *Recording
	sharer *Sharer
}

func newRemoteTrack(tb testing.TB, size int) *remoteTrack {
	return newRemoteTrackOver(tb, size, LoopbackListenAddrs)
}

// newRemoteTrackOver is newRemoteTrack with both hosts listening on listen.
func newRemoteTrackOver(tb testing.TB, size int, listen []string) *remoteTrack {
	tb.Helper()
	dir := tb.TempDir()
	rt := &remoteTrack{data: writeRandomFile(tb, filepath.Join(dir, "camera.mp4"), size, 42)}
	for _, h := range []*host.Host{&rt.sHost, &rt.vHost} {
		var err error
		if *h, err = NewHost(HostOptions{ListenAddrs: listen}); err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { (*h).Close() })
	}
	rt.sharer = NewSharer(rt.sHost, SharerOptions{})
	tb.Cleanup(func() { rt.sharer.Close() })
	link, err := rt.sharer.Share(dir)
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if rt.rec, err = Dial(ctx, rt.vHost, link); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { rt.rec.Close() })
	return rt
}

func TestRangeReaderRemoteRandomRanges(t *testing.T) {
	checkGoroutines(t)
	rt := newRemoteTrack(t, 32<<20)
	// A cache smaller than the track, so jumps back find evicted blocks too.
	r, err := rt.rec.OpenTrack("camera", RangeReaderOptions{CacheSize: 8 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if r.Size() != int64(len(rt.data)) {
		t.Fatalf("Size() = %d, want %d", r.Size(), len(rt.data))
	}

	rng := rand.New(rand.NewPCG(7, 7))
	size := int64(len(rt.data))
	pos := int64(0)
	var read int64
	for i := range 1000 {
		// Sizes spread evenly over 1 B..1 MiB on a log scale.
		n := int64(1) << rng.IntN(21)
		n += rng.Int64N(n)
		n = min(n, 1<<20)
		switch rng.IntN(10) {
		case 0, 1, 2, 3: // jump anywhere, backwards or forwards
			pos = rng.Int64N(size)
		case 4: // near the end, sometimes past it
			pos = size - rng.Int64N(2<<20) + 1<<19
		case 5: // a small jump back, as a demuxer does
			pos = max(0, pos-rng.Int64N(1<<20))
		default: // carry on sequentially
		}

		p := make([]byte, n)
		var got int
		var err error
		if i%2 == 0 {
			got, err = r.ReadAt(p, pos)
		} else {
			if _, err := r.Seek(pos, io.SeekStart); err != nil {
				t.Fatal(err)
			}
			got, err = io.ReadFull(r, p)
			if err == io.ErrUnexpectedEOF {
				err = io.EOF
			}
		}
		wantN := max(0, min(n, size-pos))
		switch {
		case int64(got) != wantN:
			t.Fatalf("read %d at %d of %d bytes: got %d bytes (%v), want %d", i, pos, n, got, err, wantN)
		case wantN < n && err != io.EOF:
			t.Fatalf("read %d at %d of %d bytes: err %v, want io.EOF", i, pos, n, err)
		case wantN == n && err != nil:
			t.Fatalf("read %d at %d of %d bytes: %v", i, pos, n, err)
		}
		if wantN > 0 && !bytes.Equal(p[:got], rt.data[pos:pos+wantN]) {
			t.Fatalf("read %d at %d of %d bytes: bytes differ from the file", i, pos, n)
		}
		pos += int64(got)
		read += int64(got)
	}
	s := r.Stats()
	t.Logf("read %d bytes in 1000 ranges; stats %+v", read, s)
	if s.Cancelled == 0 {
		t.Error("no request was cancelled by 400 random jumps")
	}
	if s.RTT <= 0 || s.CacheHits == 0 {
		t.Errorf("stats %+v: want an RTT and cache hits", s)
	}
}

func TestRangeReaderRemoteSequentialAndClose(t *testing.T) {
	checkGoroutines(t)
	rt := newRemoteTrack(t, 8<<20+12345)
	r, err := rt.rec.OpenTrack("camera", RangeReaderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := io.Copy(&buf, r); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), rt.data) {
		t.Fatal("sequential read differs from the file")
	}
	if _, err := r.Read(make([]byte, 1)); err != io.EOF {
		t.Errorf("Read at the end = %v, want io.EOF", err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := r.ReadAt(make([]byte, 1), 0); !errors.Is(err, stdnet.ErrClosed) {
		t.Errorf("ReadAt after Close = %v, want net.ErrClosed", err)
	}
	// The sharer is still fine with a new reader after the cancelled requests.
	r2, err := rt.rec.OpenTrack("camera", RangeReaderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	p := make([]byte, 1000)
	if _, err := r2.ReadAt(p, 5<<20); err != nil || !bytes.Equal(p, rt.data[5<<20:5<<20+1000]) {
		t.Fatalf("second reader: %v", err)
	}
}
