package sync

import (
	"fmt"
	"io"
	"time"

	"reelay/media"
	"reelay/net/track"
)

// A seek, from the Seek call to the tracks: the player takes the newest
// target (Seek, takeSeek), holds the clock there and sends every pipeline
// the target with a new epoch (seekTo); each pipeline takes the newest it
// was sent (seek, takeSeek), places its demuxer or its index at the
// keyframe at or before it, and decodes on from there (applySeek).

// seekTarget is a position for a pipeline to play from.
type seekTarget struct {
	// t is the timeline position.
	t time.Duration
	// epoch is the player's seek generation, stamped on every output.
	epoch uint64
	// keep is what the video decoder keeps before t for a frame step
	// (stepcache.go).
	keep stepKeep
}

// Seek moves to t (clamped to the recording): every subscribed track shows
// the frame at t and audio restarts at t's exact sample. It never waits:
// the target replaces any the player has not taken yet, so seeks in quick
// succession (a dragged seek bar) coalesce and only the newest is worked
// on, down to the tracks' fetches. It returns the seek's number, which
// Status.Seek reaches once the player works on it or a newer one.
func (p *Player) Seek(t time.Duration) uint64 { return p.seek(t, false) }

// seek asks for t; live says it is the live edge (GoLive).
func (p *Player) seek(t time.Duration, live bool) uint64 {
	p.seekMu.Lock()
	p.seeksAsked++
	n := p.seeksAsked
	p.nextSeek = &seekRequest{t: t, at: p.opts.Now(), n: n, live: live}
	p.seekMu.Unlock()
	p.wake()
	return n
}

// takeSeek works on the newest seek asked for, if any.
func (p *Player) takeSeek() {
	p.seekMu.Lock()
	r := p.nextSeek
	p.nextSeek = nil
	p.seekMu.Unlock()
	if r != nil {
		// Stats counts every seek asked for; seekTo counts this one.
		p.stats.Seeks += int(r.n - p.seeksTaken - 1)
		p.seeksTaken = r.n
		t := r.t
		if r.live {
			t = p.liveTarget(t)
		}
		p.seekTo(t, r.at)
		p.settle = r.live
	}
}

// seekTo starts a seek to t: the clock holds at t while every track
// prerolls its first frame there. The pictures kept for stepping are
// dropped.
func (p *Player) seekTo(t time.Duration, at time.Time) {
	// A seek asked for before a live recording started playing replaces
	// its catching up with the edge.
	p.settle = false
	p.steps.drop()
	p.seekTracks(t, at, stepSeek{})
}

// stepSeek says how a seek treats the main picture when it is a frame
// step's (stepcache.go); the zero value seeks every track and keeps
// nothing.
type stepSeek struct {
	// main is the main picture's track.
	main *trackSlot
	// cached says main shows a picture of the step cache: its pipeline is
	// left where it is, parked, and its outputs aside until the next seek
	// of every track.
	cached bool
	// keep is what main's decoder keeps before t, when it seeks.
	keep stepKeep
}

// seekTracks starts a seek to t of every track but a parked main picture.
func (p *Player) seekTracks(t time.Duration, at time.Time, st stepSeek) {
	t = max(t, 0)
	if p.duration > 0 {
		t = min(t, p.duration)
	}
	p.epoch++
	p.stats.Seeks++
	p.clock.set(t)
	if p.sink != nil {
		p.sink.Clear()
	}
	p.out = p.out[:0]
	p.mix.reset(p.epoch, sampleAt(t))
	p.forgetAudio()
	p.steps.parked = nil
	if st.cached {
		p.steps.parked = st.main
		if a := st.main.audio; a != nil {
			// Its sound is of another time: the mix goes on without it.
			a.joining = true
		}
	}
	// Before any track refills: a camera held back only once it had, it
	// would have taken the link already.
	p.shareLink(t)
	for _, s := range p.slots {
		if s == p.steps.parked {
			continue
		}
		if v := s.video; v != nil {
			if v.head != nil {
				v.release(v.head)
				v.head = nil
			}
			v.ended, v.joining, v.tail = false, false, 0
		}
		if s.pl != nil {
			target := seekTarget{t: t, epoch: p.epoch}
			if s == st.main {
				target.keep = st.keep
			}
			s.pl.seek(target)
		}
	}
	p.prerolling, p.ended = true, false
	p.endStall()
	p.seekAt, p.seekTimed = at, true
	p.clockPos.Store(int64(t))
	p.updateClock()
}

// seek asks the pipeline to play from t; it replaces any target not yet
// started.
func (pl *pipeline) seek(t seekTarget) {
	pl.seekMu.Lock()
	pl.seekNext, pl.seekHas = t, true
	pl.seekMu.Unlock()
	notify(pl.seekSignal)
}

// peekSeek is the target takeSeek would take, left in place.
func (pl *pipeline) peekSeek() (seekTarget, bool) {
	pl.seekMu.Lock()
	defer pl.seekMu.Unlock()
	return pl.seekNext, pl.seekHas
}

func (pl *pipeline) takeSeek() (seekTarget, bool) {
	pl.seekMu.Lock()
	defer pl.seekMu.Unlock()
	t, ok := pl.seekNext, pl.seekHas
	pl.seekHas = false
	return t, ok
}

// applySeek stops the decoders, drops everything queued, seeks the demuxer
// to the keyframe at or before t, flushes the decoders and starts them
// again, discarding up to t.
func (pl *pipeline) applySeek(t seekTarget) error {
	pl.stopDecoders()
	pl.flushOutputs()
	if !pl.fresh {
		// A seek's round trips count from here; a track's first from
		// its opening.
		pl.markRoundTrips()
	}
	// The seek's reads are for the frame at its target.
	pl.setUrgent(true)
	if pl.thin != nil {
		return pl.seekThinned(t)
	}
	fileT := t.t - pl.offset
	// soundFrom is where the sound's decoder starts when it is not
	// where the demuxer does (prerollSound); -1 when it is.
	soundFrom := time.Duration(-1)
	if pl.audio != nil {
		fileT -= audioSeekPreroll
		if key, ok := pl.keyframeShowing(t.t - pl.offset); ok && key > fileT && key > pl.demux.StartTime() {
			// The picture at the target decodes from a keyframe less
			// than the sound's preroll before it: the demuxer goes to
			// that keyframe, not to the one before it and a whole
			// group of pictures to decode (and, across a link, to
			// fetch), and the sound's preroll is read by the index.
			soundFrom, fileT = fileT, key
		}
	}
	if pl.joinable() {
		jp, err := pl.joinPoint(t.t)
		if err != nil {
			if pl.ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("seeking track %q to %v failed: %w", pl.name, t.t, err)
		}
		if !pl.fresh || jp.Offset != pl.joined {
			if err := pl.reopen(&jp); err != nil {
				return err
			}
		}
		pl.recallCue(t.t - pl.offset)
		pl.restart(t)
		return nil
	}
	pl.prefetchFor(t.t - pl.offset)
	switch start := pl.demux.StartTime(); {
	case fileT <= start && !pl.fresh:
		// Demuxers never seek onto the packets before the first keyframe
		// that the decoder must see to start exactly (AAC's priming frame is
		// flagged to be discarded): reading from the top as on open does.
		if err := pl.reopen(nil); err != nil {
			return err
		}
	case fileT > start:
		if err := pl.demux.SeekTo(fileT); err != nil {
			if pl.ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("seeking track %q to %v failed: %w", pl.name, t.t, err)
		}
		if pl.video != nil {
			pl.video.dec.Flush()
		}
		if pl.audio != nil {
			pl.audio.dec.Flush()
		}
		pl.fresh = false
	}
	pl.recallCue(t.t - pl.offset)
	pl.restart(t)
	if soundFrom >= 0 {
		pl.prerollSound(soundFrom, fileT)
	}
	return nil
}

// keyframeShowing is the time of the keyframe the picture at fileT
// decodes from, by the MP4 index; ok is false unless the index locates
// every packet and the reader reads them at any offset (thinnable), as
// prerollSound does the sound's.
func (pl *pipeline) keyframeShowing(fileT time.Duration) (time.Duration, bool) {
	if !pl.thinnable() {
		return 0, false
	}
	idx := pl.indexOf(pl.video.info.Index)
	key, _ := keyframeFor(idx, fileT)
	if key >= len(idx) {
		return 0, false
	}
	return idx[key].PTS, true
}

// prerollSound queues, read by the index, the sound's packets from
// soundFrom up to the keyframe at key the demuxer was sent to, so that
// its decoder is warm by the target as after a seek to soundFrom; the
// demuxer's own packets before key are then dropped. Without them (a
// failed read) the sound starts at key, its first frame inexact.
func (pl *pipeline) prerollSound(soundFrom, key time.Duration) {
	a := pl.audio
	var entries []media.IndexEntry
	for _, e := range pl.indexOf(a.info.Index) {
		if e.PTS >= soundFrom && e.PTS < key {
			entries = append(entries, e)
		}
	}
	if len(entries) == 0 {
		return
	}
	pkts, err := pl.readEntries(a.info.Index, entries)
	if err != nil {
		return
	}
	for _, p := range pkts {
		pl.queue(&a.stream, p, false)
	}
	a.skipping, a.skipUntil = true, entries[len(entries)-1].PTS+pl.offset
}

// restart begins playing t's epoch once the demuxer or the index is
// placed: nothing demuxed yet, decoders started.
func (pl *pipeline) restart(t seekTarget) {
	for _, s := range pl.streams() {
		s.seen, s.last, s.skipping = false, 0, false
	}
	pl.eof, pl.readFailures = false, 0
	pl.epoch, pl.target, pl.keep = t.epoch, t.t, t.keep
	pl.publishLevel()
	pl.seeks.Add(1)
	pl.startDecoders()
}

// reopen opens the demuxer and the decoders again from the file's first
// byte, as they were on open, or from the join point jp.
func (pl *pipeline) reopen(jp *track.JoinPoint) error {
	pl.closeDecoders()
	pl.demux.Close()
	pl.demux = nil
	pl.readerMu.Lock()
	r := pl.reader
	pl.readerMu.Unlock()
	fail := func(err error) error {
		if pl.ctx.Err() != nil {
			return pl.ctx.Err()
		}
		return fmt.Errorf("reopening track %q failed: %w", pl.name, err)
	}
	if _, err := r.Seek(0, io.SeekStart); err != nil {
		return fail(err)
	}
	var in io.ReadSeeker = r
	pl.joined = -1
	if jp != nil {
		in, pl.joined = newJoinView(r, *jp), jp.Offset
		pl.prefetchJoin(*jp)
	}
	d, err := media.OpenDemuxer(in, pl.demuxerOptions(jp != nil))
	if err != nil {
		return fail(err)
	}
	pl.demux = d
	if !pl.joinable() {
		pl.offset = pl.info.Start - d.StartTime()
	}
	if v := pl.video; v != nil {
		if v.dec, err = media.NewVideoDecoder(d, v.info.Index); err != nil {
			return fail(err)
		}
	}
	if a := pl.audio; a != nil {
		if a.dec, err = media.NewAudioDecoder(d, a.info.Index); err != nil {
			return fail(err)
		}
	}
	pl.fresh = true
	return nil
}

// seekThinned places a thinned track at t: the keyframe at or before it
// shows first, the sound from its preroll. The decoders start afresh.
func (pl *pipeline) seekThinned(t seekTarget) error {
	th := pl.thin
	th.nextKey = max(pl.firstAfter(th.keys, t.t)-1, 0)
	th.seekKey, th.firstSound = true, true
	if pl.audio != nil {
		th.nextAudio = max(pl.firstAfter(th.audio, t.t-audioSeekPreroll)-1, 0)
	}
	if v := pl.video; v != nil {
		v.dec.Flush()
	}
	if a := pl.audio; a != nil {
		a.dec.Flush()
	}
	pl.restart(t)
	return nil
}
