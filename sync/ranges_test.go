package sync

import (
	"slices"
	"testing"
	"time"

	p2pnet "reelay/net"
)

func TestRangeArithmetic(t *testing.T) {
	s := time.Second
	r := func(a, b time.Duration) TimeRange { return TimeRange{a * s, b * s} }

	got := byteRangesToTime([]p2pnet.ByteRange{{Start: 0, End: 100}, {Start: 500, End: 1000}}, 1000, 10*s, 20*s)
	if want := []TimeRange{r(10, 11), r(15, 20)}; !slices.Equal(got, want) {
		t.Errorf("byteRangesToTime = %v, want %v", got, want)
	}
	if got := byteRangesToTime([]p2pnet.ByteRange{{Start: 0, End: 100}}, 0, 0, 10*s); got != nil {
		t.Errorf("byteRangesToTime of an empty track = %v", got)
	}

	got = UnionRanges([]TimeRange{r(5, 6), r(0, 1)}, []TimeRange{r(1, 2), r(4, 5), r(8, 8), r(5, 7)})
	if want := []TimeRange{r(0, 2), r(4, 7)}; !slices.Equal(got, want) {
		t.Errorf("UnionRanges = %v, want %v", got, want)
	}

	got = IntersectRanges([]TimeRange{r(0, 2), r(4, 7), r(9, 12)}, []TimeRange{r(1, 5), r(6, 10)})
	if want := []TimeRange{r(1, 2), r(4, 5), r(6, 7), r(9, 10)}; !slices.Equal(got, want) {
		t.Errorf("IntersectRanges = %v, want %v", got, want)
	}
	if got := IntersectRanges([]TimeRange{r(0, 1)}, nil); got != nil {
		t.Errorf("IntersectRanges with nothing = %v", got)
	}
}
