package sync

import (
	"runtime"
	"testing"
	"time"
)

// These tests run on the real clock: what they measure (a hiccup of the
// other tracks, goroutines left behind) only shows in real time.

func TestSubscribeOffAndOnWhilePlaying(t *testing.T) {
	src := newCountingSource(FolderSource(fixtureFolder(t, "camera.mp4", "screen.mp4", "mic.m4a")))
	p, _, recs := openTest(t, src, Options{})
	waitState(t, p, StatePaused, 5*time.Second)
	p.Play()
	time.Sleep(time.Second)

	// Off: the screen's reader is closed and read no more; the camera does
	// not hiccup.
	offAt := time.Now()
	if err := p.Subscribe("screen", false); err != nil {
		t.Fatal(err)
	}
	waitFor(t, time.Second, "the screen's reader to close", func() bool { return src.allClosed("screen") })
	t.Logf("screen reader closed %v after Subscribe(off)", time.Since(offAt))
	reads := src.reads("screen")
	time.Sleep(700 * time.Millisecond)
	if n := src.reads("screen"); n != reads {
		t.Errorf("screen read %d times after it was switched off", n-reads)
	}
	if st := p.Tracks()[2]; st.Name != "screen" || st.State != StateOff {
		t.Errorf("screen track: %+v", st)
	}

	// On: it opens at the position and joins in sync.
	onAt := time.Now()
	n0 := recs["screen"].count()
	if err := p.Subscribe("screen", true); err != nil {
		t.Fatal(err)
	}
	waitFor(t, time.Second, "the screen's first frame", func() bool { return recs["screen"].count() > n0 })
	first := recs["screen"].since(n0)[0]
	joinLatency := first.at.Sub(onAt)
	time.Sleep(500 * time.Millisecond)
	cam := recs["camera"].all()
	// Where the clock was when the screen's first frame was shown: the
	// camera frame on screen then.
	var camPos time.Duration
	for _, f := range cam {
		if !f.at.After(first.at) {
			camPos = f.pts
		}
	}
	skew := first.pts - camPos
	t.Logf("screen rejoined after %v with its frame at %v while the camera showed %v (skew %v)", joinLatency, first.pts, camPos, skew)
	if joinLatency > time.Second {
		t.Errorf("screen took %v to show its first frame after Subscribe(on)", joinLatency)
	}
	// In sync: the screen's frame (10 fps) is the one showing at the
	// camera's position (30 fps).
	if skew > 34*time.Millisecond || skew < -134*time.Millisecond {
		t.Errorf("screen joined %v away from the camera", skew)
	}

	// The camera's cadence across both switches: no gap over two frames.
	var worst time.Duration
	var worstAt time.Duration
	for i := 1; i < len(cam); i++ {
		if cam[i].at.Before(offAt.Add(-500*time.Millisecond)) || cam[i].at.After(onAt.Add(time.Second)) {
			continue
		}
		if g := cam[i].at.Sub(cam[i-1].at); g > worst {
			worst, worstAt = g, cam[i].pts
		}
	}
	t.Logf("largest gap between camera frames around the switches: %v (before %v)", worst, worstAt)
	if worst > 2*33333*time.Microsecond {
		t.Errorf("camera stalled %v around the switches", worst)
	}
	for _, tr := range p.Tracks() {
		t.Logf("%s: %v %+v", tr.Name, tr.State, tr.Stats)
		if tr.Name == "camera" && tr.Stats.FramesDropped > 2 {
			t.Errorf("camera dropped %d frames", tr.Stats.FramesDropped)
		}
	}
}

func TestCloseLeavesNoGoroutine(t *testing.T) {
	src := FolderSource(fixtureFolder(t, "camera.mp4", "screen.mp4", "mic.m4a"))
	settle := func(limit int) int {
		n := runtime.NumGoroutine()
		for deadline := time.Now().Add(2 * time.Second); n > limit && time.Now().Before(deadline); n = runtime.NumGoroutine() {
			time.Sleep(10 * time.Millisecond)
		}
		return n
	}
	before := settle(0)
	var log eventLog
	p, err := Open(t.Context(), src, Options{
		OpenAudio: func() (AudioSink, error) { return newFakeSink(), nil },
		VideoSize: smallVideo,
		OnEvent:   log.add,
	})
	if err != nil {
		t.Fatal(err)
	}
	p.Play()
	time.Sleep(300 * time.Millisecond)
	p.Seek(5 * time.Second)
	p.Subscribe("screen", false)
	time.Sleep(100 * time.Millisecond)
	p.Subscribe("screen", true)
	p.Seek(2 * time.Second)
	time.Sleep(300 * time.Millisecond)
	during := runtime.NumGoroutine()
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	after := settle(before)
	t.Logf("goroutines: %d before Open, %d while playing, %d after Close", before, during, after)
	if after > before {
		buf := make([]byte, 1<<20)
		t.Errorf("%d goroutines left after Close:\n%s", after-before, buf[:runtime.Stack(buf, true)])
	}
	// After Close the methods answer without blocking.
	p.Play()
	p.Seek(time.Second)
	if err := p.Subscribe("camera", false); err == nil {
		t.Error("Subscribe after Close did not fail")
	}
	if p.State() == StateUnknown {
		t.Error("State after Close is unknown")
	}
}
