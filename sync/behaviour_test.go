package sync

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"reelay/media"
	"reelay/media/mediatest"
)

func TestPauseStopsTheClockAndTheReads(t *testing.T) {
	src := newCountingSource(FolderSource(fixtureFolder(t, "camera.mp4", "mic.m4a")))
	synctest.Test(t, func(t *testing.T) {
		p, _, _ := openTest(t, src, Options{})
		waitState(t, p, StatePaused, 5*time.Second)
		p.Play()
		time.Sleep(time.Second)
		p.Pause()
		pos := p.Position()
		// Reading goes on until every track is BufferTarget ahead.
		waitFor(t, 5*time.Second, "the buffer target", func() bool {
			for _, tr := range p.Tracks() {
				if tr.Stats.BufferedAhead < DefaultBufferTarget {
					return false
				}
			}
			return true
		})
		synctest.Wait()
		before := map[string]int64{"camera": src.reads("camera"), "mic": src.reads("mic")}
		time.Sleep(500 * time.Millisecond)
		synctest.Wait()
		for name, n := range before {
			if got := src.reads(name); got != n {
				t.Errorf("%s: %d reads during 500 ms of pause with the buffer full", name, got-n)
			}
		}
		if got := p.Position(); got != pos {
			t.Errorf("position moved while paused: %v → %v", pos, got)
		}
		if p.State() != StatePaused {
			t.Errorf("state %v, want paused", p.State())
		}
		for _, tr := range p.Tracks() {
			t.Logf("%s: buffered %v ahead of %v after pausing, %d reads", tr.Name, tr.Stats.BufferedAhead, pos, before[tr.Name])
		}
	})
}

func TestBadTracksFailAloneWhileTheOthersPlay(t *testing.T) {
	dir := t.TempDir()
	avTail, err := os.ReadFile(mediatest.Fixture(t, "av-tail.mov"))
	if err != nil {
		t.Fatal(err)
	}
	noise := make([]byte, 256<<10)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range noise {
		noise[i] = byte(rng.Uint32())
	}
	for name, b := range map[string][]byte{
		"notes.mp4":  []byte(strings.Repeat("This is a text file, not a recording.\n", 200)),
		"broken.mov": avTail[:len(avTail)/2], // the index is at the end: cut off
		"noise.mp4":  noise,
	} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	files := map[string]string{"camera.mp4": mediatest.Fixture(t, "camera.mp4")}
	for _, n := range []string{"notes.mp4", "broken.mov", "noise.mp4"} {
		files[n] = filepath.Join(dir, n)
	}
	src := FolderSource(folderOf(t, files, ""))
	synctest.Test(t, func(t *testing.T) {
		var log eventLog
		p, _, recs := openTest(t, src, Options{OnEvent: log.add})
		waitFor(t, 5*time.Second, "the open", func() bool { return p.State() != StateOpening })
		p.Play()
		time.Sleep(time.Second)
		for _, tr := range p.Tracks() {
			t.Logf("%s: %v: %v", tr.Name, tr.State, tr.Err)
			if tr.Name == "camera" {
				if tr.State != StatePlaying {
					t.Errorf("camera is %v, want playing", tr.State)
				}
				continue
			}
			if tr.State != StateError || tr.Err == nil || !strings.Contains(tr.Err.Error(), tr.Name) {
				t.Errorf("%s: state %v, error %v; want an error naming the track", tr.Name, tr.State, tr.Err)
			}
		}
		if n := recs["camera"].count(); n < 28 {
			t.Errorf("camera showed %d frames in 1 s next to broken tracks", n)
		}
		if p.State() != StatePlaying {
			t.Errorf("player is %v, want playing", p.State())
		}
		failed := map[string]bool{}
		for _, e := range log.all() {
			if e.Kind == EventTrack && e.State == StateError && e.Err != nil {
				failed[e.Track] = true
			}
		}
		if len(failed) != 3 {
			t.Errorf("error events for %v, want notes, broken and noise", failed)
		}
	})
}

func TestNoAudioDevicePlaysOnTheWallClock(t *testing.T) {
	src := FolderSource(fixtureFolder(t, "camera.mp4", "mic.m4a"))
	synctest.Test(t, func(t *testing.T) {
		var log eventLog
		p, _, recs := openTest(t, src, Options{
			OnEvent:   log.add,
			OpenAudio: func() (AudioSink, error) { return nil, fmt.Errorf("%w: no card", media.ErrNoAudioDevice) },
		})
		waitState(t, p, StatePaused, 5*time.Second)
		p.Play()
		time.Sleep(2 * time.Second)
		st := p.Stats()
		if st.Clock != ClockWall || st.AudioNotice == "" {
			t.Errorf("clock %v, notice %q; want the wall clock and a notice", st.Clock, st.AudioNotice)
		}
		if pos := p.Position(); pos < 1900*time.Millisecond || pos > 2100*time.Millisecond {
			t.Errorf("position after 2 s: %v", pos)
		}
		if n := recs["camera"].count(); n < 58 || n > 62 {
			t.Errorf("camera showed %d frames in 2 s", n)
		}
		noticed := false
		for _, e := range log.all() {
			noticed = noticed || (e.Kind == EventNotice && errors.Is(e.Err, media.ErrNoAudioDevice))
		}
		if !noticed {
			t.Error("no notice event about the missing device")
		}
		t.Logf("notice: %s", st.AudioNotice)
	})
}

func TestPlaysToTheEndAndAgain(t *testing.T) {
	src := FolderSource(fixtureFolder(t, "camera.mp4", "mic.m4a"))
	ref := decodeVideoRef(t, mediatest.Fixture(t, "camera.mp4"), 0, 0, false)
	synctest.Test(t, func(t *testing.T) {
		p, _, recs := openTest(t, src, Options{})
		waitState(t, p, StatePaused, 5*time.Second)
		if d := p.Duration(); d != 10*time.Second {
			t.Errorf("duration %v, want 10 s", d)
		}
		p.Seek(9500 * time.Millisecond)
		p.Play()
		waitState(t, p, StateEnded, 2*time.Second)
		if pos := p.Position(); pos < 9990*time.Millisecond || pos > 10010*time.Millisecond {
			t.Errorf("ended at %v, want 10 s", pos)
		}
		last := recs["camera"].all()
		if got, want := last[len(last)-1].pts, ref[len(ref)-1].pts; got != want {
			t.Errorf("last frame shown at %v, want the last frame %v", got, want)
		}
		for _, tr := range p.Tracks() {
			if tr.State != StateEnded {
				t.Errorf("%s is %v at the end", tr.Name, tr.State)
			}
		}
		n := recs["camera"].count()
		p.Play()
		waitState(t, p, StatePlaying, 2*time.Second)
		time.Sleep(100 * time.Millisecond)
		again := recs["camera"].since(n)
		if len(again) == 0 || again[0].pts != 0 {
			t.Errorf("Play after the end did not start over: %v", again)
		}
	})
}

func TestTrackWithVideoAndAudioAndAStartOffset(t *testing.T) {
	files := map[string]string{
		"av.mp4":  mediatest.Fixture(t, "av.mp4"),
		"mic.m4a": mediatest.Fixture(t, "mic.m4a"),
	}
	refAV := decodeAudioRef(t, files["av.mp4"])
	refMic := decodeAudioRef(t, files["mic.m4a"])
	// The mic starts 1.5 s into the recording.
	src := FolderSource(folderOf(t, files, `{"tracks":[{"file":"av.mp4"},{"file":"mic.m4a","start":1.5}]}`))
	synctest.Test(t, func(t *testing.T) {
		p, sink, recs := openTest(t, src, Options{})
		waitState(t, p, StatePaused, 5*time.Second)
		tracks := p.Tracks()
		if !tracks[0].HasVideo() || !tracks[0].HasAudio() || tracks[1].HasVideo() || !tracks[1].HasAudio() {
			t.Errorf("streams: av %v, mic %v", tracks[0].Streams, tracks[1].Streams)
		}
		if d := p.Duration(); d != 11500*time.Millisecond {
			t.Errorf("duration %v, want 11.5 s (the mic ends 1.5 s after the rest)", d)
		}
		p.Seek(time.Second)
		waitFor(t, 2*time.Second, "the seek", func() bool { return len(p.Stats().SeekLatencies) == 1 })
		p.Play()
		time.Sleep(time.Second)
		got := sink.samples()
		// From 1 s: 0.5 s of av alone, then av + mic (its own second 0).
		for _, c := range []struct {
			name string
			at   time.Duration
			want func(i int64) float32
		}{
			{"av alone", time.Second, func(i int64) float32 { return refAV[i] }},
			{"av + mic", 1500 * time.Millisecond, func(i int64) float32 {
				return min(max(refAV[i]+refMic[i-sampleAt(1500*time.Millisecond)*channels], -1), 1)
			}},
			{"av + mic later", 1900 * time.Millisecond, func(i int64) float32 {
				return min(max(refAV[i]+refMic[i-sampleAt(1500*time.Millisecond)*channels], -1), 1)
			}},
		} {
			off := (sampleAt(c.at) - sampleAt(time.Second)) * channels
			var d float64
			for k := range int64(480 * channels) {
				d = max(d, float64(abs32(got[off+k]-c.want(sampleAt(c.at)*channels+k))))
			}
			if d > 1e-3 {
				t.Errorf("%s at %v: mixed audio differs from the sum of the files by %g", c.name, c.at, d)
			}
		}
		if n := recs["av"].count(); n < 30 {
			t.Errorf("av showed %d frames in 1 s", n)
		}
	})
}

func abs32(v float32) float32 {
	if v < 0 {
		return -v
	}
	return v
}

func TestStallWhenReadsStopAndResume(t *testing.T) {
	src := newCountingSource(FolderSource(fixtureFolder(t, "camera.mp4")))
	synctest.Test(t, func(t *testing.T) {
		// Made inside the bubble, so a read waiting on it is durably
		// blocked and the fake clock moves on.
		src.gate, src.gated = make(chan struct{}), "camera"
		feed := func(stop chan struct{}) {
			for {
				select {
				case src.gate <- struct{}{}:
				case <-stop:
					return
				}
			}
		}
		stop := make(chan struct{})
		go feed(stop)
		p, _, _ := openTest(t, src, Options{})
		waitState(t, p, StatePaused, 5*time.Second)
		p.Play()
		time.Sleep(500 * time.Millisecond)
		close(stop) // the network goes quiet
		waitState(t, p, StateBuffering, 10*time.Second)
		stalledAt := p.Position()
		time.Sleep(2 * time.Second)
		if pos := p.Position(); pos != stalledAt {
			t.Errorf("position moved while stalled: %v → %v", stalledAt, pos)
		}
		stop = make(chan struct{})
		go feed(stop)
		waitState(t, p, StatePlaying, 5*time.Second)
		time.Sleep(500 * time.Millisecond)
		st := p.Stats()
		t.Logf("stalled at %v; stats %+v", stalledAt, st)
		if st.Stalls != 1 || st.StallTime < 2*time.Second {
			t.Errorf("stalls %d for %v, want 1 of ≥ 2 s", st.Stalls, st.StallTime)
		}
		if p.Position() <= stalledAt {
			t.Error("did not resume")
		}
		close(stop)
		p.Close()
	})
}

// TestASecondaryPictureIsWaitedForOnlyWhenNearlyOut: the clock stops for
// the main picture when it runs below LowWater, and for a camera beside
// it only once the camera is nearly out: a camera whose bytes come a
// moment late shows its pictures a moment late at worst.
func TestASecondaryPictureIsWaitedForOnlyWhenNearlyOut(t *testing.T) {
	files := map[string]string{
		"camera.mp4": mediatest.Fixture(t, "camera.mp4"),
		"screen.mp4": mediatest.Fixture(t, "screen.mp4"),
	}
	const lowWater = DefaultLowWater
	for _, gated := range []string{"camera", "screen"} {
		t.Run(gated, func(t *testing.T) {
			src := newCountingSource(FolderSource(folderOf(t, files, "")))
			synctest.Test(t, func(t *testing.T) {
				src.gate, src.gated = make(chan struct{}), gated
				stop := make(chan struct{})
				go func() {
					for {
						select {
						case src.gate <- struct{}{}:
						case <-stop:
							return
						}
					}
				}()
				p, _, _ := openTest(t, src, Options{LowWater: lowWater})
				waitState(t, p, StatePaused, 5*time.Second)
				p.Play()
				time.Sleep(500 * time.Millisecond)
				close(stop) // the gated track's bytes stop coming
				waitState(t, p, StateBuffering, 10*time.Second)
				var ahead time.Duration
				for _, tr := range p.Tracks() {
					if tr.Name == gated {
						ahead = tr.Stats.BufferedAhead
					}
				}
				switch gated {
				case "camera":
					if ahead >= lowWater/2 {
						t.Errorf("the clock stopped for the camera with %v of it ahead; want it waited for only when nearly out", ahead)
					}
				case "screen":
					if ahead < lowWater/2 || ahead >= lowWater {
						t.Errorf("the clock stopped for the screen with %v of it ahead; want it stopped at LowWater (%v)", ahead, lowWater)
					}
				}
				p.Close()
			})
		})
	}
}

func TestSubscribeWhilePausedShowsTheFrameAtThePosition(t *testing.T) {
	files := map[string]string{
		"camera.mp4": mediatest.Fixture(t, "camera.mp4"),
		"screen.mp4": mediatest.Fixture(t, "screen.mp4"),
	}
	ref := decodeVideoRef(t, files["screen.mp4"], 0, 0, false)
	src := FolderSource(folderOf(t, files, ""))
	if _, err := Open(t.Context(), src, Options{Subscribe: []string{"nope"}}); err == nil {
		t.Error("Open with an unknown track did not fail")
	}
	synctest.Test(t, func(t *testing.T) {
		p, _, recs := openTest(t, src, Options{Subscribe: []string{"camera"}})
		waitState(t, p, StatePaused, 5*time.Second)
		if tr := p.Tracks(); tr[1].State != StateOff || tr[1].On {
			t.Errorf("screen at open: %+v", tr[1])
		}
		if err := p.Subscribe("nope", true); err == nil {
			t.Error("Subscribe of an unknown track did not fail")
		}
		p.Play()
		time.Sleep(2340 * time.Millisecond)
		p.Pause()
		pos := p.Position()
		if err := p.Subscribe("screen", true); err != nil {
			t.Fatal(err)
		}
		waitFor(t, time.Second, "the screen's frame", func() bool { return recs["screen"].count() > 0 })
		time.Sleep(200 * time.Millisecond)
		got := recs["screen"].all()
		if len(got) != 1 || got[0].pts != frameAt(ref, pos).pts {
			t.Errorf("paused at %v, the screen showed %v; want only the frame at %v", pos, got, frameAt(ref, pos).pts)
		}
		if st := p.Tracks()[1].State; st != StatePaused {
			t.Errorf("screen is %v, want paused", st)
		}
		if p.Position() != pos {
			t.Error("the position moved while paused")
		}
	})
}

// TestNothingPlayableStopsTheClock: when every track fails (a text file
// named screen.mp4), the player is in error and the position stays where
// it was: no time counts up over nothing.
func TestNothingPlayableStopsTheClock(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "screen.mp4")
	if err := os.WriteFile(path, []byte(strings.Repeat("This is a text file, not a recording.\n", 200)), 0o644); err != nil {
		t.Fatal(err)
	}
	src := FolderSource(folderOf(t, map[string]string{"screen.mp4": path}, ""))
	synctest.Test(t, func(t *testing.T) {
		p, _, _ := openTest(t, src, Options{})
		p.Play()
		waitState(t, p, StateError, 10*time.Second)
		at := p.Position()
		time.Sleep(3 * time.Second)
		if pos := p.Position(); pos != at {
			t.Errorf("with nothing playable the position went from %v to %v", at, pos)
		}
		if st := p.Status(); st.State != StateError || st.Position != at {
			t.Errorf("status: %v at %v", st.State, st.Position)
		}
	})
}
