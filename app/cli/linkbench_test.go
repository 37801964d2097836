package cli

import (
	"io"
	"strings"
	"testing"

	p2pnet "reelay/net"
)

// BenchmarkHomeLink is `reelay bench --link` as a Go benchmark: the
// 7.2 Mbit/s recording played for 32 s with five seeks, from a local
// folder and across an emulated 50 ms, 20 Mbit/s home link at 0 %, 0.1 %
// and 1 % loss, over QUIC and TCP. Every figure is also reported as a
// ratio against the local run measured just before it. One op is one
// run of every source; each takes a little over 32 s.
func BenchmarkHomeLink(b *testing.B) {
	dir, err := homeRecording(b.Context(), io.Discard)
	if err != nil {
		b.Fatal(err)
	}
	for _, spec := range []string{"50ms,20mbit", "50ms,20mbit,0.1%", "50ms,20mbit,1%"} {
		link, err := p2pnet.ParseEmulatedLink(spec)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(spec, func(b *testing.B) {
			for b.Loop() {
				runs := benchHomeLink(b.Context(), dir, link, io.Discard)
				var sb strings.Builder
				printHomeLink(&sb, link, runs)
				b.Log("\n" + sb.String())
				var local *linkRun
				for i, r := range runs {
					if r.rep == nil {
						continue
					}
					if r.name == "local" {
						local = &runs[i]
					}
					lat, missing := r.seekLatencies()
					fetched, read := r.bytes()
					b.ReportMetric(ms(r.firstFrame()), r.name+"-first-frame-ms")
					b.ReportMetric(ms(quantile(lat, 0.5)), r.name+"-seek-p50-ms")
					b.ReportMetric(ms(quantile(lat, 1)), r.name+"-seek-max-ms")
					b.ReportMetric(float64(missing), r.name+"-seeks-missing")
					b.ReportMetric(float64(r.rep.Stalls.Count), r.name+"-stalls")
					if rt := r.rep.FirstFrame.RoundTrips; rt != nil {
						b.ReportMetric(float64(*rt), r.name+"-first-frame-round-trips")
					}
					if read > 0 && fetched > 0 {
						b.ReportMetric(float64(fetched)/float64(read), r.name+"-fetched/read")
					}
					if local != nil && local != &runs[i] {
						b.ReportMetric(ratio(r.firstFrame(), local.firstFrame()), r.name+"-first-frame-ratio")
						if ll, _ := local.seekLatencies(); len(ll) > 0 && len(lat) > 0 {
							b.ReportMetric(ratio(quantile(lat, 0.5), quantile(ll, 0.5)), r.name+"-seek-p50-ratio")
						}
					}
				}
			}
		})
	}
}
