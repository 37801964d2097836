package sync

import (
	"context"
	gosync "sync"
	"time"

	"reelay/net/track"
)

// EventKind says what an Event reports.
type EventKind int

const (
	// EventUnknown is the zero value; the engine never sends it.
	EventUnknown EventKind = iota
	// EventState reports the player's new State.
	EventState
	// EventTrack reports a track's new State; Err is set when it failed.
	EventTrack
	// EventSeeked reports that a seek finished: the first frames at
	// Position are shown and Latency is how long it took.
	EventSeeked
	// EventDuration reports the recording's Duration, known once tracks
	// have opened.
	EventDuration
	// EventNotice tells the user something that is not a state, such as
	// playing on the wall clock for lack of an audio device, or a stream of
	// a track that cannot be decoded while the rest of the track plays.
	EventNotice
	// EventConnection reports the new state of a remote recording's
	// connection to its sharer (Connection), with a sentence for the user
	// in Notice ("" when there is nothing to say, as for the first
	// connection) and the cause in Err. While it is ConnReconnecting,
	// playback goes on from what is buffered and then stalls (StateBuffering)
	// until the sharer is back; ConnUnshared means it will not come back.
	EventConnection
)

func (k EventKind) String() string {
	switch k {
	case EventState:
		return "state"
	case EventTrack:
		return "track"
	case EventSeeked:
		return "seeked"
	case EventDuration:
		return "duration"
	case EventNotice:
		return "notice"
	case EventConnection:
		return "connection"
	default:
		return "unknown"
	}
}

// Event is a change the window or the CLI shows. It is a value: nothing in
// it is shared with the engine.
type Event struct {
	// Kind says which fields are set.
	Kind EventKind
	// Track names the track an EventTrack or EventNotice is about ("" for
	// the whole player).
	Track string
	// State is the player's (EventState) or the track's (EventTrack) state.
	State State
	// Err is why a track failed (EventTrack) or what a notice is about.
	Err error
	// Notice is a sentence for the user (EventNotice).
	Notice string
	// Position is where a seek landed (EventSeeked).
	Position time.Duration
	// Latency is how long a seek took, request to first frame (EventSeeked).
	Latency time.Duration
	// RoundTrips is the most round trips any track's reads waited for in
	// sequence from the seek to its frame (EventSeeked), waits for
	// requests sent side by side counting once; 0 for a recording on
	// this machine, or a seek within what was held.
	RoundTrips int
	// Duration is the recording's length (EventDuration).
	Duration time.Duration
	// Connection is the connection's new state (EventConnection).
	Connection track.ConnState
}

// eventKey is what makes two undelivered events the same: the newer one
// replaces the older, since only the latest state matters to a viewer.
type eventKey struct {
	// kind and track say what the event is about; notice keeps distinct
	// notices apart, since each says something different.
	kind   EventKind
	track  string
	notice string
}

func keyOf(e Event) eventKey {
	k := eventKey{kind: e.Kind, track: e.Track}
	if e.Kind == EventNotice {
		k.notice = e.Notice
	}
	return k
}

// eventQueue hands events to the consumer on its own goroutine, so a slow
// consumer never blocks the engine. While the consumer lags, an event
// replaces the undelivered one with the same key; the queue is therefore
// bounded by the number of distinct keys, and nothing a viewer needs (the
// latest state of everything) is lost.
type eventQueue struct {
	// fn receives the events; nil drops them all.
	fn func(Event)
	// mu guards pending and coalesced.
	mu gosync.Mutex
	// pending are the events not yet handed to fn, oldest first.
	pending []Event
	// coalesced counts events replaced before delivery.
	coalesced int64
	// signal wakes the delivery goroutine.
	signal chan struct{}
	// ctx stops the delivery goroutine; done is closed when it returned.
	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}
}

func newEventQueue(fn func(Event)) *eventQueue {
	ctx, cancel := context.WithCancel(context.Background())
	q := &eventQueue{fn: fn, signal: make(chan struct{}, 1), ctx: ctx, cancel: cancel, done: make(chan struct{})}
	if fn == nil {
		close(q.done)
		return q
	}
	go q.run()
	return q
}

func (q *eventQueue) push(e Event) {
	if q.fn == nil {
		return
	}
	k := keyOf(e)
	q.mu.Lock()
	for i := range q.pending {
		if keyOf(q.pending[i]) == k {
			q.pending = append(q.pending[:i], q.pending[i+1:]...)
			q.coalesced++
			break
		}
	}
	q.pending = append(q.pending, e)
	q.mu.Unlock()
	select {
	case q.signal <- struct{}{}:
	default:
	}
}

func (q *eventQueue) coalescedCount() int64 {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.coalesced
}

func (q *eventQueue) run() {
	defer close(q.done)
	for {
		select {
		case <-q.ctx.Done():
			return
		case <-q.signal:
		}
		for {
			q.mu.Lock()
			if len(q.pending) == 0 {
				q.mu.Unlock()
				break
			}
			e := q.pending[0]
			q.pending = q.pending[1:]
			q.mu.Unlock()
			if q.ctx.Err() != nil {
				return
			}
			q.fn(e)
		}
	}
}

// close stops delivery and waits for the goroutine; undelivered events are
// dropped.
func (q *eventQueue) close() {
	q.cancel()
	<-q.done
}
