package app

import (
	"context"
	"time"

	p2pnet "reelay/net"
	avsync "reelay/sync"
)

// Player is the engine as the window drives it. *avsync.Player is one;
// tests use a fake. The window calls it only from its own goroutines,
// never from the UI goroutine, since every method is a request to the
// engine's goroutine.
type Player interface {
	Play()
	Pause()
	// Seek never waits; it returns the seek's number (Status.Seek).
	Seek(t time.Duration) uint64
	// GoLive seeks to just behind the live edge of a recording being
	// written, as Seek does; 0 when nothing is live.
	GoLive() uint64
	Subscribe(track string, on bool) error
	SetVideoSink(track string, s avsync.VideoSink)
	SetVolume(v float64)
	SetMuted(m bool)
	// SetSpeed plays at speed r (1 normal), the sound at its own pitch.
	SetSpeed(r float64)
	// StepFrame pauses and shows the main picture's next (dir > 0) or
	// previous picture.
	StepFrame(dir int)
	// SetSubtitleSink sets where the subtitle text at the position goes;
	// SetSubtitlesShown shows or hides subtitles.
	SetSubtitleSink(s avsync.SubtitleSink)
	SetSubtitlesShown(on bool)
	// Status never waits: it is the engine's latest snapshot.
	Status() avsync.Status
	Close() error
}

// Remote is a recording dialled over the network: a source the engine can
// open, plus what the status line shows of the link.
type Remote interface {
	avsync.Source
	// RTT is the latest round-trip time to the sharer, 0 until measured.
	RTT() time.Duration
	// Path says how media reaches this machine: "direct (LAN)", "direct
	// (hole punched)" and the like, "" while there is no usable connection.
	Path() string
	// Close hangs up and releases what was opened to dial.
	Close() error
}

// Sharing is a folder being shared, as the Share view shows it.
type Sharing interface {
	// Link is the copyable link to the recording.
	Link() string
	// Name is the recording's display name.
	Name() string
	// Tracks are the tracks being shared.
	Tracks() []p2pnet.TrackInfo
	// Viewers are the peers connected now.
	Viewers() []p2pnet.ViewerStats
	// Stop stops sharing: later requests for the link fail.
	Stop() error
}

// openEngine is the default Options.OpenPlayer.
func openEngine(ctx context.Context, src avsync.Source, o avsync.Options) (Player, error) {
	p, err := avsync.Open(ctx, src, o)
	if err != nil {
		return nil, err
	}
	return p, nil
}

// openFolder is the default Options.OpenFolder.
func openFolder(dir string) (avsync.Source, error) {
	f, err := p2pnet.OpenFolder(dir)
	if err != nil {
		return nil, err
	}
	return avsync.FolderSource(f), nil
}
