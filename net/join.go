package net

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"sort"
	"time"

	"reelay/net/live"
	"reelay/net/track"
)

// A live track's file is indexed by the sharer as it grows (net/live):
// the join points where a demuxer can begin reading it, and the times of
// its first point and newest whole data, which stream.get and stream.watch
// carry (trackInfo.First, End). A viewer asks stream.join for the point
// before a time, to open near the live edge or seek back, and so never
// reads a recording from its first byte to reach its end.

// joinInfo is stream.join's answer: where to begin reading a track to
// reach a time.
type joinInfo struct {
	// Format is the container, as formatName names it.
	Format string `json:"format"`
	// Header is how many bytes the demuxer reads first; Offset is the
	// join point; Time is the container's time there, in seconds.
	Header int64   `json:"header"`
	Offset int64   `json:"offset"`
	Time   float64 `json:"time"`
}

// formatNames are the containers' names on the wire.
var formatNames = map[live.Format]string{
	live.FormatFragmentedMP4: "fmp4",
	live.FormatMatroska:      "matroska",
	live.FormatMPEGTS:        "mpegts",
}

func formatName(f live.Format) string { return formatNames[f] }

func parseFormat(s string) live.Format {
	for f, name := range formatNames {
		if name == s {
			return f
		}
	}
	return live.FormatUnknown
}

// scanLive brings the index of each track that is or was live up to its
// size. It runs on the share's own goroutine, the only one that touches
// the scanners, and reads the disk outside mu. It says whether an index
// moved.
func (sh *share) scanLive() bool {
	type job struct {
		t    *sharedTrack
		size int64
	}
	var jobs []job
	sh.mu.Lock()
	for _, t := range sh.tracks {
		if t.err == nil && (t.live || t.scan != nil) && t.Size > t.scanned && !t.index.Finished {
			if t.scan == nil {
				t.scan = live.NewScanner()
			}
			jobs = append(jobs, job{t, t.Size})
		}
	}
	sh.mu.Unlock()
	moved := false
	for _, j := range jobs {
		f, err := os.Open(j.t.path)
		if err != nil {
			continue
		}
		idx, err := j.t.scan.Scan(f, j.size)
		f.Close()
		if err != nil {
			continue
		}
		sh.mu.Lock()
		if len(idx.Points) != len(j.t.index.Points) || idx.End != j.t.index.End || idx.Format != j.t.index.Format || idx.Finished != j.t.index.Finished {
			moved = true
		}
		j.t.index, j.t.scanned = idx, j.size
		if j.t.placing {
			moved = sh.place(j.t) || moved
		}
		sh.mu.Unlock()
	}
	return moved
}

// How much of a file that appeared while shared is read for a join
// point before it is listed at the start of the timeline: a container
// that cannot be indexed tells itself in its first bytes; one that can
// has a point within its first fragment or cluster.
const (
	placeUnknown = 64 << 10
	placeGiveUp  = 1 << 20
)

// place lists a track that appeared while shared once its start on the
// timeline is known: both it and the recording's other live tracks are
// being written now, so its newest data lines up with theirs. A camera
// started 30 s into a screen recording starts 30 s into the timeline.
// It says whether the track is listed now. mu is held.
func (sh *share) place(t *sharedTrack) bool {
	if len(t.index.Points) == 0 {
		unknown := t.index.Format == live.FormatUnknown && t.scanned >= placeUnknown
		if !unknown && t.scanned < placeGiveUp && t.index.Format != live.FormatPlainMP4 {
			return false
		}
		t.placing = false
		return true
	}
	var edge time.Duration
	for _, o := range sh.tracks {
		if o != t && !o.placing && o.live && len(o.index.Points) > 0 {
			edge = max(edge, o.Start+o.index.End-o.index.Points[0].Time)
		}
	}
	if span := t.index.End - t.index.Points[0].Time; edge > span {
		t.Start = edge - span
	}
	t.placing = false
	return true
}

// joinAt is the join point of t's index at or before the container's
// time at (the first point when at is before it). mu is held.
func (t *sharedTrack) joinAt(at time.Duration) (joinInfo, bool) {
	pts := t.index.Points
	if len(pts) == 0 || formatName(t.index.Format) == "" {
		return joinInfo{}, false
	}
	i := sort.Search(len(pts), func(i int) bool { return pts[i].Time > at }) - 1
	p := pts[max(i, 0)]
	return joinInfo{Format: formatName(t.index.Format), Header: t.index.Header, Offset: p.Offset, Time: p.Time.Seconds()}, true
}

// serveJoin answers a stream.join.
func (s *Sharer) serveJoin(st io.Writer, sh *share, req request) error {
	sh.mu.Lock()
	t := sh.track(req.Track)
	var ji joinInfo
	ok := false
	if t != nil && t.err == nil {
		ji, ok = t.joinAt(time.Duration(req.At * float64(time.Second)))
	}
	sh.mu.Unlock()
	switch {
	case t == nil:
		return writeFrame(st, response{Error: errorf(CodeNotFound, "no such track")})
	case !ok:
		return writeFrame(st, response{Error: errorf(CodeNotFound, "track %q has no join points", req.Track)})
	}
	return writeFrame(st, response{Join: &ji})
}

// JoinPoint asks the sharer where a demuxer begins reading the track to
// reach the container's time t: the join point at or before it, with the
// header to read first and the filler that skips to the point.
func (r *RangeReader) JoinPoint(t time.Duration) (track.JoinPoint, error) {
	f, ok := r.f.(trackFetcher)
	if !ok {
		return track.JoinPoint{}, fmt.Errorf("net: reader of no recording has no join points")
	}
	return f.r.joinPoint(r.ctx, f.track, t)
}

func (r *Recording) joinPoint(ctx context.Context, name string, t time.Duration) (track.JoinPoint, error) {
	if _, _, err := r.awaitConnected(ctx, name); err != nil {
		return track.JoinPoint{}, err
	}
	var resp response
	err := r.exchange(ctx, request{Method: MethodJoin, Token: r.link.Token, Track: name, At: t.Seconds()}, &resp, func(*bufio.Reader) error { return nil })
	if err != nil {
		return track.JoinPoint{}, fmt.Errorf("net: asking where to join track %q at %v failed: %w", name, t, err)
	}
	ji := resp.Join
	if ji == nil || ji.Header < 0 || ji.Offset < ji.Header {
		return track.JoinPoint{}, fmt.Errorf("net: asking where to join track %q: %w: %+v", name, errMalformedAnswer, ji)
	}
	jp := track.JoinPoint{Offset: ji.Offset, Time: time.Duration(ji.Time * float64(time.Second)), Header: ji.Header}
	filler, err := live.Filler(parseFormat(ji.Format), ji.Header, ji.Offset)
	if err != nil {
		// Read from the header on instead: slower, never wrong.
		jp.Offset = ji.Header
		filler = nil
	}
	jp.Filler = filler
	return jp, nil
}

// Updated returns a channel closed at the recording's next change (see
// Recording.Updated).
func (s Source) Updated() <-chan struct{} { return s.r.Updated() }
