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
