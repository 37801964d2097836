package net

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"

	"github.com/libp2p/go-libp2p/core/protocol"
)

// ProtocolID is the one libp2p protocol Reelay speaks. A new major version
// gets a new ID so old and new peers fail negotiation instead of misreading.
const ProtocolID protocol.ID = "/reelay/stream/1.0.0"

// Method names carried in a request.
const (
	// MethodGet resolves a token to the recording's name and tracks.
	MethodGet = "stream.get"
	// MethodReadRange returns raw bytes of one track.
	MethodReadRange = "stream.read_range"
	// MethodWatch answers with the recording as stream.get does once it
	// differs from the revision the viewer names (a live track grew or
	// finished, a track appeared), or after watchHold with no change: a
	// long poll, so growth reaches viewers without their asking every
	// few milliseconds.
	MethodWatch = "stream.watch"
	// MethodJoin answers where a demuxer begins reading a track the
	// sharer indexes (a live track) to reach a time: the join point at or
	// before it.
	MethodJoin = "stream.join"
)

const (
	// MaxReadLength is the most bytes one stream.read_range returns; longer
	// requests are refused with bad_request so a peer cannot make the sharer
	// hold a large buffer or a disk read hostage.
	MaxReadLength = 4 << 20
	// maxHeaderSize bounds a request or response header on the wire.
	maxHeaderSize = 64 << 10
	// maxRequestHeader bounds a request header, far smaller than a response:
	// a token, a track name and a version fit in a few hundred bytes, and
	// a sharer need not buffer more for a peer that may be hostile.
	maxRequestHeader = 4 << 10
	// maxVersionLen bounds a request's version; a sharer's versions are
	// about 30 characters.
	maxVersionLen = 128
)

// Exchange on one stream (one request per stream, so cancelling a request is
// resetting its stream):
//
//	viewer → sharer: uvarint(len) JSON request
//	sharer → viewer: uvarint(len) JSON response [raw bytes: response.Length of them]
type request struct {
	Method string `json:"method"`
	Token  string `json:"token"`
	Track  string `json:"track,omitempty"`
	Offset int64  `json:"offset,omitempty"`
	Length int64  `json:"length,omitempty"`
	// Version is the track's version from stream.get (read_range only,
	// optional). When the file's version differs the answer is changed, so
	// a cache never mixes old and new bytes.
	Version string `json:"version,omitempty"`
	// Priority orders the answer against the viewer's other answers
	// (read_range only, optional; sent only to a sharer whose stream.get
	// said it honours priorities).
	Priority Priority `json:"priority,omitempty"`
	// Rev is the recording's revision the viewer knows (watch only).
	Rev uint64 `json:"rev,omitempty"`
	// At is the container's time to join a track at, in seconds (join
	// only).
	At float64 `json:"at,omitempty"`
}

type response struct {
	Error     *Error         `json:"error,omitempty"`
	Recording *recordingInfo `json:"recording,omitempty"`
	// Length is how many raw bytes follow the header (read_range only).
	Length int64 `json:"length,omitempty"`
	// Loss is the share of the packets the sharer sent on this
	// connection that were lost, once it sent enough to tell (read_range
	// over QUIC only): the viewer spreads its requests over more
	// connections when it is high (lanes.go).
	Loss float64 `json:"loss,omitempty"`
	// Join is where to begin reading (join only).
	Join *joinInfo `json:"join,omitempty"`
}

// recordingInfo is what stream.get returns. It never carries a file path or
// a file name: tracks are known by their display names only.
type recordingInfo struct {
	Name string `json:"name"`
	// Duration is in seconds, 0 when the sharer does not know it.
	Duration  float64     `json:"duration,omitempty"`
	MaxLength int64       `json:"max_length"`
	Tracks    []trackInfo `json:"tracks"`
	// Priorities says the sharer orders its answers by request priority.
	Priorities bool `json:"priorities,omitempty"`
	// Watch says the sharer answers stream.watch; Rev is the revision of
	// this answer, which changes whenever a track grows, finishes or
	// appears.
	Watch bool   `json:"watch,omitempty"`
	Rev   uint64 `json:"rev,omitempty"`
}

type trackInfo struct {
	Name string `json:"name"`
	Size int64  `json:"size"`
	// Start is the track's offset on the recording's timeline, in seconds.
	Start float64 `json:"start,omitempty"`
	// Version names the file's content as first shared; the sharer
	// answers changed once a request's version is not what it serves. A
	// file that only grows keeps its version.
	Version string `json:"version"`
	// Live says the file is still being written: Size is what existed at
	// this answer, and more will follow.
	Live bool `json:"live,omitempty"`
	// First and End are the container's times, in seconds, of the first
	// join point and of the end of the newest whole data, for a track the
	// sharer indexes (one that is or was live); stream.join then answers.
	First float64 `json:"first,omitempty"`
	End   float64 `json:"end,omitempty"`
	// Unfinished says the file cannot be played until its recorder
	// finishes it (an MP4 whose index comes at the end).
	Unfinished bool `json:"unfinished,omitempty"`
	// Cut says the file ends with a piece its recorder did not finish (it
	// stopped mid-write): Size ends at the last whole fragment, cluster or
	// packet, and the rest is not served.
	Cut bool `json:"cut,omitempty"`
	// Index is what a demuxer reads near a finished file's end as it
	// opens it (an MP4's moov written last, an Ogg file's last page): a
	// viewer opening the track asks for it with the first bytes, as its
	// demuxer reads it right after them.
	Index *byteSpan `json:"index,omitempty"`
	// Head is how many bytes from its start a demuxer reads of a
	// finished MP4 before it has the first sample of every stream: a
	// viewer opening the track at its start asks for them at once.
	Head int64 `json:"head,omitempty"`
}

// byteSpan is length bytes of a track from offset.
type byteSpan struct {
	Offset int64 `json:"offset"`
	Length int64 `json:"length"`
}

// writeFrame writes one length-prefixed JSON header.
func writeFrame(w io.Writer, v any) error {
	body, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if len(body) > maxHeaderSize {
		return fmt.Errorf("net: header of %d bytes over the limit of %d", len(body), maxHeaderSize)
	}
	buf := make([]byte, binary.MaxVarintLen64, binary.MaxVarintLen64+len(body))
	buf = append(buf[:binary.PutUvarint(buf, uint64(len(body)))], body...)
	_, err = w.Write(buf)
	return err
}

// readFrame reads one length-prefixed JSON header into v, refusing oversized
// or trailing-garbage headers.
func readFrame(r *bufio.Reader, v any) error {
	return readFrameMax(r, v, maxHeaderSize)
}

// readFrameMax is readFrame with a smaller bound on the header.
func readFrameMax(r *bufio.Reader, v any, limit uint64) error {
	n, err := binary.ReadUvarint(r)
	if err != nil {
		if errors.Is(err, io.EOF) {
			return io.ErrUnexpectedEOF
		}
		return err
	}
	if n == 0 || n > limit {
		return fmt.Errorf("header length %d outside 1..%d", n, limit)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(r, body); err != nil {
		return err
	}
	return decodeStrict(body, v)
}

func decodeStrict(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data after header")
	}
	return nil
}

// decodeRequest reads and validates one request. Every error it returns is a
// bad_request the sharer sends back before closing the stream.
func decodeRequest(r *bufio.Reader) (request, error) {
	var req request
	if err := readFrameMax(r, &req, maxRequestHeader); err != nil {
		return request{}, fmt.Errorf("malformed request: %w", err)
	}
	if req.Token == "" {
		return request{}, errors.New("request without a token")
	}
	switch req.Method {
	case MethodJoin:
		if req.Track == "" {
			return request{}, errors.New("stream.join without a track")
		}
		if req.Offset != 0 || req.Length != 0 || req.Version != "" || req.Priority != 0 || req.Rev != 0 {
			return request{}, errors.New("stream.join takes a token, a track and a time")
		}
		if math.IsNaN(req.At) || math.IsInf(req.At, 0) {
			return request{}, fmt.Errorf("time %v to join at", req.At)
		}
	case MethodGet:
		if req.Track != "" || req.Offset != 0 || req.Length != 0 || req.Version != "" || req.Priority != 0 || req.Rev != 0 || req.At != 0 {
			return request{}, errors.New("stream.get takes only a token")
		}
	case MethodWatch:
		if req.Track != "" || req.Offset != 0 || req.Length != 0 || req.Version != "" || req.Priority != 0 || req.At != 0 {
			return request{}, errors.New("stream.watch takes only a token and a revision")
		}
	case MethodReadRange:
		if req.Track == "" {
			return request{}, errors.New("stream.read_range without a track")
		}
		if req.Offset < 0 {
			return request{}, fmt.Errorf("negative offset %d", req.Offset)
		}
		if req.Length <= 0 {
			return request{}, fmt.Errorf("length %d, want 1..%d", req.Length, MaxReadLength)
		}
		if req.Length > MaxReadLength {
			return request{}, fmt.Errorf("length %d over the cap of %d bytes", req.Length, MaxReadLength)
		}
		if len(req.Version) > maxVersionLen {
			return request{}, fmt.Errorf("version of %d characters, want at most %d", len(req.Version), maxVersionLen)
		}
		if req.Priority > maxPriority {
			return request{}, fmt.Errorf("priority %d, want 0..%d", req.Priority, maxPriority)
		}
		if req.Rev != 0 || req.At != 0 {
			return request{}, errors.New("stream.read_range takes no revision or time")
		}
	default:
		return request{}, fmt.Errorf("unknown method %q", req.Method)
	}
	return req, nil
}
