package sync

import (
	"time"

	"reelay/media"
)

// AudioSink is the audio device as the player uses it; *media.AudioOutput
// is one, and tests use a fake without a sound card. Samples are
// interleaved float32 stereo at media.OutputSampleRate.
type AudioSink interface {
	// Write queues samples without blocking and returns how many float32
	// values it took.
	Write(samples []float32) int
	// Free is how many float32 values Write would take now.
	Free() int
	// Played is how much of the audio written since the last Clear has been
	// heard; it never goes back and stops while paused or starved. It is
	// the master clock.
	Played() time.Duration
	// Pending is how much written audio has not been heard yet.
	Pending() time.Duration
	// Pause stops playing at once; Resume plays on.
	Pause()
	Resume()
	// Clear drops everything written and not heard; Played restarts at 0.
	Clear()
	// SetVolume sets the gain from 0 to 1.
	SetVolume(v float64)
	// Close releases the device.
	Close() error
}

// audioFailer is an AudioSink that can tell the device failed while open,
// as *media.AudioOutput can; the player then goes on the wall clock.
type audioFailer interface{ Err() error }

func openMediaAudio() (AudioSink, error) {
	out, err := media.OpenAudioOutput(media.AudioOutputOptions{})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Audio sample arithmetic on the timeline: a sample index is a position in
// units of 1/media.OutputSampleRate s.
const (
	sampleRate = media.OutputSampleRate
	channels   = media.OutputChannels
)

// sampleAt is the index of the sample playing at t, rounded to the nearest.
func sampleAt(t time.Duration) int64 {
	n := int64(t)*sampleRate + int64(time.Second)/2
	s := n / int64(time.Second)
	if n < 0 && n%int64(time.Second) != 0 {
		s-- // floor, so that rounding is the same either side of 0
	}
	return s
}

// sampleTime is when sample s starts.
func sampleTime(s int64) time.Duration {
	return time.Duration(s * int64(time.Second) / sampleRate)
}
