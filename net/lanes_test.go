package net

import (
	"bytes"
	"context"
	"log/slog"
	"math"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
)

// TestLanesFollowTheLossReported: the connections a viewer keeps follow
// the loss its sharer reports and what one connection carries against
// what the player plays, never fewer than one, and a report that is no
// share (negative, one or more, not a number) changes nothing.
func TestLanesFollowTheLossReported(t *testing.T) {
	const mbit = 1e6 / 8
	for _, c := range []struct {
		loss, carried, demand float64
		want                  int
	}{
		{0, 0, 0, 1},
		// Some loss, and one connection carries too little for a player
		// of 7.2 Mbit/s.
		{0.0011, 9 * mbit, 7.2 * mbit, 4},
		{0.0044, 3 * mbit, 7.2 * mbit, 4},
		// It carries enough, or what it carries or what is played is not
		// known yet.
		{0.0044, 11 * mbit, 7.2 * mbit, 1},
		{0.0044, 0, 7.2 * mbit, 1},
		{0.0044, 3 * mbit, 0, 1},
		// A loss a clean link does not have in its queue.
		{0.0009, 3 * mbit, 7.2 * mbit, 1},
		// Loss that heavy holds any one connection down.
		{0.0081, 0, 0, 4}, {0.01, 20 * mbit, 1 * mbit, 4}, {0.2, 0, 0, 4},
	} {
		if got := lanesFor(c.loss, c.carried, c.demand); got != c.want {
			t.Errorf("lanesFor(%v, %.1f Mbit/s carried, %.1f played) = %d, want %d", c.loss, c.carried/mbit, c.demand/mbit, got, c.want)
		}
	}
	ls := newLanes(newLoopbackHost(t), peer.ID("sharer"), slog.New(slog.DiscardHandler))
	defer ls.close()
	ls.open = func() (*Host, error) { t.Fatal("a lane was dialled for a report that is no loss"); return nil, nil }
	for _, bad := range []float64{-0.5, 1, 7, math.NaN()} {
		ls.observe(bad)
	}
	if ls.want != 1 {
		t.Errorf("want %d lanes after malformed reports, not 1", ls.want)
	}
}

// TestALossyLinkGetsMoreConnections: across an emulated link that loses
// 1 % of its packets, where one connection carries less than a player
// plays, the viewer opens lanes as the sharer reports the loss, up to
// four connections, and reads split across them return the
// file's bytes, up to its end; the sharer still counts one viewer, and an
// Allow list naming the viewer lets its lanes in. On a clean link it keeps
// one, and on a path of 2 ms, where one connection carries plenty despite
// the loss.
func TestALossyLinkGetsMoreConnections(t *testing.T) {
	checkGoroutines(t)
	for _, c := range []struct {
		link  string
		lossy bool
		want  int
	}{{"20ms,100mbit,1%", true, 4}, {"20ms,100mbit", false, 1}, {"2ms,100mbit,1%", true, 1}} {
		t.Run(c.link, func(t *testing.T) {
			link, err := ParseEmulatedLink(c.link)
			if err != nil {
				t.Fatal(err)
			}
			es := newEmulatedShare(t, link, TransportQUIC, 12<<20, true)
			rec, data := es.rec, es.data
			ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
			defer cancel()
			// A player of 2 MB/s reads the track too: what one connection
			// falls short of at 1 % loss on 20 ms.
			rr, err := rec.OpenTrack("screen", RangeReaderOptions{})
			if err != nil {
				t.Fatal(err)
			}
			defer rr.Close()
			rr.SetByteRate(2<<20, 3*time.Second)
			buf := make([]byte, MaxReadLength)
			for off := 0; off < len(data); off += len(buf) {
				n, err := rec.ReadRange(ctx, "screen", int64(off), buf)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(buf[:n], data[off:min(off+len(buf), len(data))]) {
					t.Fatalf("the %d bytes at %d differ from the file (%d connections)", n, off, rec.Connection().Lanes)
				}
			}
			// Read on until the lanes are open, or, where none should be,
			// until the sharer has reported the loss.
			reported := func() bool {
				rec.lanes.mu.Lock()
				defer rec.lanes.mu.Unlock()
				return rec.lanes.loss >= lossForLanes
			}
			deadline := time.Now().Add(20 * time.Second)
			for time.Now().Before(deadline) && (rec.Connection().Lanes < c.want || (c.lossy && c.want == 1 && !reported())) {
				n, err := rec.ReadRange(ctx, "screen", 0, buf)
				if err != nil || !bytes.Equal(buf[:n], data[:n]) {
					t.Fatalf("reading again: %d bytes, %v, or bytes differ", n, err)
				}
			}
			if c.lossy && !reported() {
				t.Errorf("the sharer never reported the loss of %s", c.link)
			}
			if got := rec.Connection().Lanes; got != c.want {
				t.Errorf("%d connections to the sharer over %s, want %d", got, c.link, c.want)
			}
			// A read across the end, split or not, ends at the end.
			off := len(data) - 100_000
			if n, err := rec.ReadRange(ctx, "screen", int64(off), buf); n != 100_000 || err != nil || !bytes.Equal(buf[:n], data[off:]) {
				t.Errorf("reading %d bytes 100 kB before the end: %d, %v", len(buf), n, err)
			}
			if v := es.sharer.Viewers(); len(v) != 1 {
				t.Errorf("the sharer lists %d viewers, want 1", len(v))
			}
		})
	}
}

// TestARequestGoesOnTheLeastBusyLane: requests go out on the lanes with
// the fewest bytes outstanding first; a lane whose connection closed is
// left out and closed, and the recording's own connection is always there.
func TestARequestGoesOnTheLeastBusyLane(t *testing.T) {
	sharer, main := newLoopbackHost(t), newLoopbackHost(t)
	other := newLoopbackHost(t).(*Host)
	for _, h := range []host.Host{main, other} {
		if err := h.Connect(t.Context(), peer.AddrInfo{ID: sharer.ID(), Addrs: sharer.Addrs()}); err != nil {
			t.Fatal(err)
		}
	}
	ls := newLanes(main, sharer.ID(), slog.New(slog.DiscardHandler))
	defer ls.close()
	lane := &lane{h: other, own: other}
	ls.list = append(ls.list, lane)
	later := RequestPriority(NeedLater, 0)
	ls.list[0].outstanding[later.serveOrder()].Store(1 << 20)
	if got := ls.pick(1, later); len(got) != 1 || got[0] != lane {
		t.Error("a request did not go on the lane with nothing outstanding")
	}
	if got := ls.pick(4, later); len(got) != 2 || got[0] != lane {
		t.Errorf("a request split %d ways, the least busy lane not first", len(got))
	}
	// The sharer sends an urgent answer before the read-ahead waiting on
	// the same connection: the recording's own, warm, is as good.
	if got := ls.pick(1, RequestPriority(NeedNow, 0)); got[0] != ls.list[0] {
		t.Error("an urgent request was kept off a connection with read-ahead outstanding")
	}
	parts := ls.split(512<<10, later)
	if len(parts) != 1 || parts[0].l != lane || lane.ahead(later) != 512<<10 {
		t.Errorf("a request of 512 KiB beside 1 MiB of read-ahead was split %d ways, %d bytes counted on the free lane", len(parts), lane.ahead(later))
	}
	parts[0].done(0)
	if n := lane.ahead(maxPriority); n != 0 {
		t.Errorf("%d bytes still outstanding once the part was done", n)
	}
	other.Network().ClosePeer(sharer.ID())
	if got := ls.pick(2, later); len(got) != 1 || got[0].own != nil {
		t.Error("a lane with no connection was picked")
	}
	if n := ls.count(); n != 1 {
		t.Errorf("%d lanes listed after one lost its connection, want 1", n)
	}
}

// TestEvenOutLeavesABackloggedLaneOut: a request's parts raise the least
// busy lanes to one level, a lane with a backlog above it gets none, and
// no part is under the minimum.
func TestEvenOutLeavesABackloggedLaneOut(t *testing.T) {
	const k = 1 << 10
	for _, c := range []struct {
		busy []int64
		n    int
		want []int
	}{
		{[]int64{0, 0, 0, 0}, 1024 * k, []int{256 * k, 256 * k, 256 * k, 256 * k}},
		// The recording's own connection holds 4 MiB of read-ahead: the
		// three fresh lanes take the request between them.
		{[]int64{0, 0, 0, 4096 * k}, 1024 * k, []int{349526, 349525, 349525}},
		{[]int64{0, 100 * k, 200 * k, 300 * k}, 600 * k, []int{300 * k, 200 * k, 100 * k}},
		// Evening out would leave the second lane 16 KiB, under 64 KiB.
		{[]int64{0, 1000 * k}, 1032 * k, []int{1032 * k}},
		{[]int64{0, 936 * k}, 1064 * k, []int{1000 * k, 64 * k}},
		{[]int64{5}, 10, []int{10}},
		{[]int64{0, 0, 0}, 100 * k, []int{100 * k}},
		{[]int64{0, 0, 0}, 128 * k, []int{64 * k, 64 * k}},
	} {
		got := evenOut(c.busy, c.n, 64*k)
		if !slices.Equal(got, c.want) {
			t.Errorf("evenOut(%v, %d) = %v, want %v", c.busy, c.n, got, c.want)
		}
		sum := 0
		for _, p := range got {
			sum += p
		}
		if sum != c.n {
			t.Errorf("evenOut(%v, %d) parts sum to %d", c.busy, c.n, sum)
		}
	}
}

// TestSplitWhileOtherRequestsComeAndGo: requests split while others are
// counted on and off the same lanes get parts that cover them exactly,
// none empty or negative.
func TestSplitWhileOtherRequestsComeAndGo(t *testing.T) {
	sharer, main := newLoopbackHost(t), newLoopbackHost(t)
	ls := newLanes(main, sharer.ID(), slog.New(slog.DiscardHandler))
	defer ls.close()
	for range 3 {
		h := newLoopbackHost(t).(*Host)
		if err := h.Connect(t.Context(), peer.AddrInfo{ID: sharer.ID(), Addrs: sharer.Addrs()}); err != nil {
			t.Fatal(err)
		}
		ls.list = append(ls.list, &lane{h: h, own: h})
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 2000 {
				n := splitMin * (1 + (g+i)%20)
				parts := ls.split(n, RequestPriority(Need(i%3), g%3))
				sum := 0
				for _, p := range parts {
					if p.n <= 0 {
						t.Errorf("a part of %d bytes", p.n)
					}
					sum += p.n
				}
				if sum != n {
					t.Errorf("parts of %d bytes in all for a request of %d", sum, n)
				}
				for _, p := range parts {
					ls.landed(p.n / 2)
					p.done(p.n / 2)
				}
			}
		})
	}
	wg.Wait()
	for i, l := range ls.list {
		if a := l.ahead(maxPriority + 1); a != 0 {
			t.Errorf("lane %d still counts %d bytes once every part was done", i, a)
		}
	}
	if ls.outstanding != 0 || ls.carried.busyNow {
		t.Errorf("%d bytes outstanding on the lanes once every part was done (backlogged %v)", ls.outstanding, ls.carried.busyNow)
	}
}

// TestLanesMeasureWhatArrivesWhileBacklogged: what the connections carry
// is measured over the time at least backlogMin bytes are outstanding,
// not while a lone request waits its round trip.
func TestLanesMeasureWhatArrivesWhileBacklogged(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ls := &lanes{list: []*lane{{}}}
		// A lone block, 100 ms each, for 3 s: under the backlog.
		for range 30 {
			p := ls.split(256<<10, RequestPriority(NeedLater, 1))
			time.Sleep(100 * time.Millisecond)
			ls.landed(256 << 10)
			p[0].done(256 << 10)
		}
		if ls.carried.busy != 0 {
			t.Errorf("%.2f s counted as backlogged with one block outstanding at a time", ls.carried.busy)
		}
		// 4 MiB asked for, arriving at 1 MB/s for 2 s.
		p := ls.split(4<<20, RequestPriority(NeedLater, 1))
		for range 200 {
			time.Sleep(10 * time.Millisecond)
			ls.landed(10_000)
		}
		p[0].done(2_000_000)
		if got := ls.carried.rate(time.Now()); math.Abs(got-1e6) > 0.02e6 || ls.carried.busy < minCarriedSample.Seconds() {
			t.Errorf("carried %.0f bytes/s over %.2f s backlogged, want 1e6 over a second or more", got, ls.carried.busy)
		}
		if ls.outstanding != 0 || ls.carried.busyNow {
			t.Errorf("%d bytes outstanding once the request was done (backlogged %v)", ls.outstanding, ls.carried.busyNow)
		}
	})
}
