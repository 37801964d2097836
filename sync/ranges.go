package sync

import (
	"cmp"
	"slices"
	"time"

	"reelay/net/track"
)

// TimeRange is the part [Start, End) of the recording's timeline.
type TimeRange struct{ Start, End time.Duration }

// byteRangesToTime maps a track's cached byte ranges onto its place on the
// timeline, [start, end], in proportion to the bytes, as browsers estimate
// the buffered time of a progressively downloaded file: exact for a
// constant bit rate, a fair picture otherwise.
func byteRangesToTime(br []track.ByteRange, size int64, start, end time.Duration) []TimeRange {
	if size <= 0 || end <= start {
		return nil
	}
	at := func(off int64) time.Duration {
		return start + time.Duration(float64(end-start)*float64(off)/float64(size))
	}
	out := make([]TimeRange, 0, len(br))
	for _, b := range br {
		if r := (TimeRange{at(b.Start), at(b.End)}); r.End > r.Start {
			out = append(out, r)
		}
	}
	return out
}

// UnionRanges returns the parts of the timeline in any of rs, in order,
// with ranges that overlap or touch merged.
func UnionRanges(rs ...[]TimeRange) []TimeRange {
	var all []TimeRange
	for _, r := range rs {
		for _, x := range r {
			if x.End > x.Start {
				all = append(all, x)
			}
		}
	}
	slices.SortFunc(all, func(a, b TimeRange) int { return cmp.Compare(a.Start, b.Start) })
	var out []TimeRange
	for _, x := range all {
		if n := len(out); n > 0 && x.Start <= out[n-1].End {
			out[n-1].End = max(out[n-1].End, x.End)
			continue
		}
		out = append(out, x)
	}
	return out
}

// IntersectRanges returns the parts of the timeline in both a and b, each
// in order and without overlaps (as UnionRanges returns them).
func IntersectRanges(a, b []TimeRange) []TimeRange {
	var out []TimeRange
	for i, j := 0, 0; i < len(a) && j < len(b); {
		lo, hi := max(a[i].Start, b[j].Start), min(a[i].End, b[j].End)
		if hi > lo {
			out = append(out, TimeRange{lo, hi})
		}
		if a[i].End < b[j].End {
			i++
		} else {
			j++
		}
	}
	return out
}
