package sync

import (
	"testing"
	"testing/synctest"
	"time"

	"reelay/media/mediatest"
	"reelay/media/syncclip"
)

// TestSpeedKeepsPictureAndSoundTogether plays the sync clip at 0.5×,
// 1.5× and 2× on a fake device in fake time: the clock runs that many
// times as fast as the wall clock, the tracks buffer that much more media,
// and every flash is shown within a few
// tens of milliseconds of its beep being heard (the stretcher's windows
// smear a beep's onset by about that). Then the speed changes while
// playing: the position neither jumps nor stops, and the sound written
// after the change starts where the clock is.
func TestSpeedKeepsPictureAndSoundTogether(t *testing.T) {
	files := map[string]string{}
	for _, n := range []string{"sync-camera.mp4", "sync-mic.m4a"} {
		files[n] = mediatest.Fixture(t, n)
	}
	src := FolderSource(folderOf(t, files, ""))
	for _, speed := range []float64{0.5, 1.5, 2} {
		synctest.Test(t, func(t *testing.T) {
			p, meter := openMetered(t, src)
			p.SetSpeed(speed)
			p.Play()
			waitState(t, p, StatePlaying, 5*time.Second)
			from, at := p.Position(), time.Now()
			time.Sleep(2 * time.Second)
			moved, took := p.Position()-from, time.Since(at)
			if got := float64(moved) / float64(took); got < speed*0.97 || got > speed*1.03 {
				t.Errorf("%g×: the clock ran %.3f× the wall clock", speed, got)
			}
			st := p.Status()
			if st.Speed != speed {
				t.Errorf("%g×: the status says %g×", speed, st.Speed)
			}
			// The buffer holds BufferTarget of playing time, speed times
			// as much media (within the clip).
			for _, tr := range st.Tracks {
				want := min(time.Duration(float64(DefaultBufferTarget)*speed), mediatest.FixtureDuration-st.Position) - 500*time.Millisecond
				if tr.Stats.BufferedAhead < want {
					t.Errorf("%g×: %s has %v buffered ahead at %v, want %v", speed, tr.Name, tr.Stats.BufferedAhead, st.Position, want)
				}
			}
			r := meter.Report()
			t.Logf("%g×: %d flashes, offsets p50 %v, max %v, %d unmatched", speed, len(r.Offsets), r.Quantile(0.5), r.Quantile(1), r.Unmatched)
			if len(r.Offsets) < int(2*speed)-1 || r.Unmatched > 0 {
				t.Errorf("%g×: %d flashes measured, %d unmatched", speed, len(r.Offsets), r.Unmatched)
			}
			if worst := r.Quantile(1); worst > time.Duration(float64(30*time.Millisecond)/speed)+5*time.Millisecond {
				t.Errorf("%g×: a flash was shown %v from its beep", speed, worst)
			}
			p.Pause()
		})
	}

	synctest.Test(t, func(t *testing.T) {
		p, meter := openMetered(t, src)
		p.Play()
		time.Sleep(1500 * time.Millisecond)
		before := p.Position()
		p.SetSpeed(2)
		time.Sleep(10 * time.Millisecond)
		after := p.Position()
		if after < before || after > before+50*time.Millisecond {
			t.Errorf("changing the speed moved the position from %v to %v in 10 ms", before, after)
		}
		time.Sleep(time.Second)
		if moved := p.Position() - after; moved < 1900*time.Millisecond || moved > 2100*time.Millisecond {
			t.Errorf("a second at 2× moved the clock by %v", moved)
		}
		p.SetSpeed(1)
		time.Sleep(1500 * time.Millisecond)
		p.Pause()
		// Flashes at 1 s; 2, 3 and 4 s at 2×; 5 s back at 1×.
		r := meter.Report()
		t.Logf("across the changes: %+v", r.Offsets)
		if len(r.Offsets) < 4 || r.Unmatched > 0 || r.Quantile(1) > 20*time.Millisecond {
			t.Errorf("across the changes of speed: %d flashes measured, %d unmatched, worst %v", len(r.Offsets), r.Unmatched, r.Quantile(1))
		}
	})
}

// openMetered opens src paused, its sound on a fake device and the sync
// camera's pictures seen by a meter.
func openMetered(t *testing.T, src Source) (*Player, *syncclip.Meter) {
	t.Helper()
	meter := syncclip.NewMeter()
	sink := newFakeSink()
	p, _, recs := openTest(t, src, Options{OpenAudio: meter.OpenAudio(func() (AudioSink, error) { return sink, nil })})
	p.SetVideoSink("sync-camera", meter.VideoSink("sync-camera", recs["sync-camera"]))
	waitState(t, p, StatePaused, 5*time.Second)
	return p, meter
}
