package sync

import (
	"errors"
	"image"
	"math/rand/v2"
	"os"
	"slices"
	gosync "sync"
	"testing"
	"time"

	"reelay/media"
	"reelay/media/mediatest"
)

// recordingSink passes audio to a real device and keeps what was written
// since the last Clear, to find the beeps in it.
type recordingSink struct {
	AudioSink
	// mu guards written.
	mu gosync.Mutex
	// written is every sample the device took since the last Clear.
	written []float32
}

func (s *recordingSink) Write(samples []float32) int {
	n := s.AudioSink.Write(samples)
	s.mu.Lock()
	s.written = append(s.written, samples[:n]...)
	s.mu.Unlock()
	return n
}

// Latency passes the device's estimate on, as the player asks
// *media.AudioOutput for it.
func (s *recordingSink) Latency() time.Duration {
	return s.AudioSink.(interface{ Latency() time.Duration }).Latency()
}

func (s *recordingSink) Clear() {
	s.AudioSink.Clear()
	s.mu.Lock()
	s.written = nil
	s.mu.Unlock()
}

// beeps returns the timeline times of the beeps written since the last
// Clear, whose first sample was at anchor.
func (s *recordingSink) beeps(anchor time.Duration) []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return mediatest.NewBeepDetector(sampleRate, channels).Feed(anchor, s.written)
}

// flash is a flash frame shown, with the audio clock at that moment.
type flash struct {
	// track is the track that showed it; pts is the frame's time.
	track string
	pts   time.Duration
	// played is the device's Played when it was shown; at is the wall time.
	played time.Duration
	at     time.Time
}

// flashRecorder is a VideoSink that notes every flash frame with the audio
// clock at the moment it is shown.
type flashRecorder struct {
	// track names the track; sink is the device whose clock is read.
	track string
	sink  *recordingSink
	// mu guards flashes.
	mu      *gosync.Mutex
	flashes *[]flash
}

func (r flashRecorder) Show(img *image.RGBA, pts time.Duration) {
	if !mediatest.IsFlash(img) {
		return
	}
	f := flash{track: r.track, pts: pts, played: r.sink.Played(), at: time.Now()}
	r.mu.Lock()
	*r.flashes = append(*r.flashes, f)
	r.mu.Unlock()
}

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

func TestAVSyncOnTheRealAudioDevice(t *testing.T) {
	requireAudioDevice(t)
	src := FolderSource(fixtureFolder(t, "sync-camera.mp4", "sync-screen.mp4", "sync-mic.m4a"))
	var rec *recordingSink
	p, err := Open(t.Context(), src, Options{
		VideoSize: smallVideo,
		OpenAudio: func() (AudioSink, error) {
			out, err := media.OpenAudioOutput(media.AudioOutputOptions{})
			if err != nil {
				return nil, err
			}
			rec = &recordingSink{AudioSink: out}
			return rec, nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	waitState(t, p, StatePaused, 5*time.Second)
	if rec == nil {
		t.Fatal("the player did not open the audio device")
	}
	var mu gosync.Mutex
	var flashes []flash
	for _, name := range []string{"sync-camera", "sync-screen"} {
		p.SetVideoSink(name, flashRecorder{track: name, sink: rec, mu: &mu, flashes: &flashes})
	}
	take := func() []flash {
		mu.Lock()
		defer mu.Unlock()
		f := flashes
		flashes = nil
		return f
	}

	var offsets []time.Duration
	var worstPair time.Duration
	measure := func(phase string, anchor time.Duration) {
		got := take()
		beeps := rec.beeps(anchor)
		byPTS := map[time.Duration]map[string]flash{}
		for _, f := range got {
			if f.played == 0 {
				continue // shown by the seek while paused: nothing heard yet
			}
			clockAt := anchor + f.played
			i := slices.IndexFunc(beeps, func(b time.Duration) bool { return b > f.pts-500*time.Millisecond && b < f.pts+500*time.Millisecond })
			if i < 0 {
				t.Errorf("%s: no beep written near the flash at %v (beeps %v)", phase, f.pts, beeps)
				continue
			}
			off := clockAt - beeps[i]
			offsets = append(offsets, off)
			t.Logf("%s: %s flash %v shown at audio clock %v, beep at %v: offset %v", phase, f.track, f.pts, clockAt, beeps[i], off)
			if byPTS[beeps[i]] == nil {
				byPTS[beeps[i]] = map[string]flash{}
			}
			byPTS[beeps[i]][f.track] = f
		}
		for b, m := range byPTS {
			c, ok1 := m["sync-camera"]
			s, ok2 := m["sync-screen"]
			if !ok1 || !ok2 {
				t.Errorf("%s: the flash at %v was shown on %d track(s), want both", phase, b, len(m))
				continue
			}
			d := (c.played - s.played).Abs()
			worstPair = max(worstPair, d)
			if d > 34*time.Millisecond {
				t.Errorf("%s: camera and screen showed the flash at %v %v apart", phase, b, d)
			}
		}
		if len(byPTS) < 3 {
			t.Errorf("%s: only %d flashes measured", phase, len(byPTS))
		}
	}

	p.Play()
	time.Sleep(4300 * time.Millisecond)
	p.Pause()
	measure("from the start", 0)

	rng := rand.New(rand.NewPCG(3, 4))
	for range 20 {
		p.Seek(time.Duration(rng.Int64N(int64(9 * time.Second))))
		time.Sleep(time.Duration(rng.Int64N(int64(60 * time.Millisecond))))
	}
	target := 2500 * time.Millisecond
	p.Seek(target)
	waitFor(t, 5*time.Second, "the last seek", func() bool { return p.Position() == target && p.State() == StatePaused })
	take()
	p.Play()
	time.Sleep(3300 * time.Millisecond)
	p.Pause()
	measure("after 20 random seeks", target)

	abs := make([]time.Duration, len(offsets))
	for i, o := range offsets {
		abs[i] = o.Abs()
	}
	slices.Sort(abs)
	if len(abs) == 0 {
		t.Fatal("no flash measured")
	}
	p50, p95 := abs[len(abs)/2], abs[min(len(abs)-1, len(abs)*95/100)]
	st := p.Stats()
	t.Logf("A/V offset over %d flashes: p50 %v, p95 %v, max %v; camera–screen worst %v; clock %v; seeks %d, latencies %v",
		len(abs), p50, p95, abs[len(abs)-1], worstPair, st.Clock, st.Seeks, st.SeekLatencies)
	if st.Clock != ClockAudio {
		t.Errorf("clock %v, want audio", st.Clock)
	}
	if p50 > 15*time.Millisecond || p95 > 40*time.Millisecond {
		t.Errorf("A/V offset p50 %v (want ≤ 15 ms), p95 %v (want ≤ 40 ms)", p50, p95)
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
		OpenAudio: func() (AudioSink, error) {
			out, err := media.OpenAudioOutput(media.AudioOutputOptions{})
			if err != nil {
				return nil, err
			}
			return &recordingSink{AudioSink: out}, nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	cam := &frameRecorder{}
	p.SetVideoSink("sync-camera", cam)
	waitState(t, p, StatePaused, 5*time.Second)
	p.Play()
	time.Sleep(time.Second)
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
		if i == 1 && gap > 2*33334*time.Microsecond {
			t.Errorf("the camera froze %v when the mic joined", gap)
		}
		at = time.Now()
		if err := p.Subscribe("sync-mic", false); err != nil {
			t.Fatal(err)
		}
		time.Sleep(500 * time.Millisecond)
		gap = worstGap(at)
		t.Logf("mic off: largest gap %v; clock %v", gap, p.Stats().Clock)
		if gap > 2*33334*time.Microsecond {
			t.Errorf("the camera froze %v when the mic left", gap)
		}
	}
}
