package net

import (
	"container/list"
	"time"
)

// blockState says where a block of the track is.
type blockState int

const (
	// blockMissing: not cached and not requested.
	blockMissing blockState = iota
	// blockFetching: a request in flight covers it.
	blockFetching
	// blockReady: data holds its bytes.
	blockReady
)

// block is one BlockSize piece of the track, tracked while it is requested,
// cached or awaited.
type block struct {
	// idx is the block's number: it starts at idx*BlockSize.
	idx int64
	// state says whether data is there or coming.
	state blockState
	// data holds the bytes once ready; it is never written after that, so it can
	// be handed out of the lock.
	data []byte
	// waiters counts readers blocked on it: it is not evicted nor its fetch
	// cancelled while they wait; waitedFrom is when the first of them
	// began to wait.
	waiters    int
	waitedFrom time.Time
	// watched is the request bringing it that upgrade looked at first
	// while readers waited, and watchedAt and watchedLanded when, and how
	// much of that request's answer had landed then.
	watched       *fetch
	watchedAt     time.Time
	watchedLanded int64
	// failSeq is bumped each time a fetch of the block fails, so a waiting
	// reader can tell that the fetch it waited on failed.
	failSeq uint64
	// failErr is the error of the last failed fetch.
	failErr error
	// lru is the block's place in the LRU list while ready.
	lru *list.Element
	// answer is the request's answer the block's data is cut from; its memory
	// is held until all its blocks are evicted.
	answer *answer
	// hop is the request's place in the chain of waits a read path made.
	hop hop
}

// answer is the buffer of one request, shared by the blocks cut from it.
type answer struct {
	// size is the buffer's length.
	size int64
	// cached counts its blocks still in the cache.
	cached int
}

// install cuts a fetch's answer into blocks and caches its first k blocks
// that are not cached yet: the ones that arrived, or all once the answer
// is complete. It is called with mu held.
func (r *RangeReader) install(f *fetch, k int64) {
	bs := int64(r.o.BlockSize)
	if f.answer == nil {
		f.answer = &answer{size: int64(len(f.buf))}
	}
	a := f.answer
	for ; f.installed < k; f.installed++ {
		idx := f.first + f.installed
		b := r.blocks[idx]
		lo := f.installed * bs
		hi := min(lo+bs, int64(len(f.buf)))
		if hi-lo < min(bs, r.size-idx*bs) {
			// Asked for when the track ended inside the block; it has
			// grown since: the block is fetched again, whole.
			b.state = blockMissing
			if b.waiters == 0 {
				delete(r.blocks, idx)
			}
			continue
		}
		b.data = f.buf[lo:hi:hi]
		b.answer = a
		b.hop = f.hop
		b.state = blockReady
		b.lru = r.lru.PushFront(b)
		// The answer's memory counts from its first cached block until its
		// last one is evicted.
		if a.cached == 0 {
			r.cached += a.size
		}
		a.cached++
	}
}

// evict drops least recently read blocks until the cache fits cacheSize,
// sparing awaited blocks and the readahead from the read position, even
// where the window has not ramped up to it yet. It is called with mu held.
func (r *RangeReader) evict() {
	bs := int64(r.o.BlockSize)
	first, end := r.readPos/bs, (r.readPos+r.readahead+bs-1)/bs
	for e := r.lru.Back(); e != nil && r.cached > r.cacheSize; {
		prev := e.Prev()
		b := e.Value.(*block)
		if b.waiters == 0 && (b.idx < first || b.idx >= end) {
			r.uncache(b)
		}
		e = prev
	}
}

// uncache drops a ready block from the cache. It is called with mu held.
func (r *RangeReader) uncache(b *block) {
	r.lru.Remove(b.lru)
	delete(r.blocks, b.idx)
	if b.answer.cached--; b.answer.cached == 0 {
		r.cached -= b.answer.size
	}
}

// bufferedLocked returns the contiguous bytes cached from the read position.
func (r *RangeReader) bufferedLocked() int64 {
	bs := int64(r.o.BlockSize)
	n := int64(0)
	for idx := r.readPos / bs; idx < r.nblocks; idx++ {
		b := r.blocks[idx]
		if b == nil || b.state != blockReady {
			break
		}
		n += int64(len(b.data))
	}
	if n > 0 {
		n -= r.readPos % bs
	}
	return n
}
