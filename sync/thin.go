package sync

import (
	"fmt"
	"io"
	"slices"
	gosync "sync"
	"time"

	"reelay/media"
)

// A thinned track shows only its picture's keyframes, one picture each,
// and plays all its sound: the player's way through a link too slow for
// the whole recording (see degrade.go for when). Its pipeline stops
// demuxing and picks packets out of the file by the container's index
// (MP4 and QuickTime have one that locates every packet), reading their
// bytes alone: over the network the reader asks for exactly those
// (sparse reading), so the pictures between keyframes cost nothing. A
// screen of 6 Mbit/s with a keyframe every 2 s needs about 0.7 Mbit/s.

// Bounds of a thinned pipeline's reads.
const (
	// thinSoundBatch is how much sound a thinned track asks for at once:
	// its packets lie between the pictures', one request each, asked in
	// parallel; a second of them costs a round trip.
	thinSoundBatch = time.Second
	// thinMaxBatch caps the packets of one batch.
	thinMaxBatch = 96
	// thinParallel bounds the requests of a batch in flight at once.
	thinParallel = 16
	// thinKeysAhead is how many keyframes a thinned picture fetches ahead
	// of the clock: what shows next, and the one after while it shows.
	thinKeysAhead = 2
	// initialKeyCost is the guess of how long a keyframe takes to arrive
	// before one was fetched.
	initialKeyCost = 500 * time.Millisecond
)

// thinning is a thinned pipeline's place in the index. Owned by run.
type thinning struct {
	// keys are the picture's keyframes; audio the sound's packets.
	keys  []media.IndexEntry
	audio []media.IndexEntry
	// nextKey and nextAudio are the next entries to fetch.
	nextKey, nextAudio int
	// seekKey says nextKey is the keyframe at or before a seek's target,
	// shown however late it arrives; it is fetched first.
	seekKey bool
	// firstSound says the next sound batch is the first after a seek or
	// after thinning began: no larger than one round of parallel reads,
	// so that the sound the clock waits for comes a round trip after the
	// seek's keyframe, or as the demuxed sound runs out, not seconds of
	// it asked a round of reads at a time.
	firstSound bool
	// keyCost is how long a keyframe took to arrive, smoothed; keys due
	// sooner than that are skipped.
	keyCost time.Duration
}

// thinnable says the track can be thinned: it has a picture, the index
// locates every packet it plays, and its reader reads at any offset.
func (pl *pipeline) thinnable() bool {
	if pl.video == nil || !pl.demux.Indexed(pl.video.info.Index) {
		return false
	}
	if pl.audio != nil && !pl.demux.Indexed(pl.audio.info.Index) {
		return false
	}
	_, ok := pl.readerAt()
	return ok
}

// readerAt is the track's reader as an io.ReaderAt, if it is one.
func (pl *pipeline) readerAt() (io.ReaderAt, bool) {
	pl.readerMu.Lock()
	defer pl.readerMu.Unlock()
	if pl.reader == nil {
		return nil, false
	}
	if _, ok := pl.reader.r.(io.ReaderAt); !ok {
		return nil, false
	}
	return pl.reader, true
}

// setThin asks the pipeline to thin (true) or play whole (false); the
// newest wish wins, and run applies it between reads.
func (pl *pipeline) setThin(on bool) {
	if pl.thinWant.Swap(on) != on {
		notify(pl.seekSignal)
	}
}

// setSparse tells the reader to ask for exactly what is read, if it can.
func (pl *pipeline) setSparse(on bool) {
	pl.readerMu.Lock()
	defer pl.readerMu.Unlock()
	if s, ok := pl.reader.r.(sparseSetter); ok {
		s.SetSparse(on)
	}
}

// applyThin thins the track or makes it whole again, as asked.
func (pl *pipeline) applyThin(on bool) error {
	if on == (pl.thin != nil) {
		return nil
	}
	if on {
		pl.startThinning()
	} else if err := pl.stopThinning(); err != nil {
		return err
	}
	pl.publishLevel()
	return nil
}

// startThinning goes on from what is queued by the index: the next
// keyframe after the picture queued, the sound after the sound queued;
// after a seek that has demuxed nothing yet, the keyframe at or before
// the target and the sound from its preroll.
func (pl *pipeline) startThinning() {
	if !pl.thinnable() {
		return
	}
	v := pl.video
	th := &thinning{keys: pl.demux.Keyframes(v.info.Index), keyCost: initialKeyCost, firstSound: true}
	if v.seen {
		th.nextKey = pl.firstAfter(th.keys, v.last)
	} else {
		th.nextKey = max(pl.firstAfter(th.keys, pl.target)-1, 0)
		th.seekKey = true
	}
	if a := pl.audio; a != nil {
		th.audio = pl.demux.Index(a.info.Index)
		if a.seen {
			th.nextAudio = pl.firstAfter(th.audio, a.last)
		} else {
			th.nextAudio = max(pl.firstAfter(th.audio, pl.target-audioSeekPreroll)-1, 0)
		}
	}
	pl.thin = th
	pl.thinRate.Store(thinnedRate(th, pl.demux.Duration()))
	pl.eof = false
	pl.setSparse(true)
}

// thinnedRate is the bytes per second a thinned track reads: its
// keyframes and its sound over the track's duration.
func thinnedRate(th *thinning, d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	var n int64
	for _, e := range th.keys {
		n += e.Size
	}
	for _, e := range th.audio {
		n += e.Size
	}
	return int64(float64(n) / d.Seconds())
}

// firstAfter is the first entry that shows after timeline time t.
func (pl *pipeline) firstAfter(entries []media.IndexEntry, t time.Duration) int {
	i, _ := slices.BinarySearchFunc(entries, t, func(e media.IndexEntry, t time.Duration) int {
		if e.PTS+pl.offset <= t {
			return -1
		}
		return 1
	})
	return i
}

// stopThinning demuxes again from the next keyframe not fetched: the
// picture goes on whole from there, and the sound already queued is not
// queued twice.
func (pl *pipeline) stopThinning() error {
	th := pl.thin
	pl.thin = nil
	pl.setSparse(false)
	if th.nextKey >= len(th.keys) {
		// Nothing left but the end: the streams were closed by the index.
		return nil
	}
	from := th.keys[th.nextKey].PTS
	if err := pl.demux.SeekTo(from); err != nil {
		if pl.ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("track %q: playing the whole picture again from %v failed: %w", pl.name, from+pl.offset, err)
	}
	pl.fresh, pl.eof = false, false
	if a := pl.audio; a != nil && a.seen {
		a.skipUntil, a.skipping = a.last, true
	}
	return nil
}

// thinStep fetches what the thinned track needs next: a seek's keyframe,
// then sound (it must never gap), then keyframes; it says whether there
// was anything to fetch.
func (pl *pipeline) thinStep() (bool, error) {
	th := pl.thin
	pos := time.Duration(pl.clockPos.Load())
	ahead := pl.bufferAhead()
	if th.seekKey && th.nextKey < len(th.keys) {
		return true, pl.thinKey(pl.video)
	}
	if a := pl.audio; a != nil && th.nextAudio < len(th.audio) && pl.reached(&a.stream)-pos < ahead {
		return true, pl.thinSound(a)
	}
	if th.nextKey < len(th.keys) {
		// Keyframes asked for that have not shown yet.
		waiting := 0
		for j := th.nextKey - 1; j >= 0 && th.keys[j].PTS+pl.offset > pos; j-- {
			waiting++
		}
		due := th.keys[th.nextKey].PTS + pl.offset
		if due-pos < ahead && waiting < thinKeysAhead {
			return true, pl.thinKey(pl.video)
		}
	}
	pl.endThinnedStreams()
	return false, nil
}

// thinSound queues the next second of sound, its packets fetched in
// parallel.
func (pl *pipeline) thinSound(a *audioStream) error {
	th := pl.thin
	first := th.audio[th.nextAudio].PTS
	limit := thinMaxBatch
	if th.firstSound {
		limit, th.firstSound = thinParallel, false
	}
	n := 0
	for th.nextAudio+n < len(th.audio) && n < limit && (n == 0 || th.audio[th.nextAudio+n].PTS-first < thinSoundBatch) {
		n++
	}
	batch := th.audio[th.nextAudio : th.nextAudio+n]
	pkts, err := pl.readEntries(a.info.Index, batch)
	if err != nil {
		return pl.thinFailed("sound", err)
	}
	for _, p := range pkts {
		pl.queue(&a.stream, p, false)
	}
	pl.publishLevel()
	th.nextAudio += n
	return nil
}

// thinKey queues the next keyframe that can arrive before it is due,
// skipping those that cannot.
func (pl *pipeline) thinKey(v *videoStream) error {
	th := pl.thin
	pos := time.Duration(pl.clockPos.Load())
	if !th.seekKey {
		for th.nextKey+1 < len(th.keys) && th.keys[th.nextKey].PTS+pl.offset < pos+th.keyCost {
			th.nextKey++
		}
	}
	th.seekKey = false
	k := th.keys[th.nextKey]
	start := time.Now()
	pkts, err := pl.readEntries(v.info.Index, []media.IndexEntry{k})
	if err != nil {
		return pl.thinFailed("picture", err)
	}
	th.keyCost += (time.Since(start) - th.keyCost) / 4
	th.nextKey++
	pl.queue(&v.stream, pkts[0], true)
	// The keyframe shows until the next one.
	if th.nextKey < len(th.keys) {
		v.last = th.keys[th.nextKey].PTS + pl.offset - time.Nanosecond
	}
	pl.publishLevel()
	return nil
}

// thinFailed decides what a failed fetch means: nothing when the pipeline
// is closing, a failed track after maxReadFailures in a row.
func (pl *pipeline) thinFailed(what string, err error) error {
	if pl.ctx.Err() != nil {
		return nil
	}
	pl.readFailures++
	if pl.readFailures >= maxReadFailures {
		return fmt.Errorf("reading the %s of track %q failed: %w", what, pl.name, err)
	}
	return nil
}

// endThinnedStreams closes the streams whose entries are all queued.
func (pl *pipeline) endThinnedStreams() {
	th := pl.thin
	if pl.eof {
		return
	}
	if a := pl.audio; a != nil && th.nextAudio < len(th.audio) {
		return
	}
	if th.nextKey < len(th.keys) {
		return
	}
	pl.eof = true
	for _, s := range pl.streams() {
		s.q.put(queuedPacket{end: true})
	}
	pl.publishLevel()
}

// readEntries reads index entries of stream i as packets, each entry one
// ReadAt, thinParallel at a time: a sparse reader asks for them in
// parallel.
func (pl *pipeline) readEntries(i int, entries []media.IndexEntry) ([]*media.Packet, error) {
	ra, ok := pl.readerAt()
	if !ok {
		return nil, fmt.Errorf("track %q cannot be read at an offset", pl.name)
	}
	data := make([][]byte, len(entries))
	errs := make([]error, len(entries))
	var wg gosync.WaitGroup
	slots := make(chan struct{}, thinParallel)
	for j, e := range entries {
		slots <- struct{}{}
		wg.Go(func() {
			defer func() { <-slots }()
			buf := make([]byte, e.Size)
			n, err := ra.ReadAt(buf, e.Pos)
			if n == len(buf) {
				err = nil
			} else if err == nil || err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			data[j], errs[j] = buf, err
		})
	}
	wg.Wait()
	pkts := make([]*media.Packet, 0, len(entries))
	for j, e := range entries {
		err := errs[j]
		p := pl.packets.get()
		if err == nil {
			err = pl.demux.FillPacket(i, e, data[j], p)
		}
		if err != nil {
			pl.packets.put(p)
			for _, q := range pkts {
				pl.packets.put(q)
			}
			return nil, err
		}
		pkts = append(pkts, p)
	}
	pl.readFailures = 0
	return pkts, nil
}
