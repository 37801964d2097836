package sync

import (
	"bytes"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"reelay/media/mediatest"
)

// The screen fixture (10 fps) has keyframes at 0, 3, 5.6 and 8 s; stepFrom
// is its picture 54, near the end of the GOP from 3 s (picture 30).
const stepFrom = 5450 * time.Millisecond

// TestStepBackWithinARunShowsCachedPictures: the first step back decodes
// the screen from its keyframe; every further step back within what it
// decoded, and forward again up to the picture stepped from, shows the
// screen's picture exactly as decoding the file finds it, at once, with
// no seek, read or decoding in the screen's pipeline. The camera follows
// to the same time. Playing on afterwards goes on from the picture shown,
// and no picture on screen was ever written over.
func TestStepBackWithinARunShowsCachedPictures(t *testing.T) {
	files := map[string]string{
		"camera.mp4": mediatest.Fixture(t, "camera.mp4"),
		"screen.mp4": mediatest.Fixture(t, "screen.mp4"),
	}
	ref := decodeVideoRef(t, files["screen.mp4"], 1280/4, 720/4, true)
	src := FolderSource(folderOf(t, files, ""))
	synctest.Test(t, func(t *testing.T) {
		p, _, recs := openTest(t, src, Options{})
		guard := &poolGuard{next: recs["screen"]}
		p.SetVideoSink("screen", guard)
		recs["screen"].keepPictures()
		waitState(t, p, StatePaused, 5*time.Second)
		seekAndWait(t, p, stepFrom)
		at := refIndex(ref, stepFrom)
		from := at
		check := func(i int, dir int) {
			t.Helper()
			shown := recs["screen"].all()
			last := shown[len(shown)-1]
			want := ref[at]
			pos := p.Position()
			if last.pts != want.pts || pos < want.pts || pos >= ref[at+1].pts {
				t.Fatalf("step %d (%+d): the screen shows %v at %v, want %v", i, dir, last.pts, pos, want.pts)
			}
			if !bytes.Equal(last.img.Pix, want.img.Pix) {
				t.Fatalf("step %d (%+d): the screen's picture at %v differs from the file's", i, dir, want.pts)
			}
			if cam := recs["camera"].all(); cam[len(cam)-1].pts > pos || cam[len(cam)-1].pts < pos-40*time.Millisecond {
				t.Errorf("step %d: the camera shows %v at %v", i, cam[len(cam)-1].pts, pos)
			}
		}
		stepAndWait(t, p, -1)
		at--
		check(0, -1)
		before := trackStats(t, p, "screen")
		if before.FramesDecoded < int64(from-30) {
			t.Errorf("the first step back decoded %d pictures of the screen, want at least the %d from its keyframe", before.FramesDecoded, from-30)
		}
		// Back to the GOP's second picture, then forward to the one
		// stepped from first.
		var dirs []int
		for range from - 32 {
			dirs = append(dirs, -1)
		}
		for range from - 31 {
			dirs = append(dirs, 1)
		}
		for i, dir := range dirs {
			n := recs["screen"].count()
			stepAndWait(t, p, dir)
			at += dir
			if got := recs["screen"].count() - n; got != 1 {
				t.Fatalf("step %d (%+d): the screen showed %d pictures, want 1", i+1, dir, got)
			}
			check(i+1, dir)
		}
		if at != from {
			t.Fatalf("stepped to picture %d, want %d", at, from)
		}
		after := trackStats(t, p, "screen")
		if after.Seeks != before.Seeks || after.BytesRead != before.BytesRead || after.FramesDecoded != before.FramesDecoded {
			t.Errorf("%d steps within the run: the screen's seeks went from %d to %d, bytes read from %d to %d, pictures decoded from %d to %d; want none",
				len(dirs), before.Seeks, after.Seeks, before.BytesRead, after.BytesRead, before.FramesDecoded, after.FramesDecoded)
		}

		// Playing goes on from the picture shown, in order.
		n := recs["screen"].count()
		p.Play()
		time.Sleep(time.Second)
		p.Pause()
		synctest.Wait()
		played := recs["screen"].since(n)
		if len(played) < 5 {
			t.Fatalf("played on for 1 s: the screen showed %d pictures", len(played))
		}
		// The first is the picture stepped to, shown again as playing
		// starts, or the one after it.
		first := at
		if played[0].pts == ref[at+1].pts {
			first++
		}
		for i, f := range played {
			if want := ref[first+i].pts; f.pts != want {
				t.Fatalf("playing on from %v: picture %d is %v, want %v", ref[at].pts, i, f.pts, want)
			}
		}
		guard.mu.Lock()
		defer guard.mu.Unlock()
		if guard.violations > 0 {
			t.Errorf("%d pictures were written over while the window could still show them", guard.violations)
		}
	})
}

// TestStepCacheIsDroppedWhenStale: after play, a seek, a change of speed,
// of the tracks subscribed or of the display size, a step back or forward
// that the pictures kept would have served seeks the screen again and
// shows the right picture, at the display size asked for.
func TestStepCacheIsDroppedWhenStale(t *testing.T) {
	files := map[string]string{
		"camera.mp4": mediatest.Fixture(t, "camera.mp4"),
		"screen.mp4": mediatest.Fixture(t, "screen.mp4"),
	}
	ref := decodeVideoRef(t, files["screen.mp4"], 0, 0, false)
	src := FolderSource(folderOf(t, files, ""))
	var scale atomic.Int64
	scale.Store(4)
	size := func(_ string, w, h int) (int, int) { s := int(scale.Load()); return w / s, h / s }
	synctest.Test(t, func(t *testing.T) {
		p, _, recs := openTest(t, src, Options{VideoSize: size})
		recs["screen"].keepPictures()
		waitState(t, p, StatePaused, 5*time.Second)
		for _, c := range []struct {
			name  string
			spoil func()
			// dir is the step after it: back, or forward to a picture
			// the run holds.
			dir int
		}{
			{"play", func() { p.Play(); time.Sleep(300 * time.Millisecond); p.Pause() }, -1},
			{"seek", func() { p.Seek(p.Position()) }, 1},
			{"speed", func() { p.SetSpeed(1.5) }, 1},
			{"subscribe", func() {
				if err := p.Subscribe("camera", false); err != nil {
					t.Fatal(err)
				}
			}, -1},
			{"display size", func() { scale.Store(2) }, 1},
		} {
			seekAndWait(t, p, stepFrom)
			stepAndWait(t, p, -1)
			seeks := trackStats(t, p, "screen").Seeks
			stepAndWait(t, p, -1)
			if s := trackStats(t, p, "screen").Seeks; s != seeks {
				t.Fatalf("%s: a step back within the run sought the screen (%d seeks, were %d)", c.name, s, seeks)
			}
			c.spoil()
			waitFor(t, 5*time.Second, "paused", func() bool { return p.State() == StatePaused })
			synctest.Wait()
			pos := p.Position()
			at := refIndex(ref, pos)
			seeks = trackStats(t, p, "screen").Seeks
			stepAndWait(t, p, c.dir)
			if s := trackStats(t, p, "screen").Seeks; s != seeks+1 {
				t.Errorf("%s: the step (%+d) after it sought the screen %d times, want once", c.name, c.dir, s-seeks)
			}
			shown := recs["screen"].all()
			last := shown[len(shown)-1]
			s := int(scale.Load())
			if want := ref[at+c.dir]; last.pts != want.pts || last.img.Rect.Dx() != 1280/s || last.img.Rect.Dy() != 720/s {
				t.Errorf("%s: stepping %+d from %v showed %v at %v, want %v at %dx%d",
					c.name, c.dir, pos, last.pts, last.img.Rect.Size(), want.pts, 1280/s, 720/s)
			}
		}
	})
}

// TestStepBackInATrackWithSound: in one file holding picture and sound,
// steps back within what the first one decoded need no seek of the
// track, and playing on from there plays the sound from the position's
// exact sample, the pictures in order from the one shown.
func TestStepBackInATrackWithSound(t *testing.T) {
	path := mediatest.Fixture(t, "av.mp4")
	ref := decodeVideoRef(t, path, 0, 0, false)
	refAudio := decodeAudioRef(t, path)
	src := FolderSource(folderOf(t, map[string]string{"av.mp4": path}, ""))
	synctest.Test(t, func(t *testing.T) {
		p, sink, recs := openTest(t, src, Options{})
		waitState(t, p, StatePaused, 5*time.Second)
		// Picture 135 of 30 a second, in the GOP from 4 s.
		seekAndWait(t, p, 4517*time.Millisecond)
		at := refIndex(ref, p.Position())
		stepAndWait(t, p, -1)
		seeks := trackStats(t, p, "av").Seeks
		for range 10 {
			stepAndWait(t, p, -1)
		}
		at -= 11
		shown := recs["av"].all()
		if last := shown[len(shown)-1]; last.pts != ref[at].pts {
			t.Fatalf("after 11 steps back the picture is %v, want %v", last.pts, ref[at].pts)
		}
		if s := trackStats(t, p, "av").Seeks; s != seeks {
			t.Errorf("10 steps back within the run sought the track %d times", s-seeks)
		}
		pos := p.Position()
		n := recs["av"].count()
		p.Play()
		time.Sleep(500 * time.Millisecond)
		p.Pause()
		synctest.Wait()
		played := recs["av"].since(n)
		if len(played) < 5 || (played[0].pts != ref[at].pts && played[0].pts != ref[at+1].pts) {
			t.Fatalf("playing on from %v showed %d pictures from %v, want from %v", pos, len(played), played[0].pts, ref[at].pts)
		}
		for i := 1; i < len(played); i++ {
			if played[i].pts <= played[i-1].pts {
				t.Fatalf("playing on: %v after %v", played[i].pts, played[i-1].pts)
			}
		}
		got := sink.samples()
		from := sampleAt(pos) * channels
		if len(got) < 480*channels {
			t.Fatalf("playing on wrote %d samples", len(got))
		}
		if d := maxDiff(got[:480*channels], refAudio[from:from+480*channels]); d > 1e-3 {
			t.Errorf("the sound after playing on from %v differs from the file's at that sample by up to %g", pos, d)
		}
	})
}
