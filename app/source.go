package app

import (
	"errors"
	gosync "sync"
	"time"

	p2pnet "reelay/net"
	avsync "reelay/sync"
)

// redialSource is a remote recording that survives reconnecting: the
// engine opens tracks through it, and after the connection was lost and
// dialled again, tracks open on the new connection. Safe for concurrent
// use.
type redialSource struct {
	// name and tracks are the recording's, from the first dial.
	name   string
	tracks []p2pnet.TrackInfo

	// mu guards the rest.
	mu gosync.Mutex
	// cur is the connection tracks open on now; gen counts the redials.
	cur Remote
	gen int
	// old are earlier connections, kept open while tracks opened on them
	// may still read from their caches, and closed with the source.
	old []Remote
	// opened is the gen each track was last opened on.
	opened map[string]int
}

func newRedialSource(r Remote) *redialSource {
	return &redialSource{name: r.Name(), tracks: r.Tracks(), cur: r, opened: map[string]int{}}
}

func (s *redialSource) Name() string { return s.name }
func (s *redialSource) Tracks() []p2pnet.TrackInfo {
	return append([]p2pnet.TrackInfo(nil), s.tracks...)
}

func (s *redialSource) OpenTrack(name string) (avsync.TrackReader, error) {
	s.mu.Lock()
	r := s.cur
	s.opened[name] = s.gen
	s.mu.Unlock()
	if r == nil {
		return nil, errors.New("app: the recording was closed")
	}
	return r.OpenTrack(name)
}

// swap makes tracks open on r from now on.
func (s *redialSource) swap(r Remote) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.old = append(s.old, s.cur)
	s.cur = r
	s.gen++
}

// stale says the track was opened on an earlier connection.
func (s *redialSource) stale(track string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	g, ok := s.opened[track]
	return ok && g < s.gen
}

func (s *redialSource) connected() bool {
	s.mu.Lock()
	r := s.cur
	s.mu.Unlock()
	return r != nil && r.Connected()
}

// link returns the round-trip time to the sharer and the path to it.
func (s *redialSource) link() (rtt time.Duration, path string) {
	s.mu.Lock()
	r := s.cur
	s.mu.Unlock()
	if r == nil {
		return 0, ""
	}
	return r.RTT(), r.Path()
}

// Close hangs up every connection.
func (s *redialSource) Close() error {
	s.mu.Lock()
	all := append(s.old, s.cur)
	s.old, s.cur = nil, nil
	s.mu.Unlock()
	var first error
	for _, r := range all {
		if r == nil {
			continue
		}
		if err := r.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}
