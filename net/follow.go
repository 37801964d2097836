package net

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"time"
)

// follow keeps the recording up to date while it is open: it asks the
// sharer with stream.watch, a long poll answered when a live track grew
// or finished or a track appeared, and applies each answer. It runs only
// for a sharer that answers stream.watch, and ends with Close.
func (r *Recording) follow() {
	defer close(r.followDone)
	retry := newBackoff(r.o.ReconnectMin, r.o.ReconnectMax)
	for {
		_, next, err := r.awaitConnected(r.ctx, "")
		if err != nil {
			return
		}
		r.mu.Lock()
		rev := r.rev
		r.mu.Unlock()
		// The sharer answers within watchHold, so a watch that hears
		// nothing for longer has lost it: at a live edge nothing else
		// may be asking (the reads wait for growth).
		var resp response
		ctx, cancel := context.WithTimeout(r.ctx, watchHold+watchGrace)
		err = r.exchange(ctx, request{Method: MethodWatch, Token: r.link.Token, Rev: rev}, &resp, func(*bufio.Reader) error { return nil })
		cancel()
		if err == nil && resp.Recording != nil {
			r.apply(resp.Recording)
			retry.reset()
			continue
		}
		if r.ctx.Err() != nil {
			return
		}
		r.log.Debug("watching the recording failed", "err", err)
		if errors.Is(err, context.DeadlineExceeded) {
			// Silence past watchHold: the sharer is gone. A stream this
			// host could not open (its own limits) says nothing of it,
			// and a closed connection is told by itself.
			r.suspect(fmt.Errorf("watching the recording: %w", err))
		}
		if !r.waitRetry(r.ctx, next, retry.next()) {
			return
		}
	}
}

// apply takes in the recording as the sharer now describes it: a track
// that grew is read to its new end, one that finished reads to its end as
// any other, a new track joins the list, and a track whose version or
// bytes are not the ones opened is changed from then on. It tells the
// readers of grown tracks and whoever waits on Updated.
func (r *Recording) apply(ri *recordingInfo) {
	now := map[string]trackInfo{}
	for _, t := range ri.Tracks {
		now[t.Name] = t
	}
	r.mu.Lock()
	changed := ri.Rev != r.rev
	r.rev = ri.Rev
	for i, t := range r.tracks {
		if r.stale[t.Name] != nil {
			continue
		}
		var err error
		switch n, ok := now[t.Name]; {
		case !ok:
			err = fmt.Errorf("net: the sharer no longer has track %q: %w", t.Name, ErrNotFound)
		case n.Cut && !n.Live && n.Version == t.Version && n.Size < t.Size:
			// The recorder stopped mid-write: the track ends at its last
			// whole piece, short of what was told while it was live.
			r.tracks[i].Size, r.tracks[i].Live, r.tracks[i].Cut = n.Size, false, true
			changed = true
			continue
		case n.Version != t.Version && t.Live && n.Size >= t.Size:
			// The sharer restarted while the file grew: the file's
			// version is its size and time when shared, so it comes back
			// under another. It goes on as the same live track; until the
			// sharer's next word, it counts as still being written (the
			// sharer tells growth only once it has seen some).
			u := trackOf(n)
			r.tracks[i].Version, r.tracks[i].Size, r.tracks[i].First, r.tracks[i].End = u.Version, u.Size, u.First, u.End
			if r.resumed == nil {
				r.resumed = map[string]bool{}
			}
			r.resumed[t.Name] = true
			changed = true
			r.log.Info("the sharer came back with a live track grown", "track", t.Name, "size", n.Size)
			continue
		case r.resumed[t.Name] && n.Version == t.Version && n.Size >= t.Size:
			delete(r.resumed, t.Name)
			u := trackOf(n)
			r.tracks[i].Size, r.tracks[i].Live, r.tracks[i].First, r.tracks[i].End = u.Size, u.Live, u.First, u.End
			changed = true
			continue
		case n.Version != t.Version || n.Size < t.Size:
			err = fmt.Errorf("net: track %q changed on the sharer's disk since the recording was opened: %w", t.Name, ErrChanged)
		case n.Size != t.Size || n.Live != t.Live || n.End != t.End.Seconds() || n.Unfinished != t.Unfinished || n.index() != t.Index || n.Head != t.Head:
			u := trackOf(n)
			r.tracks[i].Size, r.tracks[i].Live, r.tracks[i].First, r.tracks[i].End = u.Size, u.Live, u.First, u.End
			r.tracks[i].Unfinished, r.tracks[i].Index, r.tracks[i].Head = u.Unfinished, u.Index, u.Head
			changed = true
			continue
		default:
			continue
		}
		if r.stale == nil {
			r.stale = map[string]error{}
		}
		r.stale[t.Name] = err
		changed = true
		r.log.Info("a track changed on the sharer", "track", t.Name, "err", err)
	}
	for _, n := range ri.Tracks {
		if _, ok := r.track(n.Name); ok || n.Size < 0 || n.Start < 0 || checkTrackName(n.Name) != nil {
			continue
		}
		r.tracks = append(r.tracks, trackOf(n))
		changed = true
		r.log.Info("a track appeared", "track", n.Name, "live", n.Live)
	}
	readers := r.readers[:0]
	var grow []func()
	for _, rr := range r.readers {
		if rr.ctx.Err() != nil {
			continue // closed
		}
		readers = append(readers, rr)
		if t, ok := r.track(rr.f.(trackFetcher).track); ok {
			grow = append(grow, func() { rr.resize(t.Size, t.Live) })
		}
	}
	r.readers = readers
	var updated chan struct{}
	if changed {
		updated = r.updated
		r.updated = make(chan struct{})
	}
	r.mu.Unlock()
	for _, g := range grow {
		g()
	}
	if updated != nil {
		close(updated)
	}
}

// Updated returns a channel closed at the recording's next change: a live
// track grew or finished, a track appeared or changed.
func (r *Recording) Updated() <-chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.updated
}

// trackOf is a track as the rest of Reelay knows it.
func trackOf(t trackInfo) TrackInfo {
	return TrackInfo{
		Name:    t.Name,
		Size:    t.Size,
		Start:   time.Duration(t.Start * float64(time.Second)),
		Version: t.Version,
		Live:    t.Live,
		First:   seconds(t.First),
		End:     seconds(t.End),

		Unfinished: t.Unfinished,
		Cut:        t.Cut,
		Index:      t.index(),
		Head:       min(max(t.Head, 0), t.Size),
	}
}

// index is what the sharer says a demuxer reads near the track's end as
// it opens it, when that lies within the track; empty otherwise.
func (t trackInfo) index() ByteRange {
	i := t.Index
	if i == nil || i.Offset < 0 || i.Length <= 0 || i.Length > t.Size-i.Offset {
		return ByteRange{}
	}
	return ByteRange{Start: i.Offset, End: i.Offset + i.Length}
}

// seconds is a time in seconds on the wire as a Duration.
func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }
