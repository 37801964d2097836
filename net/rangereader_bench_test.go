package net

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/protocol"
)

// rawBenchProtocol is a throwaway protocol on the sharer's host that writes a
// whole file on a stream: the baseline a RangeReader is measured against.
const rawBenchProtocol protocol.ID = "/reelay/bench-raw/0.0.1"

// benchSetup is a 256 MiB random track shared between two loopback hosts,
// with the raw baseline registered.
func benchSetup(b *testing.B, size int, listen []string) *remoteTrack {
	b.Helper()
	rt := newRemoteTrackOver(b, size, listen)
	path := filepath.Join(b.TempDir(), "raw")
	if err := os.WriteFile(path, rt.data, 0o644); err != nil {
		b.Fatal(err)
	}
	rt.sHost.SetStreamHandler(rawBenchProtocol, func(st network.Stream) {
		f, err := os.Open(path)
		if err != nil {
			st.Reset()
			return
		}
		defer f.Close()
		// The sharer's copy buffer, so only the protocol differs.
		if _, err := io.CopyBuffer(st, f, make([]byte, copyBufSize)); err != nil {
			st.Reset()
			return
		}
		st.Close()
	})
	for _, c := range rt.vHost.Network().ConnsToPeer(rt.sHost.ID()) {
		b.Logf("connection: %s", c.RemoteMultiaddr())
	}
	return rt
}

// pullRaw copies the whole file over one raw stream and returns the seconds.
func pullRaw(b *testing.B, rt *remoteTrack) float64 {
	start := time.Now()
	st, err := rt.vHost.NewStream(context.Background(), rt.sHost.ID(), rawBenchProtocol)
	if err != nil {
		b.Fatal(err)
	}
	n, err := io.Copy(io.Discard, st)
	if err != nil || n != int64(len(rt.data)) {
		b.Fatalf("raw pull: %d bytes, %v", n, err)
	}
	st.Close()
	return time.Since(start).Seconds()
}

// pullReader copies the whole track through a fresh RangeReader and returns
// the seconds and its stats.
func pullReader(b *testing.B, rt *remoteTrack, o RangeReaderOptions) (float64, RangeReaderStats) {
	start := time.Now()
	r, err := rt.rec.OpenTrack("camera", o)
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	n, err := io.Copy(io.Discard, r)
	if err != nil || n != int64(len(rt.data)) {
		b.Fatalf("reader pull: %d bytes, %v", n, err)
	}
	return time.Since(start).Seconds(), r.Stats()
}

// BenchmarkSequentialPull pulls a 256 MiB track through a RangeReader with the
// default options and, in the same run and over the same connection, through
// one raw stream; ratio is the reader's throughput over the raw one's. It
// runs over QUIC, which libp2p prefers when both are offered, and over TCP.
func BenchmarkSequentialPull(b *testing.B) {
	for _, tr := range []struct {
		name   string
		listen []string
	}{
		{"quic", []string{"/ip4/127.0.0.1/udp/0/quic-v1"}},
		{"tcp", []string{"/ip4/127.0.0.1/tcp/0"}},
	} {
		b.Run(tr.name, func(b *testing.B) { benchSequentialPull(b, tr.listen) })
	}
}

func benchSequentialPull(b *testing.B, listen []string) {
	const size = 256 << 20
	rt := benchSetup(b, size, listen)
	pullRaw(b, rt) // page cache and connection warm for both
	var rawSec, readerSec float64
	var requests int64
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		// Alternate the order so neither always runs on a warmer machine.
		if i%2 == 0 {
			rawSec += pullRaw(b, rt)
		}
		sec, s := pullReader(b, rt, RangeReaderOptions{})
		readerSec += sec
		requests += s.Requests
		if i%2 == 1 {
			rawSec += pullRaw(b, rt)
		}
		if i == 0 {
			b.Logf("reader stats: %+v", s)
		}
	}
	n := float64(b.N)
	rawMBs := float64(size) / 1e6 / (rawSec / n)
	readerMBs := float64(size) / 1e6 / (readerSec / n)
	b.ReportMetric(rawMBs, "raw-MB/s")
	b.ReportMetric(readerMBs, "reader-MB/s")
	b.ReportMetric(readerMBs/rawMBs, "ratio")
	b.ReportMetric(float64(requests)/n, "requests")
}

// BenchmarkRangeReaderTuning is how the defaults were chosen: the same pull
// as BenchmarkSequentialPull over a grid of options. It takes minutes, so it
// runs only with REELAY_TUNE=1.
func BenchmarkRangeReaderTuning(b *testing.B) {
	if os.Getenv("REELAY_TUNE") == "" {
		b.Skip("set REELAY_TUNE=1 to run the tuning grid")
	}
	const size = 256 << 20
	rt := benchSetup(b, size, LoopbackListenAddrs)
	pullRaw(b, rt)
	for _, bs := range []int{64 << 10, 256 << 10, 1 << 20} {
		for _, inFlight := range []int{1, 2, 4, 8} {
			for _, maxReq := range []int{bs, 4 << 20} {
				o := RangeReaderOptions{BlockSize: bs, InFlight: inFlight, MaxRequest: maxReq}
				name := fmt.Sprintf("block=%dK/inflight=%d/request=%dK", bs>>10, inFlight, maxReq>>10)
				b.Run(name, func(b *testing.B) {
					var rawSec, readerSec float64
					for b.Loop() {
						rawSec += pullRaw(b, rt)
						sec, _ := pullReader(b, rt, o)
						readerSec += sec
					}
					b.ReportMetric(float64(size)/1e6/(readerSec/float64(b.N)), "reader-MB/s")
					b.ReportMetric(rawSec/readerSec, "ratio")
				})
			}
		}
	}
}

// countingFetcher logs the requests of a RangeReader over a real fetcher.
type countingFetcher struct {
	inner rangeFetcher
	mu    sync.Mutex
	log   []countedRequest
}

type countedRequest struct {
	off   int64
	n     int
	start time.Time
}

func (c *countingFetcher) fetchRange(ctx context.Context, off int64, dst []byte, prio Priority) (int, time.Duration, error) {
	c.mu.Lock()
	c.log = append(c.log, countedRequest{off: off, n: len(dst), start: time.Now()})
	c.mu.Unlock()
	return c.inner.fetchRange(ctx, off, dst, prio)
}

// between returns the requests sent from t0 to t1.
func (c *countingFetcher) between(t0, t1 time.Time) []countedRequest {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []countedRequest
	for _, r := range c.log {
		if !r.start.Before(t0) && !r.start.After(t1) {
			out = append(out, r)
		}
	}
	return out
}

// BenchmarkFarJump measures a far jump to its first byte: after a warmed
// sequential read, Seek far away and Read 1 byte. covering counts the
// requests that covered the target, sent one after the other (1 means the
// block at the new position was asked for at once); requests counts all
// those sent before the first byte arrived, readahead included.
func BenchmarkFarJump(b *testing.B) {
	const size = 256 << 20
	rt := benchSetup(b, size, LoopbackListenAddrs)
	for _, bs := range []int{defaultBlockSize, 1 << 20} {
		b.Run(fmt.Sprintf("block=%dK", bs>>10), func(b *testing.B) {
			benchFarJump(b, rt, RangeReaderOptions{BlockSize: bs})
		})
	}
}

func benchFarJump(b *testing.B, rt *remoteTrack, o RangeReaderOptions) {
	size := int64(len(rt.data))
	opened, err := rt.rec.OpenTrack("camera", o)
	if err != nil {
		b.Fatal(err)
	}
	cf := &countingFetcher{inner: opened.f}
	opened.Close()
	r := newRangeReader(cf, size, o)
	defer r.Close()

	warm := func(off int64) {
		if _, err := r.Seek(off, io.SeekStart); err != nil {
			b.Fatal(err)
		}
		if _, err := io.CopyN(io.Discard, r, 8<<20); err != nil {
			b.Fatal(err)
		}
		// Let the window fill: the reader is then idle, as a player is.
		for s := r.Stats(); s.InFlight > 0 || s.Buffered < defaultReadahead-int64(o.BlockSize); s = r.Stats() {
			time.Sleep(time.Millisecond)
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	pos := int64(0)
	warm(pos)
	var covering, requests int
	var rtt time.Duration
	p := make([]byte, 1)
	b.ResetTimer()
	for b.Loop() {
		// A target at least 32 MiB from the read position, inside the track.
		target := (pos + 8<<20 + 32<<20 + rng.Int64N(size-80<<20)) % (size - 16<<20)
		start := time.Now()
		if _, err := r.Seek(target, io.SeekStart); err != nil {
			b.Fatal(err)
		}
		if _, err := r.Read(p); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		firstByte := time.Now()
		if p[0] != rt.data[target] {
			b.Fatalf("byte at %d differs", target)
		}
		reqs := cf.between(start, firstByte)
		requests += len(reqs)
		for _, q := range reqs {
			if q.off <= target && target < q.off+int64(q.n) {
				covering++
			}
		}
		rtt += r.Stats().RTT
		pos = target
		warm(pos + 1)
		pos += 1 + 8<<20
		b.StartTimer()
	}
	n := float64(b.N)
	b.ReportMetric(float64(covering)/n, "covering")
	b.ReportMetric(float64(requests)/n, "requests")
	b.ReportMetric(float64(rtt.Microseconds())/n, "srtt-µs")
}
