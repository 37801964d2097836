// Package track holds what a player knows of a recording's tracks and how
// they are read, without the network: a track's description, its reader,
// the reader's figures and the state of the connection it reads over. The
// net package fills them in; the player engine (sync) reads them, and so
// links no libp2p.
package track

import (
	"io"
	"time"
)

// Info describes one track of a recording.
type Info struct {
	// Name is the display name (camera, screen, mic), never a file name.
	Name string
	// Size is the track's length in bytes.
	Size int64
	// Start is where the track begins on the recording's common timeline.
	Start time.Duration
	// Version changes whenever the file may have changed, so a cache can
	// tell old bytes from new. A file that only grows keeps its version.
	Version string
	// Live says the file is still being written: Size grows, and reads
	// past it wait for more.
	Live bool
	// First and End are the container's own times of the track's first
	// join point and of the end of its newest whole data, for a track
	// whose sharer indexes it as it is written (End is zero otherwise):
	// the track spans End-First of the timeline from Start, and grows.
	First, End time.Duration
	// Unfinished says the file can be played only once its recorder
	// finishes it: an MP4 whose index is written at the end, still being
	// recorded.
	Unfinished bool
	// Cut says the file ends with a piece its recorder never finished (it
	// crashed, or was killed): Size stops at the last whole one.
	Cut bool
	// Index is what a demuxer reads near the file's end as it opens it
	// (an MP4's moov written last, an Ogg file's last page), when its
	// sharer located it: it is read right after the first bytes. Empty
	// otherwise.
	Index ByteRange
	// Head is how many bytes from the start a demuxer reads before it has
	// the first sample of every stream, when the sharer located them (a
	// finished MP4); 0 otherwise.
	Head int64
}

// JoinPoint is where a demuxer can begin reading a track that is being
// written (or was) to reach a time: the place the sharer's index of the
// file gives, with what to show the demuxer before it.
type JoinPoint struct {
	// Offset is where the demuxer starts reading.
	Offset int64
	// Time is the container's time of the first picture decoded there.
	Time time.Duration
	// Header is how many bytes from the start the demuxer reads first:
	// the file's header and stream descriptions. 0 when it starts
	// reading at Offset, as for MPEG-TS.
	Header int64
	// Filler is what the demuxer is shown at Header: an element it skips
	// that reaches Offset. Empty when Header is 0 or Offset.
	Filler []byte
}

// Reader is one track's bytes, as a player reads them: a file on this
// machine, or a network reader.
type Reader interface {
	io.ReadSeeker
	io.Closer
}

// ReaderStats is a snapshot of a network reader's counters (net's
// RangeReader).
type ReaderStats struct {
	// BytesFetched counts the bytes received from the sharer.
	BytesFetched int64
	// CacheHits counts reads served from the cache without waiting.
	CacheHits int64
	// CacheMisses counts reads that had to wait for a request.
	CacheMisses int64
	// Requests counts the requests sent.
	Requests int64
	// InFlight is the number of requests in flight now.
	InFlight int
	// Cancelled counts requests cancelled before their answer was complete.
	Cancelled int64
	// Upgraded counts read-ahead requests asked again as urgent: a read
	// came to wait for them while they sat queued at the sharer.
	Upgraded int64
	// Prefetched counts the bytes asked for ahead of sparse reads: the
	// packets a first picture needs.
	Prefetched int64
	// Throughput is bytes per second received over the last 2 s.
	Throughput float64
	// Bandwidth is bytes per second received while requests were in flight,
	// over about the last 2 s of such time: what the link gives this track
	// when it asks. Unlike Throughput, time with nothing to ask for (a full
	// window, a pause) does not lower it. 0 until measured.
	Bandwidth float64
	// RTT is the smoothed time to first byte of a request, like TCP's SRTT.
	RTT time.Duration
	// Buffered is how many contiguous bytes are cached from the read position.
	Buffered int64
}

// ByteRange is the bytes [Start, End) of a track.
type ByteRange struct{ Start, End int64 }

// ConnState says whether a recording can reach its sharer.
type ConnState int

const (
	// ConnUnknown is the zero value; a recording never reports it.
	ConnUnknown ConnState = iota
	// ConnConnected: requests go to the sharer.
	ConnConnected
	// ConnReconnecting: the connection was lost; the Recording tries to
	// reconnect, with a growing pause between attempts, until it succeeds
	// or is closed. Reads wait meanwhile; cached bytes are still served.
	ConnReconnecting
	// ConnUnshared: the sharer answers but no longer shares the recording
	// (sharing stopped, or it came back without this link's token).
	// Reads that need the sharer fail; there is nothing to wait for.
	ConnUnshared
	// ConnClosed: the Recording or its host was closed.
	ConnClosed
)

// String is the state as a status line shows it.
func (s ConnState) String() string {
	switch s {
	case ConnConnected:
		return "connected"
	case ConnReconnecting:
		return "reconnecting"
	case ConnUnshared:
		return "unshared"
	case ConnClosed:
		return "closed"
	default:
		return "unknown"
	}
}

// Connection is a snapshot of a recording's link to its sharer.
type Connection struct {
	// State is where the connection stands.
	State ConnState
	// Since is when State began.
	Since time.Time
	// Err is why the connection was lost, or why the latest attempt to
	// reconnect failed, or why it ended; nil while connected.
	Err error
	// Attempts counts the attempts to reconnect in the current outage.
	Attempts int
	// Reconnects counts the outages that ended with a new connection.
	Reconnects int
	// Downtime is the time spent reconnecting, the current outage included.
	Downtime time.Duration
	// Lanes counts the connections range requests go out on: one, or more
	// on a link that loses packets; zero when not known.
	Lanes int
}
