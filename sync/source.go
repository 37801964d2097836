package sync

import (
	"os"
	"time"

	"reelay/net/track"
)

// Source is a recording the player can open: net's Recording.Source is
// one for a remote recording, FolderSource for one on this machine.
type Source interface {
	// Name is the recording's display name.
	Name() string
	// Tracks lists the recording's tracks in display order.
	Tracks() []track.Info
	// OpenTrack returns a fresh reader over one track's bytes; the player
	// closes it when the track is switched off or the player is closed.
	OpenTrack(name string) (TrackReader, error)
}

// TrackReader is one track's bytes. Close must be safe to call while a Read
// is blocked, and must unblock it: that is how switching a track off stops
// its fetches at once (*os.File and net's *RangeReader both qualify).
//
// A reader may also have these methods, found by type assertion and called
// from any goroutine: SetByteRate(bytesPerSecond int64, ahead
// time.Duration) to size its readahead to the player's buffer target once
// the track's bit rate is known, SetRank(int) to order its requests
// against the other tracks' (0 first), SetUrgent(bool) to say whether the
// player needs what it reads now or has a little buffered, SetActive(bool)
// to stop reading ahead while paused, SetSparse(bool) to ask for exactly
// what is read, without reading ahead, while the track is thinned to its
// keyframes, Stats() track.ReaderStats for the track's network figures,
// RoundTrips() int and MarkRoundTrips() for the round trips its reads
// waited for in sequence, counted afresh from a seek,
// Cached() []track.ByteRange for the bytes it holds (a reader without it
// has them all), and Connection() track.Connection for the state of the
// connection it reads over (when the Source does not say).
type TrackReader = track.Reader

// The optional TrackReader methods.
type (
	byteRateSetter interface {
		SetByteRate(bytesPerSecond int64, ahead time.Duration)
	}
	activeSetter  interface{ SetActive(on bool) }
	urgentSetter  interface{ SetUrgent(on bool) }
	rankSetter    interface{ SetRank(rank int) }
	readerStatser interface {
		Stats() track.ReaderStats
	}
	cachedRanger interface{ Cached() []track.ByteRange }
	sparseSetter interface{ SetSparse(on bool) }
	tripCounter  interface {
		RoundTrips() int
		MarkRoundTrips()
	}
)

// connectionReporter is a Source, or a TrackReader, read over a
// connection that can be lost and regained (a remote recording): the
// player reports the connection's state in events and Stats.
type connectionReporter interface {
	Connection() track.Connection
}

// Files is a recording on this machine, its tracks each a file; a
// recording folder (*net.Folder) is one.
type Files interface {
	Name() string
	Tracks() []track.Info
	OpenTrack(name string) (*os.File, error)
}

// FolderSource plays a recording on this machine.
func FolderSource(f Files) Source { return folderSource{f: f} }

type folderSource struct {
	// f resolves track names to files.
	f Files
}

func (s folderSource) Name() string         { return s.f.Name() }
func (s folderSource) Tracks() []track.Info { return s.f.Tracks() }

func (s folderSource) OpenTrack(name string) (TrackReader, error) {
	file, err := s.f.OpenTrack(name)
	if err != nil {
		return nil, err
	}
	return file, nil
}
