package sync

import (
	"sync/atomic"
	"testing"
	"time"
)

// stuckSink is a fakeSink whose Played blocks, once stuck, until released:
// the player's goroutine, which reads the device clock on every step, is
// then busy for as long as the test likes.
type stuckSink struct {
	*fakeSink
	stuck   atomic.Bool
	release chan struct{}
}

func (s *stuckSink) Played() time.Duration {
	if s.stuck.Load() {
		<-s.release
	}
	return s.fakeSink.Played()
}

// TestSeekAndStatusNeverWaitForTheEngine: while the player's goroutine is
// busy, Seek and Status return at once; the seeks asked meanwhile
// coalesce, and only the newest is worked on once the goroutine is back.
func TestSeekAndStatusNeverWaitForTheEngine(t *testing.T) {
	src := FolderSource(fixtureFolder(t, "camera.mp4", "mic.m4a"))
	sink := &stuckSink{fakeSink: newFakeSink(), release: make(chan struct{})}
	p, _, _ := openTest(t, src, Options{OpenAudio: func() (AudioSink, error) { return sink, nil }})
	p.Play()
	waitFor(t, 10*time.Second, "playing", func() bool { return p.Status().State == StatePlaying })
	worked := func() int64 {
		for _, tr := range p.Tracks() {
			if tr.Name == "camera" {
				return tr.Stats.Seeks
			}
		}
		return 0
	}
	before, asked := worked(), p.Stats().Seeks

	sink.stuck.Store(true)
	// The goroutine reads the clock within a step, a few milliseconds.
	time.Sleep(200 * time.Millisecond)
	done := make(chan uint64)
	go func() {
		var n uint64
		for _, s := range []time.Duration{2, 4, 6} {
			n = p.Seek(s * time.Second)
		}
		p.Status()
		done <- n
	}()
	var last uint64
	select {
	case last = <-done:
	case <-time.After(5 * time.Second):
		close(sink.release)
		t.Fatal("Seek or Status waited for the busy engine")
	}
	if st := p.Status(); st.Seek >= last {
		t.Errorf("the status shows seek %d taken while the engine was busy", st.Seek)
	}
	sink.stuck.Store(false)
	close(sink.release)

	waitFor(t, 10*time.Second, "the newest seek taken", func() bool { return p.Status().Seek == last })
	// The camera's pipeline works on the seek on its own goroutine, after
	// the player took it; the clock holds at the target until every track
	// has its frame there, so once it runs past, the camera has counted
	// every seek it worked on.
	waitFor(t, 10*time.Second, "playing on from the newest target", func() bool {
		st := p.Status()
		return st.Position > 6*time.Second+200*time.Millisecond && st.Position < 8*time.Second
	})
	if got := worked() - before; got != 1 {
		t.Errorf("the camera worked on %d seeks, want 1: the newest of the three asked while the engine was busy", got)
	}
	if got := p.Stats().Seeks - asked; got != 3 {
		t.Errorf("the stats count %d seeks asked, want 3", got)
	}
}
