package sync

import (
	"testing"
	"testing/synctest"
	"time"

	"reelay/media"
	"reelay/media/mediatest"
	"reelay/media/syncclip"
)

// TestMeterMeasuresAKnownOffset plays the sync clip in fake time with
// the camera moved 100 ms later on the timeline: the meter must find the
// camera's flashes 100 ms after their beeps and the screen's on them.
func TestMeterMeasuresAKnownOffset(t *testing.T) {
	files := map[string]string{}
	for _, n := range []string{"sync-camera.mp4", "sync-screen.mp4", "sync-mic.m4a"} {
		files[n] = mediatest.Fixture(t, n)
	}
	src := FolderSource(folderOf(t, files, `{"tracks": [
		{"file": "sync-camera.mp4", "name": "camera", "start": 0.1},
		{"file": "sync-screen.mp4", "name": "screen"},
		{"file": "sync-mic.m4a", "name": "mic"}]}`))
	synctest.Test(t, func(t *testing.T) {
		meter := syncclip.NewMeter()
		sink := newFakeSink()
		p, _, recs := openTest(t, src, Options{OpenAudio: meter.OpenAudio(func() (AudioSink, error) { return sink, nil })})
		for _, name := range []string{"camera", "screen"} {
			p.SetVideoSink(name, meter.VideoSink(name, recs[name]))
		}
		waitState(t, p, StatePaused, 5*time.Second)
		p.Play()
		time.Sleep(2300 * time.Millisecond)
		p.Seek(6500 * time.Millisecond)
		// Long enough for the flashes at 7 s (7.1 s) whatever the seek
		// takes on a busy machine, and short of those at 8 s.
		time.Sleep(1200 * time.Millisecond)
		p.Pause()

		r := meter.Report()
		got := map[string]int{}
		for _, o := range r.Offsets {
			got[o.Track]++
			want := time.Duration(0)
			if o.Track == "camera" {
				want = 100 * time.Millisecond
			}
			if d := o.Offset - want; d.Abs() > 2*time.Millisecond {
				t.Errorf("%s flash at %v: offset %v, want %v", o.Track, o.PTS, o.Offset, want)
			}
		}
		t.Logf("offsets %+v; skew %v; unmatched %d", r.Offsets, r.TrackSkew, r.Unmatched)
		// From the start the screen's flashes at 1 and 2 s (the one at 0 is
		// shown before anything is heard) and the camera's at 0.1, 1.1 and
		// 2.1 s; after the seek, 7 s (7.1 s).
		if got["camera"] != 4 || got["screen"] != 3 {
			t.Errorf("flashes measured: %v, want 4 of the camera and 3 of the screen", got)
		}
		if r.Unmatched != 0 {
			t.Errorf("%d flashes unmatched", r.Unmatched)
		}
		if d := r.TrackSkew - 100*time.Millisecond; d.Abs() > 2*time.Millisecond {
			t.Errorf("skew between the tracks %v, want 100ms", r.TrackSkew)
		}
		if q := r.Quantile(1); q < 98*time.Millisecond {
			t.Errorf("largest offset %v, want about 100ms", q)
		}
	})
}

// TestMeterWithoutAudio: with no device nothing is measured, and the
// pictures still reach the sink behind the meter.
func TestMeterWithoutAudio(t *testing.T) {
	src := FolderSource(fixtureFolder(t, "sync-camera.mp4", "sync-mic.m4a"))
	synctest.Test(t, func(t *testing.T) {
		meter := syncclip.NewMeter()
		p, _, recs := openTest(t, src, Options{OpenAudio: meter.OpenAudio(func() (AudioSink, error) { return nil, media.ErrNoAudioDevice })})
		p.SetVideoSink("sync-camera", meter.VideoSink("sync-camera", recs["sync-camera"]))
		waitState(t, p, StatePaused, 5*time.Second)
		p.Play()
		time.Sleep(2500 * time.Millisecond)
		p.Pause()
		if r := meter.Report(); len(r.Offsets) != 0 || r.Unmatched != 0 {
			t.Errorf("measured %+v without an audio device", r)
		}
		if n := recs["sync-camera"].count(); n < 60 {
			t.Errorf("the sink behind the meter was shown %d frames", n)
		}
	})
}
