package net

// How many round trips a read path waited for: each request is stamped
// with the number of waits in sequence before it, and a read that waits
// for its bytes makes that chain one longer. A demuxer that reads a
// header, learns from it where the index is, waits for the index and
// then for the first picture waits three round trips however many
// requests it sends beside them; one whose reader was told all three
// places at once waits one. Bytes that arrived before a read wanted them
// (read-ahead, a prefetch far enough ahead) cost no round trip.

// hop stamps a request, and the bytes it brought, with its place in the
// chain: n waits in sequence since the mark'th MarkRoundTrips.
type hop struct {
	mark uint64
	n    int
}

// nextHop is the stamp of a request sent now: one more than the waits
// the reads have made. It is called with mu held.
func (r *RangeReader) nextHop() hop {
	return hop{mark: r.hopMark, n: r.hops + 1}
}

// waitedFor notes that a read waited for a request stamped h. It is
// called with mu held.
func (r *RangeReader) waitedFor(h hop) {
	if h.mark == r.hopMark && h.n > r.hops {
		r.hops = h.n
	}
}

// RoundTrips is how many round trips the reads have waited for in
// sequence since the reader started or the last MarkRoundTrips: waits
// for requests sent side by side count once, bytes that came before they
// were read count for none.
func (r *RangeReader) RoundTrips() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.hops
}

// MarkRoundTrips starts counting the round trips of a new read path (a
// seek's): a request in flight counts as one, and RoundTrips counts on
// from there.
func (r *RangeReader) MarkRoundTrips() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.hopMark++
	r.hops = 0
	first := hop{mark: r.hopMark, n: 1}
	for f := range r.fetches {
		f.hop = first
	}
	for _, pf := range r.prefetches {
		pf.hop = first
	}
}
