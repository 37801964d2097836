package cli

import (
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"reelay/media/mediatest"
)

// Benchmarks of the player over loopback libp2p against the same pipeline on
// a local folder, measured alternately in the same run; the metrics are the
// percentiles of both and their ratio (loopback / local).

func reportPair(b *testing.B, name string, local, remote []time.Duration) {
	lp50, lp95 := quantile(local, 0.5), quantile(local, 0.95)
	rp50, rp95 := quantile(remote, 0.5), quantile(remote, 0.95)
	b.ReportMetric(ms(lp50), name+"-local-p50-ms")
	b.ReportMetric(ms(lp95), name+"-local-p95-ms")
	b.ReportMetric(ms(rp50), name+"-loopback-p50-ms")
	b.ReportMetric(ms(rp95), name+"-loopback-p95-ms")
	b.ReportMetric(ratio(rp50, lp50), name+"-ratio-p50")
	b.ReportMetric(ratio(rp95, lp95), name+"-ratio-p95")
	b.Logf("%s %s over %d: local p50 %v p95 %v; loopback p50 %v p95 %v; ratio p50 %.2f p95 %.2f",
		b.Name(), name, len(local), lp50, lp95, rp50, rp95, ratio(rp50, lp50), ratio(rp95, lp95))
}

// demoDirForBench is the built-in demo (60 s), long enough for seeks to land
// outside what opening read.
func demoDirForBench(b *testing.B) string {
	dir, err := extractDemo()
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// BenchmarkSeekLatency: the first correct frame after a seek to a random
// target 10 s or more into the demo (camera, screen, mic), on a fresh
// player each time, over loopback and from the local folder. One op is 10
// seeks on each.
func BenchmarkSeekLatency(b *testing.B) {
	bp, err := newBenchPair(b.Context(), demoDirForBench(b))
	if err != nil {
		b.Fatal(err)
	}
	defer bp.Close()
	rng := rand.New(rand.NewPCG(1, 2))
	var local, remote []time.Duration
	for b.Loop() {
		seeks, err := bp.benchSeeks(b.Context(), 10, 10*time.Second, rng)
		if err != nil {
			b.Fatal(err)
		}
		for _, s := range seeks {
			local, remote = append(local, s.local), append(remote, s.remote)
		}
	}
	reportPair(b, "seek", local, remote)
}

// BenchmarkTimeToFirstFrame: from opening a player (fresh readers on a
// connection already made) to its first picture shown, over loopback and
// from the local folder; "dial" also counts a new viewer host connecting.
// One op is 10 opens of each.
func BenchmarkTimeToFirstFrame(b *testing.B) {
	for _, tc := range []struct {
		name string
		dir  func(b *testing.B) string
	}{
		{"demo", demoDirForBench},
		// H.264 + AAC in one file, index at the front and at the end.
		{"av.mp4", fixtureDir("av.mp4")},
		{"av-tail.mov", fixtureDir("av-tail.mov")},
	} {
		b.Run(tc.name, func(b *testing.B) {
			bp, err := newBenchPair(b.Context(), tc.dir(b))
			if err != nil {
				b.Fatal(err)
			}
			defer bp.Close()
			var local, open, dial []time.Duration
			for b.Loop() {
				got, err := bp.benchFirstFrame(b.Context(), nil, 10)
				if err != nil {
					b.Fatal(err)
				}
				for _, s := range got {
					local, open, dial = append(local, s.local), append(open, s.open), append(dial, s.connect)
				}
			}
			reportPair(b, "ttff", local, open)
			reportPair(b, "ttff-dial", local, dial)
		})
	}
}

// fixtureDir makes a one-track folder of a mediatest fixture.
func fixtureDir(name string) func(b *testing.B) string {
	return func(b *testing.B) string {
		dir := b.TempDir()
		copyFileB(b, mediatest.Fixture(b, name), filepath.Join(dir, name))
		if filepath.Ext(name) != ".webm" {
			tail, err := indexAtEnd(filepath.Join(dir, name))
			if err != nil {
				b.Fatal(err)
			}
			b.Logf("%s: index at the end: %v", name, tail)
		}
		return dir
	}
}

func copyFileB(b *testing.B, src, dst string) {
	data, err := os.ReadFile(src)
	if err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(dst, data, 0o644); err != nil {
		b.Fatal(err)
	}
}

// TestBenchCommandPrintsTheTable runs `reelay bench` briefly: every row of
// the table is there, with figures.
func TestBenchCommandPrintsTheTable(t *testing.T) {
	var out, stderr bytes.Buffer
	if code := run(t.Context(), &env{stdout: &out, stderr: &stderr}, []string{"bench", "--runs", "2"}); code != 0 {
		t.Fatalf("bench exited %d: %s", code, stderr.String())
	}
	t.Logf("\n%s", out.String())
	for _, row := range []string{"seek → first frame", "first frame (demo", "first frame incl. dial", "first frame (index at end"} {
		i := strings.Index(out.String(), row)
		if i < 0 {
			t.Errorf("no row %q", row)
			continue
		}
		if line, _, _ := strings.Cut(out.String()[i:], "\n"); strings.Count(line, " ms") != 4 || strings.Count(line, "×") != 2 {
			t.Errorf("row without figures: %q", line)
		}
	}
}
