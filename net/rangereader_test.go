package net

import (
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"math/rand/v2"
	stdnet "net"
	"os"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// fakeFetcher serves a []byte with a configurable time to first byte and
// transfer rate, injected failures, requests held until cancelled, and a log
// of every request.
type fakeFetcher struct {
	// data is the track.
	data []byte
	// latency is the time to the first byte of every answer.
	latency time.Duration
	// rate is the transfer rate after the first byte in bytes per second;
	// 0 is instant.
	rate float64

	mu sync.Mutex
	// fail, when it returns an error, fails the request with it.
	fail func(off int64, n int) error
	// hold keeps the requests it selects in flight until cancelled.
	hold func(off int64, n int) bool
	// log holds every request in the order they were sent.
	log []*fakeRequest
	// inFlightBytes and maxInFlightBytes measure the buffers of requests in flight.
	inFlightBytes, maxInFlightBytes int64
}

// fakeRequest is one fetchRange call.
type fakeRequest struct {
	off       int64
	n         int
	prio      Priority
	ctx       context.Context
	cancelled bool
}

func (f *fakeFetcher) fetchRange(ctx context.Context, off int64, dst []byte, prio Priority) (int, time.Duration, error) {
	f.mu.Lock()
	req := &fakeRequest{off: off, n: len(dst), prio: prio, ctx: ctx}
	f.log = append(f.log, req)
	hold := f.hold != nil && f.hold(off, len(dst))
	fail := f.fail
	f.inFlightBytes += int64(len(dst))
	f.maxInFlightBytes = max(f.maxInFlightBytes, f.inFlightBytes)
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		f.inFlightBytes -= int64(len(dst))
		f.mu.Unlock()
	}()

	var arrived <-chan time.Time
	if !hold {
		d := f.latency
		if f.rate > 0 {
			d += time.Duration(float64(len(dst)) / f.rate * float64(time.Second))
		}
		t := time.NewTimer(d)
		defer t.Stop()
		arrived = t.C
	}
	select {
	case <-arrived:
	case <-ctx.Done():
		f.mu.Lock()
		req.cancelled = true
		f.mu.Unlock()
		return 0, 0, ctx.Err()
	}
	if fail != nil {
		if err := fail(off, len(dst)); err != nil {
			return 0, f.latency, err
		}
	}
	if off >= int64(len(f.data)) {
		return 0, f.latency, errors.New("fake: offset out of range")
	}
	return copy(dst, f.data[off:]), f.latency, nil
}

func (f *fakeFetcher) requests() []fakeRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]fakeRequest, len(f.log))
	for i, r := range f.log {
		out[i] = *r
	}
	return out
}

func randomBytes(seed uint64, n int) []byte {
	rng := rand.New(rand.NewPCG(seed, seed))
	b := make([]byte, n+8)
	for i := 0; i < n; i += 8 {
		binary.LittleEndian.PutUint64(b[i:], rng.Uint64())
	}
	return b[:n:n]
}

// readSequentially reads [off, off+n) in 32 KiB reads, as a demuxer does, so
// that the window ramps up to the readahead.
func readSequentially(t *testing.T, r *RangeReader, data []byte, off, n int64) {
	t.Helper()
	p := make([]byte, 32<<10)
	for end := off + n; off < end; {
		k, err := r.ReadAt(p[:min(int64(len(p)), end-off)], off)
		if err != nil || !bytes.Equal(p[:k], data[off:off+int64(k)]) {
			t.Fatalf("ReadAt(%d): %d, %v", off, k, err)
		}
		off += int64(k)
	}
}

func TestRangeReaderReadAtMatchesFile(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// An odd block size and a size that is no multiple of it put block
		// boundaries and the last short block everywhere.
		data := randomBytes(1, 200_003)
		f := &fakeFetcher{data: data, latency: 5 * time.Millisecond}
		r := newRangeReader(f, int64(len(data)), RangeReaderOptions{
			BlockSize: 1000, CacheSize: 16_000, Readahead: 5000, InFlight: 3, MaxRequest: 3000,
		})
		defer r.Close()
		want := bytes.NewReader(data)

		rng := rand.New(rand.NewPCG(2, 2))
		for i := range 2000 {
			var off int64
			var size int
			switch rng.IntN(6) {
			case 0: // at or after the end
				off = int64(len(data)) + int64(rng.IntN(3000)) - 1000
				size = rng.IntN(3000)
			case 1: // across a block boundary
				off = int64(rng.IntN(len(data)/1000))*1000 - int64(rng.IntN(10))
				size = 1 + rng.IntN(2500)
			default:
				off = int64(rng.IntN(len(data)))
				size = rng.IntN(5000)
			}
			off = max(off, 0)
			got := make([]byte, size)
			exp := make([]byte, size)
			n, err := r.ReadAt(got, off)
			en, eerr := want.ReadAt(exp, off)
			if n != en || err != eerr || !bytes.Equal(got[:n], exp[:en]) {
				t.Fatalf("read %d: ReadAt(%d bytes, %d) = %d, %v; want %d, %v (bytes equal: %v)",
					i, size, off, n, err, en, eerr, bytes.Equal(got[:n], exp[:en]))
			}
			if c := r.cachedBytes(); c > 16_000 {
				t.Fatalf("read %d: cache holds %d bytes, over its 16000", i, c)
			}
		}
		s := r.Stats()
		if s.CacheHits == 0 || s.CacheMisses == 0 {
			t.Errorf("stats %+v: want both hits and misses", s)
		}
		if _, err := r.ReadAt(make([]byte, 1), -1); err == nil {
			t.Error("ReadAt at -1 succeeded")
		}
	})
}

func TestRangeReaderReadSeekMatchesFile(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		data := randomBytes(3, 100_000)
		f := &fakeFetcher{data: data, latency: 2 * time.Millisecond}
		r := newRangeReader(f, int64(len(data)), RangeReaderOptions{BlockSize: 4096, CacheSize: 64 << 10, Readahead: 16 << 10})
		defer r.Close()
		want := bytes.NewReader(data)

		rng := rand.New(rand.NewPCG(4, 4))
		whences := []int{io.SeekStart, io.SeekCurrent, io.SeekEnd}
		for i := range 500 {
			if rng.IntN(4) == 0 {
				whence := whences[rng.IntN(3)]
				off := int64(rng.IntN(120_000)) - 60_000
				got, err := r.Seek(off, whence)
				exp, eerr := want.Seek(off, whence)
				if (err != nil) != (eerr != nil) || (err == nil && got != exp) {
					t.Fatalf("step %d: Seek(%d, %d) = %d, %v; want %d, %v", i, off, whence, got, err, exp, eerr)
				}
				continue
			}
			p := make([]byte, rng.IntN(10_000))
			n, err := r.Read(p)
			if err != nil && err != io.EOF {
				t.Fatalf("step %d: Read: %v", i, err)
			}
			if n == 0 && len(p) > 0 && err == nil {
				t.Fatalf("step %d: Read returned 0 bytes and no error", i)
			}
			exp := make([]byte, n)
			en, _ := io.ReadFull(want, exp)
			if en != n || !bytes.Equal(p[:n], exp) {
				t.Fatalf("step %d: Read returned %d bytes that differ from the file's %d", i, n, en)
			}
			if err == io.EOF {
				if pos, _ := want.Seek(0, io.SeekCurrent); pos < int64(len(data)) {
					t.Fatalf("step %d: EOF at %d before the end", i, pos)
				}
			}
		}
		if r.Size() != int64(len(data)) {
			t.Errorf("Size() = %d, want %d", r.Size(), len(data))
		}
	})
}

func TestRangeReaderSequentialNeverWaitsAfterWarmUp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// The link moves 10 MB/s with a 50 ms round trip; the media needs 2 MB/s.
		data := randomBytes(5, 8<<20)
		f := &fakeFetcher{data: data, latency: 50 * time.Millisecond, rate: 10e6}
		r := newRangeReader(f, int64(len(data)), RangeReaderOptions{BlockSize: 64 << 10})
		defer r.Close()
		r.SetByteRate(2e6, 3*time.Second)

		p := make([]byte, 32<<10)
		tick := time.NewTicker(time.Second * time.Duration(len(p)) / 2e6)
		defer tick.Stop()
		var misses int64
		var throughput float64
		for off := int64(0); off < int64(len(data)); off += int64(len(p)) {
			<-tick.C
			before := r.Stats().CacheMisses
			n, err := r.ReadAt(p, off)
			if err != nil || !bytes.Equal(p[:n], data[off:off+int64(n)]) {
				t.Fatalf("ReadAt(%d): %d, %v", off, n, err)
			}
			s := r.Stats()
			if off >= 1<<20 {
				misses += s.CacheMisses - before
			}
			throughput = max(throughput, s.Throughput)
		}
		if misses != 0 {
			t.Errorf("%d reads waited after the first MiB", misses)
		}
		s := r.Stats()
		if s.RTT < 50*time.Millisecond || s.RTT > 60*time.Millisecond {
			t.Errorf("RTT = %v, want about 50ms", s.RTT)
		}
		if s.BytesFetched != int64(len(data)) {
			t.Errorf("BytesFetched = %d, want %d", s.BytesFetched, len(data))
		}
		// The window refilled at the media's rate, 2 MB/s, or faster, up to 4
		// requests at 10 MB/s each.
		if throughput < 2e6 || throughput > 40e6 {
			t.Errorf("Throughput peaked at %.0f B/s, want between the media rate and the link rate", throughput)
		}
	})
}

func TestRangeReaderFarJumpCancelsStaleRequests(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const bs = 64 << 10
		data := randomBytes(6, 16<<20)
		f := &fakeFetcher{data: data, latency: 10 * time.Millisecond}
		// The readahead past 2 MiB never answers: a slow link.
		f.hold = func(off int64, n int) bool { return off >= 2<<20 && off < 8<<20 }
		r := newRangeReader(f, int64(len(data)), RangeReaderOptions{BlockSize: bs})
		defer r.Close()
		r.SetByteRate(1<<20/3, 3*time.Second) // a readahead of 1 MiB

		readSequentially(t, r, data, 0, 2<<20)
		synctest.Wait()
		before := f.requests()
		if s := r.Stats(); s.InFlight == 0 {
			t.Fatalf("no readahead in flight before the jump: %+v", s)
		}

		const far = 12<<20 + 100
		p := make([]byte, 1)
		start := time.Now()
		if _, err := r.ReadAt(p, far); err != nil {
			t.Fatal(err)
		}
		if p[0] != data[far] {
			t.Fatalf("byte at %d = %d, want %d", far, p[0], data[far])
		}
		if d := time.Since(start); d != f.latency {
			t.Errorf("the far byte took %v, want one round trip (%v)", d, f.latency)
		}
		synctest.Wait()

		after := f.requests()
		stale := 0
		for _, req := range after[:len(before)] {
			if req.off < 2<<20 {
				continue
			}
			stale++
			if !req.cancelled || req.ctx.Err() == nil {
				t.Errorf("stale request %d+%d was not cancelled", req.off, req.n)
			}
		}
		if got := r.Stats().Cancelled; got != int64(stale) {
			t.Errorf("Cancelled = %d, want %d", got, stale)
		}
		// The block at the new position goes out alone and urgent; the
		// window behind it, a third of the readahead, as read-ahead that a
		// sharer serves after it.
		urgent := 0
		for _, req := range after[len(before):] {
			switch {
			case req.prio == RequestPriority(NeedNow, 1):
				urgent++
				if req.off != far/bs*bs || req.n != bs {
					t.Errorf("urgent request %d+%d after the jump, want the block at the new position %d+%d", req.off, req.n, far/bs*bs, bs)
				}
			case req.prio != RequestPriority(NeedSoon, 1):
				t.Errorf("request %d+%d after the jump at priority %d", req.off, req.n, req.prio)
			case req.off+int64(req.n) > far/bs*bs+(1<<20)/3+bs:
				t.Errorf("read-ahead %d+%d after the jump reaches past a third of the readahead", req.off, req.n)
			}
		}
		if urgent != 1 {
			t.Errorf("%d urgent requests for the first byte after the jump, want 1: %+v", urgent, after[len(before):])
		}
		// Reading on from there ramps the window up again.
		readSequentially(t, r, data, far+1, 1<<20)
		time.Sleep(time.Second)
		if s := r.Stats(); s.Buffered < 1<<20-bs {
			t.Errorf("after the jump the window did not ramp up to the readahead: %+v", s)
		}
	})
}

func TestRangeReaderIdleWhenWindowFull(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		data := randomBytes(7, 16<<20)
		f := &fakeFetcher{data: data, latency: 20 * time.Millisecond, rate: 50e6}
		r := newRangeReader(f, int64(len(data)), RangeReaderOptions{BlockSize: 64 << 10, Readahead: 2 << 20})
		defer r.Close()

		readSequentially(t, r, data, 1<<20, 2<<20)
		time.Sleep(time.Second)
		synctest.Wait()
		s := r.Stats()
		if s.InFlight != 0 {
			t.Fatalf("window not full after 1s: %+v", s)
		}
		if want := int64(2<<20) - 64<<10; s.Buffered < want {
			t.Errorf("Buffered = %d, want at least %d", s.Buffered, want)
		}
		time.Sleep(200 * time.Millisecond)
		if got := r.Stats().Requests; got != s.Requests {
			t.Errorf("an idle reader with a full window sent %d requests in 200ms", got-s.Requests)
		}
		time.Sleep(time.Second)
		if got := r.Stats().Throughput; got != 0 {
			t.Errorf("Throughput after 2.2 s idle = %v, want 0", got)
		}
	})
}

func TestRangeReaderCachedRanges(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const bs = 64 << 10
		data := randomBytes(8, 16<<20+1000) // the last block is short
		f := &fakeFetcher{data: data, latency: 20 * time.Millisecond, rate: 50e6}
		r := newRangeReader(f, int64(len(data)), RangeReaderOptions{BlockSize: bs, Readahead: 256 << 10})
		defer r.Close()
		if got := r.Cached(); len(got) != 0 {
			t.Fatalf("Cached before any read = %v, want none", got)
		}

		readSequentially(t, r, data, 1<<20, 512<<10)
		readSequentially(t, r, data, 8<<20+100, 100<<10)
		readSequentially(t, r, data, int64(len(data))-500, 500)
		time.Sleep(time.Second)
		synctest.Wait()

		// What was read is cached, with some of the readahead after it (a
		// far jump cancels what was still coming, which can leave gaps);
		// what was never near a read is not.
		got := r.Cached()
		covers := func(lo, hi int64) bool {
			for _, g := range got {
				if g.Start <= lo && hi <= g.End {
					return true
				}
			}
			return false
		}
		for _, w := range []ByteRange{{Start: 1 << 20, End: 1<<20 + 512<<10}, {Start: 8<<20 + 100, End: 8<<20 + 100 + 100<<10}, {Start: int64(len(data)) - 500, End: int64(len(data))}} {
			if !covers(w.Start, w.End) {
				t.Errorf("Cached = %v misses %v, which was read", got, w)
			}
		}
		for _, off := range []int64{0, 4 << 20, 12 << 20, 15 << 20} {
			if covers(off, off+1) {
				t.Errorf("Cached = %v holds byte %d, never read nor read ahead", got, off)
			}
		}
		for i, g := range got {
			if g.Start%bs != 0 || g.End > int64(len(data)) || g.End <= g.Start {
				t.Errorf("range %v: not on a block, empty or past the end", g)
			}
			if i > 0 && got[i-1].End >= g.Start {
				t.Errorf("ranges %v and %v overlap or touch", got[i-1], g)
			}
		}
	})
}

func TestRangeReaderInactiveSendsOnlyForBlockedReads(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const bs = 64 << 10
		data := randomBytes(8, 16<<20)
		f := &fakeFetcher{data: data, latency: 20 * time.Millisecond}
		r := newRangeReader(f, int64(len(data)), RangeReaderOptions{BlockSize: bs, Readahead: 1 << 20})
		defer r.Close()

		r.SetActive(false)
		p := make([]byte, 3*bs)
		start := time.Now()
		if n, err := r.ReadAt(p, 5<<20+10); err != nil || !bytes.Equal(p[:n], data[5<<20+10:5<<20+10+n]) {
			t.Fatalf("ReadAt while inactive: %d, %v", n, err)
		}
		if d := time.Since(start); d != f.latency {
			t.Errorf("a 4-block read while inactive took %v, want one round trip (%v): its blocks in parallel", d, f.latency)
		}
		time.Sleep(time.Second)
		reqs := f.requests()
		if len(reqs) != 4 {
			t.Errorf("inactive reader sent %d requests for a read of 4 blocks: %+v", len(reqs), reqs)
		}
		for _, req := range reqs {
			if req.off+int64(req.n) <= 5<<20+10 || req.off >= 5<<20+10+3*bs {
				t.Errorf("inactive reader fetched %d+%d outside the read", req.off, req.n)
			}
		}

		r.SetActive(true)
		readSequentially(t, r, data, 5<<20+10+3*bs, 1<<20)
		time.Sleep(time.Second)
		if s := r.Stats(); s.Buffered < 1<<20-bs {
			t.Errorf("readahead did not resume after SetActive(true): %+v", s)
		}
	})
}

func TestRangeReaderInactiveLetsInFlightFinish(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		data := randomBytes(9, 16<<20)
		f := &fakeFetcher{data: data, latency: 20 * time.Millisecond, rate: 20e6}
		r := newRangeReader(f, int64(len(data)), RangeReaderOptions{BlockSize: 64 << 10, Readahead: 4 << 20})
		defer r.Close()

		readSequentially(t, r, data, 0, 1<<20)
		// The reader's next requests go out from its own goroutine, which
		// on a loaded machine may not have run yet.
		synctest.Wait()
		r.SetActive(false)
		s := r.Stats()
		if s.InFlight == 0 {
			t.Fatalf("no request in flight to let finish: %+v", s)
		}
		time.Sleep(time.Second)
		s2 := r.Stats()
		if s2.Requests != s.Requests {
			t.Errorf("%d requests sent after SetActive(false)", s2.Requests-s.Requests)
		}
		if s2.Cancelled != 0 || s2.InFlight != 0 || s2.BytesFetched <= s.BytesFetched {
			t.Errorf("in-flight requests did not finish after SetActive(false): before %+v, after %+v", s, s2)
		}
	})
}

func TestRangeReaderCloseUnblocksReaders(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		data := randomBytes(10, 1<<20)
		f := &fakeFetcher{data: data}
		f.hold = func(int64, int) bool { return true }
		r := newRangeReader(f, int64(len(data)), RangeReaderOptions{})

		errs := make(chan error, 2)
		go func() {
			_, err := r.ReadAt(make([]byte, 10), 1000)
			errs <- err
		}()
		go func() {
			_, err := r.Read(make([]byte, 10))
			errs <- err
		}()
		synctest.Wait()
		if err := r.Close(); err != nil {
			t.Fatal(err)
		}
		for range 2 {
			if err := <-errs; !errors.Is(err, stdnet.ErrClosed) {
				t.Errorf("blocked read returned %v, want net.ErrClosed", err)
			}
		}
		for _, req := range f.requests() {
			if !req.cancelled {
				t.Errorf("request %d+%d not cancelled by Close", req.off, req.n)
			}
		}
		if err := r.Close(); err != nil {
			t.Errorf("second Close: %v", err)
		}
		if _, err := r.ReadAt(make([]byte, 1), 0); !errors.Is(err, stdnet.ErrClosed) {
			t.Errorf("ReadAt after Close returned %v, want net.ErrClosed", err)
		}
	})
}

func TestRangeReaderFetchErrors(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const bs = 64 << 10
		data := randomBytes(11, 4<<20)
		f := &fakeFetcher{data: data, latency: 10 * time.Millisecond}
		injected := errors.New("stream reset")
		var failing atomic.Bool
		failing.Store(true)
		f.fail = func(off int64, n int) error {
			if failing.Load() && off >= 2*bs {
				return injected
			}
			return nil
		}
		r := newRangeReader(f, int64(len(data)), RangeReaderOptions{BlockSize: bs, Readahead: 1 << 20})
		defer r.Close()

		// The readahead fails; the reads that needed only blocks 0 and 1 do
		// not see it.
		readSequentially(t, r, data, 0, 2*bs)
		// A failure of a request sent before the last read may be retried
		// once; then the readahead holds.
		time.Sleep(100 * time.Millisecond)
		if r.Stats().Requests <= 2 {
			t.Fatal("no readahead to fail")
		}
		held := len(f.requests())
		time.Sleep(time.Second)
		if got := len(f.requests()); got != held {
			t.Errorf("%d requests sent again and again after the readahead failed", got-held)
		}

		// A read that needs a failing block gets the error, with context.
		p := make([]byte, 1000)
		_, err := r.ReadAt(p, 3*bs)
		if !errors.Is(err, injected) {
			t.Fatalf("ReadAt(3 blocks) = %v, want %v", err, injected)
		}
		if want := "net: reading range 196608+65536 failed: stream reset"; err.Error() != want {
			t.Errorf("error %q, want %q", err, want)
		}

		// The failure did not poison the cache: once the link is back the
		// blocks are fetched again on demand.
		failing.Store(false)
		readSequentially(t, r, data, 3*bs, 1<<20)
		time.Sleep(time.Second)
		if s := r.Stats(); s.Buffered < 1<<20-bs {
			t.Errorf("readahead did not resume after recovery: %+v", s)
		}
	})
}

func TestRangeReaderShortAnswerIsAnError(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		data := randomBytes(12, 1<<20)
		// The fetcher thinks the track is shorter than the reader was told.
		f := &fakeFetcher{data: data[:100_000]}
		r := newRangeReader(f, int64(len(data)), RangeReaderOptions{BlockSize: 64 << 10})
		defer r.Close()
		if _, err := r.ReadAt(make([]byte, 10), 65536+40_000); !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("ReadAt over a short answer = %v, want io.ErrUnexpectedEOF", err)
		}
	})
}

func TestRangeReaderCacheBound(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const bs = 16 << 10
		const cacheSize = 256 << 10
		data := randomBytes(13, 8<<20)
		f := &fakeFetcher{data: data, latency: time.Millisecond, rate: 100e6}
		r := newRangeReader(f, int64(len(data)), RangeReaderOptions{BlockSize: bs, CacheSize: cacheSize, Readahead: 64 << 10, InFlight: 4})
		defer r.Close()
		r.SetByteRate(1<<30, 3*time.Second) // a window of CacheSize/2

		rng := rand.New(rand.NewPCG(14, 14))
		p := make([]byte, 50_000)
		for i := range 300 {
			off := int64(rng.IntN(len(data)))
			if i%3 != 0 { // sequential runs
				off = (int64(i) * 40_000) % int64(len(data))
			}
			n, err := r.ReadAt(p, off)
			if (err != nil && err != io.EOF) || !bytes.Equal(p[:n], data[off:off+int64(n)]) {
				t.Fatalf("ReadAt(%d): %d, %v", off, n, err)
			}
			time.Sleep(5 * time.Millisecond)
			if c := r.cachedBytes(); c > cacheSize {
				t.Fatalf("read %d: cache holds %d bytes, over %d", i, c, cacheSize)
			}
		}
		f.mu.Lock()
		maxInFlight := f.maxInFlightBytes
		f.mu.Unlock()
		if limit := int64(cacheSize/2 + 4*bs); maxInFlight > limit {
			t.Errorf("requests in flight held up to %d bytes, over %d", maxInFlight, limit)
		}
	})
}

// TestRangeReaderCacheFollowsTheByteRate: a cache left to the default
// holds about 20 s of media once the rate is known, at least 16 MiB.
func TestRangeReaderCacheFollowsTheByteRate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		data := randomBytes(15, 96<<20)
		f := &fakeFetcher{data: data, latency: time.Millisecond, rate: 1e9}
		r := newRangeReader(f, int64(len(data)), RangeReaderOptions{})
		defer r.Close()
		pull := func(from, n int64) (peak int64) {
			p := make([]byte, 1<<20)
			for off := from; off < from+n; off += int64(len(p)) {
				if _, err := r.ReadAt(p, off); err != nil {
					t.Fatalf("ReadAt(%d): %v", off, err)
				}
				time.Sleep(10 * time.Millisecond)
				peak = max(peak, r.cachedBytes())
			}
			return peak
		}

		r.SetByteRate(100_000, 3*time.Second) // 20 s is 2 MB: the 16 MiB floor
		if peak := pull(0, 40<<20); peak > minAutoCacheSize || peak < minAutoCacheSize/2 {
			t.Errorf("at 100 kB/s the cache held up to %d bytes, want about %d", peak, minAutoCacheSize)
		}
		r.SetByteRate(2_000_000, 3*time.Second) // 20 s is 40 MB
		if peak := pull(40<<20, 56<<20); peak > 40_000_000 || peak < 30_000_000 {
			t.Errorf("at 2 MB/s the cache held up to %d bytes, want about 40 MB", peak)
		}
		r.SetByteRate(100_000, 3*time.Second)
		if c := r.cachedBytes(); c > minAutoCacheSize {
			t.Errorf("after the rate fell the cache still holds %d bytes", c)
		}
	})
}

// TestRangeReaderNoGoroutineLeft runs in real time, outside a synctest bubble,
// and counts goroutines.
func TestRangeReaderNoGoroutineLeft(t *testing.T) {
	before := runtime.NumGoroutine()
	data := randomBytes(15, 4<<20)
	f := &fakeFetcher{data: data, latency: time.Millisecond}
	f.hold = func(off int64, n int) bool { return off+int64(n) > 3<<20 }
	r := newRangeReader(f, int64(len(data)), RangeReaderOptions{BlockSize: 64 << 10})
	if _, err := io.Copy(io.Discard, io.NewSectionReader(r, 0, 2<<20)); err != nil {
		t.Fatal(err)
	}
	done := make(chan error)
	go func() {
		_, err := r.ReadAt(make([]byte, 10), 3<<20)
		done <- err
	}()
	time.Sleep(20 * time.Millisecond)
	r.Close()
	if err := <-done; !errors.Is(err, stdnet.ErrClosed) {
		t.Errorf("blocked ReadAt returned %v", err)
	}

	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		buf := make([]byte, 1<<16)
		t.Errorf("%d goroutines left after Close (before: %d)\n%s", n, before, buf[:runtime.Stack(buf, true)])
	}
}

// simLink is a fake fetcher modelling a long, narrow link in synctest's fake
// time: each answer starts a round trip after its request, then the answers
// in flight share the bandwidth equally, as streams of one connection do.
type simLink struct {
	data []byte
	rtt  time.Duration
	// bw is the link's bandwidth in bytes per second.
	bw float64

	mu     sync.Mutex
	active map[*simTransfer]struct{}
	// wake tells run a transfer started.
	wake chan struct{}
}

type simTransfer struct {
	remaining float64
	// order is the request's serve order: the link carries the most
	// urgent transfers first, as the sharer writes them.
	order int
	done  chan struct{}
}

func newSimLink(data []byte, rtt time.Duration, bw float64) *simLink {
	return &simLink{data: data, rtt: rtt, bw: bw, active: map[*simTransfer]struct{}{}, wake: make(chan struct{}, 1)}
}

// run moves the bytes every millisecond until ctx ends.
func (l *simLink) run(ctx context.Context) {
	const tick = time.Millisecond
	for {
		l.mu.Lock()
		idle := len(l.active) == 0
		l.mu.Unlock()
		if idle {
			select {
			case <-l.wake:
			case <-ctx.Done():
				return
			}
		}
		select {
		case <-time.After(tick):
		case <-ctx.Done():
			return
		}
		l.mu.Lock()
		budget := l.bw * tick.Seconds()
		// Share the tick's bytes equally among the most urgent answers,
		// handing what a finished answer leaves over to the others.
		for budget > 0.5 && len(l.active) > 0 {
			top := int(maxPriority) + 1
			for t := range l.active {
				top = min(top, t.order)
			}
			n := 0
			for t := range l.active {
				if t.order == top {
					n++
				}
			}
			share := budget / float64(n)
			for t := range l.active {
				if t.order != top {
					continue
				}
				used := min(share, t.remaining)
				t.remaining -= used
				budget -= used
				if t.remaining <= 0 {
					close(t.done)
					delete(l.active, t)
				}
			}
		}
		l.mu.Unlock()
	}
}

func (l *simLink) fetchRange(ctx context.Context, off int64, dst []byte, prio Priority) (int, time.Duration, error) {
	select {
	case <-time.After(l.rtt):
	case <-ctx.Done():
		return 0, 0, ctx.Err()
	}
	n := min(len(dst), len(l.data)-int(off))
	t := &simTransfer{remaining: float64(n), order: prio.serveOrder(), done: make(chan struct{})}
	l.mu.Lock()
	l.active[t] = struct{}{}
	l.mu.Unlock()
	select {
	case l.wake <- struct{}{}:
	default:
	}
	select {
	case <-t.done:
	case <-ctx.Done():
		l.mu.Lock()
		delete(l.active, t)
		l.mu.Unlock()
		return 0, l.rtt, ctx.Err()
	}
	return copy(dst, l.data[off:off+int64(n)]), l.rtt, nil
}

// simPull measures, over a 50 ms, 10 MB/s link, a sequential pull's share of
// the bandwidth and the time from a far jump to its first byte.
func simPull(t *testing.T, o RangeReaderOptions) (efficiency float64, jump time.Duration) {
	const size = 48 << 20
	const rtt = 50 * time.Millisecond
	const bw = 10e6
	data := randomBytes(16, size)
	var wg sync.WaitGroup
	defer wg.Wait()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	link := newSimLink(data, rtt, bw)
	wg.Go(func() { link.run(ctx) })

	r := newRangeReader(link, size, o)
	start := time.Now()
	readSequentially(t, r, data, 0, size)
	efficiency = size / bw / time.Since(start).Seconds()
	r.Close()

	r = newRangeReader(link, size, o)
	defer r.Close()
	readSequentially(t, r, data, 0, 8<<20)
	time.Sleep(5 * time.Second) // idle, the window full
	start = time.Now()
	if _, err := r.ReadAt(make([]byte, 1), 40<<20); err != nil {
		t.Fatal(err)
	}
	return efficiency, time.Since(start)
}

// TestRangeReaderOverSlowLink checks the defaults on a long, narrow link in
// fake time, where loopback cannot show round trips: a sequential pull uses
// at least 80% of the bandwidth (84-95% measured, depending on how goroutines
// interleave; the rest is the slow start and a round trip's bubble each time
// the window empties at once), and a far
// jump gets its first byte after one round trip and one block. With
// REELAY_TUNE=1 and -v it logs the grid the defaults were chosen from.
func TestRangeReaderOverSlowLink(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		eff, jump := simPull(t, RangeReaderOptions{})
		t.Logf("defaults: %.0f%% of the link, far jump to first byte %v", eff*100, jump)
		if eff < 0.8 {
			t.Errorf("a sequential pull used %.0f%% of the link, want ≥ 80%%", eff*100)
		}
		// 50 ms round trip + 256 KiB at 10 MB/s = 76 ms.
		if limit := 80 * time.Millisecond; jump > limit {
			t.Errorf("a far jump took %v to its first byte, want ≤ %v", jump, limit)
		}
		if os.Getenv("REELAY_TUNE") == "" {
			return
		}
		for _, bs := range []int{64 << 10, 256 << 10, 1 << 20} {
			for _, inFlight := range []int{1, 2, 4, 8} {
				for _, maxReq := range []int{bs, 4 << 20} {
					eff, jump := simPull(t, RangeReaderOptions{BlockSize: bs, InFlight: inFlight, MaxRequest: maxReq})
					e2, _ := simPull(t, RangeReaderOptions{BlockSize: bs, InFlight: inFlight, MaxRequest: maxReq})
					eff = (eff + e2) / 2
					t.Logf("block %4d KiB, %d in flight, requests ≤ %4d KiB: %3.0f%% of the link, far jump %v",
						bs>>10, inFlight, maxReq>>10, eff*100, jump)
				}
			}
		}
	})
}

// TestRangeReaderPrefetchTail: with PrefetchTail the first read also asks
// for the last block, so a demuxer's jump to an index at the end is a cache
// hit; the request is not cancelled as stale while the reader reads on.
func TestRangeReaderPrefetchTail(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const bs = 64 << 10
		data := randomBytes(11, 4<<20+100)
		f := &fakeFetcher{data: data, latency: 20 * time.Millisecond}
		r := newRangeReader(f, int64(len(data)), RangeReaderOptions{BlockSize: bs, Readahead: 512 << 10, PrefetchTail: true})
		defer r.Close()

		p := make([]byte, 4096)
		if _, err := r.ReadAt(p, 0); err != nil {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond)
		synctest.Wait()
		before := r.Stats()
		tail := int64(len(data)) - 50
		n, err := r.ReadAt(p[:50], tail)
		if err != nil || !bytes.Equal(p[:n], data[tail:]) {
			t.Fatalf("tail read: %d bytes, %v", n, err)
		}
		after := r.Stats()
		if after.CacheHits != before.CacheHits+1 || after.Cancelled != 0 {
			t.Fatalf("tail read was not a cache hit: before %+v after %+v", before, after)
		}
		// The last block, urgent, and the one before it when the last is
		// a stub.
		tailStart := int64(len(data)) / bs * bs
		if int64(len(data))-tailStart < minTail {
			tailStart -= bs
		}
		found := false
		for _, req := range f.requests() {
			found = found || (req.off == tailStart && req.off+int64(req.n) == int64(len(data)) && req.prio == RequestPriority(NeedNow, 1))
		}
		if !found {
			t.Fatalf("no urgent request for the last %d bytes from %d: %+v", bs, tailStart, f.requests())
		}
	})
}

// TestRangeReaderAsksUrgentlyForWhatAReadWaitsOn: after a jump, the block
// the read waits on goes out first and urgent, at the reader's rank; the
// read-ahead behind it goes out less urgent than any urgent request.
func TestRangeReaderAsksUrgentlyForWhatAReadWaitsOn(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		data := randomBytes(7, 64_000)
		f := &fakeFetcher{data: data, latency: 10 * time.Millisecond}
		r := newRangeReader(f, int64(len(data)), RangeReaderOptions{BlockSize: 1000, Readahead: 8000, InFlight: 4})
		defer r.Close()
		r.SetRank(0)
		readSequentially(t, r, data, 30_000, 6000)
		synctest.Wait()
		log := f.requests()
		if len(log) < 2 {
			t.Fatalf("%d requests, want the read's and read-ahead", len(log))
		}
		ahead := 0
		for _, q := range log {
			switch {
			case q.off == 30_000:
				if q.n != 1000 || q.prio != RequestPriority(NeedNow, 0) {
					t.Errorf("the read's block went out as %d+%d at priority %d, want alone at %d", q.off, q.n, q.prio, RequestPriority(NeedNow, 0))
				}
			case q.prio == RequestPriority(NeedSoon, 0) || q.prio == RequestPriority(NeedLater, 0):
				ahead++
			case q.prio != RequestPriority(NeedNow, 0):
				t.Errorf("request %d+%d at priority %d, neither urgent nor read-ahead at rank 0", q.off, q.n, q.prio)
			}
		}
		if ahead == 0 {
			t.Error("no request went out as read-ahead")
		}
	})
}

func TestRangeReaderSparseAsksForExactlyWhatIsRead(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const bs = 64 << 10
		data := randomBytes(9, 16<<20)
		f := &fakeFetcher{data: data, latency: 20 * time.Millisecond}
		r := newRangeReader(f, int64(len(data)), RangeReaderOptions{BlockSize: bs, Readahead: 4 << 20})
		defer r.Close()
		r.SetByteRate(1<<20, 3*time.Second)

		// Playing: blocks and readahead.
		readSequentially(t, r, data, 0, 256<<10)
		time.Sleep(time.Second)
		before := len(f.requests())

		r.SetSparse(true)
		// Packets picked out of the file: a keyframe and sound between
		// pictures, read in parallel as a player does.
		ranges := []ByteRange{{Start: 5<<20 + 17, End: 5<<20 + 17 + 90_000}, {Start: 6<<20 + 3, End: 6<<20 + 3 + 400}, {Start: 6<<20 + 30_000, End: 6<<20 + 30_700}, {Start: 9 << 20, End: 9<<20 + 1}}
		start := time.Now()
		var wg sync.WaitGroup
		for _, br := range ranges {
			wg.Go(func() {
				p := make([]byte, br.End-br.Start)
				if n, err := r.ReadAt(p, br.Start); err != nil || !bytes.Equal(p[:n], data[br.Start:br.End]) {
					t.Errorf("sparse ReadAt(%d, %d): %d, %v", br.Start, len(p), n, err)
				}
			})
		}
		wg.Wait()
		if d := time.Since(start); d != f.latency {
			t.Errorf("4 sparse reads took %v, want one round trip (%v): they are asked in parallel", d, f.latency)
		}
		time.Sleep(time.Second)
		reqs := f.requests()[before:]
		if len(reqs) != len(ranges) {
			t.Fatalf("sparse reads of %d ranges sent %d requests: %+v", len(ranges), len(reqs), reqs)
		}
		for _, req := range reqs {
			if !slices.Contains(ranges, ByteRange{Start: req.off, End: req.off + int64(req.n)}) {
				t.Errorf("sparse reader asked for %d+%d, which was not read", req.off, req.n)
			}
			if req.prio != RequestPriority(NeedNow, 1) {
				t.Errorf("a sparse read was asked at priority %d, want %d: a read waits on it", req.prio, RequestPriority(NeedNow, 1))
			}
		}
		// What the cache held still serves, without asking.
		p := make([]byte, 1000)
		if n, err := r.ReadAt(p, 1000); err != nil || !bytes.Equal(p[:n], data[1000:2000]) {
			t.Fatalf("sparse ReadAt of cached bytes: %d, %v", n, err)
		}
		if got := len(f.requests()) - before; got != len(ranges) {
			t.Errorf("a read of cached bytes sent a request")
		}
		if s := r.Stats(); s.BytesFetched < 90_000+400+700+1 {
			t.Errorf("sparse bytes not counted: %+v", s)
		}
		if n, err := r.ReadAt(p, int64(len(data))-10); n != 10 || !errors.Is(err, io.EOF) {
			t.Errorf("sparse ReadAt across the end: %d, %v; want 10, EOF", n, err)
		}

		// Back to playing: the sparse reads' bandwidth is forgotten, and
		// readahead goes on from where the reads go on.
		for i := range 10 {
			off := int64(10<<20 + i*100_000)
			if n, err := r.ReadAt(p, off); err != nil || !bytes.Equal(p[:n], data[off:off+int64(len(p))]) {
				t.Fatalf("sparse ReadAt(%d): %d, %v", off, n, err)
			}
		}
		if r.Stats().Bandwidth == 0 {
			t.Fatal("no bandwidth measured while reading sparse")
		}
		r.SetSparse(false)
		if bw := r.Stats().Bandwidth; bw != 0 {
			t.Errorf("the bandwidth the sparse reads measured (%.0f B/s) outlived them", bw)
		}
		readSequentially(t, r, data, 9<<20, 256<<10)
		time.Sleep(time.Second)
		if s := r.Stats(); s.Buffered < 1<<20 {
			t.Errorf("readahead did not resume after SetSparse(false): %+v", s)
		}
	})
}

// TestRangeReaderReadsLessUrgentlyWhenTheTrackNeedNotHurry: a reader the
// player told its track has its frame and some buffer asks for what a read
// waits on at the readahead's soon priority, so another track's urgent read
// passes first; told urgent again (a seek), at once urgently.
func TestRangeReaderReadsLessUrgentlyWhenTheTrackNeedNotHurry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const bs = 64 << 10
		data := randomBytes(12, 8<<20)
		f := &fakeFetcher{data: data, latency: 20 * time.Millisecond}
		r := newRangeReader(f, int64(len(data)), RangeReaderOptions{BlockSize: bs, Readahead: 256 << 10})
		defer r.Close()
		r.SetRank(2)
		p := make([]byte, 1000)
		prioOfRead := func(off int64) Priority {
			t.Helper()
			before := len(f.requests())
			if _, err := r.ReadAt(p, off); err != nil {
				t.Fatal(err)
			}
			for _, req := range f.requests()[before:] {
				if req.off <= off && off < req.off+int64(req.n) {
					return req.prio
				}
			}
			t.Fatalf("no request for the read at %d", off)
			return 0
		}
		if got, want := prioOfRead(3<<20), RequestPriority(NeedNow, 2); got != want {
			t.Errorf("a read asked at priority %d, want %d (now)", got, want)
		}
		r.SetUrgent(false)
		if got, want := prioOfRead(5<<20), RequestPriority(NeedSoon, 2); got != want {
			t.Errorf("a read of a track that need not hurry asked at priority %d, want %d (soon)", got, want)
		}
		r.SetUrgent(true)
		if got, want := prioOfRead(1<<20), RequestPriority(NeedNow, 2); got != want {
			t.Errorf("a read after SetUrgent(true) asked at priority %d, want %d (now)", got, want)
		}
	})
}

// TestRangeReaderFetchesATwoBlockTrackAtOnce: a track of two blocks, which
// its demuxer reads at both ends as it opens, is asked for whole at the
// first read, not one block a round trip.
func TestRangeReaderFetchesATwoBlockTrackAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const bs = 256 << 10
		data := randomBytes(13, bs+100_000)
		f := &fakeFetcher{data: data, latency: 20 * time.Millisecond}
		r := newRangeReader(f, int64(len(data)), RangeReaderOptions{BlockSize: bs, PrefetchTail: true})
		defer r.Close()
		start := time.Now()
		p := make([]byte, 64<<10)
		if _, err := r.ReadAt(p, 0); err != nil {
			t.Fatal(err)
		}
		if _, err := r.ReadAt(p[:1000], int64(len(data))-1000); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d != f.latency {
			t.Errorf("reading both ends took %v, want one round trip (%v)", d, f.latency)
		}
	})
}

// TestRangeReaderKeepsWhatSparseReadsFetched: bytes a sparse read fetched
// are not fetched again, sparse or not, and count as cached.
func TestRangeReaderKeepsWhatSparseReadsFetched(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		data := randomBytes(11, 4<<20)
		f := &fakeFetcher{data: data, latency: 20 * time.Millisecond}
		r := newRangeReader(f, int64(len(data)), RangeReaderOptions{BlockSize: 256 << 10, Readahead: 1 << 20})
		defer r.Close()
		r.SetSparse(true)
		read := func(off, n int64) {
			t.Helper()
			p := make([]byte, n)
			if got, err := r.ReadAt(p, off); err != nil || !bytes.Equal(p[:got], data[off:off+n]) {
				t.Fatalf("ReadAt(%d, %d): %d, %v", off, n, got, err)
			}
		}
		// A header and a keyframe, as a demuxer opening a file reads them.
		read(0, 65536)
		read(1<<20+48, 300_000)
		time.Sleep(time.Second)
		before := len(f.requests())
		read(1<<20+100, 1000)
		if n := len(f.requests()) - before; n != 0 {
			t.Errorf("reading sparse what a sparse read fetched sent %d requests", n)
		}
		cached := r.Cached()
		for _, want := range []ByteRange{{Start: 0, End: 65536}, {Start: 1<<20 + 48, End: 1<<20 + 48 + 300_000}} {
			if !slices.ContainsFunc(cached, func(c ByteRange) bool { return c.Start <= want.Start && want.End <= c.End }) {
				t.Errorf("cached %v lacks %v", cached, want)
			}
		}
		// Read on, not sparse: what is kept is served at once, without
		// waiting for a request.
		r.SetSparse(false)
		if _, err := r.Seek(0, io.SeekStart); err != nil {
			t.Fatal(err)
		}
		p := make([]byte, 65536)
		start := time.Now()
		if _, err := io.ReadFull(r, p); err != nil || !bytes.Equal(p, data[:65536]) {
			t.Fatalf("reading the header again: %v", err)
		}
		if d := time.Since(start); d != 0 {
			t.Errorf("reading the header kept from a sparse read took %v: it waited for the sharer", d)
		}
	})
}

// TestRangeReaderPrefetchServesTheReadsThatFollow: while sparse, a
// Prefetch is one request, less what a read already brought, and the
// demuxer's reads within it wait for it rather than each asking a round
// trip after the last; a Read at its end is short rather than asking for
// more, and a ReadAt past it asks only for the rest.
func TestRangeReaderPrefetchServesTheReadsThatFollow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const read = 64 << 10
		data := randomBytes(13, 16<<20)
		size := int64(len(data))
		f := &fakeFetcher{data: data, latency: 50 * time.Millisecond, rate: 10 << 20}
		r := newRangeReader(f, size, RangeReaderOptions{PrefetchTail: true})
		defer r.Close()
		r.SetSparse(true)

		p := make([]byte, read)
		if n, err := r.Read(p); err != nil || !bytes.Equal(p[:n], data[:n]) {
			t.Fatalf("head Read: %d, %v", n, err)
		}
		synctest.Wait()
		log := f.requests()
		if len(log) != 1 || log[0].off != 0 || log[0].n != read {
			t.Fatalf("the head read sent %+v, want the head alone", log)
		}

		// A first picture's packets, which the head read began.
		const end = 500_048
		start := time.Now()
		r.Prefetch(48, end-48)
		synctest.Wait()
		log = f.requests()
		if len(log) != 2 || log[1].off != read || log[1].off+int64(log[1].n) != end || log[1].prio != RequestPriority(NeedNow, 1) {
			t.Fatalf("Prefetch(48, %d) sent %+v, want one urgent request for %d..%d", end-48, log[1:], read, end)
		}
		at := int64(read)
		for at < end {
			n, err := r.Read(p)
			if err != nil || !bytes.Equal(p[:n], data[at:at+int64(n)]) {
				t.Fatalf("Read at %d: %d, %v", at, n, err)
			}
			if at+int64(n) > end {
				t.Fatalf("Read at %d returned %d bytes, past the prefetch's end %d", at, n, end)
			}
			at += int64(n)
		}
		transfer := time.Duration(end-read) * time.Second / (10 << 20)
		if took := time.Since(start); took > f.latency+transfer+time.Millisecond {
			t.Errorf("reading the prefetched bytes took %v, want one request's %v", took, f.latency+transfer)
		}
		if got := len(f.requests()); got != 2 {
			t.Errorf("reads within the prefetch sent %d requests more", got-2)
		}
		if s := r.Stats(); s.Prefetched != end-read {
			t.Errorf("Stats.Prefetched %d, want %d", s.Prefetched, end-read)
		}

		// A ReadAt running past the prefetched bytes asks for the rest.
		q := make([]byte, 100_000)
		if n, err := r.ReadAt(q, end-20_000); err != nil || !bytes.Equal(q[:n], data[end-20_000:end+80_000]) {
			t.Fatalf("ReadAt across the prefetch's end: %d, %v", n, err)
		}
		if log = f.requests(); len(log) != 3 || log[2].off != end || log[2].n != 80_000 {
			t.Errorf("a ReadAt across the prefetch's end sent %+v, want %d+%d", log[2:], end, 80_000)
		}
	})
}

// TestRangeReaderAsksAgainForAQueuedBlockItWaitsOn: a read that comes to
// wait on a block whose read-ahead request sits queued at the sharer
// (nothing of it arrived a round trip after it went out) asks for it
// again, urgently, and the queued one is cancelled; a request already
// arriving is left alone.
func TestRangeReaderAsksAgainForAQueuedBlockItWaitsOn(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const bs = 64 << 10
		data := randomBytes(17, 4<<20)
		// The sharer serves urgent requests and holds the read-ahead
		// (busy with another track's urgent answers).
		f := &fakeFetcher{data: data, latency: 20 * time.Millisecond}
		var held sync.Map
		f.hold = func(off int64, n int) bool { _, ok := held.Load(off); return ok }
		for off := int64(bs); off < 8*bs; off += bs {
			held.Store(off, true)
		}
		r := newRangeReader(streamingFake{f}, int64(len(data)), RangeReaderOptions{BlockSize: bs, Readahead: 512 << 10, InFlight: 8, MaxRequest: bs})
		defer r.Close()
		r.SetByteRate(256<<10, 2*time.Second)
		readSequentially(t, r, data, 0, bs)
		synctest.Wait()
		ahead := 0
		for _, q := range f.requests() {
			if q.off == bs && q.prio != RequestPriority(NeedNow, 1) {
				ahead++
			}
		}
		if ahead != 1 {
			t.Fatalf("no read-ahead request for the second block: %+v", f.requests())
		}
		// Reached: what the read waits on sits queued.
		held.Delete(int64(bs))
		start := time.Now()
		readSequentially(t, r, data, bs, bs)
		if took := time.Since(start); took > 3*f.latency+upgradeMargin+10*time.Millisecond {
			t.Errorf("the read waited %v on its queued block, want about a round trip to notice and one to ask again", took)
		}
		var cancelled, urgent bool
		for _, q := range f.requests() {
			if q.off == bs {
				cancelled = cancelled || (q.cancelled && q.prio != RequestPriority(NeedNow, 1))
				urgent = urgent || (!q.cancelled && q.prio == RequestPriority(NeedNow, 1))
			}
		}
		if !cancelled || !urgent {
			t.Errorf("the second block: queued request cancelled %v, asked again urgently %v: %+v", cancelled, urgent, f.requests())
		}
		if s := r.Stats(); s.Upgraded != 1 {
			t.Errorf("Stats.Upgraded %d, want 1", s.Upgraded)
		}
	})
}

// TestRangeReaderAsksAgainForABlockArrivingTooSlowly: a read that comes
// to wait on a block whose read-ahead request is arriving over one of
// several connections, but at a pace that brings the block later than a
// new urgent request would (a lane sharing the link with the other lanes'
// read-ahead), asks for it again urgently; one arriving about as fast as
// a new request would is left alone, and so is one arriving over the
// only connection, whose pace is the link's.
func TestRangeReaderAsksAgainForABlockArrivingTooSlowly(t *testing.T) {
	for _, c := range []struct {
		name string
		// slow is the read-ahead's pace; urgent answers come at 4 MiB/s.
		// paths is the connections carrying the requests.
		slow     float64
		paths    int
		upgraded bool
	}{
		{"trickling", 16 << 10, 4, true},
		{"near a new request's pace", 128 << 10, 4, false},
		// On one connection the pace is the link's.
		{"trickling on one connection", 16 << 10, 1, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				const bs = 64 << 10
				data := randomBytes(18, 4<<20)
				f := trickleFetcher{fakeFetcher: &fakeFetcher{data: data, latency: 200 * time.Millisecond}, fast: 4 << 20, slow: c.slow, lanes: c.paths}
				r := newRangeReader(f, int64(len(data)), RangeReaderOptions{BlockSize: bs, Readahead: 512 << 10, InFlight: 8, MaxRequest: bs})
				defer r.Close()
				r.SetByteRate(256<<10, 2*time.Second)
				readSequentially(t, r, data, 0, bs)
				start := time.Now()
				readSequentially(t, r, data, bs, bs)
				took := time.Since(start)
				s := r.Stats()
				var again bool
				for _, q := range f.requests() {
					again = again || (q.off == bs && q.prio == RequestPriority(NeedNow, 1))
				}
				if c.upgraded && (s.Upgraded != 1 || !again || took > 2*f.latency+upgradeMargin+f.latency+50*time.Millisecond) {
					t.Errorf("waited %v on a trickling block; asked again urgently %v, Stats.Upgraded %d, want 1", took, again, s.Upgraded)
				}
				if !c.upgraded && (s.Upgraded != 0 || again) {
					t.Errorf("a block arriving %s was asked again (Stats.Upgraded %d, after %v)", c.name, s.Upgraded, took)
				}
			})
		})
	}
}

// trickleFetcher streams each answer in 4 KiB pieces from latency on: one
// needed now at fast bytes a second, read-ahead at slow, over lanes
// connections.
type trickleFetcher struct {
	*fakeFetcher
	fast, slow float64
	lanes      int
}

func (f trickleFetcher) paths() int { return f.lanes }

func (f trickleFetcher) fetchRange(ctx context.Context, off int64, dst []byte, prio Priority) (int, time.Duration, error) {
	return f.fetchRangeStreaming(ctx, off, dst, prio, func(int, int) {})
}

func (f trickleFetcher) fetchRangeStreaming(ctx context.Context, off int64, dst []byte, prio Priority, arrived func(n, landed int)) (int, time.Duration, error) {
	f.mu.Lock()
	req := &fakeRequest{off: off, n: len(dst), prio: prio, ctx: ctx}
	f.log = append(f.log, req)
	f.mu.Unlock()
	rate := f.slow
	if prio.serveOrder() < RequestPriority(NeedSoon, 0).serveOrder() {
		rate = f.fast
	}
	const piece = 4 << 10
	wait, n := f.latency, 0
	for n < len(dst) {
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			f.mu.Lock()
			req.cancelled = true
			f.mu.Unlock()
			return n, f.latency, ctx.Err()
		}
		k := min(piece, len(dst)-n)
		n += copy(dst[n:n+k], f.data[off+int64(n):])
		arrived(n, n)
		wait = time.Duration(float64(k) / rate * float64(time.Second))
	}
	return n, f.latency, nil
}

// streamingFake is a fakeFetcher that reports its answer's arrival, as
// the network's fetcher does, when the answer comes: a held request
// reports nothing.
type streamingFake struct{ *fakeFetcher }

func (f streamingFake) fetchRangeStreaming(ctx context.Context, off int64, dst []byte, prio Priority, arrived func(n, landed int)) (int, time.Duration, error) {
	n, ttfb, err := f.fetchRange(ctx, off, dst, prio)
	if n > 0 {
		arrived(n, n)
	}
	return n, ttfb, err
}

// halvesFetcher answers after latency with the first half of what is
// asked, and the rest one more latency later, telling as it goes, as a
// stream does.
type halvesFetcher struct {
	data    []byte
	latency time.Duration
}

func (f halvesFetcher) fetchRange(ctx context.Context, off int64, dst []byte, prio Priority) (int, time.Duration, error) {
	return f.fetchRangeStreaming(ctx, off, dst, prio, func(int, int) {})
}

func (f halvesFetcher) fetchRangeStreaming(ctx context.Context, off int64, dst []byte, _ Priority, arrived func(n, landed int)) (int, time.Duration, error) {
	n := copy(dst, f.data[off:])
	for _, part := range []int{n / 2, n} {
		select {
		case <-time.After(f.latency):
		case <-ctx.Done():
			return 0, 0, ctx.Err()
		}
		arrived(part, part)
	}
	return n, f.latency, nil
}

// TestRangeReaderPrefetchServesWhatHasArrived: a read within a prefetch
// whose first half has arrived is served then, not when the whole answer
// is in: a first picture's keyframe decodes while the pictures after it
// are still on their way.
func TestRangeReaderPrefetchServesWhatHasArrived(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		data := randomBytes(19, 4<<20)
		f := halvesFetcher{data: data, latency: 50 * time.Millisecond}
		r := newRangeReader(f, int64(len(data)), RangeReaderOptions{})
		defer r.Close()
		r.SetSparse(true)
		r.Prefetch(0, 1<<20)
		start := time.Now()
		p := make([]byte, 64<<10)
		if n, err := r.ReadAt(p, 100_000); err != nil || !bytes.Equal(p[:n], data[100_000:100_000+n]) {
			t.Fatalf("ReadAt in the first half: %d, %v", n, err)
		}
		if took := time.Since(start); took != f.latency {
			t.Errorf("a read in the first half waited %v, want the first half's %v", took, f.latency)
		}
		if n, err := r.ReadAt(p, 900_000); err != nil || !bytes.Equal(p[:n], data[900_000:900_000+n]) {
			t.Fatalf("ReadAt in the second half: %d, %v", n, err)
		}
		if took := time.Since(start); took != 2*f.latency {
			t.Errorf("a read in the second half came %v after the prefetch, want %v", took, 2*f.latency)
		}
	})
}

// TestRangeReaderPrefetchAsksOnlyForWhatNoPrefetchBrings: a prefetch
// asked while another is in flight (a track's first bytes asked for as
// it opened, then its first picture's packets once its index told where
// they lie) asks only for the bytes beyond the first, and reads across
// both are served from the two answers.
func TestRangeReaderPrefetchAsksOnlyForWhatNoPrefetchBrings(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		data := randomBytes(19, 4<<20)
		f := &fakeFetcher{data: data, latency: 50 * time.Millisecond, rate: 10 << 20}
		r := newRangeReader(f, int64(len(data)), RangeReaderOptions{})
		defer r.Close()
		r.SetSparse(true)

		const head, end = 430_967, 514_320
		r.Prefetch(0, head)
		r.Prefetch(48, end-48) // in flight: the first covers most of it
		r.Prefetch(100, 1000)  // all of it in flight
		synctest.Wait()
		log := f.requests()
		slices.SortFunc(log, func(a, b fakeRequest) int { return cmp.Compare(a.off, b.off) })
		if len(log) != 2 || log[0].off != 0 || log[0].n != head || log[1].off != head || log[1].off+int64(log[1].n) != end {
			t.Fatalf("prefetches sent %+v, want 0+%d and %d..%d", log, head, head, end)
		}
		got := make([]byte, end)
		if n, err := r.ReadAt(got, 0); err != nil || !bytes.Equal(got[:n], data[:end]) {
			t.Fatalf("ReadAt across both: %d, %v", n, err)
		}
		if log := f.requests(); len(log) != 2 {
			t.Errorf("reading what the prefetches brought sent %+v", log[2:])
		}
	})
}

// TestRangeReaderPrefetchWhileReadingAheadAsksForTheBlocksAtOnce: while
// the reader reads ahead, Prefetch (a seek's way from its keyframe to its
// target) asks urgently, in one request, for the blocks holding the bytes
// that nothing holds or brings, before the reads reach them and however
// far from the reads they are; the reads there are served from it; the
// next Prefetch replaces it.
func TestRangeReaderPrefetchWhileReadingAheadAsksForTheBlocksAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const bs = 256 << 10
		data := randomBytes(23, 32<<20)
		f := &fakeFetcher{data: data, latency: 50 * time.Millisecond, rate: 2 << 20}
		r := newRangeReader(f, int64(len(data)), RangeReaderOptions{Readahead: 1 << 20})
		defer r.Close()
		p := make([]byte, 64<<10)
		if _, err := r.ReadAt(p, 0); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		before := len(f.requests())

		const off, n = 17_955_765, 1_679_660 // from inside block 68 to inside block 75
		r.Prefetch(off, n)
		synctest.Wait()
		log := f.requests()[before:]
		if len(log) != 1 || log[0].off != 68*bs || log[0].off+int64(log[0].n) != 75*bs || log[0].prio != RequestPriority(NeedNow, 1) {
			t.Fatalf("Prefetch(%d, %d) sent %+v, want blocks 68..74 at once, urgently", off, n, log)
		}
		// The reads, a round trip later, are served from that answer.
		time.Sleep(50 * time.Millisecond)
		got := make([]byte, n)
		if _, err := r.ReadAt(got, off); err != nil || !bytes.Equal(got, data[off:off+n]) {
			t.Fatalf("ReadAt within the prefetch: %v", err)
		}
		for _, q := range f.requests()[before+1:] {
			if q.off < 75*bs && q.off+int64(q.n) > 68*bs {
				t.Errorf("a read within the prefetch asked again for %d+%d", q.off, q.n)
			}
		}
		if f.requests()[before].cancelled {
			t.Error("the prefetch was cancelled before the reads reached it")
		}

		// What is read soon after goes as read-ahead, after the urgent
		// requests; another jump's prefetch replaces both when no read
		// waits on them. The read-ahead the reads above sent goes out
		// first.
		synctest.Wait()
		n0 := len(f.requests())
		r.Prefetch(4<<20, bs)
		r.PrefetchAhead(5<<20, 2*bs)
		synctest.Wait()
		log = f.requests()[n0:]
		slices.SortFunc(log, func(a, b fakeRequest) int { return cmp.Compare(a.off, b.off) })
		if len(log) != 2 || log[1].off != 5<<20 || log[1].n != 2*bs || log[1].prio != RequestPriority(NeedSoon, 1) {
			t.Fatalf("PrefetchAhead sent %+v, want blocks %d..%d as read-ahead", log[1:], 5<<20/bs, 5<<20/bs+2)
		}
		r.Prefetch(24<<20, bs)
		synctest.Wait()
		for _, q := range f.requests()[n0 : n0+2] {
			if !q.cancelled {
				t.Errorf("the earlier jump's request %d+%d was not cancelled by the next", q.off, q.n)
			}
		}
	})
}

// TestRangeReaderTurnedUrgentAsksAgainAtOnce: a read that waits on a
// request sent while its track was not urgent (the player had a little
// buffered) is asked again urgently as soon as the track turns urgent
// (its buffer ran down while the read waited), without first waiting a
// round trip to see that its request sits queued at the sharer.
func TestRangeReaderTurnedUrgentAsksAgainAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const bs = 64 << 10
		data := randomBytes(29, 1<<20)
		f := &fakeFetcher{data: data, latency: 20 * time.Millisecond}
		var held sync.Map
		f.hold = func(off int64, n int) bool { _, ok := held.Load(off); return ok }
		r := newRangeReader(streamingFake{f}, int64(len(data)), RangeReaderOptions{BlockSize: bs, Readahead: bs, InFlight: 4, MaxRequest: bs})
		defer r.Close()
		readSequentially(t, r, data, 0, bs) // the round trip is measured
		r.SetUrgent(false)
		held.Store(int64(4*bs), true) // queued behind other tracks' urgent answers
		done := make(chan error, 1)
		go func() {
			p := make([]byte, bs)
			_, err := r.ReadAt(p, 4*bs)
			done <- err
		}()
		synctest.Wait()
		// Fetches log as their goroutines run: the window's cancelled
		// request for block 1 may come after block 4's.
		asked := false
		for _, q := range f.requests() {
			asked = asked || (q.off == 4*bs && q.prio == RequestPriority(NeedSoon, 1))
		}
		if !asked {
			t.Fatalf("the relaxed read did not ask for block 4 as soon: %+v", f.requests())
		}
		// The sharer would serve an urgent request at once.
		held.Delete(int64(4 * bs))
		start := time.Now()
		r.SetUrgent(true)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if took := time.Since(start); took > f.latency {
			t.Errorf("the read waited %v after its track turned urgent, want the one round trip of asking again (%v)", took, f.latency)
		}
		var cancelled, urgent bool
		for _, q := range f.requests() {
			if q.off == 4*bs {
				cancelled = cancelled || (q.cancelled && q.prio == RequestPriority(NeedSoon, 1))
				urgent = urgent || (!q.cancelled && q.prio == RequestPriority(NeedNow, 1))
			}
		}
		if !cancelled || !urgent {
			t.Errorf("block 4: relaxed request cancelled %v, asked again urgently %v: %+v", cancelled, urgent, f.requests())
		}
	})
}

// TestRangeReaderCountsTheRoundTripsOfAReadPath: reads that each wait for
// the one before make a chain as long as they are; prefetched bytes read
// after a mark count once, however many requests brought them; held bytes,
// and bytes that arrived before they were read, count for none; a request
// in flight at the mark counts as one.
func TestRangeReaderCountsTheRoundTripsOfAReadPath(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		data := randomBytes(11, 8<<20)
		f := &fakeFetcher{data: data, latency: 20 * time.Millisecond}
		r := newRangeReader(f, int64(len(data)), RangeReaderOptions{BlockSize: 64 << 10})
		defer r.Close()
		r.SetSparse(true)
		read := func(off, n int64) {
			t.Helper()
			p := make([]byte, n)
			if _, err := r.ReadAt(p, off); err != nil || !bytes.Equal(p, data[off:off+n]) {
				t.Fatalf("ReadAt(%d, %d): %v", off, n, err)
			}
		}
		trips := r.RoundTrips

		// A header, then what it points to, then what that points to.
		read(0, 4096)
		read(7<<20, 40_000)
		read(1<<20, 300_000)
		if got := trips(); got != 3 {
			t.Errorf("three reads each after the one before took %d round trips, want 3", got)
		}

		// A seek told where all it reads lies: one round trip.
		r.MarkRoundTrips()
		if got := trips(); got != 0 {
			t.Errorf("right after the mark: %d round trips, want 0", got)
		}
		r.Prefetch(3<<20, 200_000)
		r.Prefetch(5<<20, 9_000)
		read(3<<20, 100_000)
		read(5<<20, 9_000)
		read(3<<20+100_000, 100_000)
		if got := trips(); got != 1 {
			t.Errorf("reads of two prefetches asked at once took %d round trips, want 1", got)
		}
		// Bytes already held cost nothing after a mark.
		r.MarkRoundTrips()
		read(0, 4096)
		read(1<<20, 300_000)
		if got := trips(); got != 0 {
			t.Errorf("reads of held bytes took %d round trips, want 0", got)
		}

		// A prefetch in flight when the mark comes counts as one, and a
		// read the reads waited for before it adds one more.
		r.Prefetch(6<<20, 50_000)
		r.MarkRoundTrips()
		read(6<<20, 50_000)
		read(2<<20, 1000)
		if got := trips(); got != 2 {
			t.Errorf("a prefetch in flight at the mark and a read after it took %d round trips, want 2", got)
		}

		// Asked for far enough ahead, bytes cost no wait: requests sent
		// one after another are no round trips of the read path.
		r.MarkRoundTrips()
		for i := range int64(4) {
			r.Prefetch(4<<20+i*10_000, 10_000)
			time.Sleep(time.Second)
			read(4<<20+i*10_000, 10_000)
		}
		if got := trips(); got != 0 {
			t.Errorf("reads of prefetches that had arrived took %d round trips, want 0", got)
		}
	})
}

// TestRangeReaderCountsTheRoundTripsOfBlocks: reading in blocks, a read
// that waits for a block asked after the last wait counts one more;
// after a mark, blocks the window already holds count for none.
func TestRangeReaderCountsTheRoundTripsOfBlocks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const bs = 64 << 10
		data := randomBytes(12, 4<<20)
		f := &fakeFetcher{data: data, latency: 20 * time.Millisecond}
		r := newRangeReader(f, int64(len(data)), RangeReaderOptions{BlockSize: bs, Readahead: 512 << 10})
		defer r.Close()
		p := make([]byte, 1000)
		if _, err := r.ReadAt(p, 0); err != nil {
			t.Fatal(err)
		}
		if got := r.RoundTrips(); got != 1 {
			t.Errorf("the first read took %d round trips, want 1", got)
		}
		// A far jump: its block is asked for after the first read's.
		if _, err := r.ReadAt(p, 3<<20); err != nil {
			t.Fatal(err)
		}
		if got := r.RoundTrips(); got != 2 {
			t.Errorf("a jump after the first read took %d round trips in all, want 2", got)
		}
		// Played on from there, the window fills ahead of the reads:
		// reading into it after a mark takes no round trip.
		readSequentially(t, r, data, 3<<20, 4*bs)
		time.Sleep(time.Second)
		r.MarkRoundTrips()
		readSequentially(t, r, data, 3<<20+4*bs, bs)
		if got := r.RoundTrips(); got != 0 {
			t.Errorf("a block the window held already took %d round trips, want 0", got)
		}
	})
}
