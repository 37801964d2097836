package net

import (
	"cmp"
	"container/list"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	stdnet "net"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"reelay/net/track"
)

// rangeFetcher is how a RangeReader gets a track's bytes; the viewer's client
// implements it over /reelay/stream/1.0.0 and tests implement it over memory.
type rangeFetcher interface {
	// fetchRange fills dst with the track's bytes starting at off, asking at priority prio.
	// It returns n < len(dst) only at the end of the track.
	// ttfb is the time from sending the request to the first byte of the answer (the round trip + server time).
	// Cancelling ctx resets the underlying libp2p stream, so the sharer stops reading for it.
	fetchRange(ctx context.Context, off int64, dst []byte, prio Priority) (n int, ttfb time.Duration, err error)
}

// streamingFetcher is a rangeFetcher that tells as the answer arrives:
// arrived(n, landed) says dst[:n] is filled and will not be written
// again, so the reader can serve the blocks it covers before the whole
// answer is in, and that landed bytes of dst are filled in all (more than
// n when parts of a request split across lanes land side by side).
// Without it a reader waiting for the second block of a large request
// waits for the request's last byte: on a 50 ms, 20 Mbit/s link, a
// recording at half the link's rate then saw its buffer arrive in bursts a
// second apart and stalled while starting.
type streamingFetcher interface {
	fetchRangeStreaming(ctx context.Context, off int64, dst []byte, prio Priority, arrived func(n, landed int)) (n int, ttfb time.Duration, err error)
}

// pathsFetcher is a rangeFetcher that tells how many connections carry
// its requests (lanes.go).
type pathsFetcher interface {
	paths() int
}

// Defaults of RangeReaderOptions. They were measured two ways: on loopback
// between two real hosts (BenchmarkSequentialPull, BenchmarkFarJump and,
// with REELAY_TUNE=1, BenchmarkRangeReaderTuning; 2 cores, QUIC), where
// round trips are under a millisecond, and on a simulated 50 ms, 10 MB/s
// link in fake time (REELAY_TUNE=1 go test -v -run OverSlowLink), where they
// are not.
const (
	// defaultBlockSize is the cache's unit and the request a reader waits on
	// after a jump. A far jump's first byte took 0.9 ms on loopback with
	// 256 KiB against 2-3 ms with 1 MiB, and 77 ms against 155 ms on the
	// simulated link; 64 KiB (57 ms) was no faster to a demuxer, which needs
	// more than 64 KiB after a seek anyway. Coalescing makes the large
	// requests, so the block size costs no throughput.
	defaultBlockSize = 256 << 10
	// defaultCacheSize bounds a track's memory: about 20 s of a 25 Mbit/s
	// stream, room for a demuxer's back-and-forth in interleaved files.
	defaultCacheSize = 64 << 20
	// autoCacheSeconds and minAutoCacheSize size a cache left to the
	// default once the byte rate is known: 20 s of media, at least 16 MiB
	// and at most defaultCacheSize. A recording of a 6 Mbit/s screen, a
	// camera and a microphone then holds about 50 MiB, not 192.
	autoCacheSeconds = 20
	minAutoCacheSize = 16 << 20
	// defaultReadahead is the window until the engine says the byte rate.
	// 16 MiB filled the simulated link a little better (97% against 93%),
	// but a player sets its own buffer target with SetByteRate anyway.
	defaultReadahead = 4 << 20
	// defaultInFlight: on the simulated link a sequential pull used 78% of the
	// bandwidth with 1 request in flight, 86% with 2, 93% with 4 and 8; on
	// loopback they were within the noise. Each one is a stream the sharer
	// serves, so 4.
	defaultInFlight = 4
	// minTail is the least of a track's end prefetched with PrefetchTail:
	// an MP4 index is about 1 KiB per second of a stream, so 64 KiB holds
	// a minute of a screen and its sound, and the demuxer asks for the rest
	// itself.
	minTail = 64 << 10
	// maxRequestSize is the server's cap on one read_range.
	maxRequestSize = MaxReadLength
)

// RangeReaderOptions configures a RangeReader.
type RangeReaderOptions struct {
	// BlockSize is the unit of the cache and of the smallest request.
	// It defaults to 256 KiB.
	BlockSize int
	// CacheSize bounds the bytes of a track held in memory, an LRU of blocks that
	// never evicts blocks being read or inside the readahead window.
	// It defaults to 64 MiB until SetByteRate tells the track's rate, and
	// then to 20 s of media, between 16 and 64 MiB.
	CacheSize int64
	// Readahead is how many bytes ahead of the read position are kept fetched,
	// until SetByteRate replaces it with the player's buffer target. After a jump the
	// window starts at one block and grows to it as reads go on sequentially.
	// It defaults to 4 MiB.
	Readahead int64
	// InFlight is how many requests may be in flight at once, so a long round
	// trip does not throttle the readahead.
	// It defaults to 4.
	InFlight int
	// MaxRequest caps a request that coalesces consecutive missing blocks of the
	// readahead; BlockSize turns coalescing off. Coalescing raised a loopback
	// pull from 0.6-0.8 of a raw stream to 0.9-1.0, and a simulated 50 ms link
	// from 67% of its bandwidth to 93%.
	// It defaults to 4 MiB, the server's cap.
	MaxRequest int
	// PrefetchTail fetches the track's last block alongside the first read.
	// Many files keep their index at the end (MP4 without faststart,
	// Matroska cues, Ogg's last granule for the duration), and a demuxer
	// opening them jumps there right after the header: prefetching saves
	// that round trip at the cost of one block per open.
	PrefetchTail bool
}

// RangeReaderStats is a snapshot of a RangeReader's counters (see
// track.ReaderStats).
type RangeReaderStats = track.ReaderStats

var (
	// errRangeReaderClosed is what reads return once Close was called.
	errRangeReaderClosed = fmt.Errorf("net: range reader is closed: %w", stdnet.ErrClosed)
	errNegativeOffset    = errors.New("net: negative offset")
)

// fetch is one request in flight: consecutive blocks [first, first+count).
type fetch struct {
	// first and count are the blocks the request covers.
	first, count int64
	// off is the first byte asked for.
	off int64
	// prio is the priority it was asked at.
	prio Priority
	// got is how many bytes of the answer have arrived in order from its
	// start, landed how many in all; the fetch's goroutine writes them.
	got, landed atomic.Int64
	// buf receives the answer; its length is the request's length.
	buf []byte
	// ctx ends the request: cancel resets its stream.
	ctx    context.Context
	cancel context.CancelFunc
	// reads is the reader's read count when the request was sent.
	reads uint64
	// cancelled is set when the scheduler gave up on the request; its blocks
	// were already set back to missing and its answer is dropped.
	cancelled bool
	// pinned keeps a speculative request (the tail) from being cancelled
	// as stale: it is far from the window by design.
	pinned bool
	// jump says the request is a Prefetch of the bytes a jump is about to
	// read (pinned too): the next jump's replaces it.
	jump bool
	// installed counts its first blocks already in the cache, served while
	// the rest of the answer arrives; answer is the buffer they share.
	installed int64
	answer    *answer
	// credited is how much of the answer the bandwidth meter has counted.
	credited int64
	// hop is its place in the chain of waits a read path made.
	hop hop
}

// fetchResult is a fetch's answer, sent from its goroutine to run.
type fetchResult struct {
	f    *fetch
	n    int
	ttfb time.Duration
	err  error
}

// RangeReader reads a remote track as an io.ReaderAt and io.ReadSeeker through
// a block cache, a readahead window that follows the read position, and
// several requests in flight, whose blocks are served as they arrive. A read
// far from the window cancels the requests it left behind and asks for its
// own block first. Its run goroutine owns the scheduling and the fetch
// goroutines; readers share the cache with it under mu. ReadAt is safe for
// concurrent use; Read and Seek share one position.
type RangeReader struct {
	// f fetches ranges of the track.
	f rangeFetcher
	// size is the track's length in bytes; it grows while the track is
	// live (grow), under mu.
	size int64
	// o holds the options with defaults applied.
	o RangeReaderOptions
	// nblocks is the number of blocks of the track (under mu).
	nblocks int64
	// timeNow is the clock of the throughput meter, replaceable in tests.
	timeNow func() time.Time

	// ctx ends run and every fetch; done is closed when run has returned.
	ctx       context.Context
	ctxCancel context.CancelFunc
	done      chan struct{}
	// wake asks run to reschedule; it holds at most one pending wake-up.
	wake chan struct{}
	// results carries answers from fetch goroutines to run.
	results chan fetchResult
	// fetchers waits for the fetch goroutines when run ends.
	fetchers sync.WaitGroup

	// mu guards everything below, shared by readers and run.
	mu sync.Mutex
	// changed is closed and replaced whenever a block becomes ready or fails,
	// waking readers blocked on blocks.
	changed chan struct{}
	// blocks holds the blocks that are fetching, ready, or awaited.
	blocks map[int64]*block
	// wanted holds the blocks readers are blocked on.
	wanted map[int64]*block
	// lru orders ready blocks, most recently read at the front.
	lru *list.List
	// cached is the bytes held by ready blocks: the whole answer a block was
	// cut from, as long as one of its blocks is cached.
	cached int64
	// fetches holds the requests in flight, cancelled ones included until
	// their goroutine reports.
	fetches map[*fetch]struct{}
	// active is the number of requests in flight that are not cancelled.
	active int
	// pos is the position of Read and Seek.
	pos int64
	// readPos is where the last read is or ended: the window starts there.
	readPos int64
	// runStart is where the current sequential run of reads began: the window
	// ramps up from there, as TCP's slow start, to readahead.
	runStart int64
	// readEnd is where the read in progress ends, so that an inactive reader
	// still fetches all of it in parallel; 0 when no read waits.
	readEnd int64
	// readahead is the window's length in bytes.
	readahead int64
	// cacheSize bounds the cache: Options.CacheSize, or, when that was left
	// to the default, autoCacheSeconds of media once SetByteRate tells the
	// rate.
	cacheSize int64
	// autoCache says the cache is sized from the byte rate.
	autoCache bool
	// rateKnown says SetByteRate told the media's rate, byteRate, so
	// readahead is the player's buffer target and a jump may start with
	// part of it.
	rateKnown bool
	byteRate  int64
	// inactive stops readahead: only blocked reads are served.
	inactive bool
	// live says the track is still being written: a read at its end
	// waits for it to grow rather than meeting io.EOF.
	live bool
	// sparse asks for exactly what each read misses, outside the blocks
	// (SetSparse); direct counts those requests in flight.
	sparse bool
	direct int
	// readaheadHeld stops readahead until the next read: before the first one,
	// so an opened track costs nothing until read, and after a failed fetch,
	// so an unreachable sharer is not asked again and again.
	readaheadHeld bool
	// reads counts reads, so that only a failure of a fetch sent since the
	// last read holds the readahead, not a late one from before it.
	reads uint64
	// tailPending says the tail block is still to be prefetched.
	tailPending bool
	// extents are bytes sparse reads fetched, kept beside the blocks so
	// that they are not fetched again while the cache holds them (the
	// demuxer's header and first keyframe, a thinned track's keyframes);
	// extentBytes is their total, at most maxExtentBytes, the oldest
	// dropped first; extentSeq counts additions, to tell the oldest.
	extents     []extent
	extentBytes int64
	extentSeq   uint64
	// prefetches are sparse requests in flight for bytes a read is about
	// to want (Prefetch): a read within one waits for it.
	prefetches []*prefetch
	// rank orders the track's requests against the recording's other
	// tracks at the sharer (0 first); the player sets it (SetRank).
	rank int
	// relaxed says the player has what it needs of the track now, so what
	// a read waits on is asked as soon, not now (SetUrgent).
	relaxed bool
	// hopMark counts MarkRoundTrips calls; hops is the longest chain of
	// waits for requests in sequence that reads made since the last
	// (roundtrips.go).
	hopMark uint64
	hops    int
	// stats counts what Stats reports; InFlight, Throughput and Buffered are
	// computed when asked.
	stats RangeReaderStats
	// meter measures the throughput; bw the bandwidth while busy.
	meter rateMeter
	bw    bandwidthMeter
}

// newRangeReader returns a reader of a track of size bytes fetched through f,
// and starts its scheduler. Close it to stop it.
func newRangeReader(f rangeFetcher, size int64, o RangeReaderOptions) *RangeReader {
	if o.BlockSize <= 0 {
		o.BlockSize = defaultBlockSize
	}
	bs := int64(o.BlockSize)
	autoCache := o.CacheSize <= 0
	if autoCache {
		o.CacheSize = defaultCacheSize
	}
	// The cache holds at least the window (≤ CacheSize/2) and a block being read.
	o.CacheSize = max(o.CacheSize, 2*bs)
	if o.Readahead <= 0 {
		o.Readahead = defaultReadahead
	}
	if o.InFlight <= 0 {
		o.InFlight = defaultInFlight
	}
	if o.MaxRequest <= 0 {
		o.MaxRequest = maxRequestSize
	}
	o.MaxRequest = max(o.BlockSize, min(o.MaxRequest, maxRequestSize))
	o.MaxRequest -= o.MaxRequest % o.BlockSize
	size = max(size, 0)

	ctx, cancel := context.WithCancel(context.Background())
	r := &RangeReader{
		f:             f,
		size:          size,
		o:             o,
		nblocks:       (size + bs - 1) / bs,
		timeNow:       time.Now,
		ctx:           ctx,
		ctxCancel:     cancel,
		done:          make(chan struct{}),
		wake:          make(chan struct{}, 1),
		results:       make(chan fetchResult),
		changed:       make(chan struct{}),
		blocks:        make(map[int64]*block),
		wanted:        make(map[int64]*block),
		lru:           list.New(),
		fetches:       make(map[*fetch]struct{}),
		readaheadHeld: true,
		rank:          1,
		cacheSize:     o.CacheSize,
		autoCache:     autoCache,
	}
	// A track of two blocks is fetched whole at once: its demuxer reads
	// both ends as it opens.
	r.tailPending = o.PrefetchTail && r.nblocks > 1
	r.readahead = r.clampReadahead(o.Readahead)
	r.meter.start = r.timeNow()
	go r.run()
	return r
}

// Size returns the track's length in bytes, what exists of it so far
// while it is live.
func (r *RangeReader) Size() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.size
}

// Live says the track is still being written: Size grows, and a read at
// its end waits for more.
func (r *RangeReader) Live() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.live
}

// resize tells the reader its track now holds size bytes, and whether
// more will follow. When it grew, the block that held the old end was cut
// short; it is dropped from the cache, to be fetched whole when next
// read. A finished track may end short of what was told while it was
// live (track.Info.Cut): reads stop there. Reads waiting at the end go
// on, or meet io.EOF once the track finished.
func (r *RangeReader) resize(size int64, live bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	bs := int64(r.o.BlockSize)
	if size < r.size && !live {
		r.size, r.nblocks = size, (size+bs-1)/bs
	}
	if size > r.size {
		if r.size%bs != 0 {
			if b := r.blocks[r.size/bs]; b != nil && b.state == blockReady {
				r.uncache(b)
			}
		}
		r.size, r.nblocks = size, (size+bs-1)/bs
	}
	r.live = live
	r.broadcast()
	r.kick()
}

// waitGrowth waits, with mu held, until a live track grows past off or
// finishes, or the reader is closed.
func (r *RangeReader) waitGrowth(off int64) error {
	for off >= r.size && r.live {
		if err := r.waitChange(); err != nil {
			return err
		}
	}
	return nil
}

// waitChange waits, with mu held, for the next change (broadcast) or the
// reader's closing.
func (r *RangeReader) waitChange() error {
	ch := r.changed
	r.mu.Unlock()
	select {
	case <-ch:
	case <-r.ctx.Done():
	}
	r.mu.Lock()
	if r.ctx.Err() != nil {
		return errRangeReaderClosed
	}
	return nil
}

// ReadAt reads len(p) bytes at off, waiting for them to arrive, with the
// semantics of os.File: n < len(p) only with an error, io.EOF at the end.
func (r *RangeReader) ReadAt(p []byte, off int64) (int, error) {
	return r.read(p, off, true)
}

// Read reads at the position of Read and Seek and advances it. It waits for
// the first byte and returns what is cached from there, at least one byte
// unless at the end of the track.
func (r *RangeReader) Read(p []byte) (int, error) {
	r.mu.Lock()
	off := r.pos
	r.mu.Unlock()
	n, err := r.read(p, off, false)
	r.mu.Lock()
	r.pos = off + int64(n)
	r.mu.Unlock()
	return n, err
}

// Seek sets the position of Read like os.File does: a negative position is an
// error, one past the end is allowed. The window moves on the next read, so
// Seek(0, io.SeekEnd) to learn the size costs nothing.
func (r *RangeReader) Seek(off int64, whence int) (int64, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ctx.Err() != nil {
		return 0, errRangeReaderClosed
	}
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		off += r.pos
	case io.SeekEnd:
		off += r.size
	default:
		return 0, fmt.Errorf("net: seeking failed: invalid whence %d", whence)
	}
	if off < 0 {
		return 0, fmt.Errorf("net: seeking to %d failed: %w", off, errNegativeOffset)
	}
	r.pos = off
	return off, nil
}

// SetByteRate sets the readahead window to ahead of media at the given
// rate, bounded to [1 block, CacheSize/2], and sizes a cache left to the
// default to 20 s of media. The player decides ahead (its buffer target);
// the reader only turns it into bytes. A rate of 0 or less (unknown)
// restores Options.Readahead.
func (r *RangeReader) SetByteRate(bytesPerSecond int64, ahead time.Duration) {
	r.mu.Lock()
	r.rateKnown = bytesPerSecond > 0
	r.byteRate = max(bytesPerSecond, 0)
	if bytesPerSecond > 0 {
		if r.autoCache {
			r.cacheSize = max(min(autoCacheSeconds*bytesPerSecond, r.o.CacheSize), minAutoCacheSize, 2*int64(r.o.BlockSize))
		}
		r.readahead = r.clampReadahead(int64(ahead.Seconds() * float64(bytesPerSecond)))
	} else {
		r.readahead = r.clampReadahead(r.o.Readahead)
	}
	r.evict()
	r.mu.Unlock()
	r.kick()
}

// playRate is the media's bytes a second as SetByteRate told it while
// the reader reads ahead: 0 when not told, inactive or closed.
func (r *RangeReader) playRate() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.inactive || r.ctx.Err() != nil {
		return 0
	}
	return r.byteRate
}

// SetRank orders this track's requests against the recording's other
// tracks at the sharer: 0 first (the player gives audio 0, the main
// picture 1, other pictures 2). Requests a read waits for come before
// every read-ahead whatever the rank. It defaults to 1.
func (r *RangeReader) SetRank(rank int) {
	r.mu.Lock()
	r.rank = rank
	r.mu.Unlock()
}

// SetUrgent says whether what reads wait on is needed now (the default):
// the player has not shown the track's frame at a seek's target yet, or
// is about to run out. Not urgent (it has its frame and a little buffer),
// a read waits at the priority of the readahead's next third, so that
// another track's urgent read is answered first: after a seek, the
// camera that has its frame fills its buffer after the screen's frame.
// A read already waiting when its track turns urgent (its buffer ran
// down while it waited) is asked again at once, urgently: its request
// went out less urgent and waits at the sharer behind every urgent one.
func (r *RangeReader) SetUrgent(on bool) {
	r.mu.Lock()
	turned := on && r.relaxed
	r.relaxed = !on
	if turned {
		for idx, b := range r.wanted {
			if b.state == blockFetching {
				r.upgradeNow(idx)
			}
		}
	}
	r.mu.Unlock()
	if turned {
		// The reads' blocks asked for again, with the blocked reads.
		r.kick()
	}
}

// SetActive turns readahead on or off. Off (paused, unsubscribed), no request
// is sent except for blocked reads; requests in flight may finish.
func (r *RangeReader) SetActive(on bool) {
	r.mu.Lock()
	r.inactive = !on
	r.mu.Unlock()
	r.kick()
}

// SetSparse turns sparse reading on or off. On, the reader reads ahead
// nothing, and a read the cache cannot serve whole asks the sharer for
// exactly its bytes, at once, kept beside the blocks (up to 16 MiB) so
// they are not fetched twice: for a player that picks single packets out
// of a file (a picture's keyframes, the sound between them) over a link
// too slow for the whole of it, where 256 KiB blocks would fetch the
// pictures it skips, or that opens a file wanting its first picture
// before anything else. Concurrent ReadAt calls are asked in parallel.
func (r *RangeReader) SetSparse(on bool) {
	r.mu.Lock()
	if r.sparse && !on {
		// Sparse reads went out a keyframe at a time, each waiting a
		// round trip: their bandwidth says more of the round trip than of
		// the link, nor does it know of connections opened since. The
		// read-ahead that follows measures afresh.
		busy := r.bw.busyNow
		r.bw = bandwidthMeter{}
		r.bw.setBusy(r.timeNow(), busy)
	}
	r.sparse = on
	if on {
		// Read-ahead in flight is for bytes the player now skips.
		for f := range r.fetches {
			if !f.cancelled && !f.pinned && !r.awaited(f) {
				r.cancelFetch(f)
			}
		}
	}
	r.mu.Unlock()
	r.kick()
}

// Stats returns a snapshot of the counters.
func (r *RangeReader) Stats() RangeReaderStats {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.stats
	s.InFlight = r.active
	s.Throughput = r.meter.rate(r.timeNow())
	s.Bandwidth = r.bw.rate(r.timeNow())
	s.Buffered = r.bufferedLocked()
	return s
}

// ByteRange is the bytes [Start, End) of a track (see track.ByteRange).
type ByteRange = track.ByteRange

// Cached returns the byte ranges the cache holds, in order and merged:
// what can be read without asking the sharer. Blocks still arriving are
// not in it.
func (r *RangeReader) Cached() []ByteRange {
	r.mu.Lock()
	bs := int64(r.o.BlockSize)
	ranges := make([]ByteRange, 0, len(r.blocks)+len(r.extents))
	for i, b := range r.blocks {
		if b.state == blockReady {
			ranges = append(ranges, ByteRange{Start: i * bs, End: min((i+1)*bs, r.size)})
		}
	}
	for _, e := range r.extents {
		ranges = append(ranges, ByteRange{Start: e.off, End: e.off + int64(len(e.data))})
	}
	r.mu.Unlock()
	slices.SortFunc(ranges, func(a, b ByteRange) int { return cmp.Compare(a.Start, b.Start) })
	var out []ByteRange
	for _, x := range ranges {
		if n := len(out); n > 0 && x.Start <= out[n-1].End {
			out[n-1].End = max(out[n-1].End, x.End)
			continue
		}
		out = append(out, x)
	}
	return out
}

// Close cancels the requests in flight (resetting their streams), wakes
// blocked readers with an error wrapping net.ErrClosed, and waits for every
// goroutine of the reader. It is idempotent.
func (r *RangeReader) Close() error {
	r.ctxCancel()
	<-r.done
	return nil
}

// cachedBytes returns the memory held by ready blocks, for tests.
func (r *RangeReader) cachedBytes() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.cached
}

func (r *RangeReader) clampReadahead(n int64) int64 {
	return max(int64(r.o.BlockSize), min(n, r.cacheSize/2))
}

// kick asks run to reschedule without blocking.
func (r *RangeReader) kick() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// broadcast wakes readers blocked on blocks. It is called with mu held.
func (r *RangeReader) broadcast() {
	close(r.changed)
	r.changed = make(chan struct{})
}

// read copies the bytes at off into p. With full it waits for all of p, as
// ReadAt; otherwise it returns once one byte is there, with what is cached.
func (r *RangeReader) read(p []byte, off int64, full bool) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("net: reading at %d failed: %w", off, errNegativeOffset)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ctx.Err() != nil {
		return 0, errRangeReaderClosed
	}
	if len(p) == 0 {
		return 0, nil
	}
	if err := r.waitGrowth(off); err != nil {
		return 0, err
	}
	if off >= r.size {
		return 0, io.EOF
	}
	want := min(int64(len(p)), r.size-off)
	bs := int64(r.o.BlockSize)
	if r.sparse {
		n, err := r.readSparse(p[:want], off, full)
		if err == nil && n < len(p) && full {
			err = io.EOF
		}
		return n, err
	}

	r.readaheadHeld = false
	r.reads++
	if lo, hi := r.keptRange(); off < lo || off >= hi || off < r.runStart {
		r.runStart = off
	}
	r.readEnd = off + want
	r.moveReadPos(off)
	defer func() { r.readEnd = 0 }()

	n := int64(0)
	waited := false
	defer func() {
		if waited {
			r.stats.CacheMisses++
		} else {
			r.stats.CacheHits++
		}
	}()
	for n < want {
		at := off + n
		idx := at / bs
		b := r.blocks[idx]
		if b == nil || b.state != blockReady {
			// Bytes a sparse read fetched are not fetched again.
			if m := r.copyExtent(p[n:min(want, (idx+1)*bs-off)], at); m > 0 {
				n += int64(m)
				r.moveReadPos(off + n)
				continue
			}
			if n > 0 && !full {
				break
			}
			var err error
			waited = true
			if b, err = r.waitBlock(idx); err != nil {
				return int(n), err
			}
			r.waitedFor(b.hop)
		}
		n += int64(copy(p[n:want], b.data[at-idx*bs:]))
		r.lru.MoveToFront(b.lru)
		r.moveReadPos(off + n)
	}
	if n < int64(len(p)) && full {
		return int(n), io.EOF
	}
	return int(n), nil
}

// moveReadPos moves the window's start, waking the scheduler when it enters
// another block. It is called with mu held.
func (r *RangeReader) moveReadPos(off int64) {
	first, end := r.window()
	r.readPos = off
	if f, e := r.window(); f != first || e != end {
		r.kick()
	}
}

// waitBlock waits, with mu held, until block idx is ready, its fetch fails or
// the reader is closed.
func (r *RangeReader) waitBlock(idx int64) (*block, error) {
	b := r.blocks[idx]
	if b == nil {
		b = &block{idx: idx}
		r.blocks[idx] = b
	}
	if b.waiters == 0 {
		b.waitedFrom = r.timeNow()
	}
	b.waiters++
	r.wanted[idx] = b
	defer func() {
		b.waiters--
		if b.waiters == 0 {
			b.watched = nil
			delete(r.wanted, idx)
			if b.state == blockMissing {
				delete(r.blocks, idx)
			}
		}
	}()
	r.kick()
	seq := b.failSeq
	for b.state != blockReady {
		if b.failSeq != seq {
			return nil, b.failErr
		}
		if r.ctx.Err() != nil {
			return nil, errRangeReaderClosed
		}
		ch := r.changed
		// While it waits, the scheduler looks again now and then, to ask
		// again for a block whose request sits queued (upgrade).
		recheck := max(r.stats.RTT/2, 10*time.Millisecond)
		r.mu.Unlock()
		t := time.NewTimer(recheck)
		select {
		case <-ch:
		case <-r.ctx.Done():
		case <-t.C:
			r.kick()
		}
		t.Stop()
		r.mu.Lock()
	}
	return b, nil
}

// run owns the scheduling: it starts fetches, receives their answers, and on
// Close cancels them and waits for their goroutines.
func (r *RangeReader) run() {
	defer close(r.done)
	for {
		select {
		case <-r.wake:
			r.mu.Lock()
			r.schedule()
			r.mu.Unlock()
		case res := <-r.results:
			// One critical section, so Stats never sees the gap between an
			// answer and the requests that follow it.
			r.mu.Lock()
			r.finish(res)
			r.schedule()
			r.mu.Unlock()
		case <-r.ctx.Done():
			r.mu.Lock()
			for f := range r.fetches {
				if !f.cancelled {
					r.stats.Cancelled++
				}
			}
			r.active = 0
			r.bw.setBusy(r.timeNow(), false)
			r.mu.Unlock()
			// Every fetch's ctx derives from r.ctx, so they are all cancelled.
			r.fetchers.Wait()
			return
		}
	}
}

// window returns the blocks [first, end) the readahead keeps fetched: from
// the read position, twice what was read since the last jump, up to
// readahead, and all of a blocked read, up to readahead. Once the player
// has said the media's rate, a jump starts with a third of readahead
// (about a second of media: what a seek reads from its keyframe to its
// target); before, while a track opens and its demuxer hops between the
// header and the index, it starts from nothing, as TCP's slow start. The
// jump's own block goes out first and urgent, the rest as read-ahead that
// the sharer serves after it, so the first block does not share the
// uplink with the window, and the blocks after it are not a round trip
// each.
func (r *RangeReader) window() (int64, int64) {
	bs := int64(r.o.BlockSize)
	first := r.readPos / bs
	if first >= r.nblocks {
		return first, first
	}
	ahead := min(r.readahead, 2*(r.readPos-r.runStart))
	if r.rateKnown {
		ahead = max(ahead, r.readahead/3)
	}
	if r.readEnd > r.readPos {
		ahead = max(ahead, min(r.readahead, r.readEnd-r.readPos))
	}
	end := (min(r.size, r.readPos+ahead) + bs - 1) / bs
	return first, max(end, first+1)
}

// keptRange returns the bytes [lo, hi) around the window whose requests are
// kept: a read outside it is a jump, a request outside it stale. The window
// is widened by a quarter of it, at least a block, so that a demuxer's small
// seeks back and forth neither reset the ramp nor churn requests.
func (r *RangeReader) keptRange() (int64, int64) {
	bs := int64(r.o.BlockSize)
	first, end := r.window()
	slack := max(1, (end-first)/4)
	return (first - slack) * bs, (end + slack) * bs
}

// schedule cancels requests the reader jumped away from, then sends requests
// for blocked reads, then for the readahead window. It is called with mu held.
func (r *RangeReader) schedule() {
	if r.ctx.Err() != nil {
		return
	}
	first, end := r.window()

	// A request that does not meet the kept range is stale.
	lo, hi := r.keptRange()
	for f := range r.fetches {
		if f.cancelled || f.pinned || r.awaited(f) {
			continue
		}
		if f.off+int64(len(f.buf)) <= lo || f.off >= hi {
			r.cancelFetch(f)
		}
	}

	// Blocked reads first, the read position's block before others. Their
	// requests are one block each: the first byte comes soonest.
	if len(r.wanted) > 0 {
		waiting := make([]int64, 0, len(r.wanted))
		served := false
		for idx, b := range r.wanted {
			if b.state == blockFetching {
				r.upgrade(idx)
			}
			switch b.state {
			case blockMissing:
				waiting = append(waiting, idx)
			case blockFetching:
				served = true
			}
		}
		slices.SortFunc(waiting, func(a, b int64) int {
			return cmp.Compare(distance(a, first), distance(b, first))
		})
		for _, idx := range waiting {
			// A blocked read always gets a request, even if the slots are full.
			if r.active >= r.o.InFlight && served {
				break
			}
			r.startFetch(idx, 1, r.readNeed())
			served = true
		}
	}

	if r.readaheadHeld || r.sparse {
		return
	}
	if r.tailPending && r.active < r.o.InFlight {
		// The last block, and the one before when the last is a stub of
		// less than minTail: an index at the end seldom fits in that. The
		// demuxer reads it right after the header, so it is urgent.
		r.tailPending = false
		from := r.nblocks - 1
		if r.size-from*int64(r.o.BlockSize) < minTail {
			from--
		}
		missing := func(idx int64) bool { b := r.blocks[idx]; return b == nil || b.state == blockMissing }
		for idx := from; idx < r.nblocks; idx++ {
			if missing(idx) {
				// Only the blocks nobody holds or fetches yet.
				n := int64(1)
				for idx+n < r.nblocks && missing(idx+n) {
					n++
				}
				r.startFetch(idx, n, NeedNow).pinned = true
				break
			}
		}
	}
	if r.inactive {
		// Only the rest of a blocked read, fetched in parallel.
		if r.readEnd <= r.readPos {
			return
		}
		bs := int64(r.o.BlockSize)
		end = min(end, (r.readEnd+bs-1)/bs)
	}
	free := r.o.InFlight - r.active
	if free <= 0 {
		return
	}
	var missing []int64
	for idx := first; idx < end; idx++ {
		if b := r.blocks[idx]; (b == nil || b.state == blockMissing) && !r.extentHolds(idx) {
			missing = append(missing, idx)
		}
	}
	if len(missing) == 0 {
		return
	}
	// The block the reader needs next goes alone, so its first byte is not
	// behind a large request's tail.
	if missing[0] == first {
		r.startFetch(first, 1, r.readNeed())
		missing = missing[1:]
		free--
	}
	if free <= 0 || len(missing) == 0 {
		return
	}
	// The rest is spread over the free slots, consecutive blocks coalesced;
	// a request is all needed soon (within a third of the readahead, about
	// a second of media) or all later.
	maxBlocks := int64(r.o.MaxRequest / r.o.BlockSize)
	per := min(maxBlocks, (int64(len(missing))+int64(free)-1)/int64(free))
	bs := int64(r.o.BlockSize)
	soonEnd := (r.readPos + r.readahead/3 + bs - 1) / bs
	for i := 0; i < len(missing) && free > 0; {
		need := NeedLater
		if missing[i] < soonEnd {
			need = NeedSoon
		}
		j := i + 1
		for j < len(missing) && int64(j-i) < per && missing[j] == missing[j-1]+1 && (missing[j] < soonEnd) == (need == NeedSoon) {
			j++
		}
		r.startFetch(missing[i], int64(j-i), need)
		free--
		i = j
	}
}

// upgrade asks again, at the priority of a blocked read, for block idx
// when a reader waits on it and its request went out less urgent (read
// ahead, then reached) and will bring it later than a new urgent request
// would. Such a request either sits queued at the sharer, which serves a
// viewer's answers strictly by priority, another track's urgent answers
// before it (a camera's block reached during a seek waited 1.5 s behind
// the screen's way to its target), or it arrives slowly: over lanes it
// shares the link with the other connections' read-ahead, and the blocks
// after the one a demuxer waits on came first on the others while it
// trickled in at a quarter of the link. As a multipath TCP sender sends
// the segment that holds up the receiver again on a faster path, the
// block is asked for again, urgently and split across the lanes. On one
// connection an arriving answer is the link's pace, and asking again
// would only throw away what arrived.
//
// A request is taken as queued when none of its answer has arrived a
// round trip and a margin after the read began to wait: the next answer
// of a track read in order follows the one before at once, and one being
// written would have begun arriving. One that is arriving is measured
// from when the read began to wait, and asked again when at that pace
// the block's rest would come after a new request's round trip and the
// block at the reader's bandwidth. Only a fetcher that reports arrival
// as it streams can tell either. The cancelled request's blocks that
// arrived stay cached; the others are missing again, to be asked for
// with the blocked reads. It is called with mu held.
func (r *RangeReader) upgrade(idx int64) {
	if _, streams := r.f.(streamingFetcher); !streams {
		return
	}
	rtt := r.stats.RTT
	b := r.blocks[idx]
	f := r.fetchOf(idx)
	if rtt <= 0 || b == nil || f == nil {
		return
	}
	want := RequestPriority(r.readNeed(), r.rank)
	if f.prio.serveOrder() <= want.serveOrder() {
		return
	}
	now, landed := r.timeNow(), f.landed.Load()
	if b.watched != f {
		b.watched, b.watchedAt, b.watchedLanded = f, now, landed
	}
	if now.Sub(b.waitedFrom) < rtt+upgradeMargin {
		return
	}
	if landed > 0 {
		if pf, ok := r.f.(pathsFetcher); !ok || pf.paths() < 2 {
			return
		}
		// How long the block's rest takes at the pace since the wait
		// began, against a new request. The answer's bytes that landed
		// beyond the block, on other lanes, are counted as its: a split
		// answer is asked again only when it is slow as a whole.
		bs := int64(r.o.BlockSize)
		rest := min((idx+1)*bs, f.off+int64(len(f.buf))) - (f.off + landed)
		since := now.Sub(b.watchedAt)
		fresh := rtt
		if bw := r.bw.rate(now); bw > 0 {
			fresh += time.Duration(float64(bs) / bw * float64(time.Second))
		}
		if pace := landed - b.watchedLanded; since < rtt || rest <= 0 ||
			(pace > 0 && time.Duration(float64(rest)/float64(pace)*float64(since)) <= fresh) {
			return
		}
	}
	r.cancelFetch(f)
	r.stats.Upgraded++
}

// upgradeNow cancels the request bringing block idx when it went out less
// urgent than a read now waits at and nothing of it has arrived (only a
// fetcher that reports arrival as it streams can tell), so that the block
// is asked for again with the blocked reads. It is called with mu held.
func (r *RangeReader) upgradeNow(idx int64) {
	if _, streams := r.f.(streamingFetcher); !streams {
		return
	}
	f := r.fetchOf(idx)
	if f == nil {
		return
	}
	want := RequestPriority(r.readNeed(), r.rank)
	if f.prio.serveOrder() > want.serveOrder() && f.got.Load() == 0 {
		r.cancelFetch(f)
		r.stats.Upgraded++
	}
}

// fetchOf is the request in flight that brings block idx, nil if none
// does. It is called with mu held.
func (r *RangeReader) fetchOf(idx int64) *fetch {
	for f := range r.fetches {
		if !f.cancelled && idx >= f.first && idx < f.first+f.count {
			return f
		}
	}
	return nil
}

// upgradeMargin is how much later than a round trip a request's first
// byte may come while the sharer is already writing it: a busy sharer
// (many viewers, a slow disk) takes a while to begin an answer, and
// asking again then only adds a request.
const upgradeMargin = 50 * time.Millisecond

// awaited reports whether a reader is blocked on one of f's blocks.
func (r *RangeReader) awaited(f *fetch) bool {
	for idx := f.first; idx < f.first+f.count; idx++ {
		if b := r.blocks[idx]; b != nil && b.waiters > 0 {
			return true
		}
	}
	return false
}

// startFetch sends a request for blocks [first, first+count) in a goroutine
// that run owns; need says how soon the reader needs it, which orders it
// at the sharer. It is called with mu held.
func (r *RangeReader) startFetch(first, count int64, need Need) *fetch {
	bs := int64(r.o.BlockSize)
	off := first * bs
	n := min(count*bs, r.size-off)
	prio := RequestPriority(need, r.rank)
	ctx, cancel := context.WithCancel(r.ctx)
	f := &fetch{first: first, count: count, off: off, buf: make([]byte, n), ctx: ctx, cancel: cancel, reads: r.reads, prio: prio, hop: r.nextHop()}
	for idx := first; idx < first+count; idx++ {
		b := r.blocks[idx]
		if b == nil {
			b = &block{idx: idx}
			r.blocks[idx] = b
		}
		b.state = blockFetching
	}
	r.fetches[f] = struct{}{}
	r.active++
	r.noteBusy()
	r.stats.Requests++
	r.fetchers.Go(func() {
		var n int
		var ttfb time.Duration
		var err error
		if sf, ok := r.f.(streamingFetcher); ok {
			// done is the blocks handed to the cache so far; only this
			// goroutine touches it.
			done := int64(0)
			n, ttfb, err = sf.fetchRangeStreaming(f.ctx, f.off, f.buf, prio, func(got, landed int) {
				f.got.Store(int64(got))
				f.landed.Store(int64(landed))
				if k := int64(got) / bs; k > done {
					done = k
					r.arrived(f, k)
				}
			})
		} else {
			n, ttfb, err = r.f.fetchRange(f.ctx, f.off, f.buf, prio)
		}
		select {
		case r.results <- fetchResult{f: f, n: n, ttfb: ttfb, err: err}:
		case <-r.ctx.Done():
		}
	})
	return f
}

// arrived caches f's first k blocks, which have arrived while the rest of
// the answer has not, and wakes the readers waiting for them.
func (r *RangeReader) arrived(f *fetch, k int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if f.cancelled || r.ctx.Err() != nil {
		return
	}
	r.install(f, min(k, f.count))
	r.creditArrived(f, min(k*int64(r.o.BlockSize), int64(len(f.buf))))
	r.evict()
	r.broadcast()
}

// creditArrived counts f's answer up to n bytes in the bandwidth meter,
// as it arrives rather than in one lump at its end. It is called with mu
// held.
func (r *RangeReader) creditArrived(f *fetch, n int64) {
	if n > f.credited {
		r.bw.add(r.timeNow(), n-f.credited)
		f.credited = n
	}
}

// cancelFetch gives up on f: its stream is reset and its blocks not yet
// cached are missing again. Its goroutine still reports to run. It is
// called with mu held.
func (r *RangeReader) cancelFetch(f *fetch) {
	f.cancel()
	f.cancelled = true
	r.active--
	r.noteBusy()
	r.stats.Cancelled++
	for idx := f.first; idx < f.first+f.count; idx++ {
		if b := r.blocks[idx]; b != nil && b.state == blockFetching {
			b.state = blockMissing
			if b.waiters == 0 {
				delete(r.blocks, idx)
			}
		}
	}
}

// finish installs a fetch's answer in the cache, or its error in its blocks
// for the readers waiting on them. It is called with mu held.
func (r *RangeReader) finish(res fetchResult) {
	f := res.f
	delete(r.fetches, f)
	f.cancel()
	if f.cancelled {
		return
	}
	r.active--
	r.noteBusy()
	r.stats.BytesFetched += int64(res.n)
	r.meter.add(r.timeNow(), int64(res.n))
	r.creditArrived(f, int64(res.n))
	err := res.err
	if err == nil && res.n < len(f.buf) {
		err = io.ErrUnexpectedEOF
	}
	if err == nil {
		r.noteRTT(res.ttfb)
	}
	if err != nil {
		err = fmt.Errorf("net: reading range %d+%d failed: %w", f.off, len(f.buf), err)
		// The blocks that arrived stay cached; the others failed.
		for idx := f.first + f.installed; idx < f.first+f.count; idx++ {
			b := r.blocks[idx]
			b.state = blockMissing
			b.failSeq++
			b.failErr = err
			if b.waiters == 0 {
				delete(r.blocks, idx)
			}
		}
		if f.reads == r.reads {
			r.readaheadHeld = true
		}
		r.broadcast()
		return
	}
	r.install(f, f.count)
	r.evict()
	r.broadcast()
}

// noteRTT smooths a request's time to first byte into Stats.RTT, as
// TCP's SRTT. It is called with mu held.
func (r *RangeReader) noteRTT(ttfb time.Duration) {
	switch {
	case ttfb <= 0:
	case r.stats.RTT == 0:
		r.stats.RTT = ttfb
	default:
		r.stats.RTT += (ttfb - r.stats.RTT) / 8
	}
}

// readNeed is how soon a read's block is needed: now, unless the player
// said it is not urgent. It is called with mu held.
func (r *RangeReader) readNeed() Need {
	if r.relaxed {
		return NeedSoon
	}
	return NeedNow
}

// noteBusy tells the bandwidth meter whether requests are in flight. It
// is called with mu held.
func (r *RangeReader) noteBusy() {
	r.bw.setBusy(r.timeNow(), r.active+r.direct > 0)
}

// readSparse serves a read in sparse mode: from the cache when it holds
// all of p, else by one request for exactly p's bytes, sent from the
// reading goroutine without holding mu. It is called with mu held, and
// returns with it held.
func (r *RangeReader) readSparse(p []byte, off int64, full bool) (int, error) {
	// held is how much of p, from its start, the extents hold.
	held := 0
	// waitedOn is the prefetch the read waited for, if it did.
	var waitedOn *prefetch
	defer func() {
		if waitedOn != nil {
			r.waitedFor(waitedOn.hop)
		}
	}()
	for {
		if r.copyCached(p, off) {
			r.stats.CacheHits++
			return len(p), nil
		}
		held = r.copyExtent(p, off)
		if held == len(p) || (held > 0 && !full) {
			// A Read may be short: a demuxer asks again for the rest
			// only if it needs it.
			r.stats.CacheHits++
			return held, nil
		}
		at := off + int64(held)
		pf := r.prefetchHolding(at)
		if pf == nil {
			break
		}
		// The next byte is asked for already: what of the answer has
		// arrived serves at once, a Read returning short with it.
		if m := pf.copyArrived(p[held:], at); m > 0 {
			held += m
			if held == len(p) || !full {
				r.stats.CacheHits++
				return held, nil
			}
		}
		// The rest is on its way: wait for more of it (a full read
		// copies again what arrived so far once it is all here).
		waitedOn = pf
		if err := r.waitChange(); err != nil {
			return 0, err
		}
	}
	// The rest is asked for.
	rest, at := p[held:], off+int64(held)
	r.stats.CacheMisses++
	r.stats.Requests++
	r.direct++
	r.noteBusy()
	prio := RequestPriority(NeedNow, r.rank)
	h := r.nextHop()
	r.mu.Unlock()
	n, ttfb, err := r.f.fetchRange(r.ctx, at, rest, prio)
	r.mu.Lock()
	r.direct--
	r.noteBusy()
	r.stats.BytesFetched += int64(n)
	r.meter.add(r.timeNow(), int64(n))
	r.bw.add(r.timeNow(), int64(n))
	if err == nil {
		r.noteRTT(ttfb)
	}
	switch {
	case r.ctx.Err() != nil:
		return held + n, errRangeReaderClosed
	case err != nil:
		return held + n, fmt.Errorf("net: reading range %d+%d failed: %w", at, len(rest), err)
	case n < len(rest):
		return held + n, io.ErrUnexpectedEOF
	}
	r.addExtent(at, rest[:n])
	if h.mark != r.hopMark {
		// Marked while it was in flight: the first of the new path.
		h = hop{mark: r.hopMark, n: 1}
	}
	r.waitedFor(h)
	return len(p), nil
}

// prefetch is a sparse request in flight for bytes [off, off+n); the
// first got of them have arrived into buf (guarded by the reader's mu).
type prefetch struct {
	off, n int64
	buf    []byte
	got    int64
	// hop is its place in the chain of waits a read path made.
	hop hop
}

// copyArrived copies into p what has arrived of the answer from byte at
// on, and returns how many bytes. It is called with mu held.
func (pf *prefetch) copyArrived(p []byte, at int64) int {
	if at < pf.off || at >= pf.off+pf.got {
		return 0
	}
	return copy(p, pf.buf[at-pf.off:pf.got])
}

// Prefetch asks at once, urgently, for bytes [off, off+n) the player is
// about to read, when they are not held or asked for already. While
// sparse, it is one request for exactly those bytes, and a read within
// them waits for that answer instead of asking for its own piece a round
// trip after the last (a demuxer reads a first picture and the packets
// its decoder needs after it in several reads, each waiting for the one
// before; the index tells the player where they all lie). Reading ahead,
// it asks for the blocks holding them that nothing brings yet, in as few
// requests as the largest request allows, kept until the next Prefetch
// even while the reads have not reached them: a seek's way from its
// keyframe to its target (1-2 MB of a 6 Mbit/s screen), which the window
// would otherwise ask for a third of the readahead at a time, as
// read-ahead the sharer serves after every track's urgent reads.
func (r *RangeReader) Prefetch(off, n int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ctx.Err() != nil {
		return
	}
	if r.sparse {
		r.prefetchLocked(off, n)
		return
	}
	r.prefetchBlocks(off, n, NeedNow, true)
	r.kick()
}

// PrefetchAhead is Prefetch for the bytes the player reads soon after
// those of a Prefetch just asked (a seek's buffer past its target, which
// playing waits for before it resumes): asked as read-ahead is, after
// every track's urgent requests, and kept as Prefetch's are. It does
// nothing while sparse.
func (r *RangeReader) PrefetchAhead(off, n int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ctx.Err() != nil || r.sparse {
		return
	}
	r.prefetchBlocks(off, n, NeedSoon, false)
	r.kick()
}

// prefetchBlocks asks at need for the blocks holding [off, off+n) that
// nothing holds or brings, after cancelling, when replace says a new
// jump's bytes are asked, the last jump's requests that no read waits on.
// It is called with mu held.
func (r *RangeReader) prefetchBlocks(off, n int64, need Need, replace bool) {
	if replace {
		for f := range r.fetches {
			if f.jump && !f.cancelled && !r.awaited(f) {
				r.cancelFetch(f)
			}
		}
	}
	bs := int64(r.o.BlockSize)
	first, end := max(off, 0)/bs, min((off+n+bs-1)/bs, r.nblocks)
	missing := func(idx int64) bool {
		b := r.blocks[idx]
		return (b == nil || b.state == blockMissing) && !r.extentHolds(idx)
	}
	maxBlocks := int64(r.o.MaxRequest / r.o.BlockSize)
	for idx := first; idx < end; {
		if !missing(idx) {
			idx++
			continue
		}
		count := int64(1)
		for idx+count < end && count < maxBlocks && missing(idx+count) {
			count++
		}
		f := r.startFetch(idx, count, need)
		f.pinned, f.jump = true, true
		idx += count
	}
}

// prefetchLocked sends the request Prefetch asks for, unless the bytes are
// held or asked for. It is called with mu held.
func (r *RangeReader) prefetchLocked(off, n int64) {
	off = max(off, 0)
	n = min(n, r.size-off)
	// What the extents hold already (a header read's tail), or a prefetch
	// in flight brings (the first bytes asked for as the track opened),
	// is not asked again.
	for n > 0 {
		if held := r.extentHeld(off, n); held > 0 {
			off, n = off+held, n-held
			continue
		}
		pf := r.prefetchHolding(off)
		if pf == nil {
			break
		}
		done := min(pf.off+pf.n-off, n)
		off, n = off+done, n-done
	}
	n = min(n, maxRequestSize)
	if n <= 0 {
		return
	}
	pf := &prefetch{off: off, n: n, buf: make([]byte, n), hop: r.nextHop()}
	r.prefetches = append(r.prefetches, pf)
	r.stats.Requests++
	r.stats.Prefetched += n
	r.direct++
	r.noteBusy()
	prio := RequestPriority(NeedNow, r.rank)
	r.fetchers.Go(func() {
		buf := pf.buf
		var got int
		var ttfb time.Duration
		var err error
		if sf, ok := r.f.(streamingFetcher); ok {
			// Reads wait only for their own bytes, not the whole answer.
			got, ttfb, err = sf.fetchRangeStreaming(r.ctx, off, buf, prio, func(n, _ int) {
				r.mu.Lock()
				pf.got = int64(n)
				r.broadcast()
				r.mu.Unlock()
			})
		} else {
			got, ttfb, err = r.f.fetchRange(r.ctx, off, buf, prio)
		}
		r.mu.Lock()
		defer r.mu.Unlock()
		r.prefetches = slices.DeleteFunc(r.prefetches, func(x *prefetch) bool { return x == pf })
		r.direct--
		r.noteBusy()
		r.stats.BytesFetched += int64(got)
		r.meter.add(r.timeNow(), int64(got))
		r.bw.add(r.timeNow(), int64(got))
		if err == nil && got == len(buf) {
			r.noteRTT(ttfb)
		}
		if got > 0 && r.ctx.Err() == nil {
			// What arrived is the file's bytes, whatever became of the
			// rest.
			r.addExtent(off, buf[:got])
		}
		// Readers waiting for it look again, and ask themselves if it
		// failed.
		r.broadcast()
	})
}

// prefetchCovering is the prefetch in flight that holds all of [off,
// off+n), nil if none. It is called with mu held.
func (r *RangeReader) prefetchCovering(off, n int64) *prefetch {
	for _, pf := range r.prefetches {
		if pf.off <= off && off+n <= pf.off+pf.n {
			return pf
		}
	}
	return nil
}

// extentHolds says the extents hold all of block idx: sparse reads or a
// prefetch brought it, and reads take it from there. It is called with
// mu held.
func (r *RangeReader) extentHolds(idx int64) bool {
	bs := int64(r.o.BlockSize)
	n := min(bs, r.size-idx*bs)
	return r.extentHeld(idx*bs, n) == n
}

// extentHeld is how many bytes from off, up to n, the extents hold. It
// is called with mu held.
func (r *RangeReader) extentHeld(off, n int64) int64 {
	held := int64(0)
	for held < n {
		e, ok := r.extentAt(off + held)
		if !ok {
			break
		}
		held = min(e.off+int64(len(e.data))-off, n)
	}
	return held
}

// prefetchHolding is a prefetch in flight that holds byte off, nil if
// none. It is called with mu held.
func (r *RangeReader) prefetchHolding(off int64) *prefetch { return r.prefetchCovering(off, 1) }

// maxExtentBytes bounds the bytes kept from sparse reads.
const maxExtentBytes = 16 << 20

// extent is bytes [off, off+len(data)) fetched by sparse reads; used is
// when it was last added to, for dropping the oldest.
type extent struct {
	off  int64
	data []byte
	used uint64
}

// addExtent keeps a copy of data, read at off: joined to an extent it
// continues (a run of packets read one after another stays one extent),
// else as one of its own, in order of offset; the oldest are dropped
// beyond maxExtentBytes. It is called with mu held.
func (r *RangeReader) addExtent(off int64, data []byte) {
	if len(data) == 0 || int64(len(data)) > maxExtentBytes {
		return
	}
	r.extentSeq++
	i, _ := slices.BinarySearchFunc(r.extents, off, func(e extent, off int64) int { return cmp.Compare(e.off, off) })
	if i > 0 && r.extents[i-1].off+int64(len(r.extents[i-1].data)) == off {
		e := &r.extents[i-1]
		e.data, e.used = append(e.data, data...), r.extentSeq
	} else {
		r.extents = slices.Insert(r.extents, i, extent{off: off, data: slices.Clone(data), used: r.extentSeq})
	}
	r.extentBytes += int64(len(data))
	for r.extentBytes > maxExtentBytes {
		oldest := 0
		for j, e := range r.extents {
			if e.used < r.extents[oldest].used {
				oldest = j
			}
		}
		r.extentBytes -= int64(len(r.extents[oldest].data))
		r.extents = slices.Delete(r.extents, oldest, oldest+1)
	}
}

// copyExtent copies into p what the extents hold from off on, through
// extents that meet (two prefetches' answers side by side), and returns
// how many bytes. It is called with mu held.
func (r *RangeReader) copyExtent(p []byte, off int64) int {
	n := 0
	for n < len(p) {
		at := off + int64(n)
		e, ok := r.extentAt(at)
		if !ok {
			break
		}
		n += copy(p[n:], e.data[at-e.off:])
	}
	return n
}

// extentAt is the extent that holds byte off, if one does. It is called
// with mu held.
func (r *RangeReader) extentAt(off int64) (extent, bool) {
	// The last extent starting at or before off.
	i, found := slices.BinarySearchFunc(r.extents, off, func(e extent, off int64) int { return cmp.Compare(e.off, off) })
	if !found {
		i--
	}
	if i < 0 || off >= r.extents[i].off+int64(len(r.extents[i].data)) {
		return extent{}, false
	}
	return r.extents[i], true
}

// copyCached copies p's bytes from ready blocks if they hold all of them.
// It is called with mu held.
func (r *RangeReader) copyCached(p []byte, off int64) bool {
	bs := int64(r.o.BlockSize)
	for at := off; at < off+int64(len(p)); at = (at/bs + 1) * bs {
		if b := r.blocks[at/bs]; b == nil || b.state != blockReady {
			return false
		}
	}
	for n := int64(0); n < int64(len(p)); {
		at := off + n
		b := r.blocks[at/bs]
		n += int64(copy(p[n:], b.data[at-(at/bs)*bs:]))
		r.lru.MoveToFront(b.lru)
	}
	return true
}

func distance(a, b int64) int64 {
	if a < b {
		return b - a
	}
	return a - b
}

// rateMeter measures bytes per second over the last 2 s in 100 ms buckets.
type rateMeter struct {
	// start is the origin of bucket numbers.
	start time.Time
	// buckets holds the bytes of the last 20 buckets, by number modulo 20.
	buckets [20]int64
	// last is the number of the newest bucket.
	last int64
}

const rateBucket = 100 * time.Millisecond

func (m *rateMeter) advance(now time.Time) int64 {
	k := int64(now.Sub(m.start) / rateBucket)
	for i := m.last + 1; i <= k && i <= m.last+int64(len(m.buckets)); i++ {
		m.buckets[i%int64(len(m.buckets))] = 0
	}
	m.last = max(m.last, k)
	return k
}

func (m *rateMeter) add(now time.Time, n int64) {
	k := m.advance(now)
	m.buckets[k%int64(len(m.buckets))] += n
}

func (m *rateMeter) rate(now time.Time) float64 {
	m.advance(now)
	sum := int64(0)
	for _, n := range m.buckets {
		sum += n
	}
	span := min(now.Sub(m.start), rateBucket*time.Duration(len(m.buckets)))
	span = max(span, rateBucket)
	return float64(sum) / span.Seconds()
}

// bandwidthMeter estimates what the link delivers to a reader while it asks
// for something: the bytes received over the time requests were in flight,
// both decayed with a half-life of bandwidthHalfLife. A meter over wall
// time reads a full window or a pause as a slow link; this one does not,
// so a player can weigh it against the media's rate right after a seek.
type bandwidthMeter struct {
	// bytes and busy are the decayed bytes and seconds of busy time.
	bytes, busy float64
	// at is when the sums were last brought up to date.
	at time.Time
	// busyNow says requests are in flight since at.
	busyNow bool
}

// bandwidthHalfLife weighs the last couple of seconds most.
const bandwidthHalfLife = time.Second

// minBandwidthSample is the busy time below which there is no estimate:
// the first round trip alone says nothing about the rate.
const minBandwidthSample = 100 * time.Millisecond

func (m *bandwidthMeter) advance(now time.Time) {
	if m.at.IsZero() || !now.After(m.at) {
		if m.at.IsZero() {
			m.at = now
		}
		return
	}
	dt := now.Sub(m.at).Seconds()
	h := bandwidthHalfLife.Seconds()
	k := math.Exp2(-dt / h)
	m.bytes *= k
	m.busy *= k
	if m.busyNow {
		// The decayed integral of busy time over the interval.
		m.busy += (1 - k) * h / math.Ln2
	}
	m.at = now
}

func (m *bandwidthMeter) add(now time.Time, n int64) {
	m.advance(now)
	m.bytes += float64(n)
}

func (m *bandwidthMeter) setBusy(now time.Time, busy bool) {
	m.advance(now)
	m.busyNow = busy
}

func (m *bandwidthMeter) rate(now time.Time) float64 {
	m.advance(now)
	if m.busy < minBandwidthSample.Seconds() {
		return 0
	}
	return m.bytes / m.busy
}
