package sync

import (
	"testing"
	"time"
)

// fakeNow is a hand-driven wall clock.
type fakeNow struct{ t time.Time }

func (f *fakeNow) now() time.Time          { return f.t }
func (f *fakeNow) advance(d time.Duration) { f.t = f.t.Add(d) }

// playedSink is an AudioSink whose Played the test sets.
type playedSink struct {
	fakeSink
	// played is what Played returns.
	played time.Duration
}

func (s *playedSink) Played() time.Duration { return s.played }

func TestWallClock(t *testing.T) {
	n := &fakeNow{t: time.Unix(100, 0)}
	c := newClock(n.now)
	n.advance(time.Second)
	if c.position() != 0 {
		t.Fatal("a stopped clock moved")
	}
	c.start()
	n.advance(1500 * time.Millisecond)
	if got := c.position(); got != 1500*time.Millisecond {
		t.Fatalf("position %v", got)
	}
	c.stop()
	n.advance(time.Second)
	if got := c.position(); got != 1500*time.Millisecond {
		t.Fatalf("stopped position %v", got)
	}
	c.set(5 * time.Second)
	c.start()
	n.advance(10 * time.Millisecond)
	if got := c.position(); got != 5010*time.Millisecond {
		t.Fatalf("after set: %v", got)
	}
}

func TestAudioClockFollowsThePlayedSamples(t *testing.T) {
	n := &fakeNow{t: time.Unix(100, 0)}
	c := newClock(n.now)
	c.set(2 * time.Second)
	s := &playedSink{}
	c.useAudio(s)
	if got := c.position(); got != 2*time.Second {
		t.Fatalf("before the first sample: %v", got)
	}
	c.setAnchor(2 * time.Second)
	c.start()
	n.advance(time.Second) // the wall clock does not drive it
	if got := c.position(); got != 2*time.Second {
		t.Fatalf("nothing heard yet: %v", got)
	}
	s.played = 300 * time.Millisecond
	if got := c.position(); got != 2300*time.Millisecond {
		t.Fatalf("300 ms heard: %v", got)
	}
	s.played = 290 * time.Millisecond
	if got := c.position(); got != 2300*time.Millisecond {
		t.Fatalf("went back to %v", got)
	}
	// Back to the wall clock from where the audio was.
	c.useWall()
	n.advance(100 * time.Millisecond)
	if got := c.position(); got != 2400*time.Millisecond {
		t.Fatalf("wall after audio: %v", got)
	}
}

func TestAudioClockTakesOverARunningWallClock(t *testing.T) {
	n := &fakeNow{t: time.Unix(100, 0)}
	c := newClock(n.now)
	c.start()
	n.advance(time.Second)
	s := &playedSink{}
	c.useAudio(s)
	c.setAnchor(time.Second)
	n.advance(100 * time.Millisecond) // the device's latency: nothing heard
	if got := c.position(); got != 1100*time.Millisecond {
		t.Fatalf("during the handoff: %v, want the wall clock", got)
	}
	s.played = 10 * time.Millisecond
	if got := c.position(); got != 1100*time.Millisecond {
		t.Fatalf("after the handoff: %v, want held until the audio catches up", got)
	}
	s.played = 150 * time.Millisecond
	if got := c.position(); got != 1150*time.Millisecond {
		t.Fatalf("audio: %v", got)
	}
}
