package sync

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"reelay/net/track"
)

// Live recordings. A track whose file is still being written is live: the
// source says so (track.Info.Live), the sharer indexes the file as it
// grows (track.Info.First and End: the container's times of its first
// join point and of its newest whole data), and its reader says where a
// demuxer can begin reading to reach a time (joiner). The player:
//   - opens a recording with a live track LiveDelay behind the live edge,
//     the newest whole data of its live tracks on the timeline;
//   - places such a track by reopening its demuxer at the join point
//     before a target, for a seek as at the open, and decodes on to the
//     target; its reads at the live edge wait for the file to grow;
//   - takes in the source's updates (updatingSource): a live track's span
//     grows the duration, a finished one plays to its end, and a track
//     that appears joins the recording (switched on if every track is).
//
// GoLive returns to the edge; Status.Live and Status.LiveEdge tell a
// display where it is.

// Probing limits for a live track: probing reads ahead of the first
// packet, and at the live edge that is not written yet. FFmpeg's MPEG-TS
// demuxer reads the whole probe size as it opens: 256 KiB waited 3.3 s
// for a 300 kbit/s recording to be written; 32 KiB is FFmpeg's least.
const (
	liveProbeSize       = 32 << 10
	liveAnalyzeDuration = 500 * time.Millisecond
)

// joiner is a TrackReader of a track its sharer indexes: JoinPoint says
// where a demuxer begins reading to reach the container's time t (the
// join point at or before it).
type joiner interface {
	JoinPoint(t time.Duration) (track.JoinPoint, error)
}

// updatingSource is a Source whose tracks change while it plays (a live
// recording): Updated returns a channel closed at the next change, and
// Tracks then lists them anew.
type updatingSource interface {
	Updated() <-chan struct{}
}

// errNoJoin is a join point asked of a reader that has none.
var errNoJoin = errors.New("the track's reader has no join points")

// joinable says the pipeline places its demuxer by join points: its
// sharer indexes the file, and its reader asks for them.
func (pl *pipeline) joinable() bool {
	if pl.info.End <= 0 {
		return false
	}
	_, ok := pl.trackReader().(joiner)
	return ok
}

// trackReader is the reader the source gave, nil before it is opened.
func (pl *pipeline) trackReader() TrackReader {
	pl.readerMu.Lock()
	defer pl.readerMu.Unlock()
	if pl.reader == nil {
		return nil
	}
	return pl.reader.r
}

// joinPoint is the join point before timeline position t.
func (pl *pipeline) joinPoint(t time.Duration) (track.JoinPoint, error) {
	j, ok := pl.trackReader().(joiner)
	if !ok {
		return track.JoinPoint{}, errNoJoin
	}
	return j.JoinPoint(t - pl.info.Start + pl.info.First)
}

// prefetchJoin asks at once for what a demuxer opened at jp reads first:
// the file's header, and the file from the point to what is written so
// far (at most maxPrefetch), in two requests rather than one per read of
// the demuxer's, each a round trip after the last.
func (pl *pipeline) prefetchJoin(jp track.JoinPoint) {
	pf, ok := pl.prefetcher()
	if !ok {
		return
	}
	if jp.Header > 0 {
		pf.Prefetch(0, jp.Header)
	}
	pl.readerMu.Lock()
	size := pl.reader.Size()
	pl.readerMu.Unlock()
	if n := min(size-jp.Offset, maxPrefetch); n > 0 {
		pf.Prefetch(jp.Offset, n)
	}
}

// liveEnd is where the indexed span of a track ends on the timeline, 0
// for a track not indexed.
func liveEnd(info track.Info) time.Duration {
	if info.End <= 0 {
		return 0
	}
	return info.Start + max(info.End-info.First, 0)
}

// liveEdge is the newest whole data of the live tracks switched on, on
// the timeline; ok is false when none is live.
func (p *Player) liveEdge() (edge time.Duration, ok bool) {
	for _, s := range p.slots {
		if s.on && s.info.Live && s.info.End > 0 {
			edge, ok = max(edge, liveEnd(s.info)), true
		}
	}
	return edge, ok
}

// liveStart is where playing a live recording starts: LiveDelay behind
// its edge.
func liveStart(infos []track.Info, delay time.Duration) (time.Duration, bool) {
	var edge time.Duration
	live := false
	for _, info := range infos {
		if info.Live && info.End > 0 {
			edge, live = max(edge, liveEnd(info)), true
		}
	}
	return max(edge-delay, 0), live
}

// GoLive seeks to LiveDelay behind the live edge (behind where the
// recording is now, recordingNow), as Seek does; it returns 0 and does
// nothing when no track is live.
func (p *Player) GoLive() uint64 {
	edge := time.Duration(p.lastEdge.Load())
	if edge <= 0 {
		return 0
	}
	// The target is placed when the seek is taken (liveTarget).
	return p.seek(max(edge-p.opts.LiveDelay, 0), true)
}

// liveTarget is where GoLive and catching up go: LiveDelay behind where
// the recording is now, with at least liveMinAhead written past it.
func (p *Player) liveTarget(fallback time.Duration) time.Duration {
	now, ok := p.recordingNow()
	if !ok {
		return fallback
	}
	return max(now-p.liveDelay(), 0)
}

// liveDelay is how far behind where the recording is now playing keeps:
// LiveDelay, and more for a recording whose edge moves in large steps.
// Just before its next step what is written ahead is the delay less the
// step, and the step itself takes a moment to reach the viewer (the
// sharer's look, the round trip, the fetch): a fragmented MP4 of 1 s
// fragments across a 50 ms link, played 1.5 s behind, stalled now and
// then on a loaded machine with 0.5 s left ahead.
func (p *Player) liveDelay() time.Duration {
	return max(p.opts.LiveDelay, p.edgeStep+liveStepMargin)
}

// liveStepMargin is what playing keeps written ahead of it just before the
// edge's next step.
const liveStepMargin = 800 * time.Millisecond

// sourceUpdated takes in the source's tracks as they now are.
func (p *Player) sourceUpdated() {
	for _, info := range p.src.Tracks() {
		s := p.slot(info.Name)
		if s == nil {
			s = &trackSlot{info: info, state: StateOff}
			p.slots = append(p.slots, s)
			if p.opts.Subscribe == nil {
				p.switchOn(s)
			}
			continue
		}
		if info.Cut && !s.info.Cut {
			p.events.push(Event{Kind: EventNotice, Track: info.Name, Notice: fmt.Sprintf(
				"“%s” ends with a piece its recorder did not finish: it plays to the last whole one", info.Name)})
		}
		s.info.Size, s.info.Live, s.info.End, s.info.Unfinished, s.info.Cut = info.Size, info.Live, info.End, info.Unfinished, info.Cut
		if s.info.First == 0 {
			s.info.First = info.First
		}
		if s.unfinished && !info.Unfinished {
			s.unfinished = false
			p.switchOn(s)
			p.events.push(Event{Kind: EventNotice, Track: info.Name, Notice: fmt.Sprintf("“%s” was finished and plays now", info.Name)})
		}
	}
	if edge, ok := p.liveEdge(); ok && p.goLiveLater {
		p.goLiveLater = false
		p.Seek(p.liveTarget(edge))
	}
	p.rankTracks()
}

// switchOn switches a track on as it opens or appears, unless its file
// can be played only once finished: that one waits, off, and says so.
func (p *Player) switchOn(s *trackSlot) {
	if s.info.Unfinished {
		s.unfinished = true
		p.events.push(Event{Kind: EventNotice, Track: s.info.Name, Notice: fmt.Sprintf(
			"“%s” is an MP4 still being recorded: it can be played once the recording stops, and will start by itself then", s.info.Name)})
		return
	}
	s.on = true
	p.startTrack(s)
}

// settleSlack is how far past LiveDelay a recording opened at its live
// edge may start playing before it catches up once.
const settleSlack = 300 * time.Millisecond

// settleLive catches up, once, with what opening a live recording (or
// going to its edge) took: the edge moved on while the first pictures
// were fetched and decoded (half a second and more across a home link),
// so playing would start that much further behind than LiveDelay, for
// good. What the catching up needs was fetched with the first pictures
// and since: it costs a decode.
func (p *Player) settleLive(pos time.Duration) {
	if !p.settle || p.starting || p.stalled || !p.clock.running {
		return
	}
	p.settle = false
	if now, ok := p.recordingNow(); ok && now-pos > p.liveDelay()+settleSlack {
		p.Seek(p.liveTarget(pos))
	}
}

// publishLive publishes the live edge for GoLive and Status.
func (p *Player) publishLive() {
	edge, ok := p.liveEdge()
	if !ok {
		edge = 0
	}
	if prev := time.Duration(p.lastEdge.Load()); edge > prev {
		if prev > 0 {
			p.edgeSteps = append(p.edgeSteps, edge-prev)
			if len(p.edgeSteps) > edgeStepsKept {
				p.edgeSteps = p.edgeSteps[1:]
			}
			// The median: a step that spans an outage or a late word
			// from the sharer is not how the recorder writes.
			steps := slices.Sorted(slices.Values(p.edgeSteps))
			p.edgeStep = steps[len(steps)/2]
		}
		p.edgeSeen = p.opts.Now()
	}
	p.lastEdge.Store(int64(edge))
}

// edgeStepsKept is how many of the edge's latest steps its typical step
// is taken from.
const edgeStepsKept = 5

// recordingNow is where the recorder is now on the timeline, as near as
// the live edge tells: the edge moves in steps (a fragmented MP4's by a
// whole fragment, as its recorder writes it), and between two steps the
// recording goes on. It is the edge plus the time since it last moved, at
// most its last step. Playing the live delay behind it keeps the same
// distance from the recording whatever the phase of the steps, and has at
// least the delay less a step written ahead.
func (p *Player) recordingNow() (time.Duration, bool) {
	edge, ok := p.liveEdge()
	if !ok {
		return 0, false
	}
	return edge + min(p.opts.Now().Sub(p.edgeSeen), p.edgeStep), true
}

// liveLowWater is the stall mark near the live edge. There the buffer is
// what the recorder has written, not what the network kept up with: it
// lies LiveDelay ahead, less the recorder's own interleaving of sound and
// picture (FFmpeg's MPEG-TS muxer holds up to 0.7 s) and the sharer's
// look at the file, and dips as low as 0.5 s on a steady recording.
const liveLowWater = 200 * time.Millisecond

// liveResumeLevel is what every track needs ahead for playing to start
// or resume at the live edge.
const liveResumeLevel = 500 * time.Millisecond

// lowWater is the stall mark at pos: LowWater, or liveLowWater at the
// live edge.
func (p *Player) lowWater(pos time.Duration) time.Duration {
	if p.atLiveEdge(pos) {
		return min(p.opts.LowWater, liveLowWater)
	}
	return p.opts.LowWater
}

// atLiveEdge says pos is within the live delay and a second of the live
// edge.
func (p *Player) atLiveEdge(pos time.Duration) bool {
	edge, ok := p.liveEdge()
	return ok && edge-pos < p.liveDelay()+time.Second
}
