package net

import (
	"bytes"
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
)

// newLoopbackHost starts a real libp2p host on loopback, closed with the test.
func newLoopbackHost(tb testing.TB) host.Host {
	tb.Helper()
	h, err := NewHost(HostOptions{ListenAddrs: LoopbackListenAddrs})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { h.Close() })
	return h
}

// writeRandomFile writes size pseudo-random bytes (seeded, so failures
// reproduce) and returns them.
func writeRandomFile(tb testing.TB, path string, size int, seed uint64) []byte {
	tb.Helper()
	b := make([]byte, size)
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	for i := 0; i+8 <= len(b); i += 8 {
		v := r.Uint64()
		for j := range 8 {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		tb.Fatal(err)
	}
	return b
}

// testShare is a sharer serving a three-track folder and a viewer dialled
// to it, both real hosts on loopback.
type testShare struct {
	dir    string
	files  map[string][]byte // track name → content
	sharer *Sharer
	sHost  host.Host
	vHost  host.Host
	link   Link
	viewer *Recording
}

func newTestShare(tb testing.TB) *testShare {
	tb.Helper()
	ts := &testShare{dir: tb.TempDir(), files: map[string][]byte{}}
	for i, f := range []struct {
		file string
		size int
	}{{"camera.mp4", 3<<20 + 17}, {"screen.mp4", 5<<20 + 3}, {"mic.m4a", 700<<10 + 1}} {
		ts.files[stem(f.file)] = writeRandomFile(tb, filepath.Join(ts.dir, f.file), f.size, uint64(i+1))
	}
	ts.sHost = newLoopbackHost(tb)
	ts.vHost = newLoopbackHost(tb)
	ts.sharer = NewSharer(ts.sHost, SharerOptions{})
	tb.Cleanup(func() { ts.sharer.Close() })
	var err error
	if ts.link, err = ts.sharer.Share(ts.dir); err != nil {
		tb.Fatal(err)
	}
	if ts.viewer, err = Dial(context.Background(), ts.vHost, ts.link); err != nil {
		tb.Fatal(err)
	}
	return ts
}

// assertServes checks that a fresh viewer can still open the recording and
// read a range byte-exactly: the sharer survived whatever the test did.
func (ts *testShare) assertServes(tb testing.TB) {
	tb.Helper()
	h := newLoopbackHost(tb)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rec, err := Dial(ctx, h, ts.link)
	if err != nil {
		tb.Fatalf("another viewer could not open the recording: %v", err)
	}
	want := ts.files["screen"][1000 : 1000+64<<10]
	got := make([]byte, len(want))
	if _, err := rec.ReadRange(ctx, "screen", 1000, got); err != nil {
		tb.Fatalf("another viewer could not read: %v", err)
	}
	if !bytes.Equal(got, want) {
		tb.Fatal("another viewer read wrong bytes")
	}
}

// checkGoroutines fails the test if goroutines started during it are still
// running shortly after cleanup. libp2p hosts keep background goroutines
// until closed, so call it before creating any.
func checkGoroutines(tb testing.TB) {
	tb.Helper()
	before := runtime.NumGoroutine()
	tb.Cleanup(func() {
		deadline := time.Now().Add(5 * time.Second)
		for {
			n := runtime.NumGoroutine()
			if n <= before {
				return
			}
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<20)
				tb.Errorf("%d goroutines before, %d after:\n%s", before, n, buf[:runtime.Stack(buf, true)])
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
}
