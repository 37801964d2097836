package sync

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"testing"
	"time"

	"reelay/media"
	"reelay/media/syncclip"
)

func requireAudioDevice(t *testing.T) {
	t.Helper()
	out, err := media.OpenAudioOutput(media.AudioOutputOptions{})
	if errors.Is(err, media.ErrNoAudioDevice) {
		if os.Getenv("REELAY_REQUIRE_AUDIO") == "1" {
			t.Fatalf("REELAY_REQUIRE_AUDIO=1 but %v", err)
		}
		t.Skipf("no audio device (%v); run under .ci/av-env to test with one", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	out.Close()
}

// TestAVSyncOnTheRealAudioDevice plays the sync clip through the real audio
// device (a null sink under .ci/av-env, which plays in real time) and
// measures, with a syncclip.Meter, how far each flash is shown from its beep:
// from the start, after each of 20 random seeks, then at 1.5×. The clip is played
// as three files (camera, screen, mic) and as one file holding both.
func TestAVSyncOnTheRealAudioDevice(t *testing.T) {
	requireAudioDevice(t)
	for _, tc := range []struct {
		name  string
		files []string
		video []string
	}{
		{"three files", []string{"sync-camera.mp4", "sync-screen.mp4", "sync-mic.m4a"}, []string{"sync-camera", "sync-screen"}},
		{"one file", []string{"sync-av.mp4"}, []string{"sync-av"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			testAVSync(t, FolderSource(fixtureFolder(t, tc.files...)), tc.video)
		})
	}
}

func testAVSync(t *testing.T, src Source, video []string) {
	meter := syncclip.NewMeter()
	p, err := Open(t.Context(), src, Options{VideoSize: smallVideo, OpenAudio: meter.OpenAudio(nil)})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	for _, name := range video {
		p.SetVideoSink(name, meter.VideoSink(name, nil))
	}
	waitState(t, p, StatePaused, 5*time.Second)
	// measured counts each video track's flashes measured so far.
	measured := func() map[string]int {
		n := map[string]int{}
		for _, o := range meter.Report().Offsets {
			n[o.Track]++
		}
		return n
	}
	check := func(phase string, offsets []syncclip.Offset, want int, maxP50 time.Duration) {
		t.Helper()
		r := syncclip.Report{Offsets: offsets}
		p50, p95, worst := r.Quantile(0.5), r.Quantile(0.95), r.Quantile(1)
		t.Logf("%s: A/V offset over %d flashes p50 %v, p95 %v, max %v", phase, len(offsets), p50, p95, worst)
		if len(offsets) < want {
			t.Errorf("%s: %d flashes measured, want at least %d", phase, len(offsets), want)
		}
		if p50 > maxP50 || p95 > 40*time.Millisecond {
			t.Errorf("%s: A/V offset p50 %v (want ≤ %v), p95 %v (want ≤ 40 ms); offsets %+v", phase, p50, maxP50, p95, offsets)
		}
	}

	p.Play()
	time.Sleep(3300 * time.Millisecond)
	fromStart := len(meter.Report().Offsets)
	check("from the start", meter.Report().Offsets, 3*len(video), 15*time.Millisecond)

	// Each seek lands while playing, anywhere in the clip; the next flash
	// of every video track is measured before the next seek.
	rng := rand.New(rand.NewPCG(3, 4))
	var latencies []time.Duration
	for i := range 20 {
		target := time.Duration(rng.Int64N(int64(8600 * time.Millisecond)))
		before := measured()
		p.Seek(target)
		waitFor(t, 3*time.Second, fmt.Sprintf("a flash after seek %d to %v", i+1, target), func() bool {
			now := measured()
			for _, name := range video {
				if now[name] <= before[name] {
					return false
				}
			}
			return true
		})
		latencies = p.Stats().SeekLatencies
	}
	r := meter.Report()
	check("after 20 random seeks", r.Offsets[fromStart:], 20*len(video), 15*time.Millisecond)

	// At 1.5× the sound goes through the stretcher; flashes and beeps
	// stay together.
	p.Seek(0)
	waitFor(t, 3*time.Second, "the seek to 0", func() bool { return p.Position() < time.Second })
	p.SetSpeed(1.5)
	afterSeeks := len(meter.Report().Offsets)
	time.Sleep(4 * time.Second)
	p.SetSpeed(1)
	fast := meter.Report().Offsets[afterSeeks:]
	// The stretcher's own delay puts sound and picture 11–16 ms apart on
	// this machine, well under what a viewer notices (45 ms).
	check("at 1.5×", fast, 4*len(video), 20*time.Millisecond)
	st := p.Stats()
	t.Logf("camera–screen worst %v; %d flashes unmatched; clock %v; %d seeks, latencies %v", r.TrackSkew, r.Unmatched, st.Clock, st.Seeks, latencies)
	if st.Clock != ClockAudio {
		t.Errorf("clock %v, want audio", st.Clock)
	}
	if r.Unmatched > 0 {
		t.Errorf("%d flashes shown with no beep within half a second", r.Unmatched)
	}
	// One frame of the faster track (30 fps).
	if r.TrackSkew > 34*time.Millisecond {
		t.Errorf("video tracks showed the same flash up to %v apart", r.TrackSkew)
	}
}

// TestFirstAudioTrackJoinsWithoutFreezingThePicture switches the mic on
// while only the camera plays (the wall clock hands over to the audio
// clock), off, and on again; the camera's frames must keep their cadence.
func TestFirstAudioTrackJoinsWithoutFreezingThePicture(t *testing.T) {
	requireAudioDevice(t)
	src := FolderSource(fixtureFolder(t, "sync-camera.mp4", "sync-mic.m4a"))
	p, err := Open(t.Context(), src, Options{
		VideoSize: smallVideo,
		Subscribe: []string{"sync-camera"},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	cam := &frameRecorder{}
	p.SetVideoSink("sync-camera", cam)
	waitState(t, p, StatePaused, 5*time.Second)
	p.Play()
	time.Sleep(500 * time.Millisecond)
	worstGap := func(from time.Time) time.Duration {
		fr := cam.all()
		var worst time.Duration
		for i := 1; i < len(fr); i++ {
			if fr[i].at.After(from) {
				worst = max(worst, fr[i].at.Sub(fr[i-1].at))
			}
		}
		return worst
	}
	// The cadence on this machine now, without a switch: a loaded machine
	// spaces frames unevenly, and a freeze is a frame or more beyond that.
	steadyFrom := time.Now()
	time.Sleep(time.Second)
	frame := 33334 * time.Microsecond
	bar := max(2*frame, worstGap(steadyFrom)+frame)
	t.Logf("steady playing: largest gap %v; a freeze is a gap over %v", worstGap(steadyFrom), bar)
	for i, what := range []string{"first time, latency estimated", "again, latency measured"} {
		at := time.Now()
		if err := p.Subscribe("sync-mic", true); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Second)
		gap := worstGap(at)
		st := p.Stats()
		t.Logf("mic on (%s): largest gap between camera frames %v; clock %v", what, gap, st.Clock)
		if st.Clock != ClockAudio {
			t.Errorf("clock %v after the mic joined", st.Clock)
		}
		if i == 1 && gap > bar {
			t.Errorf("the camera froze %v when the mic joined", gap)
		}
		at = time.Now()
		if err := p.Subscribe("sync-mic", false); err != nil {
			t.Fatal(err)
		}
		time.Sleep(500 * time.Millisecond)
		gap = worstGap(at)
		t.Logf("mic off: largest gap %v; clock %v", gap, p.Stats().Clock)
		if gap > bar {
			t.Errorf("the camera froze %v when the mic left", gap)
		}
	}
}
