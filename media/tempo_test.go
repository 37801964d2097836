package media_test

import (
	"math"
	"testing"
	"time"

	"reelay/media"
)

// TestTempoKeepsPitchAndTime stretches a clip that is silent for 1 s and
// then a 440 Hz tone: at every speed the output lasts the input's length
// over the speed, the tone starts at 1 s over the speed (so the clock can
// count output samples × speed) and keeps its pitch.
func TestTempoKeepsPitchAndTime(t *testing.T) {
	const rate = media.OutputSampleRate
	in := make([]float32, 3*rate*media.OutputChannels)
	for i := rate; i < 3*rate; i++ {
		v := float32(0.5 * math.Sin(2*math.Pi*440*float64(i)/rate))
		in[2*i], in[2*i+1] = v, v
	}
	for _, speed := range []float64{0.5, 0.75, 1.25, 1.5, 2} {
		tp, err := media.NewTempo(speed)
		if err != nil {
			t.Fatal(err)
		}
		var out []float32
		for i := 0; i < len(in); i += 1024 * media.OutputChannels {
			if out, err = tp.Process(out, in[i:min(i+1024*media.OutputChannels, len(in))]); err != nil {
				t.Fatal(err)
			}
		}
		tp.Close()
		frames := len(out) / media.OutputChannels
		want := float64(3*rate) / speed
		// The filter holds back at most its window (about 80 ms) until
		// more input comes.
		if got := float64(frames); got > want+rate/100 || got < want-0.1*rate {
			t.Errorf("%g×: %d sample frames out, want about %.0f", speed, frames, want)
		}
		onset := -1
		for i := 0; i < frames; i++ {
			if math.Abs(float64(out[2*i])) > 0.25 {
				onset = i
				break
			}
		}
		// The overlapping windows fade the tone in over part of a window
		// (about 20 ms of input), so it rises a little early.
		at := time.Duration(onset) * time.Second / rate
		tol := time.Duration(float64(25*time.Millisecond) / speed)
		if wantAt := time.Duration(float64(time.Second) / speed); (at - wantAt).Abs() > tol {
			t.Errorf("%g×: the tone starts %v into the output, want %v", speed, at, wantAt)
		}
		// Pitch: crossings of zero upwards over a stretch of steady tone.
		from, to := onset+rate/10, min(onset+rate/10+rate/2, frames-1)
		ups := 0
		for i := from; i < to; i++ {
			if out[2*i] <= 0 && out[2*i+2] > 0 {
				ups++
			}
		}
		if hz := float64(ups) / (float64(to-from) / rate); math.Abs(hz-440) > 10 {
			t.Errorf("%g×: the tone is %.0f Hz, want 440", speed, hz)
		}
	}
	if _, err := media.NewTempo(3); err == nil {
		t.Error("3× was accepted")
	}
}
