package sync

import (
	"io"
	"time"

	p2pnet "reelay/net"
)

// Source is a recording the player can open: a remote recording and a local
// folder both satisfy it through RemoteSource and FolderSource.
type Source interface {
	// Name is the recording's display name.
	Name() string
	// Tracks lists the recording's tracks in display order.
	Tracks() []p2pnet.TrackInfo
	// OpenTrack returns a fresh reader over one track's bytes; the player
	// closes it when the track is switched off or the player is closed.
	OpenTrack(name string) (TrackReader, error)
}

// TrackReader is one track's bytes. Close must be safe to call while a Read
// is blocked, and must unblock it: that is how switching a track off stops
// its fetches at once (*os.File and *p2pnet.RangeReader both qualify).
//
// A reader may also have these methods, found by type assertion and called
// from any goroutine: SetByteRate(bytesPerSecond int64, ahead
// time.Duration) to size its readahead to the player's buffer target once
// the track's bit rate is known, SetRank(int) to order its requests
// against the other tracks' (0 first), SetUrgent(bool) to say whether
// the player needs what it reads now or has a little buffered,
// SetActive(bool) to stop reading ahead while paused, Stats() p2pnet.RangeReaderStats for the
// track's network figures, Cached() []p2pnet.ByteRange for the bytes it
// holds (a reader without it has them all), SetSparse(bool) to ask for
// exactly what is read, without reading ahead, while the track is thinned
// to its keyframes, and Connection()
// p2pnet.Connection for the state of the connection it reads over (when
// the Source does not say).
type TrackReader interface {
	io.ReadSeeker
	io.Closer
}

// The optional TrackReader methods.
type (
	byteRateSetter interface {
		SetByteRate(bytesPerSecond int64, ahead time.Duration)
	}
	activeSetter  interface{ SetActive(on bool) }
	urgentSetter  interface{ SetUrgent(on bool) }
	rankSetter    interface{ SetRank(rank int) }
	readerStatser interface {
		Stats() p2pnet.RangeReaderStats
	}
	cachedRanger interface{ Cached() []p2pnet.ByteRange }
	sparseSetter interface{ SetSparse(on bool) }
)

// connectionReporter is a Source, or a TrackReader, read over a
// connection that can be lost and regained (a remote recording): the
// player reports the connection's state in events and Stats.
type connectionReporter interface {
	Connection() p2pnet.Connection
}

// FolderSource plays a recording folder on this machine.
func FolderSource(f *p2pnet.Folder) Source { return folderSource{f: f} }

type folderSource struct {
	// f resolves track names to files.
	f *p2pnet.Folder
}

func (s folderSource) Name() string               { return s.f.Name() }
func (s folderSource) Tracks() []p2pnet.TrackInfo { return s.f.Tracks() }

func (s folderSource) OpenTrack(name string) (TrackReader, error) {
	file, err := s.f.OpenTrack(name)
	if err != nil {
		return nil, err
	}
	return file, nil
}

// RemoteSource plays a recording shared by a peer, each track read through
// its own *p2pnet.RangeReader, which prefetches the tail so a file with its
// index at the end opens in one round trip less.
func RemoteSource(r *p2pnet.Recording) Source { return remoteSource{r: r} }

type remoteSource struct {
	// r is the dialled recording.
	r *p2pnet.Recording
}

func (s remoteSource) Name() string                  { return s.r.Name() }
func (s remoteSource) Tracks() []p2pnet.TrackInfo    { return s.r.Tracks() }
func (s remoteSource) Connection() p2pnet.Connection { return s.r.Connection() }

func (s remoteSource) OpenTrack(name string) (TrackReader, error) {
	rr, err := s.r.OpenTrack(name, p2pnet.RangeReaderOptions{PrefetchTail: true})
	if err != nil {
		return nil, err
	}
	return rr, nil
}
