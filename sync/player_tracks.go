package sync

import (
	"slices"
	"time"

	"reelay/media"
	"reelay/net/track"
)

// trackSlot is the player's side of one track of the recording.
type trackSlot struct {
	// info is the source's description.
	info track.Info
	// on says the user subscribed it.
	on bool
	// pl plays it; nil when off or failed.
	pl *pipeline
	// opened says pl has been probed and its outputs are below.
	opened bool
	// streams and end describe it once opened (kept when switched off).
	streams []media.StreamInfo
	end     time.Duration
	// err is why it failed.
	err error
	// video is the picture playout, nil without video or when off.
	video *videoPlayout
	// audio is the track's input to the mix, nil without audio or when off.
	audio *mixInput
	// sink shows its pictures; kept across switching off and on.
	sink VideoSink
	// state and reportedErr are what was last reported.
	state       State
	reportedErr error
	// stats are counters accumulated over the pipelines it has had.
	stats TrackStats
	// thin is its degrading to keyframes (degrade.go).
	thin thinState
	// secondary says it is a picture beside the main one, without sound
	// (a camera beside a screen share): ranked last at the sharer
	// (rankTracks), and waited for only when nearly out (stallMark).
	secondary bool
	// cues are its subtitles, nil without; subtitlesOnly says they are
	// all it holds, all read, with no pipeline left (subtitles.go).
	// Both are kept when switched off.
	cues          *cueList
	subtitlesOnly bool
	// chapters are its file's chapters on the timeline.
	chapters []Chapter
	// unfinished says it waits, off, for its recorder to finish the file
	// (track.Info.Unfinished), to be switched on by itself then.
	unfinished bool
}

// pruneRetired forgets pipelines that have finished stopping.
func (p *Player) pruneRetired() {
	p.retired = slices.DeleteFunc(p.retired, func(pl *pipeline) bool {
		select {
		case <-pl.done:
			return true
		default:
			return false
		}
	})
}

func (p *Player) slot(name string) *trackSlot {
	for _, s := range p.slots {
		if s.info.Name == name {
			return s
		}
	}
	return nil
}

// startTrack opens a pipeline for s at the current position.
func (p *Player) startTrack(s *trackSlot) {
	pos := p.clock.position()
	s.pl = newPipeline(p.ctx, s.info, p.src, &p.opts, &p.clockPos, p.pipeEvents, p.wake,
		seekTarget{t: pos, epoch: p.epoch}, p.wantPlay)
	s.pl.setSpeed(p.speed)
	if !p.opening {
		// A track switched on later reads ahead once it delivered.
		s.pl.allowReadahead()
	}
	s.opened = false
}

// stopTrack closes s's pipeline without waiting for it, so the other tracks
// play on; the reader is closed at once.
func (p *Player) stopTrack(s *trackSlot) {
	p.retirePipeline(s)
	p.resetThin(s)
	if p.steps.slot == s || p.steps.joinSlot == s {
		p.steps.drop()
	}
	if p.steps.parked == s {
		p.steps.parked = nil
	}
	if s.audio != nil {
		s.stats.SamplesMixed += s.audio.mixed
		p.mix.remove(s.audio)
		s.audio = nil
	}
	s.video = nil
	s.opened = false
}

// retirePipeline lets s's pipeline go, keeping its counters.
func (p *Player) retirePipeline(s *trackSlot) {
	if s.pl == nil {
		return
	}
	de, sk := s.pl.decodeErrors.Load(), s.pl.seeks.Load()
	_, n := s.pl.readerStats()
	s.stats.DecodeErrors += de
	s.stats.Seeks += sk
	s.stats.FramesDecoded += s.pl.framesDecoded.Load()
	s.stats.BytesRead += n
	s.pl.close()
	p.retired = append(p.retired, s.pl)
	s.pl = nil
}

// switchOff unsubscribes s.
func (p *Player) switchOff(s *trackSlot) {
	p.stopTrack(s)
	s.on, s.err = false, nil
}

func (p *Player) onPipeEvent(ev pipeEvent) {
	var s *trackSlot
	for _, x := range p.slots {
		if x.pl == ev.pl {
			s = x
		}
	}
	if s == nil || ev.pl == nil {
		return // from a pipeline already let go
	}
	switch ev.kind {
	case pipeOpened:
		o := ev.opened
		s.opened, s.streams, s.end = true, o.streams, o.end
		s.cues, s.chapters = o.cues, o.chapters
		if o.subtitlesOnly {
			// Read whole: the pipeline has nothing more to do.
			s.subtitlesOnly = true
			p.retirePipeline(s)
			p.oneSubtitleTrack(s, true)
			break
		}
		joining := !p.prerolling
		if o.video != nil {
			s.video = &videoPlayout{videoOutput: *o.video, joining: joining, shownAt: -1}
		}
		s.thin.able = o.thinnable
		if o.audio != nil {
			s.audio = &mixInput{track: s.info.Name, blocks: o.audio, joining: joining}
			p.mix.add(s.audio)
			p.openAudio()
		}
	case pipeFailed:
		p.steps.drop()
		p.stopTrack(s)
		s.err = ev.err
	case pipeNotice:
		p.events.push(Event{Kind: EventNotice, Track: s.info.Name, Err: ev.err, Notice: ev.err.Error()})
	}
	p.selectClock()
	p.rankTracks()
}

// rankTracks orders the tracks' requests at the sharer: the sound first
// (a gap is heard), then the main picture (the largest), then the other
// pictures. A track not yet opened keeps its reader's default, between;
// the main picture is chosen once every running track has opened, so a
// camera that opens first is not put before a screen still opening.
func (p *Player) rankTracks() {
	var main *trackSlot
	area := 0
	allOpened := true
	for _, s := range p.slots {
		if s.pl == nil || !s.opened {
			allOpened = allOpened && s.pl == nil
			continue
		}
		if a := pictureArea(s); a > area {
			main, area = s, a
		}
	}
	for _, s := range p.slots {
		if s.pl == nil || !s.opened {
			continue
		}
		t := Track{Streams: s.streams}
		s.secondary = false
		switch {
		case !t.HasVideo():
			s.pl.setRank(0)
		case !allOpened:
			// Between, with the tracks still opening.
		case s == main:
			s.pl.setRank(1)
		default:
			s.pl.setRank(2)
			s.secondary = !t.HasAudio()
		}
	}
}

func (p *Player) snapshotTracks() []Track {
	pos := p.clock.position()
	out := make([]Track, 0, len(p.slots))
	for _, s := range p.slots {
		t := Track{
			Name: s.info.Name, Start: s.info.Start, Size: s.info.Size, On: s.on,
			State: s.state, Err: s.err, Streams: slices.Clone(s.streams), End: s.end, Stats: s.stats,
			Thinned: s.thin.on,
		}
		t.Stats.ThinnedTime = p.thinnedTime(s)
		if s.audio != nil {
			t.Stats.SamplesMixed += s.audio.mixed
		}
		if s.subtitlesOnly && s.on && s.opened {
			// Read whole when it opened: it holds the whole timeline.
			t.Stats.BufferedAhead = max(p.duration-pos, 0)
			t.Buffered = []TimeRange{{0, p.duration}}
		}
		if pl := s.pl; pl != nil {
			t.Stats.DecodeErrors += pl.decodeErrors.Load()
			t.Stats.Seeks += pl.seeks.Load()
			t.Stats.FramesDecoded += pl.framesDecoded.Load()
			rs, n := pl.readerStats()
			t.Stats.BytesRead += n
			t.Stats.Reader = rs
			if l := pl.bufferLevel(); l.epoch == p.epoch {
				if l.eof {
					t.Stats.BufferedAhead = max(s.end-pos, 0)
				} else {
					t.Stats.BufferedAhead = max(l.until-pos, 0)
				}
			}
			if s.opened {
				t.Buffered = p.buffered(s, pl, pos, t.Stats.BufferedAhead)
			}
		}
		out = append(out, t)
	}
	return out
}

// buffered is what of an opened track's timeline plays without waiting for
// the network (see Track.Buffered).
func (p *Player) buffered(s *trackSlot, pl *pipeline, pos, ahead time.Duration) []TimeRange {
	whole := []TimeRange{{s.info.Start, s.end}}
	cached, ok := pl.cachedRanges()
	if !ok {
		return whole
	}
	demuxed := []TimeRange{{pos, pos + ahead}}
	return IntersectRanges(UnionRanges(demuxed, byteRangesToTime(cached, s.info.Size, s.info.Start, s.end)), whole)
}
