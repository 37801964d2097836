package sync

import (
	"slices"
	"time"
)

// prerollReady says every track that takes part has its first frame (or
// audio) at the position. It asks nothing of the buffer: the picture at a
// seek's target shows as soon as it is decoded, and the clock waits for
// the buffer afterwards (readyToPlay).
func (p *Player) prerollReady(pos time.Duration) bool {
	on, waiting := false, false
	for _, s := range p.slots {
		on = on || s.on
		waiting = waiting || s.unfinished
		if !s.on || s.err != nil || s == p.steps.parked {
			continue
		}
		if s.opened && s.subtitlesOnly {
			continue
		}
		if !s.opened || s.pl == nil {
			return false
		}
		if v := s.video; v != nil && !v.joining && v.head == nil && !v.ended {
			return false
		}
		if a := s.audio; a != nil && !a.joining && !a.started && !a.ended {
			return false
		}
		if s.pl.bufferLevel().epoch != p.epoch {
			return false
		}
	}
	// With nothing on but a track that can play only once its recording
	// stops, the clock waits for that track rather than running on empty.
	return on || !waiting
}

// finishPreroll shows every track's frame at the position, even while
// paused, and lets the clock go once readyToPlay says the buffer holds.
func (p *Player) finishPreroll(pos time.Duration) {
	trips := p.roundTrips()
	if p.opening {
		p.stats.FirstFrameRoundTrips = trips
	}
	p.prerolling, p.opening, p.starting = false, false, true
	for _, s := range p.slots {
		if s.pl != nil {
			// Every track has its first picture or sound: now they read
			// ahead.
			s.pl.allowReadahead()
		}
		if v := s.video; v != nil && s != p.steps.parked && v.head != nil && v.head.pts <= pos+v.head.dur/2 {
			p.show(s, v.head)
		}
	}
	if p.seekTimed {
		lat := p.opts.Now().Sub(p.seekAt)
		p.stats.SeekLatencies = append(p.stats.SeekLatencies, lat)
		if n := len(p.stats.SeekLatencies); n > maxSeekLatencies {
			p.stats.SeekLatencies = slices.Delete(p.stats.SeekLatencies, 0, n-maxSeekLatencies)
		}
		p.events.push(Event{Kind: EventSeeked, Position: pos, Latency: lat, RoundTrips: trips})
		p.seekTimed = false
	}
}

// roundTrips is the most round trips any track's reads waited for in
// sequence, since its opening or the seek, to read what its frame (or
// sound) at the position needed: the round trips of the preroll just
// finished (0 for tracks without network figures).
func (p *Player) roundTrips() int {
	n := 0
	for _, s := range p.slots {
		if v := s.video; v != nil && v.head != nil {
			n = max(n, v.head.trips)
		}
		if a := s.audio; a != nil && a.started && len(a.queue) > 0 {
			n = max(n, a.queue[0].trips)
		}
	}
	return n
}

// checkStall stops the clock when a playing track runs below LowWater with
// more to read, and lets it go once readyToPlay; after a preroll the clock
// starts on the same condition.
func (p *Player) checkStall(pos time.Duration) {
	if !p.wantPlay || p.ended {
		p.endStall()
		p.waitingSince = time.Time{}
		return
	}
	var low *trackSlot
	p.buffering(pos, func(s *trackSlot, ahead time.Duration) {
		if ahead < p.opts.ResumeLevel {
			// Its reads are needed now again: the pipeline says so only
			// as packets come, and none come while its read waits.
			s.pl.setUrgent(true)
		}
		if ahead < p.stallMark(s, pos) && low == nil {
			low = s
		}
	})
	refilled := (p.starting || p.stalled) && p.readyToPlay(pos)
	p.degradeWaiting(pos, refilled)
	switch {
	case p.starting:
		p.starting = !refilled
	case !p.stalled && low != nil && !p.atLiveEdge(pos) && p.degrade(low):
		// The clock runs on with low thinned to its keyframes. Not at a
		// live edge: there the recorder, not the link, is what is
		// short, and keyframes alone would not come sooner.
	case !p.stalled && low != nil:
		p.stalled, p.stallAt = true, p.opts.Now()
		p.stats.Stalls++
		p.stall = Stall{Position: pos, Track: low.info.Name}
		if r, _ := low.pl.readerStats(); r != nil {
			p.stall.Waiting = r.Buffered == 0
		}
	case p.stalled && refilled:
		p.endStall()
	}
}

// shareLink holds a secondary picture's buffer and readahead to twice
// ResumeLevel while a track the clock waits for has less than half
// BufferTarget ahead, as after a seek or at the start, when every track
// refills at once. The sharer serves the main tracks' next second before
// a camera's deeper readahead only on one connection: over lanes (more
// connections on a lossy link) the camera's took a quarter of the link
// while the screen ran down to a stall a second after a seek landed.
func (p *Player) shareLink(pos time.Duration) {
	short := false
	for _, s := range p.slots {
		if !s.on || s.err != nil || !s.opened || s.pl == nil || s.secondary || s.thin.on || p.trackJoining(s) {
			continue
		}
		// A track with nothing at this seek yet is the shortest of all.
		l := s.pl.bufferLevel()
		if l.epoch != p.epoch || (!l.eof && l.until-pos < p.opts.BufferTarget/2) {
			short = true
		}
	}
	for _, s := range p.slots {
		if s.pl == nil {
			continue
		}
		var hold time.Duration
		if short && s.secondary {
			hold = 2 * p.opts.ResumeLevel
		}
		s.pl.capReadahead(hold)
	}
}

// stallMark is how little a playing track may have ahead before the
// clock stops for it: LowWater (less at a live edge), and a quarter of
// that for a secondary picture. A camera beside a screen share whose
// next bytes come a moment late (at the start, when every track asks
// for its readahead at once and the sharer serves the main picture's
// first) shows its pictures a moment late at worst; stopping the sound
// and the main picture for it costs more.
func (p *Player) stallMark(s *trackSlot, pos time.Duration) time.Duration {
	if s.secondary {
		return p.lowWater(pos) / 4
	}
	return p.lowWater(pos)
}

// readyToPlay says the clock may run: every playing track has at least
// ResumeLevel buffered ahead, and more when the network delivers less
// than resumeHeadroom times what the tracks play, so much that playing on
// for twice BufferTarget at the measured rate, less that margin, keeps
// every track above LowWater (at most BufferTarget): a fast link starts
// at once, a slow one waits for what it would otherwise stall for a
// moment later, as ExoPlayer and YouTube decide from their bandwidth
// estimates.
func (p *Player) readyToPlay(pos time.Duration) bool {
	need := p.opts.ResumeLevel
	if p.atLiveEdge(pos) {
		// At the live edge the recorder, not the network, sets how much
		// is ahead, and waiting only puts playing further behind.
		need = min(need, liveResumeLevel)
	} else if short := p.shortfall(resumeHeadroom); short > 0 {
		horizon := 2 * p.opts.BufferTarget
		need = min(max(need, p.opts.LowWater+time.Duration(short*float64(horizon))), p.opts.BufferTarget)
	}
	ready := true
	p.buffering(pos, func(_ *trackSlot, ahead time.Duration) {
		ready = ready && ahead >= need
	})
	return ready
}

// buffering calls fn with every playing track that has more to read at
// this seek, and how far ahead of pos it has buffered.
func (p *Player) buffering(pos time.Duration, fn func(s *trackSlot, ahead time.Duration)) {
	for _, s := range p.slots {
		if !s.on || s.err != nil || !s.opened || s.pl == nil || p.trackJoining(s) {
			continue
		}
		l := s.pl.bufferLevel()
		if s.thin.on && (s.audio == nil || !l.thinned) {
			// A thinned picture never holds the clock; its sound does,
			// once the pipeline reads it by the index.
			continue
		}
		if l.epoch == p.epoch && !l.eof {
			fn(s, l.until-pos)
		}
	}
}

// resumeHeadroom is how much faster than the tracks play the network must
// deliver for playing to start or resume at ResumeLevel. Over a home
// link that loses packets, one connection's rate swings by half at each
// loss: at 0.1 % loss it delivered 1.07 times a screen share's rate when
// playing started, and ran out half a second later.
const resumeHeadroom = 1.25

// shortfall is the part of headroom times the media's rate the network
// does not deliver, 1 - bandwidth / (headroom × rate) over the tracks
// that are fetching now (0 when it keeps up or nothing is measured). A
// track whose reader asks for nothing is not limited by the network: its
// window is full. A thinned track is left out: its reads go out a
// keyframe at a time, each waiting a round trip, and measure that more
// than the link.
func (p *Player) shortfall(headroom float64) float64 {
	var rate, bw float64
	for _, s := range p.slots {
		if !s.on || s.err != nil || s.pl == nil || s.thin.on {
			continue
		}
		r, _ := s.pl.readerStats()
		mr := s.pl.mediaRate.Load()
		if r == nil || r.InFlight == 0 || r.Bandwidth <= 0 || mr <= 0 {
			continue
		}
		rate += float64(mr) * p.speed
		bw += r.Bandwidth
	}
	rate *= headroom
	if rate == 0 || bw >= rate {
		return 0
	}
	return 1 - bw/rate
}

func (p *Player) endStall() {
	if p.stalled {
		p.stalled = false
		d := p.opts.Now().Sub(p.stallAt)
		p.stats.StallTime += d
		p.stall.Duration = d
		p.stats.StallLog = append(p.stats.StallLog, p.stall)
		if n := len(p.stats.StallLog); n > maxStallLog {
			p.stats.StallLog = slices.Delete(p.stats.StallLog, 0, n-maxStallLog)
		}
	}
}

func (p *Player) trackJoining(s *trackSlot) bool {
	return (s.video != nil && s.video.joining) || (s.audio != nil && s.audio.joining)
}

// trackEnded says s has delivered and played all it has in this epoch.
func (p *Player) trackEnded(s *trackSlot, pos time.Duration) bool {
	if !s.opened || s.subtitlesOnly {
		return false
	}
	if v := s.video; v != nil && (!v.ended || v.head != nil || pos < v.tail) {
		return false
	}
	if a := s.audio; a != nil && (!a.ended || len(a.queue) > 0 || pos < sampleTime(a.tail)) {
		return false
	}
	return true
}

// checkEnded stops at the end once every subscribed track has played all of
// itself.
func (p *Player) checkEnded(pos time.Duration) {
	if p.ended {
		return
	}
	end, any := time.Duration(0), false
	for _, s := range p.slots {
		if !s.on || s.err != nil {
			continue
		}
		if !s.opened || s == p.steps.parked {
			return
		}
		v, a := s.video, s.audio
		if v != nil {
			if !v.ended || v.head != nil {
				return
			}
			end = max(end, v.tail)
		}
		if a != nil {
			if !a.ended || len(a.queue) > 0 {
				return
			}
			end = max(end, sampleTime(a.tail))
		}
		any = true
	}
	if !any {
		if p.duration <= 0 {
			return
		}
		end = p.duration
	}
	if p.clock.kind == ClockAudio {
		if len(p.out) > 0 || p.sink.Pending() > 0 || p.mix.cursor < sampleAt(end) {
			return
		}
	} else if pos < end {
		return
	}
	p.ended, p.wantPlay = true, false
	p.endStall()
	p.clock.set(end)
	for _, s := range p.slots {
		if s.pl != nil {
			s.pl.setActive(false)
		}
	}
}

// computeDuration is the end of the latest track known.
func (p *Player) computeDuration() time.Duration {
	var d time.Duration
	for _, s := range p.slots {
		if s.info.Live {
			// What a live file's header says of its length is a guess.
			d = max(d, liveEnd(s.info))
			continue
		}
		d = max(d, s.end, liveEnd(s.info))
	}
	return d
}

// allFailed says every track switched on failed: nothing can play, and
// the clock stands still until one is switched on again.
func (p *Player) allFailed() bool {
	on, failed := 0, 0
	for _, s := range p.slots {
		if s.on {
			on++
			if s.err != nil {
				failed++
			}
		}
	}
	return on > 0 && failed == on
}

func (p *Player) currentState() State {
	switch {
	case p.allFailed():
		return StateError
	case p.opening:
		return StateOpening
	case p.ended:
		return StateEnded
	case !p.wantPlay:
		return StatePaused
	case p.prerolling || p.stalled || p.starting:
		return StateBuffering
	default:
		return StatePlaying
	}
}

func (p *Player) trackState(s *trackSlot, pos time.Duration) State {
	switch {
	case !s.on:
		return StateOff
	case s.err != nil:
		return StateError
	case !s.opened || p.opening:
		return StateOpening
	case p.ended || (!p.prerolling && p.trackEnded(s, pos)):
		return StateEnded
	case !p.wantPlay:
		return StatePaused
	case p.prerolling || p.stalled || p.starting || p.trackJoining(s):
		return StateBuffering
	default:
		return StatePlaying
	}
}

// publish reports what changed since the last step.
func (p *Player) publish() {
	pos := p.clock.position()
	if st := p.currentState(); st != p.state {
		p.state = st
		p.lastState.Store(int64(st))
		p.events.push(Event{Kind: EventState, State: st})
	}
	for _, s := range p.slots {
		st := p.trackState(s, pos)
		if st != s.state || s.err != s.reportedErr {
			s.state, s.reportedErr = st, s.err
			p.events.push(Event{Kind: EventTrack, Track: s.info.Name, State: st, Err: s.err})
		}
	}
	p.publishLive()
	if d := p.computeDuration(); d != p.duration {
		p.duration = d
		p.lastDuration.Store(int64(d))
		p.events.push(Event{Kind: EventDuration, Duration: d})
	}
}
