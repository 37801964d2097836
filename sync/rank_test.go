package sync

import (
	gosync "sync"
	"testing"
	"time"
)

// rankingSource wraps a Source and records the ranks the player gives each
// track's reader.
type rankingSource struct {
	Source
	// mu guards ranks.
	mu gosync.Mutex
	// ranks are the SetRank calls, by track, in order.
	ranks map[string][]int
}

// rankedReader is a TrackReader that reports its SetRank calls.
type rankedReader struct {
	TrackReader
	name string
	src  *rankingSource
}

func (r rankedReader) SetRank(rank int) {
	r.src.mu.Lock()
	defer r.src.mu.Unlock()
	r.src.ranks[r.name] = append(r.src.ranks[r.name], rank)
}

func (s *rankingSource) OpenTrack(name string) (TrackReader, error) {
	r, err := s.Source.OpenTrack(name)
	if err != nil {
		return nil, err
	}
	return rankedReader{TrackReader: r, name: name, src: s}, nil
}

// rank is the track's latest rank, or -1 if it has none.
func (s *rankingSource) rank(name string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if rs := s.ranks[name]; len(rs) > 0 {
		return rs[len(rs)-1]
	}
	return -1
}

// TestTracksAreRankedSoundThenMainPictureThenTheRest: the player orders
// its tracks' requests at the sharer: the sound first, then the largest
// picture, then the other pictures; and it does not choose the main
// picture while a track is still opening, so a camera that opens first is
// not put before the screen.
func TestTracksAreRankedSoundThenMainPictureThenTheRest(t *testing.T) {
	counting := newCountingSource(FolderSource(fixtureFolder(t, "camera.mp4", "screen.mp4", "mic.m4a")))
	counting.gate, counting.gated = make(chan struct{}), "screen"
	src := &rankingSource{Source: counting, ranks: map[string][]int{}}
	p, _, _ := openTest(t, src, Options{})

	opened := func(name string) bool {
		for _, tr := range p.Tracks() {
			if tr.Name == name {
				return len(tr.Streams) > 0
			}
		}
		return false
	}
	waitFor(t, 10*time.Second, "the camera and the microphone to open", func() bool {
		return opened("camera") && opened("mic") && src.rank("mic") == 0
	})
	if r := src.rank("camera"); r != -1 {
		t.Errorf("camera ranked %d while the screen was still opening, want no rank yet", r)
	}
	close(counting.gate)
	waitFor(t, 10*time.Second, "every track ranked", func() bool {
		return src.rank("screen") >= 0 && src.rank("camera") >= 0
	})
	for name, want := range map[string]int{"mic": 0, "screen": 1, "camera": 2} {
		if got := src.rank(name); got != want {
			t.Errorf("%s ranked %d, want %d", name, got, want)
		}
	}
}
