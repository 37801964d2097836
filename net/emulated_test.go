package net

import (
	"bytes"
	"context"
	"io"
	"math"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"reelay/net/leakcheck"
)

func TestParseEmulatedLink(t *testing.T) {
	for _, c := range []struct {
		in   string
		want EmulatedLink
		// out is what String gives back, when not in itself.
		out string
	}{
		{in: "50ms", want: EmulatedLink{RTT: 50 * time.Millisecond}},
		{in: "50ms,20mbit", want: EmulatedLink{RTT: 50 * time.Millisecond, Rate: 20e6}},
		{in: "50ms,20mbit,0.1%", want: EmulatedLink{RTT: 50 * time.Millisecond, Rate: 20e6, Loss: 0.001}},
		{in: "50ms,1%", want: EmulatedLink{RTT: 50 * time.Millisecond, Loss: 0.01}},
		{in: "50ms,0.1%,20mbit", want: EmulatedLink{RTT: 50 * time.Millisecond, Rate: 20e6, Loss: 0.001}, out: "50ms,20mbit,0.1%"},
		{in: " 80ms , 1Gbit , 2% ", want: EmulatedLink{RTT: 80 * time.Millisecond, Rate: 1e9, Loss: 0.02}, out: "80ms,1gbit,2%"},
		{in: "1.5s,1.5kbit,0.07%", want: EmulatedLink{RTT: 1500 * time.Millisecond, Rate: 1500, Loss: 0.0007}},
		{in: "300ms,2500kbit", want: EmulatedLink{RTT: 300 * time.Millisecond, Rate: 2.5e6}, out: "300ms,2500kbit"},
		{in: "20ms,0.25mbit", want: EmulatedLink{RTT: 20 * time.Millisecond, Rate: 250e3}, out: "20ms,250kbit"},
		{in: "0s,10mbit,0%", want: EmulatedLink{Rate: 10e6}, out: "0s,10mbit"},
		{in: "50ms,20mbit,1%,cubic", want: EmulatedLink{RTT: 50 * time.Millisecond, Rate: 20e6, Loss: 0.01, Congestion: "cubic"}},
		{in: "50ms,BBR", want: EmulatedLink{RTT: 50 * time.Millisecond, Congestion: "bbr"}, out: "50ms,bbr"},
	} {
		got, err := ParseEmulatedLink(c.in)
		if err != nil {
			t.Errorf("ParseEmulatedLink(%q): %v", c.in, err)
			continue
		}
		// A percentage divided by 100 may differ from the literal in
		// its last bit.
		if got.RTT != c.want.RTT || got.Rate != c.want.Rate || got.Queue != c.want.Queue || got.Congestion != c.want.Congestion || math.Abs(got.Loss-c.want.Loss) > 1e-15 {
			t.Errorf("ParseEmulatedLink(%q) = %+v, want %+v", c.in, got, c.want)
		}
		out := c.out
		if out == "" {
			out = c.in
		}
		if s := got.String(); s != out {
			t.Errorf("ParseEmulatedLink(%q).String() = %q, want %q", c.in, s, out)
		}
		again, err := ParseEmulatedLink(got.String())
		if err != nil || again != got {
			t.Errorf("%q parsed back as %+v, %v; want %+v", got.String(), again, err, got)
		}
	}

	for _, c := range []struct{ in, why string }{
		{"", "empty"},
		{"fast", "not a duration"},
		{"50", "not a duration"},
		{"-50ms", "negative"},
		{"50ms,", "empty"},
		{"50ms,,1%", "empty"},
		{"50ms,20", "neither a rate"},
		{"50ms,20mbps", "neither a rate"},
		{"50ms,20bit", "needs a unit"},
		{"50ms,fastmbit", "not a number"},
		{"50ms,0mbit", "under 1 bit"},
		{"50ms,-1mbit", "under 1 bit"},
		{"50ms,0.0001kbit", "under 1 bit"},
		{"50ms,1e12gbit", "beyond any link"},
		{"50ms,20mbit,30mbit", "rate twice"},
		{"50ms,1%,2%", "loss twice"},
		{"50ms,20mbit,100%", "outside"},
		{"50ms,20mbit,-1%", "outside"},
		{"50ms,20mbit,NaN%", "not a percentage"},
		{"50ms,20mbit,lots%", "not a percentage"},
		{"50ms,20mbit,0.1%,1s", "neither a rate"},
		{"50ms,20mbit,0.1%,cubic,1s", "at most 4"},
		{"50ms,cubic,bbr", "congestion control twice"},
		{"50ms,2cubic", "neither a rate"},
	} {
		_, err := ParseEmulatedLink(c.in)
		if err == nil {
			t.Errorf("ParseEmulatedLink(%q) succeeded, want an error (%s)", c.in, c.why)
			continue
		}
		if !strings.HasPrefix(err.Error(), `net: link "`+c.in+`": `) || !strings.Contains(err.Error(), c.why) {
			t.Errorf("ParseEmulatedLink(%q): %q, want it to name the link and say %q", c.in, err, c.why)
		}
	}
}

func TestTransportString(t *testing.T) {
	for tr, want := range map[Transport]string{TransportUnknown: "unknown", TransportQUIC: "quic", TransportTCP: "tcp", transportTCPProxy: "tcp-proxy", 42: "unknown"} {
		if got := tr.String(); got != want {
			t.Errorf("Transport(%d).String() = %q, want %q", int(tr), got, want)
		}
	}
}

// emulatedShare is a real Sharer serving one random track across an
// emulated link, and the viewer's Recording of it.
type emulatedShare struct {
	pair   *EmulatedPair
	sharer *Sharer
	link   Link
	rec    *Recording
	// data is the track's content.
	data []byte
}

// newEmulatedShare shares a folder holding screen.mp4 of size random
// bytes from the pair's sharer and dials it from the viewer, checking
// that the link's addresses and the connection are the emulated ones
// alone. With viewerOnly the sharer's Allow list names the pair's viewer.
// Everything stops with the test.
func newEmulatedShare(t *testing.T, l EmulatedLink, tr Transport, size int, viewerOnly bool) *emulatedShare {
	t.Helper()
	dir := t.TempDir()
	es := &emulatedShare{data: writeRandomFile(t, filepath.Join(dir, "screen.mp4"), size, 7)}
	var err error
	if es.pair, err = NewEmulatedPair(l, tr); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := es.pair.Close(); err != nil {
			t.Errorf("closing the pair: %v", err)
		}
	})
	var o SharerOptions
	if viewerOnly {
		o.Allow = []peer.ID{es.pair.Viewer.ID()}
	}
	es.sharer = NewSharer(es.pair.Sharer, o)
	t.Cleanup(func() { es.sharer.Close() })
	if es.link, err = es.sharer.Share(dir); err != nil {
		t.Fatal(err)
	}
	if len(es.link.Addrs) == 0 {
		t.Fatal("the link holds no address")
	}
	for _, a := range es.link.Addrs {
		if !es.pair.emulatedAddr(a.String()) {
			t.Fatalf("the link holds %s, not an address across the emulated link (%v)", a, es.link.Addrs)
		}
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if es.rec, err = Dial(ctx, es.pair.Viewer, es.link); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { es.rec.Close() })
	conns := es.pair.Viewer.Network().ConnsToPeer(es.pair.Sharer.ID())
	if len(conns) == 0 {
		t.Fatal("the viewer has no connection to the sharer")
	}
	for _, c := range conns {
		if !es.pair.emulatedAddr(c.RemoteMultiaddr().String()) {
			t.Fatalf("the viewer reached the sharer at %s, around the emulated link", c.RemoteMultiaddr())
		}
	}
	return es
}

// emulatedAddr says whether a is an address behind the emulated link:
// the sharer's simnet address, its address in its namespace, or the
// proxy's.
func (p *EmulatedPair) emulatedAddr(a string) bool {
	if p.kernel != nil {
		return strings.HasPrefix(a, "/ip4/"+kernelSharerIP.String()+"/tcp/")
	}
	if p.sharerEnd != nil {
		return strings.HasPrefix(a, "/ip4/"+p.sharerEnd.addr.IP.String()+"/udp/8000/quic-v1")
	}
	return a == "/ip4/127.0.0.1/tcp/"+p.proxyPort()
}

// pullAll reads the whole track through a RangeReader, checking every
// byte, and returns how long it took.
func (es *emulatedShare) pullAll(t *testing.T) time.Duration {
	t.Helper()
	r, err := es.rec.OpenTrack("screen", RangeReaderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	got := make([]byte, len(es.data))
	start := time.Now()
	if _, err := io.ReadFull(r, got); err != nil {
		t.Fatalf("reading the track: %v", err)
	}
	took := time.Since(start)
	if !bytes.Equal(got, es.data) {
		t.Fatal("the track's bytes differ from the file's")
	}
	return took
}

// minTransfer is the least time n bytes can take at rate bits per
// second: simnet lets one MTU through at once, then paces.
func minTransfer(n int, rate int64) time.Duration {
	return time.Duration(float64(n-1500) * 8 / float64(rate) * float64(time.Second))
}

// testEmulatedLinkHolds checks that a link of 50 ms and 20 Mbit/s is in
// effect: a request cannot be answered faster than the round trip, nor a
// track pulled faster than the rate allows, and its bytes arrive intact.
func testEmulatedLinkHolds(t *testing.T, tr Transport) {
	l := EmulatedLink{RTT: 50 * time.Millisecond, Rate: 20e6}
	const size = 3<<20 + 11
	es := newEmulatedShare(t, l, tr, size, false)

	buf := make([]byte, 1024)
	start := time.Now()
	if _, err := es.rec.ReadRange(t.Context(), "screen", 4096, buf); err != nil {
		t.Fatal(err)
	}
	rtt := time.Since(start)
	if !bytes.Equal(buf, es.data[4096:4096+len(buf)]) {
		t.Fatal("ReadRange returned the wrong bytes")
	}
	if rtt < l.RTT {
		t.Errorf("a ReadRange took %v, under the link's round trip %v: the link is not in effect", rtt, l.RTT)
	}

	took := es.pullAll(t)
	floor := minTransfer(size, l.Rate)
	t.Logf("%s over %s: ReadRange of 1 KiB %v; %d bytes in %v (%.1f Mbit/s; the link allows %v at best)",
		tr, l, rtt.Round(time.Millisecond), size, took.Round(time.Millisecond), float64(size)*8/took.Seconds()/1e6, floor.Round(time.Millisecond))
	if took < floor {
		t.Errorf("%d bytes took %v, under the %v that %s allows: the rate is not in effect", size, took, floor, l)
	}
	st := es.pair.Stats()
	t.Logf("stats: %+v", st)
	if st.Down.Bytes < size {
		t.Errorf("%d bytes went down the link, fewer than the %d of the track", st.Down.Bytes, size)
	}
	if st.Up.Bytes == 0 {
		t.Error("no byte went up the link, yet the viewer sent requests")
	}
	if st.Down.Lost != 0 || st.Up.Lost != 0 {
		t.Errorf("packets lost on a link without loss: %+v", st)
	}
	if tr != transportTCPProxy && st.Down.Packets < size/1500 {
		t.Errorf("%d packets went down the link, too few for %d bytes", st.Down.Packets, size)
	}
}

func TestEmulatedLinkQUIC(t *testing.T) {
	leakcheck.Check(t)
	testEmulatedLinkHolds(t, TransportQUIC)
}

func TestEmulatedLinkTCP(t *testing.T) {
	leakcheck.Check(t)
	testEmulatedLinkHolds(t, TransportTCP)
}

func TestEmulatedLinkTCPProxy(t *testing.T) {
	leakcheck.Check(t)
	testEmulatedLinkHolds(t, transportTCPProxy)
}

// TestEmulatedLinkDelayOnly: a link given only a round trip delays
// requests by it and passes the bytes at whatever rate the hosts manage.
func TestEmulatedLinkDelayOnly(t *testing.T) {
	for _, tr := range []Transport{TransportQUIC, TransportTCP} {
		t.Run(tr.String(), func(t *testing.T) {
			leakcheck.Check(t)
			l := EmulatedLink{RTT: 30 * time.Millisecond}
			es := newEmulatedShare(t, l, tr, 512<<10, false)
			start := time.Now()
			if _, err := es.rec.ReadRange(t.Context(), "screen", 0, make([]byte, 1)); err != nil {
				t.Fatal(err)
			}
			if rtt := time.Since(start); rtt < l.RTT {
				t.Errorf("a ReadRange took %v, under the link's round trip %v", rtt, l.RTT)
			}
			took := es.pullAll(t)
			t.Logf("%s over %s: %d bytes in %v", tr, l, len(es.data), took.Round(time.Millisecond))
		})
	}
}

// TestEmulatedLinkLoss loses 1% of packets each way, over QUIC and over
// the operating system's TCP: some are lost, and the track still arrives
// intact.
func TestEmulatedLinkLoss(t *testing.T) {
	for _, tr := range []Transport{TransportQUIC, TransportTCP} {
		t.Run(tr.String(), func(t *testing.T) {
			leakcheck.Check(t)
			// A shorter round trip than the other tests: loss slows both
			// down in proportion to it, and this test wants losses, not a
			// long transfer.
			l := EmulatedLink{RTT: 20 * time.Millisecond, Rate: 20e6, Loss: 0.01}
			const size = 2<<20 + 5
			es := newEmulatedShare(t, l, tr, size, false)
			took := es.pullAll(t)
			st := es.pair.Stats()
			t.Logf("%d bytes over %s in %v; stats: %+v", size, l, took.Round(time.Millisecond), st)
			// Some 2,000 packets cross the link in all: that none is lost
			// has a chance of about 1e-9.
			if st.Down.Lost+st.Up.Lost == 0 {
				t.Errorf("no packet lost on a link losing 1%%: %+v", st)
			}
			if st.Down.Lost > st.Down.Packets || st.Up.Lost > st.Up.Packets {
				t.Errorf("more packets lost than sent: %+v", st)
			}
		})
	}
}

// TestEmulatedLinkRefuses: what an emulator cannot do is an error, not
// silently left out, and nothing is left running.
func TestEmulatedLinkRefuses(t *testing.T) {
	leakcheck.Check(t)
	for _, c := range []struct {
		link EmulatedLink
		tr   Transport
		why  string
	}{
		{EmulatedLink{RTT: 50 * time.Millisecond, Rate: 20e6, Loss: 0.001}, transportTCPProxy, "TCP cannot be given random loss here"},
		{EmulatedLink{RTT: 50 * time.Millisecond, Rate: 20e6, Queue: 100 * time.Millisecond}, TransportQUIC, "drop-tail queue"},
		{EmulatedLink{RTT: 50 * time.Millisecond, Rate: 20e6, Queue: 100 * time.Millisecond}, TransportTCP, "drop-tail queue"},
		{EmulatedLink{RTT: 50 * time.Millisecond, Rate: 3000}, transportTCPProxy, "below 8kbit"},
		{EmulatedLink{RTT: 50 * time.Millisecond, Loss: 1}, TransportQUIC, "not a probability"},
		{EmulatedLink{RTT: -time.Millisecond}, TransportQUIC, "negative"},
		{EmulatedLink{RTT: 50 * time.Millisecond}, TransportUnknown, "no transport"},
		{EmulatedLink{RTT: 50 * time.Millisecond, Congestion: "nosuch"}, TransportTCP, "congestion control \"nosuch\""},
		{EmulatedLink{RTT: 50 * time.Millisecond, Congestion: "cubic"}, transportTCPProxy, "congestion control cannot be chosen through toxiproxy"},
		{EmulatedLink{RTT: 50 * time.Millisecond, Congestion: "Cubic!"}, TransportQUIC, "cannot name a congestion control"},
	} {
		p, err := NewEmulatedPair(c.link, c.tr)
		if err == nil {
			p.Close()
			t.Errorf("NewEmulatedPair(%+v, %s) succeeded, want an error (%s)", c.link, c.tr, c.why)
			continue
		}
		if !strings.HasPrefix(err.Error(), "net: link ") || !strings.Contains(err.Error(), c.why) {
			t.Errorf("NewEmulatedPair(%+v, %s): %q, want it to say %q", c.link, c.tr, err, c.why)
		}
	}
}

// TestEmulatedPairCloseTwice: Close is idempotent.
func TestEmulatedPairCloseTwice(t *testing.T) {
	leakcheck.Check(t)
	p, err := NewEmulatedPair(EmulatedLink{RTT: 10 * time.Millisecond}, TransportQUIC)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

// TestEmulatedPairCloseMidTransfer closes the pair while the track is
// being pulled, bytes in flight in the link: everything it started ends.
func TestEmulatedPairCloseMidTransfer(t *testing.T) {
	for _, tr := range []Transport{TransportQUIC, TransportTCP} {
		t.Run(tr.String(), func(t *testing.T) {
			leakcheck.Check(t)
			es := newEmulatedShare(t, EmulatedLink{RTT: 50 * time.Millisecond, Rate: 20e6}, tr, 3<<20, false)
			r, err := es.rec.OpenTrack("screen", RangeReaderOptions{})
			if err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() {
				_, err := io.ReadAll(r)
				done <- err
			}()
			time.Sleep(300 * time.Millisecond)
			if err := es.pair.Close(); err != nil {
				t.Errorf("closing the pair mid-transfer: %v", err)
			}
			// The recording waits for a sharer that went away to come back;
			// closing the reader ends the read.
			r.Close()
			select {
			case err := <-done:
				if err == nil {
					t.Error("the whole track arrived, though the pair closed 300 ms into a transfer of 1.3 s at least")
				}
			case <-time.After(10 * time.Second):
				t.Fatal("the read did not end once the reader closed")
			}
		})
	}
}

// TestEmulatedLinkTCPCongestion: the congestion control a link names is
// the one the sharer's sending socket uses, as the kernel reports it
// (reno: on no machine the default).
func TestEmulatedLinkTCPCongestion(t *testing.T) {
	leakcheck.Check(t)
	es := newEmulatedShare(t, EmulatedLink{RTT: 10 * time.Millisecond, Congestion: "reno"}, TransportTCP, 64<<10, false)
	if es.pair.kernel == nil {
		t.Fatalf("TCP went through toxiproxy: %v", es.pair.Proxied())
	}
	if cc := es.pair.TCPCongestion(); cc != "reno" {
		t.Errorf("TCPCongestion() = %q, want reno", cc)
	}
	var out []byte
	err := inNamespace(es.pair.kernel.sharerNS, func() error {
		var err error
		out, err = exec.Command("ss", "--tcp", "--info", "--no-header", "state", "established").CombinedOutput()
		return err
	})
	if err != nil {
		t.Fatalf("ss in the sharer's namespace: %v: %s", err, out)
	}
	if !strings.Contains(string(out), kernelSharerIP.String()) || !strings.Contains(string(out), " reno ") {
		t.Errorf("the sharer's connection does not use reno:\n%s", out)
	}
}
