package sync

import (
	"time"

	"reelay/media"
)

// AudioSink is the audio device as the player uses it (media's, so that
// measuring tools can stand between the player and the device).
type AudioSink = media.AudioSink

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
