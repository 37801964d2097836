package sync

import (
	"slices"
	"time"

	"reelay/media"
)

// Asking for a picture's bytes at once. A track opens reading exactly
// what its demuxer reads (sparse), and the demuxer reads what it needs one
// piece after another: the header, the index (at the file's end in many
// recordings), the keyframe, the pictures its decoder wants before it
// shows the first (a decoder with B-frames holds a few back), and the
// sound beside them, each read a round trip after the one before. The
// pipeline asks at once for what the sharer says opening the file reads,
// then, where the file's index locates every packet (MP4), for all the
// packets of the picture at the target in one request before the
// demuxer reads them: on opening, and on every seek, when the way from
// the keyframe to the target is what the seek waits for (a reader
// without Prefetch is not asked).

// prefetcher is a TrackReader that can be asked for bytes ahead of the
// reads that will want them (net's RangeReader).
type prefetcher interface{ Prefetch(off, n int64) }

// aheadPrefetcher is a prefetcher that can also be asked, less urgently,
// for what is read soon after (net's RangeReader).
type aheadPrefetcher interface{ PrefetchAhead(off, n int64) }

// Bounds of what is asked for a first picture.
const (
	// prefetchAudio is how much sound past the target is asked for, with
	// the preroll before it: the sound's first block there. More would
	// reach far into a file whose pictures are large, as the sound lies
	// between them.
	prefetchAudio = 50 * time.Millisecond
	// maxPrefetch bounds one request: a span larger than this (streams
	// stored far apart, a long way from a keyframe to its target) is left
	// to the demuxer's own reads.
	maxPrefetch = 4 << 20
)

// prefetchOpening asks, before the demuxer's first read, for what the
// sharer says it reads as it opens the track: near its end (an MP4's moov
// written last, an Ogg file's last page), which the demuxer reads right
// after the first bytes, and, opening at the start, the bytes up to every
// stream's first sample, which the demuxer would learn where to find only
// from the moov. Each would otherwise be a round trip after the other.
func (pl *pipeline) prefetchOpening() {
	pf, ok := pl.prefetcher()
	if !ok {
		return
	}
	if t, ok := pl.peekSeek(); (!ok || t.t <= pl.info.Start) && pl.info.Head > 0 && pl.info.Head <= maxPrefetch {
		// At least what the demuxer's first read asks for.
		pf.Prefetch(0, max(pl.info.Head, media.ReadSize))
	}
	if ix := pl.info.Index; ix.End > ix.Start {
		pf.Prefetch(ix.Start, ix.End-ix.Start)
	}
}

// prefetchFor asks the reader for the bytes of the packets the picture
// and sound at fileT (on the file's timeline) need, in one request. Once
// the track reads ahead, it then asks, less urgently, for those of the
// next ResumeLevel: playing resumes after a seek only with that much
// buffered, and the readahead window, which follows the reads, would ask
// for it only once the reads reached the target.
func (pl *pipeline) prefetchFor(fileT time.Duration) {
	pf, ok := pl.prefetcher()
	if !ok {
		return
	}
	lo, hi := pl.packetsFor(fileT, 0)
	if lo < 0 || hi-lo > maxPrefetch {
		return
	}
	pf.Prefetch(lo, hi-lo)
	if apf, ok := pf.(aheadPrefetcher); ok && pl.readahead.Load() {
		if _, end := pl.packetsFor(fileT, pl.opts.ResumeLevel); end > hi && end-lo <= maxPrefetch {
			apf.PrefetchAhead(hi, end-hi)
		}
	}
}

// packetsFor is the bytes [lo, hi) of the packets the picture and sound at
// fileT need, and of those of the next beyond; lo is -1 when the index
// does not locate them.
func (pl *pipeline) packetsFor(fileT, beyond time.Duration) (lo, hi int64) {
	lo, hi = -1, -1
	add := func(e media.IndexEntry) {
		if lo < 0 || e.Pos < lo {
			lo = e.Pos
		}
		hi = max(hi, e.Pos+e.Size)
	}
	if v := pl.video; v != nil {
		idx := pl.indexOf(v.info.Index)
		if key, n := keyframeFor(idx, fileT); key < len(idx) {
			// In decoding order from the keyframe: every packet up to the
			// last one shown by fileT, and the decoder's lead after it.
			last := max(n-1, key)
			for i := key; i < len(idx) && (i <= last+v.info.Delay || idx[i].PTS <= fileT+beyond); i++ {
				add(idx[i])
			}
		}
	}
	if a := pl.audio; a != nil {
		for _, e := range pl.indexOf(a.info.Index) {
			if e.PTS >= fileT-audioSeekPreroll && e.PTS <= fileT+max(prefetchAudio, beyond) {
				add(e)
			}
		}
	}
	return lo, hi
}

// keyframeFor finds in a video stream's index, which runs in decoding
// order with its times rising, the keyframe the picture at fileT decodes
// from (the first keyframe when fileT is before it; len(idx) when there
// is none), and n, the number of packets shown by fileT.
func keyframeFor(idx []media.IndexEntry, fileT time.Duration) (key, n int) {
	n, _ = slices.BinarySearchFunc(idx, fileT, func(e media.IndexEntry, t time.Duration) int {
		if e.PTS <= t {
			return -1
		}
		return 1
	})
	key = max(n-1, 0)
	for key > 0 && !idx[key].Key {
		key--
	}
	for key < len(idx) && !idx[key].Key {
		key++
	}
	return key, n
}

// prefetcher is the track's reader when it takes Prefetch.
func (pl *pipeline) prefetcher() (prefetcher, bool) {
	pl.readerMu.Lock()
	defer pl.readerMu.Unlock()
	if pl.reader == nil {
		return nil, false
	}
	pf, ok := pl.reader.r.(prefetcher)
	return pf, ok
}

// streamIndex is a stream's index as read when its keyframes were known
// to show delay after they decode.
type streamIndex struct {
	entries []media.IndexEntry
	delay   time.Duration
}

// indexOf is stream i's index (media.Demuxer.Index), read once, and again
// when the demuxer has learnt how much later than they decode its
// keyframes show (an index read before the first keyframe holds decoding
// times, a B-frame stream's keyframes a frame or two early: a seek's
// target just before a keyframe would take that keyframe for its own);
// empty when the file's index does not locate packets.
func (pl *pipeline) indexOf(i int) []media.IndexEntry {
	if pl.indexes == nil {
		pl.indexes = map[int]streamIndex{}
	}
	delay := pl.demux.KeyDelay(i)
	idx, ok := pl.indexes[i]
	if !ok || idx.delay != delay {
		idx = streamIndex{entries: pl.demux.Index(i), delay: delay}
		pl.indexes[i] = idx
	}
	return idx.entries
}
