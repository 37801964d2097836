package sync

import (
	"slices"
	"testing"
	"time"
)

// block makes an audio block of n frames at start, every sample v.
func block(epoch uint64, start int64, n int, v float32) audioBlock {
	s := make([]float32, n*channels)
	for i := range s {
		s[i] = v
	}
	return audioBlock{epoch: epoch, start: start, samples: s}
}

func newInput(name string, blocks ...audioBlock) (*mixInput, chan audioBlock) {
	ch := make(chan audioBlock, 16)
	for _, b := range blocks {
		ch <- b
	}
	return &mixInput{track: name, blocks: ch}, ch
}

// frameValues returns the left channel of out.
func frameValues(out []float32) []float32 {
	v := make([]float32, len(out)/channels)
	for i := range v {
		v[i] = out[i*channels]
	}
	return v
}

func TestMixerSumsOnTheTimeline(t *testing.T) {
	var m mixer
	m.reset(1, 100)
	// a covers 90..110 (the first 10 frames are before the cursor), b
	// starts at 104 and has a gap at 106..107.
	a, ach := newInput("a", block(1, 90, 20, 0.25))
	b, bch := newInput("b", block(1, 104, 2, 0.5), block(1, 108, 4, 0.5))
	m.add(a)
	m.add(b)
	got := frameValues(m.fill(100, -1))
	// b limits the mix to where it has audio (up to 112); a ends at 110
	// and has not ended, so the mix stops at 110.
	want := []float32{0.25, 0.25, 0.25, 0.25, 0.75, 0.75, 0.25, 0.25, 0.75, 0.75}
	if !slices.Equal(got, want) {
		t.Fatalf("mixed %v, want %v", got, want)
	}
	if m.cursor != 110 {
		t.Fatalf("cursor %d, want 110", m.cursor)
	}
	// a ends: b alone, then silence once both ended, up to the limit.
	ach <- audioBlock{epoch: 1, end: true}
	bch <- audioBlock{epoch: 1, end: true}
	got = frameValues(m.fill(100, 115))
	want = []float32{0.5, 0.5, 0, 0, 0}
	if !slices.Equal(got, want) {
		t.Fatalf("after the end: mixed %v, want %v", got, want)
	}
	if !m.ended() {
		t.Fatal("mixer not ended")
	}
}

func TestMixerWaitsForAStarvedInputButNotAJoiningOne(t *testing.T) {
	var m mixer
	m.reset(1, 0)
	a, ach := newInput("a", block(1, 0, 10, 0.5))
	m.add(a)
	m.pull()
	if !m.ready() {
		t.Fatal("not ready with audio at the cursor")
	}
	j, jch := newInput("joining")
	j.joining = true
	m.add(j)
	if got := len(m.fill(100, -1)) / channels; got != 10 {
		t.Fatalf("mixed %d frames, want the 10 of a (the joining input has none yet)", got)
	}
	if got := m.fill(100, -1); len(got) != 0 {
		t.Fatalf("mixed %d frames past a's audio; the mix must wait for it", len(got)/channels)
	}
	// The joining input delivers from before the cursor: cut at the cursor,
	// and from then on the mix waits for it too.
	jch <- block(1, 5, 10, 0.25)
	ach <- block(1, 10, 20, 0.5)
	got := frameValues(m.fill(100, -1))
	want := []float32{0.75, 0.75, 0.75, 0.75, 0.75}
	if !slices.Equal(got, want) {
		t.Fatalf("mixed %v, want %v", got, want)
	}
	if j.joining || !j.started {
		t.Fatal("the joining input did not start")
	}
}

func TestMixerDropsOtherEpochsAndClips(t *testing.T) {
	var m mixer
	m.reset(2, 0)
	a, _ := newInput("a", block(1, 0, 10, 0.9), block(2, 0, 4, 0.9))
	b, _ := newInput("b", block(2, 0, 4, 0.9))
	m.add(a)
	m.add(b)
	got := frameValues(m.fill(100, -1))
	want := []float32{1, 1, 1, 1}
	if !slices.Equal(got, want) {
		t.Fatalf("mixed %v, want the epoch-2 sum clipped to 1: %v", got, want)
	}
	m.reset(3, 50)
	if m.cursor != 50 || len(a.queue) != 0 || a.started {
		t.Fatal("reset kept state")
	}
	m.advance(60)
	if m.cursor != 60 {
		t.Fatalf("advance: cursor %d", m.cursor)
	}
}

func TestSampleArithmetic(t *testing.T) {
	for _, c := range []struct {
		in   int64
		want int64
	}{{0, 0}, {20833, 1}, {10416, 0}, {10417, 1}, {-10417, -1}, {-10416, 0}, {1e9, 48000}} {
		if got := sampleAt(time.Duration(c.in)); got != c.want {
			t.Errorf("sampleAt(%dns) = %d, want %d", c.in, got, c.want)
		}
	}
	for _, s := range []int64{0, 1, 47999, 48000, 123456789} {
		if got := sampleAt(sampleTime(s)); got != s {
			t.Errorf("sampleAt(sampleTime(%d)) = %d", s, got)
		}
	}
}
