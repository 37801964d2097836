package sync

import (
	"hash/crc32"
	"image"
	gosync "sync"
	"testing"
	"testing/synctest"
	"time"
)

// poolGuard is a VideoSink that checks the engine's promise about frame
// buffers: when a frame is shown, the two shown before it are untouched
// (the window may still be uploading them).
type poolGuard struct {
	// next receives every frame after the check.
	next VideoSink
	// mu guards the fields below.
	mu gosync.Mutex
	// last are the two frames shown last, newest first, with their sums.
	last [2]struct {
		img *image.RGBA
		sum uint32
	}
	// violations counts frames found changed.
	violations int
}

func (g *poolGuard) Show(img *image.RGBA, pts time.Duration) {
	g.mu.Lock()
	for _, l := range g.last {
		if l.img != nil && crc32.ChecksumIEEE(l.img.Pix) != l.sum {
			g.violations++
		}
	}
	g.last[1] = g.last[0]
	g.last[0].img, g.last[0].sum = img, crc32.ChecksumIEEE(img.Pix)
	g.mu.Unlock()
	g.next.Show(img, pts)
}

// openTest opens a player on src with a fake audio device and the small
// video size, recording every video track.
func openTest(t *testing.T, src Source, o Options) (*Player, *fakeSink, map[string]*frameRecorder) {
	t.Helper()
	sink := newFakeSink()
	if o.OpenAudio == nil {
		o.OpenAudio = func() (AudioSink, error) { return sink, nil }
	}
	if o.VideoSize == nil {
		o.VideoSize = smallVideo
	}
	p, err := Open(t.Context(), src, o)
	if err != nil {
		t.Fatal(err)
	}
	recs := map[string]*frameRecorder{}
	for _, tr := range src.Tracks() {
		r := &frameRecorder{}
		recs[tr.Name] = r
		p.SetVideoSink(tr.Name, r)
	}
	t.Cleanup(func() { p.Close() })
	return p, sink, recs
}

func waitState(t *testing.T, p *Player, want State, within time.Duration) {
	t.Helper()
	waitFor(t, within, "state "+want.String(), func() bool { return p.State() == want })
}

func TestPlayThreeTracksOnOneClock(t *testing.T) {
	src := FolderSource(fixtureFolder(t, "camera.mp4", "screen.mp4", "mic.m4a"))
	synctest.Test(t, func(t *testing.T) {
		p, sink, recs := openTest(t, src, Options{})
		guards := map[string]*poolGuard{}
		for _, name := range []string{"camera", "screen"} {
			guards[name] = &poolGuard{next: recs[name]}
			p.SetVideoSink(name, guards[name])
		}
		waitState(t, p, StatePaused, 5*time.Second)
		p.Play()
		time.Sleep(3 * time.Second)
		p.Pause()
		pos := p.Position()
		st := p.Stats()
		tracks := p.Tracks()
		p.Close()
		t.Logf("position %v, clock %v, stats %+v", pos, st.Clock, st)
		for _, tr := range tracks {
			t.Logf("%s: %v %+v", tr.Name, tr.State, tr.Stats)
		}
		if st.Clock != ClockAudio {
			t.Errorf("clock = %v, want audio", st.Clock)
		}
		if pos < 2900*time.Millisecond || pos > 3100*time.Millisecond {
			t.Errorf("position after 3 s of play = %v", pos)
		}
		for name, fps := range map[string]float64{"camera": 30, "screen": 10} {
			n := recs[name].count()
			want := 3 * fps
			if float64(n) < want*0.9 || float64(n) > want*1.1+1 {
				t.Errorf("%s: %d frames shown in 3 s, want %.0f ±10%%", name, n, want)
			}
		}
		for _, tr := range tracks {
			if tr.Stats.FramesDropped > 1 {
				t.Errorf("%s dropped %d frames", tr.Name, tr.Stats.FramesDropped)
			}
		}
		for name, g := range guards {
			if g.violations > 0 {
				t.Errorf("%s: %d frames shown last or before were overwritten while still on screen", name, g.violations)
			}
		}
		if got := time.Duration(len(sink.samples())/channels) * time.Second / sampleRate; got < 3*time.Second {
			t.Errorf("audio written %v, want ≥ 3 s", got)
		}
	})
}
