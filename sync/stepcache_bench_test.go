package sync

import (
	"slices"
	"testing"
	"time"
)

// BenchmarkStepBack: ten steps back through the screen fixture's GOP from
// 3 s, converted at 1280×720, from a local folder, measured alternately
// in the same run: each decoding from the keyframe (the pictures kept are
// dropped by a seek to the position before each step, not timed), and in
// a row, the first decoding and keeping, the next nine from the cache. A
// step ends when every track is placed (EventSeeked). The metrics are the
// ten steps' total and the median step of both, and their ratio
// (seek / cached).
func BenchmarkStepBack(b *testing.B) {
	src := FolderSource(fixtureFolder(b, "screen.mp4"))
	seeked := make(chan struct{}, 16)
	p, err := Open(b.Context(), src, Options{
		OpenAudio: func() (AudioSink, error) { return newFakeSink(), nil },
		OnEvent: func(e Event) {
			if e.Kind == EventSeeked {
				seeked <- struct{}{}
			}
		},
	})
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	wait := func() {
		select {
		case <-seeked:
		case <-time.After(10 * time.Second):
			b.Fatal("timed out waiting for a seek")
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for p.State() != StatePaused {
		if time.Now().After(deadline) {
			b.Fatal("the player did not open")
		}
		time.Sleep(10 * time.Millisecond)
	}
	step := func() time.Duration {
		start := time.Now()
		p.StepFrame(-1)
		wait()
		return time.Since(start)
	}
	var bySeek, cached []time.Duration
	var seekTotal, cachedTotal time.Duration
	for b.Loop() {
		p.Seek(stepFrom)
		wait()
		for range 10 {
			p.Seek(p.Position())
			wait()
			d := step()
			bySeek = append(bySeek, d)
			seekTotal += d
		}
		p.Seek(stepFrom)
		wait()
		for range 10 {
			d := step()
			cached = append(cached, d)
			cachedTotal += d
		}
	}
	n := time.Duration(len(bySeek) / 10)
	median := func(ds []time.Duration) time.Duration {
		ds = slices.Clone(ds)
		slices.Sort(ds)
		return ds[len(ds)/2]
	}
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	b.ReportMetric(ms(seekTotal/n), "seek-10-ms")
	b.ReportMetric(ms(cachedTotal/n), "cached-10-ms")
	b.ReportMetric(float64(seekTotal)/float64(cachedTotal), "ratio-10")
	b.ReportMetric(ms(median(bySeek)), "seek-p50-ms")
	b.ReportMetric(ms(median(cached)), "cached-p50-ms")
	b.Logf("10 steps back: by seek %v, from the cache %v (ratio %.1f); median step %v and %v",
		seekTotal/n, cachedTotal/n, float64(seekTotal)/float64(cachedTotal), median(bySeek), median(cached))
}
