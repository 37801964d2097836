package net

import (
	"context"
	"sync"

	"github.com/libp2p/go-libp2p/core/peer"
)

// Priority orders a viewer's requests at the sharer, as HTTP/3's
// extensible priorities do (RFC 9218): the sharer's uplink is the link's
// narrow end, so the sharer writes an answer only while no answer to the
// same viewer of a more urgent priority is being written. What a player
// needs now then takes the uplink before what it reads ahead, and audio
// before pictures. Lower values are more urgent; 0 is not given and is
// served last.
type Priority uint8

// maxPriority is the least urgent priority a request may carry.
const maxPriority Priority = 7

// Need says how soon a player needs a request's bytes.
type Need int

const (
	// NeedNow is a read waiting for the bytes, or about to.
	NeedNow Need = iota
	// NeedSoon is read-ahead the player reaches within about a second:
	// after a seek, the rest of the way from the keyframe to the target.
	NeedSoon
	// NeedLater is the rest of the read-ahead.
	NeedLater
)

// RequestPriority is the priority of a request: need says how soon the
// player needs it, and rank orders the track among the recording's tracks
// (0 first). Everything needed now comes before everything needed soon,
// which comes before the rest; within now and soon the ranks are in order,
// and later read-ahead is one class, so a track's deep read-ahead never
// starves another track's next second.
func RequestPriority(need Need, rank int) Priority {
	rank = min(max(rank, 0), 2)
	switch need {
	case NeedNow:
		return Priority(1 + rank)
	case NeedSoon:
		return Priority(4 + rank)
	}
	return 7
}

// serveOrder is p in the order answers are served, 0 (unset) last.
func (p Priority) serveOrder() int {
	if p == 0 {
		return int(maxPriority) + 1
	}
	return int(p)
}

// priorityWrites orders the sharer's writes to each viewer by priority.
// Every read_range answer registers while it is served; before each piece
// of its body it waits until no answer to the same viewer on the same
// connection comes before it: one more urgent, or one as urgent that
// comes first: of the same track, the one nearer its start (a viewer
// sends a window's requests at once, and they arrive in any order), else
// the one whose track asked first. Answers of one priority thus go out
// one after the other on a connection, as
// HTTP/3 sends non-incremental responses: a demuxer reads a track in
// order, and the block it needs next is not slowed by the blocks after it.
// A viewer on a lossy link spreads its requests over several connections
// (lanes.go), each with its own congestion window, and each connection's
// answers are ordered alone: there each window, not the uplink, is the
// narrow end, and an urgent answer held up by a loss on one connection
// would otherwise idle the others.
type priorityWrites struct {
	// mu guards peers and seq.
	mu sync.Mutex
	// peers holds the answers being served to each viewer.
	peers map[peer.ID]*peerWrites
	// seq numbers the answers in the order they registered.
	seq uint64
}

// peerWrites are the answers being served to one viewer.
type peerWrites struct {
	// active holds them, in no order.
	active map[*answerTurn]struct{}
	// changed is closed and replaced when an answer ends, waking the
	// answers waiting for it.
	changed chan struct{}
}

// answerTurn is one answer's place in its viewer's order.
type answerTurn struct {
	// w and id say where it is registered; conn names the connection
	// it is written on.
	w    *priorityWrites
	id   peer.ID
	conn string
	// order, track, off and seq place it: the priority's serve order,
	// then the offset within a track, then arrival.
	order int
	track string
	off   int64
	seq   uint64
}

// priorityPiece is how much of a body is written between two looks at the
// viewer's other answers: small enough that an urgent answer overtakes a
// read-ahead one within a few milliseconds of the uplink, large enough that
// looking costs nothing.
const priorityPiece = 16 << 10

// begin registers an answer of priority p to id on its connection conn,
// of track at off; end it once served.
func (w *priorityWrites) begin(id peer.ID, conn string, p Priority, track string, off int64) *answerTurn {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.peers == nil {
		w.peers = make(map[peer.ID]*peerWrites)
	}
	pw := w.peers[id]
	if pw == nil {
		pw = &peerWrites{active: make(map[*answerTurn]struct{}), changed: make(chan struct{})}
		w.peers[id] = pw
	}
	w.seq++
	a := &answerTurn{w: w, id: id, conn: conn, order: p.serveOrder(), track: track, off: off, seq: w.seq}
	pw.active[a] = struct{}{}
	return a
}

// key places a among its viewer's answers pw, lowest served first: the
// priority's serve order; then, among answers as urgent, the arrival of the
// oldest of its track's (so one track's answers stay together, in the order
// their track first asked); then the offset; then its own arrival. The key
// is a total order over the answers at any moment, so one of them is always
// free to write.
func (a *answerTurn) key(pw *peerWrites) [4]int64 {
	first := a.seq
	for b := range pw.active {
		if b.order == a.order && b.track == a.track {
			first = min(first, b.seq)
		}
	}
	return [4]int64{int64(a.order), int64(first), a.off, int64(a.seq)}
}

// before says a is served before b, both answers in pw.
func (a *answerTurn) before(b *answerTurn, pw *peerWrites) bool {
	ka, kb := a.key(pw), b.key(pw)
	for i := range ka {
		if ka[i] != kb[i] {
			return ka[i] < kb[i]
		}
	}
	return false
}

// end unregisters the answer and wakes the ones waiting.
func (a *answerTurn) end() {
	w := a.w
	w.mu.Lock()
	defer w.mu.Unlock()
	pw := w.peers[a.id]
	delete(pw.active, a)
	close(pw.changed)
	pw.changed = make(chan struct{})
	if len(pw.active) == 0 {
		delete(w.peers, a.id)
	}
}

// wait returns once no answer to the same viewer comes before a, or with
// ctx's cause.
func (a *answerTurn) wait(ctx context.Context) error {
	w := a.w
	for {
		w.mu.Lock()
		pw := w.peers[a.id]
		ahead := false
		for b := range pw.active {
			if b.conn == a.conn && b.before(a, pw) {
				ahead = true
				break
			}
		}
		if !ahead {
			w.mu.Unlock()
			return nil
		}
		ch := pw.changed
		w.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}
}
