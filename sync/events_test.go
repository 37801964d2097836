package sync

import (
	"testing"
	"testing/synctest"
)

func TestEventsNeverBlockAndKeepTheLatest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		var got []Event
		q := newEventQueue(func(e Event) {
			if len(got) == 0 {
				<-release // a consumer stuck on its first event
			}
			got = append(got, e)
		})
		q.push(Event{Kind: EventState, State: StateOpening})
		synctest.Wait()
		for i := range 1000 {
			q.push(Event{Kind: EventState, State: State(2 + i%5)})
			q.push(Event{Kind: EventTrack, Track: "camera", State: StatePlaying})
		}
		q.push(Event{Kind: EventState, State: StatePaused})
		q.push(Event{Kind: EventNotice, Notice: "a"})
		q.push(Event{Kind: EventNotice, Notice: "b"})
		if n := q.coalescedCount(); n != 1999 {
			t.Errorf("coalesced %d, want 1999", n)
		}
		close(release)
		synctest.Wait()
		q.close()
		want := []Event{
			{Kind: EventState, State: StateOpening},
			{Kind: EventTrack, Track: "camera", State: StatePlaying},
			{Kind: EventState, State: StatePaused},
			{Kind: EventNotice, Notice: "a"},
			{Kind: EventNotice, Notice: "b"},
		}
		if len(got) != len(want) {
			t.Fatalf("delivered %v, want %v", got, want)
		}
		for i := range want {
			if got[i] != want[i] {
				t.Errorf("event %d: %+v, want %+v", i, got[i], want[i])
			}
		}
	})
}
