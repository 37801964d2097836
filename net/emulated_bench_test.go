package net

import (
	"context"
	"fmt"
	stdnet "net"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/marcopolo/simnet"
)

// BenchmarkLossyLinkConnections measures whether more QUIC connections
// carry more than one across a lossy home link: n viewer hosts, each with
// its own connection (and its own congestion control) to one sharer, pull
// disjoint parts of one track at once, with four requests in flight each,
// as a player's readahead does. Every viewer's packets cross the sharer's
// one uplink, so they share the link's rate as connections to one home
// would. It reports the aggregate throughput in Mbit/s and its ratio to
// one connection's, measured in the same run.
func BenchmarkLossyLinkConnections(b *testing.B) {
	for _, spec := range []string{"50ms,20mbit,0.1%", "50ms,20mbit,1%"} {
		link, err := ParseEmulatedLink(spec)
		if err != nil {
			b.Fatal(err)
		}
		var one float64
		for _, n := range []int{1, 2, 4} {
			b.Run(fmt.Sprintf("%s/connections=%d", spec, n), func(b *testing.B) {
				for b.Loop() {
					mbits := pullOverConnections(b, link, n, 8<<20)
					b.ReportMetric(mbits, "Mbit/s")
					if n == 1 {
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
// link from n viewer hosts at once, returning the aggregate Mbit/s.
func pullOverConnections(b *testing.B, link EmulatedLink, n, size int) float64 {
	b.Helper()
	pair, err := NewEmulatedPair(link, TransportQUIC)
	if err != nil {
		b.Fatal(err)
	}
	defer pair.Close()
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
