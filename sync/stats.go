package sync

import (
	"image"
	"time"

	"reelay/media"
	"reelay/net/track"
)

// VideoSink shows one track's pictures. Show is called on the player's
// goroutine when a frame is due, so it must return quickly (hand the frame
// to the window, do not draw in it). The frame comes from a small pool per
// track; the engine never reuses the frame shown last nor the one before
// it, so the window may still be uploading either.
type VideoSink interface {
	Show(frame *image.RGBA, pts time.Duration)
}

// VideoSinkFunc adapts a function to a VideoSink.
type VideoSinkFunc func(frame *image.RGBA, pts time.Duration)

// Show calls f.
func (f VideoSinkFunc) Show(frame *image.RGBA, pts time.Duration) { f(frame, pts) }

// Track is a snapshot of one track of the recording.
type Track struct {
	// Name is the track's display name.
	Name string
	// Start is where the track begins on the recording's timeline.
	Start time.Duration
	// Size is the track's length in bytes.
	Size int64
	// On says the track is subscribed.
	On bool
	// State is the track's state (StateOff when not subscribed).
	State State
	// Err is why the track cannot play, when State is StateError.
	Err error
	// Streams are the elementary streams played, known once the track has
	// been opened.
	Streams []media.StreamInfo
	// End is where the track ends on the timeline, known once opened.
	End time.Duration
	// Buffered are the parts of the timeline the track plays without
	// waiting for the network, in order: what is demuxed ahead of the
	// position, and for a remote track the bytes its reader has cached,
	// mapped onto [Start, End] in proportion to the bytes. A local track is
	// buffered whole. Empty until the track is opened, and while it is off.
	Buffered []TimeRange
	// Thinned says the link is too slow for every picture of the track:
	// it shows its keyframes only, holding each until the next, and plays
	// all its sound. The player plays it whole again when the link allows.
	Thinned bool
	// Stats are the track's counters; they survive switching it off and on.
	Stats TrackStats
}

// HasVideo says the track plays pictures (known once opened).
func (t Track) HasVideo() bool { return t.has(media.KindVideo) }

// HasAudio says the track plays sound (known once opened).
func (t Track) HasAudio() bool { return t.has(media.KindAudio) }

// HasSubtitles says the track has subtitles (known once opened).
func (t Track) HasSubtitles() bool { return t.has(media.KindSubtitle) }

func (t Track) has(k media.StreamKind) bool {
	for _, s := range t.Streams {
		if s.Kind == k {
			return true
		}
	}
	return false
}

// TrackStats are one track's counters.
type TrackStats struct {
	// FramesPresented counts pictures handed to the sink on time.
	FramesPresented int64
	// FramesDropped counts pictures skipped for being later than their own
	// duration.
	FramesDropped int64
	// SamplesMixed counts the audio frames (48 kHz) of the track written to
	// the device.
	SamplesMixed int64
	// BytesRead counts the bytes the demuxer read (a remote track may have
	// fetched more: see Reader).
	BytesRead int64
	// BufferedAhead is how far past the position the track is demuxed (0
	// when off; large once the whole file is read).
	BufferedAhead time.Duration
	// DecodeErrors counts packets that failed to decode.
	DecodeErrors int64
	// FramesDecoded counts the pictures the decoder put out, those
	// discarded on the way to a seek's target included: what seeking and
	// stepping cost in decoding.
	FramesDecoded int64
	// Seeks counts the seeks the track worked on; seeks superseded before
	// they started are not counted.
	Seeks int64
	// ThinnedTime is how long the track has shown keyframes only.
	ThinnedTime time.Duration
	// Reader holds the network reader's figures (bytes fetched, cache,
	// throughput, RTT) for a remote track, nil for a local one.
	Reader *track.ReaderStats
}

// Stats are the player's counters.
type Stats struct {
	// Clock is what drives the position now.
	Clock ClockKind
	// AudioNotice says, in words for the viewer, why audio is not the
	// clock while audio tracks are on (no device, device failed), ""
	// otherwise; AudioErr is the device's error behind it. The picture
	// then plays on the wall clock.
	AudioNotice string
	AudioErr    error
	// Stalls counts the times playback stopped for lack of data.
	Stalls int
	// StallTime is the total time spent stalled.
	StallTime time.Duration
	// StallLog describes the latest stalls that ended, oldest first (at
	// most 64).
	StallLog []Stall
	// Seeks counts the seeks requested.
	Seeks int
	// SeekLatencies are the latest seeks' times from request to first
	// frame, oldest first (at most 64; coalesced seeks count once).
	SeekLatencies []time.Duration
	// FirstFrame is the time from Open to the first frame shown (0 before).
	FirstFrame time.Duration
	// FirstFrameRoundTrips is the most round trips any track's reads
	// waited for in sequence from its opening to the first frame, as
	// Event.RoundTrips counts a seek's (0 for a recording on this
	// machine).
	FirstFrameRoundTrips int
	// EventsCoalesced counts events replaced before the consumer took them.
	EventsCoalesced int64
	// Connection is a remote recording's connection to its sharer: its
	// state, reconnections and time spent reconnecting (State is
	// ConnUnknown for a local recording).
	Connection track.Connection
}

// maxSeekLatencies bounds Stats.SeekLatencies.
const maxSeekLatencies = 64

// Stall is one time playback stopped for lack of data.
type Stall struct {
	// Position is where on the timeline it happened.
	Position time.Duration
	// Duration is how long it lasted.
	Duration time.Duration
	// Track is the first track found below LowWater.
	Track string
	// Waiting says that track's network reader had nothing cached past its
	// read position: the bytes had not arrived. Otherwise they had, and
	// the track was slow to demux them (a busy machine); always false for
	// a local track.
	Waiting bool
}

// maxStallLog bounds Stats.StallLog.
const maxStallLog = 64
