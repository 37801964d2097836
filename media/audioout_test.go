package media

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ebitengine/oto/v3"
)

// openTestAudioOutput opens an output on the real device. Without a device the
// test is skipped, unless REELAY_REQUIRE_AUDIO=1 (set by .ci/av-env, which
// provides a null sink) makes it a failure.
func openTestAudioOutput(t *testing.T, o AudioOutputOptions) *AudioOutput {
	t.Helper()
	a, err := OpenAudioOutput(o)
	if errors.Is(err, ErrNoAudioDevice) {
		if os.Getenv("REELAY_REQUIRE_AUDIO") == "1" {
			t.Fatalf("REELAY_REQUIRE_AUDIO=1 but: %v", err)
		}
		t.Skipf("no audio device (run under .ci/av-env): %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return a
}

// sine returns d of a 440 Hz stereo sine at OutputSampleRate, starting at
// frame from so consecutive pieces join up.
func sine(from int, d time.Duration) []float32 {
	n := durationToFrames(d)
	s := make([]float32, n*OutputChannels)
	for i := range n {
		v := float32(0.2 * math.Sin(2*math.Pi*440*float64(from+i)/OutputSampleRate))
		s[2*i], s[2*i+1] = v, v
	}
	return s
}

// writeAll writes samples that must fit at once.
func writeAll(t *testing.T, a *AudioOutput, samples []float32) {
	t.Helper()
	if n := a.Write(samples); n != len(samples) {
		t.Fatalf("Write took %d of %d values (Free %d)", n, len(samples), a.Free())
	}
}

// eventually runs try up to three times and fails with the last error if
// it never succeeds. A busy machine can starve the sound server or this
// process for a moment, which the clock then truly shows, so measurements
// against the wall clock get more than one chance; a wrong clock fails every
// time. Broken invariants (a clock going back) fail at once, in try.
func eventually(t *testing.T, try func() error) {
	t.Helper()
	var err error
	for i := range 3 {
		if err = try(); err == nil {
			return
		}
		t.Logf("attempt %d: %v", i+1, err)
	}
	t.Fatal(err)
}

// waitPlayed waits until Played reaches d, for at most limit.
func waitPlayed(a *AudioOutput, d, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for a.Played() < d {
		if time.Now().After(deadline) {
			return fmt.Errorf("Played %v has not reached %v after %v", a.Played(), d, limit)
		}
		time.Sleep(time.Millisecond)
	}
	return nil
}

// played is one sample of the clock against the wall clock.
type played struct {
	wall time.Time
	pos  time.Duration
}

// sampleClock samples Played every 5 ms for d, failing if it ever goes back
// or past limit.
func sampleClock(t *testing.T, a *AudioOutput, d, limit time.Duration) []played {
	t.Helper()
	var out []played
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	end := time.Now().Add(d)
	for now := time.Now(); now.Before(end); now = <-tick.C {
		p := played{time.Now(), a.Played()}
		if len(out) > 0 && p.pos < out[len(out)-1].pos {
			t.Fatalf("Played went back from %v to %v", out[len(out)-1].pos, p.pos)
		}
		if p.pos > limit {
			t.Fatalf("Played %v is past the %v written", p.pos, limit)
		}
		out = append(out, p)
	}
	return out
}

// pace returns how fast the clock ran against the wall clock over samples,
// and how far apart they got at most, once their starts are aligned.
func pace(samples []played) (ratio float64, maxDrift time.Duration) {
	first, last := samples[0], samples[len(samples)-1]
	ratio = float64(last.pos-first.pos) / float64(last.wall.Sub(first.wall))
	for _, s := range samples {
		drift := (s.pos - first.pos) - s.wall.Sub(first.wall)
		maxDrift = max(maxDrift, drift, -drift)
	}
	return ratio, maxDrift
}

// runsInRealTime samples the clock for d and checks it ran at 1 ± tol of the
// wall clock.
func runsInRealTime(t *testing.T, a *AudioOutput, d, limit time.Duration, tol float64) error {
	t.Helper()
	samples := sampleClock(t, a, d, limit)
	ratio, drift := pace(samples)
	t.Logf("Played ran %.4f× the wall clock over %v, largest drift %v, %d samples",
		ratio, samples[len(samples)-1].wall.Sub(samples[0].wall).Round(time.Millisecond), drift, len(samples))
	if ratio < 1-tol || ratio > 1+tol {
		return fmt.Errorf("Played ran %.4f× the wall clock, want 1 ± %v", ratio, tol)
	}
	return nil
}

func TestAudioOutputPacesInRealTime(t *testing.T) {
	a := openTestAudioOutput(t, AudioOutputOptions{Queue: 3 * time.Second})
	const written = 2 * time.Second
	eventually(t, func() error {
		a.Clear()
		writeAll(t, a, sine(0, written))
		start := time.Now()
		if err := waitPlayed(a, time.Millisecond, time.Second); err != nil {
			return err
		}
		t.Logf("first audio heard after %v (device latency estimate %v)", time.Since(start), a.Latency())
		samples := sampleClock(t, a, 1500*time.Millisecond, written)
		ratio, drift := pace(samples)
		t.Logf("Played ran %.4f× the wall clock over %v, largest drift %v, %d samples",
			ratio, samples[len(samples)-1].wall.Sub(samples[0].wall).Round(time.Millisecond), drift, len(samples))
		if ratio < 0.95 || ratio > 1.05 {
			return fmt.Errorf("Played ran %.4f× the wall clock, want 1 ± 0.05", ratio)
		}
		if drift > 50*time.Millisecond {
			return fmt.Errorf("Played drifted %v from the wall clock, want ≤ 50ms", drift)
		}
		if p := a.Pending(); p <= 0 || p > written {
			t.Fatalf("Pending %v after playing 1.5 s of %v", p, written)
		}
		return nil
	})
}

func TestAudioOutputPauseResume(t *testing.T) {
	a := openTestAudioOutput(t, AudioOutputOptions{Queue: 3 * time.Second})
	const written = 2 * time.Second
	eventually(t, func() error {
		a.Clear()
		writeAll(t, a, sine(0, written))
		if err := waitPlayed(a, 300*time.Millisecond, 2*time.Second); err != nil {
			return err
		}
		before := a.Played()
		a.Pause()
		paused := a.Played()
		if d := paused - before; d < 0 || d > 20*time.Millisecond {
			t.Fatalf("Played moved %v across Pause, want ≤ 20ms", d)
		}
		time.Sleep(400 * time.Millisecond)
		if d := a.Played() - paused; d != 0 {
			t.Fatalf("Played moved %v in 400ms of pause, want 0", d)
		}
		t.Logf("paused at %v, Pending %v", paused, a.Pending())

		a.Resume()
		resumed := time.Now()
		time.Sleep(500 * time.Millisecond)
		got, wall := a.Played()-paused, time.Since(resumed)
		t.Logf("Played moved %v in the %v after Resume", got, wall)
		if d := got - wall; d < -100*time.Millisecond || d > 100*time.Millisecond {
			return fmt.Errorf("Played moved %v in the %v after Resume, want that ± 100ms", got, wall)
		}
		// Once resumed, it runs at the device's pace again.
		if err := runsInRealTime(t, a, 600*time.Millisecond, written, 0.05); err != nil {
			return fmt.Errorf("after Resume: %w", err)
		}

		// Pause and Resume right away, twice, and it still plays on.
		a.Pause()
		a.Resume()
		a.Pause()
		a.Resume()
		p := a.Played()
		time.Sleep(200 * time.Millisecond)
		if d := a.Played() - p; d < 100*time.Millisecond {
			return fmt.Errorf("Played moved %v in 200ms after quick Pause/Resume", d)
		}
		return nil
	})
}

func TestAudioOutputClearRestarts(t *testing.T) {
	a := openTestAudioOutput(t, AudioOutputOptions{Queue: 3 * time.Second})
	eventually(t, func() error {
		a.Clear()
		writeAll(t, a, sine(0, time.Second))
		if err := waitPlayed(a, 300*time.Millisecond, 2*time.Second); err != nil {
			return err
		}

		a.Clear()
		if p := a.Played(); p != 0 {
			t.Fatalf("Played is %v right after Clear, want 0", p)
		}
		if p := a.Pending(); p != 0 {
			t.Fatalf("Pending is %v right after Clear, want 0", p)
		}
		if f := a.Free(); f != durationToFrames(3*time.Second)*OutputChannels {
			t.Fatalf("Free is %d after Clear, want the whole queue", f)
		}
		time.Sleep(200 * time.Millisecond)
		if p := a.Played(); p != 0 {
			t.Fatalf("Played is %v 200ms after Clear with nothing written, want 0", p)
		}

		writeAll(t, a, sine(0, time.Second))
		if err := waitPlayed(a, 200*time.Millisecond, 2*time.Second); err != nil {
			return err
		}
		if err := runsInRealTime(t, a, 500*time.Millisecond, time.Second, 0.05); err != nil {
			return fmt.Errorf("after Clear: %w", err)
		}

		// Clear while paused: the clock restarts at zero and stays there
		// until resumed.
		a.Pause()
		a.Clear()
		writeAll(t, a, sine(0, time.Second))
		time.Sleep(200 * time.Millisecond)
		if p := a.Played(); p != 0 {
			t.Fatalf("Played is %v after Clear while paused, want 0", p)
		}
		a.Resume()
		return waitPlayed(a, 200*time.Millisecond, 2*time.Second)
	})
}

func TestAudioOutputStallStopsClock(t *testing.T) {
	a := openTestAudioOutput(t, AudioOutputOptions{Queue: 2 * time.Second})
	const first = 300 * time.Millisecond
	eventually(t, func() error {
		a.Clear()
		writeAll(t, a, sine(0, first))
		if err := waitPlayed(a, time.Millisecond, time.Second); err != nil {
			return err
		}
		// The clock runs to the end of what was written, and stops there.
		sampleClock(t, a, 700*time.Millisecond, first)
		end := a.Played()
		t.Logf("stalled at %v of %v written", end, first)
		if end < first-20*time.Millisecond {
			return fmt.Errorf("Played stopped at %v, want the %v written (−20ms)", end, first)
		}
		samples := sampleClock(t, a, 300*time.Millisecond, first)
		if moved := samples[len(samples)-1].pos - samples[0].pos; moved != 0 {
			t.Fatalf("Played moved %v while starved", moved)
		}
		if p := a.Pending(); p > 20*time.Millisecond {
			t.Fatalf("Pending is %v while starved, want ≈ 0", p)
		}

		// More audio and it goes on from there at the device's pace.
		writeAll(t, a, sine(durationToFrames(first), time.Second))
		if err := waitPlayed(a, end+200*time.Millisecond, time.Second); err != nil {
			return err
		}
		if err := runsInRealTime(t, a, 500*time.Millisecond, first+time.Second, 0.1); err != nil {
			return fmt.Errorf("after the stall: %w", err)
		}
		return nil
	})
}

func TestAudioOutputWriteIsBoundedAndNonBlocking(t *testing.T) {
	a := openTestAudioOutput(t, AudioOutputOptions{Queue: 200 * time.Millisecond})
	a.Pause() // nothing leaves the queue but the player's buffer
	if odd := a.Write(make([]float32, 3)); odd != 2 {
		t.Errorf("Write of 3 values took %d, want whole frames (2)", odd)
	}
	big := sine(0, 2*time.Second)
	took := 0
	start := time.Now()
	for range 50 {
		took += a.Write(big[took:])
		time.Sleep(2 * time.Millisecond)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("50 Writes took %v", d)
	}
	if took%OutputChannels != 0 || took >= len(big) {
		t.Errorf("Write took %d values in all, want whole frames and less than %d", took, len(big))
	}
	if f := a.Free(); f != 0 {
		t.Errorf("Free is %d with a full queue", f)
	}
	if n := a.Write(big[took:]); n != 0 {
		t.Errorf("Write took %d values into a full queue", n)
	}
	a.SetVolume(0)
	a.SetVolume(2)
	a.SetVolume(math.NaN())
}

func TestAudioOutputCloseLeavesNoGoroutine(t *testing.T) {
	// The first output creates oto's context, whose goroutines live as long
	// as the process: count after it.
	openTestAudioOutput(t, AudioOutputOptions{}).Close()
	before := runtime.NumGoroutine()

	a, err := OpenAudioOutput(AudioOutputOptions{})
	if err != nil {
		t.Fatal(err)
	}
	writeAll(t, a, sine(0, 200*time.Millisecond))
	if err := waitPlayed(a, 50*time.Millisecond, 2*time.Second); err != nil {
		t.Fatal(err)
	}
	a.Pause()
	a.Clear()
	a.Resume()
	a.Write(sine(0, 100*time.Millisecond))
	time.Sleep(50 * time.Millisecond)
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if err := a.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if n := a.Write(sine(0, 10*time.Millisecond)); n != 0 {
		t.Errorf("Write after Close took %d values", n)
	}

	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines after Close, %d before:\n%s",
				runtime.NumGoroutine(), before, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestAudioOutputLeavesNoPlayerBehind(t *testing.T) {
	a := openTestAudioOutput(t, AudioOutputOptions{})
	// Count the players oto lets go of: each Clear replaces the player, and a
	// replaced one must become garbage, or oto's mixer keeps serving it.
	var made, collected atomic.Int64
	a.mu.Lock()
	newPlayer := a.newPlayer
	a.newPlayer = func(r io.Reader) audioPlayer {
		p := newPlayer(r)
		made.Add(1)
		runtime.AddCleanup(p.(*oto.Player), func(*atomic.Int64) { collected.Add(1) }, &collected)
		return p
	}
	a.mu.Unlock()
	for i := range 20 {
		a.Clear()
		a.Write(sine(0, 20*time.Millisecond))
		if i%5 == 0 {
			a.Pause()
			a.Resume()
		}
		time.Sleep(5 * time.Millisecond)
	}
	a.Close()
	deadline := time.Now().Add(5 * time.Second)
	for collected.Load() < made.Load() {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d players were never collected", made.Load()-collected.Load(), made.Load())
		}
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("%d players made, all collected", made.Load())
}

func TestAudioOutputClockMatchesWhatTheSinkPlays(t *testing.T) {
	monitor := os.Getenv("REELAY_AUDIO_MONITOR")
	if monitor == "" {
		t.Skip("REELAY_AUDIO_MONITOR names no PulseAudio monitor source (set by .ci/av-env)")
	}
	a := openTestAudioOutput(t, AudioOutputOptions{Queue: 3 * time.Second})
	// Record what the sink plays, noting when each beep starts: a loud
	// sample after at least 100 ms of quiet.
	rec := exec.Command("parec", "--device="+monitor, "--latency-msec=5", "--raw",
		"--format=float32le", "--rate=48000", "--channels=2")
	out, err := rec.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := rec.Start(); err != nil {
		t.Fatal(err)
	}
	onsets := make(chan time.Time, 16)
	var armed atomic.Bool // before, loud samples are what earlier tests left in the sink
	go func() {
		defer close(onsets)
		r := bufio.NewReaderSize(out, 64)
		var b [4]byte
		quiet := 0
		for {
			if _, err := io.ReadFull(r, b[:]); err != nil {
				return
			}
			v := math.Float32frombits(binary.LittleEndian.Uint32(b[:]))
			if v < 0.05 && v > -0.05 {
				quiet++
				continue
			}
			if quiet >= durationToFrames(100*time.Millisecond)*OutputChannels && armed.Load() {
				onsets <- time.Now()
			}
			quiet = 0
		}
	}()
	t.Cleanup(func() {
		rec.Process.Kill()
		rec.Wait()
	})
	time.Sleep(300 * time.Millisecond) // let the recording start
	// Three beeps after silences: the clock reaching each and the sink
	// playing its first loud sample should be the same moment. The median
	// of the three keeps a scheduling hiccup in a busy test run out of it.
	var audio []float32
	var beeps []time.Duration
	for range 3 {
		audio = append(audio, make([]float32, durationToFrames(500*time.Millisecond)*OutputChannels)...)
		beeps = append(beeps, framesToDuration(int64(len(audio)/OutputChannels)))
		audio = append(audio, sine(0, 200*time.Millisecond)...)
	}
	eventually(t, func() error {
		a.Clear()
		time.Sleep(200 * time.Millisecond) // let the sink play out what it held
		for len(onsets) > 0 {
			<-onsets
		}
		armed.Store(true)
		defer armed.Store(false)
		writeAll(t, a, audio)
		var offs []time.Duration
		for _, beep := range beeps {
			if err := waitPlayed(a, beep, 2*time.Second); err != nil {
				return err
			}
			clockAt := time.Now()
			select {
			case heardAt, ok := <-onsets:
				if !ok {
					t.Fatalf("the recording of %s ended", monitor)
				}
				offs = append(offs, heardAt.Sub(clockAt))
			case <-time.After(time.Second):
				return fmt.Errorf("the sink never played the beep at %v", beep)
			}
		}
		slices.Sort(offs)
		t.Logf("the sink played each beep %v after the clock reached it (device latency estimate %v)", offs, a.Latency())
		if off := offs[1]; off < -40*time.Millisecond || off > 40*time.Millisecond {
			return fmt.Errorf("the sink played the beeps a median %v after the clock reached them, want within ±40ms", off)
		}
		return nil
	})
}

// audioNoDeviceChild marks the child process of TestOpenAudioOutputNoDevice.
const audioNoDeviceChild = "REELAY_TEST_AUDIO_NO_DEVICE_CHILD"

func TestOpenAudioOutputNoDevice(t *testing.T) {
	if os.Getenv(audioNoDeviceChild) == "1" {
		a, err := OpenAudioOutput(AudioOutputOptions{})
		if err == nil {
			a.Close()
			t.Fatal("OpenAudioOutput found a device with an empty ALSA configuration")
		}
		if !errors.Is(err, ErrNoAudioDevice) {
			t.Fatalf("error %v is not ErrNoAudioDevice", err)
		}
		// Asking again gives the same answer: oto's context is made once.
		if _, again := OpenAudioOutput(AudioOutputOptions{}); !errors.Is(again, ErrNoAudioDevice) {
			t.Fatalf("second open: %v", again)
		}
		io.WriteString(os.Stdout, "ERROR: "+err.Error()+"\n")
		return
	}
	// oto makes one context per process, so the check runs in a child whose
	// ALSA configuration is empty: no device can be found.
	empty := filepath.Join(t.TempDir(), "asound.conf")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestOpenAudioOutputNoDevice$", "-test.v")
	cmd.Env = append(os.Environ(), audioNoDeviceChild+"=1", "ALSA_CONFIG_PATH="+empty)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child failed: %v\n%s", err, out)
	}
	var msg string
	for line := range strings.Lines(string(out)) {
		if rest, ok := strings.CutPrefix(line, "ERROR: "); ok {
			msg = strings.TrimSpace(rest)
		}
	}
	t.Logf("error: %s", msg)
	if !strings.HasPrefix(msg, "media: no audio device: ") || !strings.Contains(msg, "ALSA") {
		t.Errorf("error %q does not say there is no audio device and why", msg)
	}
}
