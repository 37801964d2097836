package sync

import (
	"time"

	"reelay/media"
)

// Options configure a Player. The zero value plays every track with the
// defaults below.
type Options struct {
	// BufferTarget is how much media each subscribed track keeps demuxed
	// ahead of the clock, as compressed packets; a paused track stops
	// reading once it has this much. It defaults to 3 s.
	BufferTarget time.Duration
	// LowWater is the stall mark: while playing, a track with less than this
	// buffered ahead and more left to read stops the clock until the buffer
	// holds again (see ResumeLevel). It defaults to 500 ms.
	LowWater time.Duration
	// ResumeLevel is the least every track must have buffered ahead before
	// the clock runs after a preroll (the open, a seek) or a stall, when the
	// network delivers as fast as the tracks play; when it delivers slower,
	// the player waits for as much more as the measured bandwidth says the
	// next moments need. It defaults to 750 ms, and is between LowWater and
	// BufferTarget.
	ResumeLevel time.Duration
	// Now reads the wall clock, which drives playback when no audio is
	// heard and times stalls and seeks; the engine only ever subtracts its
	// readings, and wakes up on the runtime's timers (tests fake both with
	// testing/synctest). It defaults to time.Now.
	Now func() time.Time
	// OpenAudio opens the audio device when the first audio track starts.
	// It defaults to media.OpenAudioOutput with its default options; an
	// error wrapping media.ErrNoAudioDevice (or any error) means playing on
	// the wall clock, with an EventNotice saying so.
	OpenAudio func() (AudioSink, error)
	// VideoSize gives the size video frames of a track are converted to,
	// from the decoded size: the size they are displayed at, not the source
	// size. It is called from decode goroutines for every frame, so it must
	// be fast and safe for concurrent use; a new answer takes effect on the
	// next frame. It defaults to the decoded size.
	VideoSize func(track string, srcW, srcH int) (w, h int)
	// Subscribe lists the tracks switched on at open. It defaults to every
	// track, those that appear later included; an empty non-nil slice
	// opens none.
	Subscribe []string
	// LiveDelay is how far behind the live edge (the newest whole data of
	// the live tracks) a live recording opens, and GoLive returns: room
	// for the recorder's next writes to arrive before they are due. It
	// defaults to 1.5 s.
	LiveDelay time.Duration
	// OnEvent receives every Event, in order, on a goroutine of its own: a
	// slow consumer never blocks playback, and while it lags a newer event
	// of the same kind and track replaces the undelivered one (counted in
	// Stats.EventsCoalesced). It must not call Close. It defaults to
	// dropping events.
	OnEvent func(Event)
	// Demuxer bounds probing when a track opens. It defaults to media's
	// defaults (1 MiB, 1 s), sized for reading over the network.
	Demuxer media.DemuxerOptions
}

// Defaults for Options.
const (
	DefaultBufferTarget = 3 * time.Second
	DefaultLowWater     = 500 * time.Millisecond
	DefaultResumeLevel  = 750 * time.Millisecond
	DefaultLiveDelay    = 1500 * time.Millisecond
)

// withDefaults returns o with every unset field filled in.
func (o Options) withDefaults() Options {
	if o.LiveDelay <= 0 {
		o.LiveDelay = DefaultLiveDelay
	}
	if o.BufferTarget <= 0 {
		o.BufferTarget = DefaultBufferTarget
	}
	if o.LowWater <= 0 {
		o.LowWater = DefaultLowWater
	}
	o.LowWater = min(o.LowWater, o.BufferTarget)
	if o.ResumeLevel <= 0 {
		o.ResumeLevel = DefaultResumeLevel
	}
	o.ResumeLevel = min(max(o.ResumeLevel, o.LowWater), o.BufferTarget)
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.OpenAudio == nil {
		o.OpenAudio = openMediaAudio
	}
	if o.VideoSize == nil {
		o.VideoSize = func(_ string, w, h int) (int, int) { return w, h }
	}
	return o
}
