package sync

import (
	"fmt"
	"time"
)

// playerRequest is a public method's call, handled on the player's
// goroutine.
type playerRequest interface {
	handle(p *Player)
}

// playRequest is Play.
type playRequest struct{}

func (playRequest) handle(p *Player) {
	switch {
	case p.ended:
		p.seekTo(0, p.opts.Now())
	case p.steps.parked != nil:
		// The main picture shows a picture kept for stepping; its
		// pipeline is elsewhere until it seeks to the position.
		p.seekTo(p.clock.position(), p.opts.Now())
	default:
		p.steps.drop()
	}
	p.wantPlay = true
	p.setActive(true)
}

// pauseRequest is Pause.
type pauseRequest struct{}

func (pauseRequest) handle(p *Player) {
	p.wantPlay = false
	p.setActive(false)
}

// setActive tells every reader whether to read ahead.
func (p *Player) setActive(on bool) {
	for _, s := range p.slots {
		if s.pl != nil {
			s.pl.setActive(on)
		}
	}
}

// seekRequest is a Seek, left for the goroutine in Player.nextSeek.
type seekRequest struct {
	// t is the target.
	t time.Duration
	// at is when Seek was called, for the latency.
	at time.Time
	// n is its number.
	n uint64
	// live says it goes to the live edge (GoLive): it catches up with
	// what getting there took, as opening at the edge does.
	live bool
}

// subscribeRequest is Subscribe.
type subscribeRequest struct {
	// track and on are the arguments.
	track string
	on    bool
	// reply carries the result.
	reply chan error
}

func (r subscribeRequest) handle(p *Player) {
	s := p.slot(r.track)
	if s == nil {
		r.reply <- fmt.Errorf("sync: recording %q has no track %q", p.src.Name(), r.track)
		return
	}
	s.unfinished = s.unfinished && r.on
	switch {
	case r.on && s.info.Unfinished:
		r.reply <- fmt.Errorf("sync: %q can be played once its recording stops", r.track)
		return
	case r.on && s.on && s.err == nil:
	case r.on && s.subtitlesOnly:
		// Its cues were all read when it first opened.
		s.on, s.err, s.opened = true, nil, true
	case r.on:
		p.steps.drop()
		p.stopTrack(s)
		s.on, s.err = true, nil
		p.startTrack(s)
	case s.on:
		p.steps.drop()
		p.switchOff(s)
	}
	if r.on && s.subtitlesOnly {
		p.oneSubtitleTrack(s, false)
	}
	p.presentSubtitle(p.clock.position())
	p.selectClock()
	r.reply <- nil
}

// sinkRequest is SetVideoSink.
type sinkRequest struct {
	// track and sink are the arguments.
	track string
	sink  VideoSink
}

func (r sinkRequest) handle(p *Player) {
	s := p.slot(r.track)
	if s == nil {
		return
	}
	s.sink = r.sink
	// A sink attached after the track's picture went up is shown it at
	// once: paused, or held at a seek's frame, nothing else would.
	if v := s.video; v != nil && r.sink != nil && v.shown[0] != nil {
		r.sink.Show(v.shown[0], v.shownAt)
	}
}

// volumeRequest is SetVolume or SetMuted.
type volumeRequest struct {
	// volume and muted are the values; setVolume and setMuted say which is
	// set.
	volume    float64
	muted     bool
	setVolume bool
	setMuted  bool
}

func (r volumeRequest) handle(p *Player) {
	if r.setVolume {
		p.volume = min(max(r.volume, 0), 1)
	}
	if r.setMuted {
		p.muted = r.muted
	}
	p.applyVolume()
}

// snapshot is what Position, Duration and State read.
type snapshot struct {
	// position, duration and state are the values.
	position time.Duration
	duration time.Duration
	state    State
}

// snapshotRequest is Position, Duration or State.
type snapshotRequest struct {
	// reply carries the snapshot.
	reply chan snapshot
}

func (r snapshotRequest) handle(p *Player) {
	r.reply <- snapshot{position: p.clock.position(), duration: p.duration, state: p.currentState()}
}

// tracksRequest is Tracks.
type tracksRequest struct {
	// reply carries the tracks.
	reply chan []Track
}

func (r tracksRequest) handle(p *Player) { r.reply <- p.snapshotTracks() }

// statsRequest is Stats.
type statsRequest struct {
	// reply carries the stats.
	reply chan Stats
}

func (r statsRequest) handle(p *Player) { r.reply <- p.snapshotStats() }
