package sync

import (
	"testing"
	"testing/synctest"
	"time"

	"reelay/media/mediatest"
)

// TestStepFrame: . and , of mpv. While playing, a step pauses; each step
// forward shows the screen's next picture and each step back the one
// before, as decoding the file finds them; the camera (a smaller picture)
// follows to the same time.
func TestStepFrame(t *testing.T) {
	files := map[string]string{
		"camera.mp4": mediatest.Fixture(t, "camera.mp4"),
		"screen.mp4": mediatest.Fixture(t, "screen.mp4"),
	}
	ref := decodeVideoRef(t, files["screen.mp4"], 1280/4, 720/4, false)
	src := FolderSource(folderOf(t, files, ""))
	synctest.Test(t, func(t *testing.T) {
		p, _, recs := openTest(t, src, Options{})
		waitState(t, p, StatePaused, 5*time.Second)
		p.Seek(4 * time.Second)
		waitFor(t, 5*time.Second, "the seek", func() bool { return p.Position() == 4*time.Second && p.State() == StatePaused })
		p.Play()
		time.Sleep(500 * time.Millisecond)
		// The screen's frame index at the position.
		index := func(pos time.Duration) int {
			i := 0
			for j, f := range ref {
				if f.pts <= pos {
					i = j
				}
			}
			return i
		}
		step := func(dir int) {
			t.Helper()
			n := len(p.Stats().SeekLatencies)
			p.StepFrame(dir)
			waitFor(t, 5*time.Second, "the step", func() bool { return len(p.Stats().SeekLatencies) > n && p.State() == StatePaused })
			synctest.Wait()
		}
		step(1)
		at := index(p.Position())
		shown := recs["screen"].all()
		if last := shown[len(shown)-1]; last.pts != ref[at].pts || p.Position() != ref[at].pts {
			t.Fatalf("after a step the screen shows %v at position %v, want its frame at %v", last.pts, p.Position(), ref[at].pts)
		}
		for i, dir := range []int{1, 1, 1, -1, -1, -1, -1, -1, 1} {
			step(dir)
			want := ref[at+dir]
			shown := recs["screen"].all()
			// Back, the position is just before the picture stepped from:
			// within the one shown.
			if last := shown[len(shown)-1]; last.pts != want.pts || p.Position() < want.pts || p.Position() >= ref[at+dir+1].pts {
				t.Fatalf("step %d (%+d from %v): the screen shows %v at %v, want %v", i, dir, ref[at].pts, last.pts, p.Position(), want.pts)
			}
			if cam := recs["camera"].all(); cam[len(cam)-1].pts > p.Position() || cam[len(cam)-1].pts < p.Position()-40*time.Millisecond {
				t.Errorf("step %d: the camera shows %v at %v", i, cam[len(cam)-1].pts, p.Position())
			}
			at += dir
		}
	})
}

// TestStepBackOnTheAudioClock: with sound, the clock is the audio
// device's, which goes on from a whole sample; a step back still shows the
// picture before the one stepped from, and stays there.
func TestStepBackOnTheAudioClock(t *testing.T) {
	path := mediatest.Fixture(t, "av.mp4")
	ref := decodeVideoRef(t, path, 0, 0, false)
	src := FolderSource(folderOf(t, map[string]string{"av.mp4": path}, ""))
	synctest.Test(t, func(t *testing.T) {
		p, _, recs := openTest(t, src, Options{})
		waitState(t, p, StatePaused, 5*time.Second)
		seekAndWait(t, p, 4517*time.Millisecond)
		at := refIndex(ref, p.Position())
		for i := range 3 {
			stepAndWait(t, p, -1)
			at--
			time.Sleep(100 * time.Millisecond)
			shown := recs["av"].all()
			pos := p.Position()
			if last := shown[len(shown)-1]; last.pts != ref[at].pts || pos < ref[at].pts || pos >= ref[at+1].pts {
				t.Errorf("step back %d: the picture is %v at %v, want %v", i, last.pts, pos, ref[at].pts)
			}
		}
	})
}

// stepAndWait steps dir and waits until the step is done: the player took
// it (every step is a seek of the tracks not served from the cache) and is
// paused, and everything in the bubble settled.
func stepAndWait(t *testing.T, p *Player, dir int) {
	t.Helper()
	n := len(p.Stats().SeekLatencies)
	p.StepFrame(dir)
	waitFor(t, 5*time.Second, "the step", func() bool { return len(p.Stats().SeekLatencies) > n && p.State() == StatePaused })
	synctest.Wait()
}

// seekAndWait seeks to t and waits until the player is paused there.
func seekAndWait(t *testing.T, p *Player, to time.Duration) {
	t.Helper()
	n := len(p.Stats().SeekLatencies)
	p.Seek(to)
	waitFor(t, 5*time.Second, "the seek", func() bool {
		return len(p.Stats().SeekLatencies) > n && p.Position() == to && p.State() == StatePaused
	})
	synctest.Wait()
}

// trackStats are the counters of the track named name.
func trackStats(t *testing.T, p *Player, name string) TrackStats {
	t.Helper()
	for _, tr := range p.Tracks() {
		if tr.Name == name {
			return tr.Stats
		}
	}
	t.Fatalf("no track %q", name)
	return TrackStats{}
}

// refIndex is the index of the frame showing at pos.
func refIndex(ref []refFrame, pos time.Duration) int {
	i := 0
	for j, f := range ref {
		if f.pts <= pos {
			i = j
		}
	}
	return i
}
