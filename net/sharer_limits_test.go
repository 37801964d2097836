package net

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	gosync "sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	rcmgr "github.com/libp2p/go-libp2p/p2p/host/resource-manager"
)

// TestHostLimitsArePerPeerAndExplicit: NewHost's resource manager holds
// the documented per-peer limits, not ones scaled to the machine.
func TestHostLimitsArePerPeerAndExplicit(t *testing.T) {
	ts := newTestShare(t)
	rm := ts.sHost.Network().ResourceManager()
	err := rm.ViewPeer(ts.vHost.ID(), func(ps network.PeerScope) error {
		l := ps.(rcmgr.ResourceScopeLimiter).Limit()
		got := []int64{
			int64(l.GetConnLimit(network.DirInbound)), int64(l.GetConnTotalLimit()),
			int64(l.GetStreamLimit(network.DirInbound)), int64(l.GetStreamLimit(network.DirOutbound)),
			l.GetMemoryLimit(), int64(l.GetFDLimit()),
		}
		want := []int64{PeerMaxConns, PeerMaxConns, PeerMaxStreamsInbound, PeerMaxStreamsOutbound, PeerMaxMemory, PeerMaxFD}
		if !slices.Equal(got, want) {
			return fmt.Errorf("peer limits %v, want %v", got, want)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestStreamFloodFromOnePeerIsBounded: of the /reelay streams one peer
// holds open, MaxRequestsPerPeer wait for their request and the rest are
// answered busy at once, so the sharer holds no more than that for it;
// ProtocolPeerMaxStreamsInbound is the resource manager's backstop behind
// this cap. Another viewer is served meanwhile.
func TestStreamFloodFromOnePeerIsBounded(t *testing.T) {
	ts := newTestShare(t)
	// The flood is all the peer holds: its recording's watch would take
	// one of its outbound streams.
	ts.viewer.Close()
	const n = 2 * ProtocolPeerMaxStreamsInbound
	var held []network.Stream
	defer func() {
		for _, st := range held {
			st.Reset()
		}
	}()
	for range n {
		st, err := ts.vHost.NewStream(t.Context(), ts.sHost.ID(), ProtocolID)
		if err != nil {
			t.Fatal(err)
		}
		// A length and nothing more: the handler waits for the rest.
		st.Write([]byte{100})
		held = append(held, st)
	}
	var mu gosync.Mutex
	var wg gosync.WaitGroup
	outcomes := map[string]int{}
	for _, st := range held {
		wg.Go(func() {
			st.SetReadDeadline(time.Now().Add(time.Second))
			var resp response
			err := readFrame(bufio.NewReader(st), &resp)
			outcome := fmt.Sprintf("%+v", resp)
			switch {
			case errors.Is(err, os.ErrDeadlineExceeded):
				outcome = "waiting"
			case err == nil && resp.Error != nil && resp.Error.Code == CodeBusy:
				outcome = "busy"
			case err != nil:
				outcome = "reset"
			}
			mu.Lock()
			outcomes[outcome]++
			mu.Unlock()
		})
	}
	wg.Wait()
	t.Logf("%d streams: %v", n, outcomes)
	if outcomes["waiting"] > 32 || outcomes["waiting"]+outcomes["busy"]+outcomes["reset"] != n {
		t.Errorf("outcomes %v, want at most 32 waiting, the rest busy or reset", outcomes)
	}
	ts.assertServes(t)
}

// TestSlowlorisLosesItsSlotsFast: streams that never send their request
// are dropped after HeaderTimeout, long before RequestTimeout, so the
// peer's request slots come back.
func TestSlowlorisLosesItsSlotsFast(t *testing.T) {
	ts := newTestShare(t)
	ts.sharer.Close()
	ts.sharer = NewSharer(ts.sHost, SharerOptions{MaxRequestsPerPeer: 4, HeaderTimeout: 300 * time.Millisecond})
	t.Cleanup(func() { ts.sharer.Close() })
	link, err := ts.sharer.Share(ts.dir)
	if err != nil {
		t.Fatal(err)
	}
	ts.link = link
	var held []network.Stream
	for range 4 {
		st, err := ts.vHost.NewStream(t.Context(), ts.sHost.ID(), ProtocolID)
		if err != nil {
			t.Fatal(err)
		}
		st.Write([]byte{100}) // a length, then nothing
		held = append(held, st)
	}
	start := time.Now()
	for _, st := range held {
		st.SetReadDeadline(time.Now().Add(5 * time.Second))
		io.Copy(io.Discard, st)
		st.Reset()
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("half-sent requests held for %v", d)
	}
	var resp response
	if err := ts.viewer.exchange(t.Context(), request{Method: MethodGet, Token: ts.link.Token}, &resp, func(*bufio.Reader) error { return nil }); err != nil {
		t.Fatalf("the peer's slots did not come back: %v", err)
	}
}

// newUnlimitedHost is a host with no resource limits of its own, as a
// hostile peer would run: only the sharer's limits hold it back.
func newUnlimitedHost(tb testing.TB) host.Host {
	tb.Helper()
	h, err := libp2p.New(libp2p.ListenAddrStrings(LoopbackListenAddrs...), libp2p.ResourceManager(&network.NullResourceManager{}))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { h.Close() })
	return h
}

// hostileKinds are the bogus requests a hostile peer sends in turn.
var hostileKinds = []string{
	"garbage", "wrong token", "huge length", "huge header", "abandoned", "reset at once", "never reads",
}

// hostilePeer floods a sharer with bogus requests from its own host.
type hostilePeer struct {
	h      host.Host
	sharer peer.ID
	token  string
	// sent counts requests sent; skipped counts those left out because
	// too many were still waiting for an answer.
	sent, skipped atomic.Int64
	// outcomes counts, by kind, what the sharer did: an error code, reset,
	// refused (no stream).
	mu       gosync.Mutex
	outcomes map[string]int
	// held waits for the streams left open on purpose.
	held gosync.WaitGroup
}

// holdFor is how long the hostile peer keeps a stream it abandoned or
// never reads before resetting it; holding them longer would only run
// it into the connection's stream limit and slow its flood down.
const holdFor = 100 * time.Millisecond

func (hp *hostilePeer) note(kind, outcome string) {
	hp.mu.Lock()
	hp.outcomes[kind+": "+outcome]++
	hp.mu.Unlock()
}

// flood sends rate requests a second for dur, at most 256 awaiting an
// answer, and returns once every stream it opened is gone.
func (hp *hostilePeer) flood(ctx context.Context, rate int, dur time.Duration) {
	slots := make(chan struct{}, 256)
	var wg gosync.WaitGroup
	tk := time.NewTicker(10 * time.Millisecond)
	defer tk.Stop()
	begin := time.Now()
loop:
	for i := 0; time.Since(begin) < dur; {
		select {
		case <-ctx.Done():
			break loop
		case <-tk.C:
		}
		// Catch up on ticks a busy machine delayed or dropped.
		for due := int(time.Since(begin) * time.Duration(rate) / time.Second); i < due; {
			kind := hostileKinds[i%len(hostileKinds)]
			i++
			select {
			case slots <- struct{}{}:
			default:
				hp.skipped.Add(1)
				continue
			}
			hp.sent.Add(1)
			wg.Go(func() {
				defer func() { <-slots }()
				hp.send(ctx, kind)
			})
		}
	}
	wg.Wait()
	hp.held.Wait()
}

func (hp *hostilePeer) send(ctx context.Context, kind string) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	st, err := hp.h.NewStream(ctx, hp.sharer, ProtocolID)
	if err != nil {
		hp.note(kind, "refused")
		return
	}
	st.SetDeadline(time.Now().Add(2 * time.Second))
	hold := func() {
		hp.held.Go(func() {
			time.Sleep(holdFor)
			st.Reset()
		})
	}
	var body []byte
	switch kind {
	case "garbage":
		body = []byte("\x05hello")
	case "wrong token":
		body = frame(request{Method: MethodReadRange, Token: newToken(), Track: "screen", Length: MaxReadLength})
	case "huge length":
		body = frame(request{Method: MethodReadRange, Token: hp.token, Track: "screen", Length: 1 << 40})
	case "huge header":
		body = binary.AppendUvarint(nil, 1<<30)
	case "abandoned":
		// Part of a header, then silence.
		st.Write(binary.AppendUvarint(nil, 200))
		hold()
		hp.note(kind, "sent")
		return
	case "reset at once":
		st.Write(frame(request{Method: MethodReadRange, Token: hp.token, Track: "screen", Length: MaxReadLength}))
		st.Reset()
		hp.note(kind, "sent")
		return
	case "never reads":
		// A whole read the peer never takes off the wire.
		st.Write(frame(request{Method: MethodReadRange, Token: hp.token, Track: "screen", Offset: 1 << 20, Length: MaxReadLength}))
		hold()
		hp.note(kind, "sent")
		return
	}
	if _, err := st.Write(body); err != nil {
		st.Reset()
		hp.note(kind, "reset")
		return
	}
	st.CloseWrite()
	var resp response
	err = readFrame(bufio.NewReader(st), &resp)
	switch {
	case err != nil:
		st.Reset()
		hp.note(kind, "reset")
	case resp.Error != nil:
		st.Close()
		hp.note(kind, string(resp.Error.Code))
	default:
		st.Reset()
		hp.note(kind, "answered")
	}
}

// TestHostilePeerDoesNotStallAViewer: while a peer sends 1,000 bogus
// requests a second (garbage, wrong tokens, huge lengths and headers,
// streams abandoned half-sent or reset at once, and whole reads it never
// takes off the wire), a viewer pulling all three tracks at their media
// rate (see pullPaced) never stalls, and reads the right bytes.
func TestHostilePeerDoesNotStallAViewer(t *testing.T) {
	checkGoroutines(t)
	ts := newTestShare(t)
	const (
		rate  = 1000
		flood = 4 * time.Second
	)
	hp := &hostilePeer{h: newUnlimitedHost(t), sharer: ts.sHost.ID(), token: ts.link.Token, outcomes: map[string]int{}}
	if err := hp.h.Connect(t.Context(), peer.AddrInfo{ID: ts.sHost.ID(), Addrs: ts.sHost.Addrs()}); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	rates := map[string]int64{"camera": videoRate, "screen": videoRate, "mic": audioRate}
	results := make(chan pullResult, len(rates))
	for track, r := range rates {
		rr, err := ts.viewer.OpenTrack(track, RangeReaderOptions{})
		if err != nil {
			t.Fatal(err)
		}
		defer rr.Close()
		go func() { results <- pullPaced(ctx, rr, track, ts.files[track], r, flood+2*time.Second) }()
	}
	time.Sleep(time.Second) // the viewer plays before the flood begins
	hp.flood(ctx, rate, flood)

	sent := hp.sent.Load()
	t.Logf("hostile peer: %d requests in %v (%.0f/s), %d left out with 256 awaiting an answer", sent, flood, float64(sent)/flood.Seconds(), hp.skipped.Load())
	for _, k := range slices.Sorted(maps.Keys(hp.outcomes)) {
		t.Logf("  %s: %d", k, hp.outcomes[k])
	}
	for range rates {
		res := <-results
		t.Logf("viewer %s: %d reads, %d stalls, the latest %v after due, the longest took %v; %d bytes",
			res.track, res.reads, res.stalls, res.worst.Round(time.Millisecond), res.longest.Round(time.Millisecond), res.bytes)
		if res.err != nil {
			t.Errorf("viewer %s: %v", res.track, res.err)
		}
		if res.stalls != 0 {
			t.Errorf("viewer %s stalled %d times: %v", res.track, res.stalls, res.stallNotes)
		}
	}
	// The flood is paced at rate; under the race detector on a loaded
	// runner its own goroutines can fall behind, so the bar is half of
	// it (the rate reached is logged above).
	if float64(sent) < 0.5*rate*flood.Seconds() {
		t.Errorf("the flood reached only %.0f requests a second", float64(sent)/flood.Seconds())
	}
	ts.assertServes(t)
}

// TestDiskSlotsAreNotHeldByPeersThatDoNotRead: a peer with the token that
// asks for whole reads and never takes them off the wire holds no disk
// slot, so a viewer still reads with a single slot for everyone.
func TestDiskSlotsAreNotHeldByPeersThatDoNotRead(t *testing.T) {
	ts := newTestShare(t)
	ts.sharer.Close()
	ts.sharer = NewSharer(ts.sHost, SharerOptions{MaxDiskReads: 1})
	t.Cleanup(func() { ts.sharer.Close() })
	link, err := ts.sharer.Share(ts.dir)
	if err != nil {
		t.Fatal(err)
	}
	ts.link = link
	greedy := newLoopbackHost(t)
	if err := greedy.Connect(t.Context(), peer.AddrInfo{ID: ts.sHost.ID(), Addrs: ts.sHost.Addrs()}); err != nil {
		t.Fatal(err)
	}
	for range 8 {
		st, err := greedy.NewStream(t.Context(), ts.sHost.ID(), ProtocolID)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Reset()
		st.Write(frame(request{Method: MethodReadRange, Token: link.Token, Track: "screen", Length: MaxReadLength}))
	}
	time.Sleep(200 * time.Millisecond) // the sharer fills the greedy peer's windows
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	rec, err := Dial(ctx, ts.vHost, link)
	if err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 1<<20)
	if _, err := rec.ReadRange(ctx, "camera", 0, got); err != nil {
		t.Fatalf("a viewer could not read while another peer held reads open: %v", err)
	}
	if !bytes.Equal(got, ts.files["camera"][:len(got)]) {
		t.Fatal("wrong bytes")
	}
}
