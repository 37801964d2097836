// Package sync is Reelay's player engine: one clock for every track, audio
// and video scheduling, buffering and stalls, play, pause, accurate seek and
// per-track subscribe. It never calls the window; it reports through events.
//
// Other packages import it as avsync.
//
// # Shape
//
// A Player owns one goroutine (player.go) that owns the clock, the state,
// the presentation of video and the audio feed; its methods are requests to
// it. Each subscribed track is a pipeline (pipeline.go) whose goroutine owns
// the track's reader and demuxer and keeps BufferTarget of compressed
// packets queued ahead of the clock, with one decode goroutine per played
// stream (pipeline_video.go, pipeline_audio.go) converting pictures at display
// size into a small pool of RGBA buffers and audio to 48 kHz stereo. The
// queues between them are bounded: a packet queue per stream bounded by
// the buffer target, two pictures and about half a second of audio.
//
// # One timeline
//
// A track's timestamps are moved onto the recording's timeline by removing
// the file's start time and adding the track's Start. Audio streams are
// summed sample by sample on it (audiomix.go). The clock (clock.go) is the
// audio device's when an audio track plays and a device exists, the wall
// clock otherwise.
//
// # Seeks
//
// A seek starts a new epoch: every output is stamped with its epoch and
// older ones are dropped, so nothing stale is shown. Each pipeline works
// only on the newest target it was given; its decoders discard up to the
// target, so the first picture is the one showing at the target and the
// audio starts at its exact sample. The clock holds at the target until
// every track has its first frame there (the preroll), which is shown at
// once, then until the buffer holds, as after a stall: every track has
// ResumeLevel, and more when the measured bandwidth falls short of the
// media's rate (readyToPlay). The whole path is in seek.go.
//
// # Frame stepping
//
// A step is an exact seek (step.go). A step back keeps the main
// picture's pictures its seek decodes from the keyframe, so the next
// steps back, and forward again, show them at once without seeking the
// main picture; the other tracks follow by a seek of their own. The cache
// is bounded, and dropped by play, seeks and whatever may make it stale
// (stepcache.go).
//
// # A slow link
//
// A track's reads are urgent until it has a little buffered (the sharer
// answers them first). When the link is measured too slow for every
// track, the player thins pictures to their keyframes rather than stall
// (degrade.go decides, thin.go reads them by the container's index).
//
// # A lost sharer
//
// A remote recording reconnects by itself (net's Recording.Connection);
// reads wait meanwhile, so playback goes on from what is buffered and then
// stalls until the sharer is back. The player only reports it, through
// EventConnection and Stats.Connection (player_connection.go).
//
// # Measuring sync
//
// A syncclip.Meter (media/syncclip) sits between the player and its sinks
// and measures, on a sync clip, how long after its beep is heard each flash
// is shown: the A/V offset as a viewer meets it.
package sync
