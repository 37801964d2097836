package net

import "reelay/net/track"

// Source is the recording as a player opens it (it is a sync.Source): each
// track read through a RangeReader of its own, which prefetches the tail,
// so a file with its index at the end opens a round trip sooner.
func (r *Recording) Source() Source { return Source{r: r} }

// Source is a Recording as a player's source; see Recording.Source.
type Source struct {
	// r is the dialled recording.
	r *Recording
}

// Name is the recording's name.
func (s Source) Name() string { return s.r.Name() }

// Tracks lists the recording's tracks.
func (s Source) Tracks() []TrackInfo { return s.r.Tracks() }

// Connection is the state of the connection to the sharer.
func (s Source) Connection() Connection { return s.r.Connection() }

// OpenTrack opens a track's reader.
func (s Source) OpenTrack(name string) (track.Reader, error) {
	rr, err := s.r.OpenTrack(name, RangeReaderOptions{PrefetchTail: true})
	if err != nil {
		return nil, err
	}
	return rr, nil
}
