package net

import (
	"context"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
)

func TestRequestPriorityOrdersNowBeforeSoonBeforeLater(t *testing.T) {
	var order []Priority
	for _, need := range []Need{NeedNow, NeedSoon} {
		for rank := range 3 {
			order = append(order, RequestPriority(need, rank))
		}
	}
	later := RequestPriority(NeedLater, 0)
	order = append(order, later)
	for i := 1; i < len(order); i++ {
		if order[i-1].serveOrder() >= order[i].serveOrder() {
			t.Errorf("priorities %v are not in serve order", order)
		}
	}
	for rank := range 3 {
		if p := RequestPriority(NeedLater, rank); p != later {
			t.Errorf("later read-ahead of rank %d at %d, want every rank at %d", rank, p, later)
		}
	}
	if Priority(0).serveOrder() <= later.serveOrder() || later > maxPriority {
		t.Errorf("an unset priority must be served after %d, within 0..%d", later, maxPriority)
	}
}

// TestPriorityWritesOrderAViewersAnswers: an answer waits while a more
// urgent answer to the same viewer, or one as urgent nearer the start of
// the same track, is served, goes on once it ends, and is never held by
// another viewer's answers or by answers that come after it.
func TestPriorityWritesOrderAViewersAnswers(t *testing.T) {
	var w priorityWrites
	alice, bob := peer.ID("alice"), peer.ID("bob")
	urgent, ahead := RequestPriority(NeedNow, 1), RequestPriority(NeedSoon, 0)
	// The second of a track arrives first, as a window's requests may.
	second := w.begin(alice, "c1", ahead, "screen", 2<<20)
	first := w.begin(alice, "c1", ahead, "screen", 1<<20)
	hurry := w.begin(alice, "c1", urgent, "screen", 8<<20)
	other := w.begin(bob, "c1", ahead, "screen", 3<<20)
	unset := w.begin(alice, "c1", 0, "camera", 0)
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()

	mustGo := func(a *answerTurn, what string) {
		t.Helper()
		if err := a.wait(ctx); err != nil {
			t.Fatalf("%s waited: %v", what, err)
		}
	}
	mustWait := func(a *answerTurn, what string) <-chan error {
		t.Helper()
		done := make(chan error, 1)
		go func() { done <- a.wait(ctx) }()
		select {
		case err := <-done:
			t.Fatalf("%s went on out of turn (%v)", what, err)
		case <-time.After(30 * time.Millisecond):
		}
		return done
	}
	mustGo(hurry, "the urgent answer")
	mustGo(other, "another viewer's read-ahead")
	firstDone := mustWait(first, "the first read-ahead, behind an urgent one")
	mustWait(second, "the second read-ahead, behind an urgent one")
	hurry.end()
	if err := <-firstDone; err != nil {
		t.Fatal(err)
	}
	secondDone := mustWait(second, "the second read-ahead, behind the first")
	first.end()
	if err := <-secondDone; err != nil {
		t.Fatal(err)
	}
	unsetDone := mustWait(unset, "an answer without priority, behind a read-ahead one")
	second.end()
	if err := <-unsetDone; err != nil {
		t.Fatal(err)
	}
	unset.end()
	other.end()
	if len(w.peers) != 0 {
		t.Errorf("%d viewers still listed after their answers ended", len(w.peers))
	}
}

// TestPriorityWritesNeverWaitInACircle: answers of one priority across
// tracks, arriving out of offset order, still have one that goes first,
// and each goes when the one before it ends. A track's answers stay
// together, in the order the track first asked.
func TestPriorityWritesNeverWaitInACircle(t *testing.T) {
	var w priorityWrites
	id := peer.ID("alice")
	p := RequestPriority(NeedLater, 0)
	screenLate := w.begin(id, "c1", p, "screen", 100)
	camera := w.begin(id, "c1", p, "camera", 0)
	screenEarly := w.begin(id, "c1", p, "screen", 0)
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	want := []*answerTurn{screenEarly, screenLate, camera}
	names := map[*answerTurn]string{screenEarly: "screen@0", screenLate: "screen@100", camera: "camera@0"}
	for i, a := range want {
		if err := a.wait(ctx); err != nil {
			t.Fatalf("%s (turn %d) never went: %v", names[a], i, err)
		}
		for _, b := range want[i+1:] {
			if !a.before(b, w.peers[id]) {
				t.Errorf("%s is not served before %s", names[a], names[b])
			}
		}
		a.end()
	}
}

// TestPriorityWritesOrderEachConnectionAlone: a viewer's answers on
// different connections (its lanes) write at once, each connection in its
// own order: an urgent answer holds back read-ahead on its own connection
// only.
func TestPriorityWritesOrderEachConnectionAlone(t *testing.T) {
	var w priorityWrites
	alice := peer.ID("alice")
	urgent, ahead := RequestPriority(NeedNow, 0), RequestPriority(NeedLater, 0)
	laneA := w.begin(alice, "a", ahead, "screen", 1<<20)
	laneA2 := w.begin(alice, "a", ahead, "screen", 2<<20)
	laneB := w.begin(alice, "b", ahead, "screen", 3<<20)
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	waits := func(a *answerTurn) bool {
		short, stop := context.WithTimeout(ctx, 30*time.Millisecond)
		defer stop()
		return a.wait(short) != nil
	}
	if waits(laneA) || waits(laneB) {
		t.Fatal("the first answer on each connection waited for the other connection's")
	}
	if !waits(laneA2) {
		t.Error("the second answer on a connection went before the first on the same one")
	}
	hurry := w.begin(alice, "b", urgent, "mic", 0)
	if waits(hurry) {
		t.Error("an urgent answer waited for read-ahead")
	}
	if !waits(laneB) {
		t.Error("read-ahead went on beside an urgent answer on its own connection")
	}
	if waits(laneA) {
		t.Error("read-ahead on one connection waited for an urgent answer on another")
	}
	hurry.end()
	if waits(laneB) {
		t.Error("read-ahead stayed held after the urgent answer ended")
	}
	for _, a := range []*answerTurn{laneA, laneA2, laneB} {
		a.end()
	}
}
