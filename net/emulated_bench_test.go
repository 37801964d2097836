package net

import (
	"context"
	stdnet "net"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/marcopolo/simnet"
)

// BenchmarkLossyLinkConnections measures what carries most across a
// lossy home link: one QUIC connection; n of them, from n viewer hosts
// each with its own congestion control, pulling disjoint parts of one
// track at once; one viewer with Reelay's lanes (lanes.go), which opens
// more connections once the sharer reports loss; and one TCP connection
// of the operating system's, with cubic (the default of Linux, Windows
// and macOS desktops) and with bbr. Each viewer keeps four requests in
// flight, as a player's readahead does, and every packet crosses the
// sharer's one uplink, so the connections share the link's rate as
// connections to one home would. It reports the aggregate throughput in
// Mbit/s and its ratio to one QUIC connection's, measured in the same run.
func BenchmarkLossyLinkConnections(b *testing.B) {
	cases := []struct {
		name       string
		tr         Transport
		n          int
		lanes      bool
		congestion string
	}{
		{"quic/connections=1", TransportQUIC, 1, false, ""},
		{"quic/connections=2", TransportQUIC, 2, false, ""},
		{"quic/connections=4", TransportQUIC, 4, false, ""},
		{"quic/lanes", TransportQUIC, 1, true, ""},
		{"tcp/cubic", TransportTCP, 1, false, "cubic"},
		{"tcp/bbr", TransportTCP, 1, false, "bbr"},
	}
	for _, spec := range []string{"50ms,20mbit,0.1%", "50ms,20mbit,1%"} {
		var one float64
		for _, c := range cases {
			link, err := ParseEmulatedLink(spec)
			if err != nil {
				b.Fatal(err)
			}
			link.Congestion = c.congestion
			b.Run(spec+"/"+c.name, func(b *testing.B) {
				for b.Loop() {
					mbits := pullOverConnections(b, link, c.tr, c.n, c.lanes, 8<<20)
					b.ReportMetric(mbits, "Mbit/s")
					if c.name == cases[0].name {
						one = mbits
					} else if one > 0 {
						b.ReportMetric(mbits/one, "×one")
					}
				}
			})
		}
	}
}

// pullOverConnections shares a track of size bytes and pulls it across
// link over tr from n viewer hosts at once (QUIC only for more than one),
// returning the aggregate Mbit/s. Without lanes every viewer keeps to one
// connection; with them, it plays a 7.2 Mbit/s recording.
func pullOverConnections(b *testing.B, link EmulatedLink, tr Transport, n int, lanes bool, size int) float64 {
	b.Helper()
	pair, err := NewEmulatedPair(link, tr)
	if err != nil {
		b.Fatal(err)
	}
	defer pair.Close()
	if tr == TransportTCP && pair.Proxied() != nil {
		b.Skipf("TCP cannot meet the link's loss here: %v", pair.Proxied())
	}
	if !lanes {
		pair.Viewer.lane = nil
	}
	dir := b.TempDir()
	writeRandomFile(b, filepath.Join(dir, "screen.mp4"), size, 7)
	sharer := NewSharer(pair.Sharer, SharerOptions{})
	defer sharer.Close()
	l, err := sharer.Share(dir)
	if err != nil {
		b.Fatal(err)
	}
	viewers := []*Host{pair.Viewer}
	for i := 1; i < n; i++ {
		e := &simEndpoint{sim: pair.sim, addr: &stdnet.UDPAddr{IP: simnet.IntToPublicIPv4(1 + i), Port: simnetPort}, settings: pair.viewerEnd.settings, loss: link.Loss}
		h, err := e.newHost(nil)
		if err != nil {
			b.Fatal(err)
		}
		defer h.Close()
		viewers = append(viewers, h)
	}
	ctx, cancel := context.WithTimeout(b.Context(), 5*time.Minute)
	defer cancel()
	recs := make([]*Recording, n)
	for i, h := range viewers {
		if recs[i], err = Dial(ctx, h, l); err != nil {
			b.Fatal(err)
		}
		defer recs[i].Close()
		// What a player of the 7.2 Mbit/s screen share asks the link for:
		// lanes open when one connection carries too little of it.
		recs[i].lanes.demand = func() float64 { return 7.2e6 / 8 }
	}
	const piece, inFlight = 1 << 20, 4
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, n*inFlight)
	part := size / n
	for i, rec := range recs {
		for k := range inFlight {
			wg.Go(func() {
				buf := make([]byte, piece)
				for off := i*part + k*piece; off < (i+1)*part; off += inFlight * piece {
					m := min(piece, (i+1)*part-off)
					if _, err := rec.ReadRange(ctx, "screen", int64(off), buf[:m]); err != nil {
						errs <- err
						return
					}
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	return float64(n*part*8) / time.Since(start).Seconds() / 1e6
}
