package sync

import (
	"context"
	"errors"
	"fmt"
	"slices"
	gosync "sync"
	"sync/atomic"
	"time"

	"reelay/media"
	"reelay/net/track"
)

// Timing of the player's goroutine.
const (
	// audioFeedPeriod is how often the device is topped up while audio
	// plays.
	audioFeedPeriod = 10 * time.Millisecond
	// audioLead is how much mixed audio is kept written ahead of what is
	// heard: enough to ride out a busy moment, little enough that a track
	// switched off leaves the mix soon.
	audioLead = 400 * time.Millisecond
	// maxFeedFrames bounds one top-up of the device.
	maxFeedFrames = sampleRate / 10
	// idleWake is the longest the goroutine sleeps with nothing due, so
	// stalls, the end and a failed device are noticed.
	idleWake = 100 * time.Millisecond
)

// Player plays a recording: every subscribed track on one clock, with
// play, pause, accurate seek and per-track subscribe. Its methods are safe
// for concurrent use; they are requests to the player's goroutine, which
// owns the clock, the state, the presentation of video and the audio feed.
type Player struct {
	// src opens the tracks.
	src Source
	// opts are the options with defaults filled in.
	opts Options
	// ctx ends the player; done is closed when every goroutine stopped.
	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}
	// reqs carries the public methods' requests to the goroutine.
	reqs chan playerRequest
	// pipeEvents carries the pipelines' reports.
	pipeEvents chan pipeEvent
	// wakeCh is nudged when a decoder delivered output.
	wakeCh chan struct{}
	// events hands events to Options.OnEvent.
	events *eventQueue
	// clockPos is the position, published for the pipelines' buffer
	// targets and for Position after Close.
	clockPos atomic.Int64
	// lastEdge is the live edge on the timeline, 0 when nothing is live,
	// published for GoLive.
	lastEdge atomic.Int64
	// reliveAfterOutage says the connection was lost while playing at a
	// live edge; goLiveLater that it is back, and playing returns to the
	// edge once the sharer tells where it now is (sourceUpdated).
	reliveAfterOutage, goLiveLater bool
	// settle says a recording opened at its live edge has yet to start
	// playing: then it catches up once with what opening took (settleLive).
	settle bool
	// edgeSeen is when the live edge last moved on; edgeSteps are its
	// latest steps and edgeStep the typical one (recordingNow).
	edgeSeen  time.Time
	edgeSteps []time.Duration
	edgeStep  time.Duration
	// lastState and lastDuration are published for after Close.
	lastState    atomic.Int64
	lastDuration atomic.Int64
	// status is the latest Status, published by the goroutine.
	status atomic.Pointer[Status]
	// seekMu guards nextSeek and seeksAsked: Seek leaves its target there
	// and the goroutine takes the newest, so seeks never queue.
	seekMu     gosync.Mutex
	nextSeek   *seekRequest
	seeksAsked uint64
	// openedAt is when Open was called, for Stats.FirstFrame.
	openedAt time.Time

	// Owned by the goroutine.

	// slots are the recording's tracks, in the source's order.
	slots []*trackSlot
	// retired are pipelines switched off and still stopping.
	retired []*pipeline
	// clock is the master clock.
	clock clock
	// mix sums the audio streams.
	mix mixer
	// sink is the audio device, nil until an audio track opens or when
	// there is none.
	sink AudioSink
	// sinkPaused mirrors the device's pause state.
	sinkPaused bool
	// audioTried says the device was asked for once; it is not retried.
	audioTried bool
	// audioNotice says why there is no audio clock (Stats.AudioNotice),
	// audioErr is the device's error behind it.
	audioNotice string
	audioErr    error
	// audioLatency is how long the device takes from starting to play to
	// the first sample heard, measured (0 until measured).
	audioLatency time.Duration
	// audioStartAt is when the device was started from silence, while the
	// first sample is awaited to measure audioLatency; zero otherwise.
	audioStartAt time.Time
	// out is mixed audio the device has not taken yet; audio is never
	// dropped.
	out []float32
	// speed is the playback speed (SetSpeed), 1 at normal speed; tempo
	// stretches the sound to it (nil at 1); stretched is its output
	// buffer, reused.
	speed     float64
	tempo     *media.Tempo
	stretched []float32
	// history is the mixed audio last written, from timeline sample
	// historyStart on, and replay what is to be written again from
	// replayStart, after the speed changed (speed.go).
	history      []float32
	historyStart int64
	replay       []float32
	replayStart  int64
	// epoch is the seek generation; outputs of older ones are dropped.
	epoch uint64
	// steps are the main picture's pictures kept for frame stepping, and
	// the track parked on one of them (stepcache.go).
	steps stepCache
	// wantPlay is the user's intent: Play or Pause.
	wantPlay bool
	// opening holds until the first frames after Open are ready.
	opening bool
	// prerolling says a seek (or the open) waits for every track's first
	// frame at the position; the clock holds meanwhile.
	prerolling bool
	// seekAt is when the seek being prerolled was requested; seekTimed says
	// it is a seek (not the open) to time.
	seekAt    time.Time
	seekTimed bool
	// stalled says playback waits for a track to refill; stallAt is since
	// when.
	stalled bool
	stallAt time.Time
	// stall describes the stall under way, for Stats.StallLog.
	stall Stall
	// starting says a preroll (the open or a seek) showed its frames and
	// the clock waits for the buffer to hold (readyToPlay), as after a
	// stall: starting on LowWater alone stalled half a second later on a
	// 50 ms, 20 Mbit/s link at half its rate, while the first requests
	// shared the link. It is not a stall, and is not counted.
	starting bool
	// waitingSince is when the clock began waiting for the buffer to
	// start or resume, zero while it runs (degrade.go).
	waitingSince time.Time
	// ended says everything played to its end.
	ended bool
	// state is the state last reported.
	state State
	// duration is the recording's length last reported.
	duration time.Duration
	// volume and muted are the user's settings, applied to the device.
	volume float64
	muted  bool
	// stats are the player's counters.
	stats Stats
	// seeksTaken is the number of the newest seek worked on (Seek's).
	seeksTaken uint64
	// statusAt is when status was last published; statusEpoch and
	// statusState what it showed, to publish at once when they change.
	statusAt    time.Time
	statusEpoch uint64
	statusState State
	// conn is the connection's state last reported (ConnUnknown before the
	// first look, and always for a local recording).
	conn track.ConnState
	// subSink shows subtitles, subText is the text it was last told,
	// subChange when that text changes next (-1: never), and subHidden
	// says subtitles are hidden (subtitles.go).
	subSink   SubtitleSink
	subText   string
	subChange time.Duration
	subHidden bool
}

// Open starts playing src's tracks (paused until Play): it returns at once,
// with the player in StateOpening while the subscribed tracks open in the
// background. Cancelling ctx stops the player as Close does (Close must
// still be called to wait for it).
func Open(ctx context.Context, src Source, o Options) (*Player, error) {
	if src == nil {
		return nil, errors.New("sync: opening player failed: source is nil")
	}
	infos := src.Tracks()
	if len(infos) == 0 {
		return nil, fmt.Errorf("sync: opening player failed: recording %q has no tracks", src.Name())
	}
	o = o.withDefaults()
	want := map[string]bool{}
	for _, name := range o.Subscribe {
		if !slices.ContainsFunc(infos, func(t track.Info) bool { return t.Name == name }) {
			return nil, fmt.Errorf("sync: opening player failed: recording %q has no track %q", src.Name(), name)
		}
		want[name] = true
	}
	ctx, cancel := context.WithCancel(ctx)
	p := &Player{
		src: src, opts: o, ctx: ctx, cancel: cancel, done: make(chan struct{}),
		reqs: make(chan playerRequest), pipeEvents: make(chan pipeEvent, 16), wakeCh: make(chan struct{}, 1),
		events: newEventQueue(o.OnEvent), openedAt: o.Now(),
		clock: newClock(o.Now), opening: true, prerolling: true, volume: 1, speed: 1, state: StateOpening,
		subChange: -1,
	}
	p.lastState.Store(int64(StateOpening))
	p.events.push(Event{Kind: EventState, State: StateOpening})
	if start, live := liveStart(infos, o.LiveDelay); live {
		p.clock.set(start)
		p.clockPos.Store(int64(start))
		p.settle = true
	}
	for _, info := range infos {
		s := &trackSlot{info: info, state: StateOff}
		p.slots = append(p.slots, s)
		if o.Subscribe == nil || want[info.Name] {
			p.switchOn(s)
		}
	}
	go p.run()
	return p, nil
}

// Close stops playback, closes every track's reader and the audio device,
// and returns once every goroutine of the player has stopped.
func (p *Player) Close() error {
	p.cancel()
	<-p.done
	return nil
}

// Name is the recording's display name.
func (p *Player) Name() string { return p.src.Name() }

// Play starts or resumes playback; after the end it plays from the start.
func (p *Player) Play() { p.send(playRequest{}) }

// Pause stops the clock and the sound; the picture stays and the tracks stop
// reading once their buffer target is met.
func (p *Player) Pause() { p.send(pauseRequest{}) }

// Subscribe switches a track on (it opens at the current position and joins
// in sync; a failed track is opened again) or off (its reader is closed and
// its decoding stops; the other tracks play on).
func (p *Player) Subscribe(track string, on bool) error {
	r := subscribeRequest{track: track, on: on, reply: make(chan error, 1)}
	if !p.send(r) {
		return errors.New("sync: player is closed")
	}
	err, ok := await(p, r.reply)
	if !ok {
		return errors.New("sync: player is closed")
	}
	return err
}

// SetVideoSink sets where a track's pictures go; nil stops showing them
// (they are still timed and counted).
func (p *Player) SetVideoSink(track string, s VideoSink) { p.send(sinkRequest{track: track, sink: s}) }

// SetVolume sets the volume from 0 to 1.
func (p *Player) SetVolume(v float64) { p.send(volumeRequest{volume: v, setVolume: true}) }

// SetMuted mutes or unmutes the sound; the clock is unaffected.
func (p *Player) SetMuted(m bool) { p.send(volumeRequest{muted: m, setMuted: true}) }

// Position is the current position on the recording's timeline.
func (p *Player) Position() time.Duration {
	r := snapshotRequest{reply: make(chan snapshot, 1)}
	if p.send(r) {
		if s, ok := await(p, r.reply); ok {
			return s.position
		}
	}
	return time.Duration(p.clockPos.Load())
}

// Duration is the recording's length, known once its tracks opened (0
// before).
func (p *Player) Duration() time.Duration {
	r := snapshotRequest{reply: make(chan snapshot, 1)}
	if p.send(r) {
		if s, ok := await(p, r.reply); ok {
			return s.duration
		}
	}
	return time.Duration(p.lastDuration.Load())
}

// State is the player's state.
func (p *Player) State() State {
	r := snapshotRequest{reply: make(chan snapshot, 1)}
	if p.send(r) {
		if s, ok := await(p, r.reply); ok {
			return s.state
		}
	}
	return State(p.lastState.Load())
}

// Status is a snapshot of the player for a display: it never waits for
// the player's goroutine, which publishes a new one every statusPeriod and
// at once when the state changes or a seek is taken. Its Position may be
// that long behind Position's.
func (p *Player) Status() Status {
	if s := p.status.Load(); s != nil {
		return *s
	}
	return Status{State: StateOpening}
}

// Tracks describes every track of the recording, on or off.
func (p *Player) Tracks() []Track {
	r := tracksRequest{reply: make(chan []Track, 1)}
	if p.send(r) {
		if t, ok := await(p, r.reply); ok {
			return t
		}
	}
	return nil
}

// Stats returns the player's counters.
func (p *Player) Stats() Stats {
	r := statsRequest{reply: make(chan Stats, 1)}
	if p.send(r) {
		if s, ok := await(p, r.reply); ok {
			return s
		}
	}
	return Stats{}
}

func (p *Player) send(r playerRequest) bool {
	select {
	case p.reqs <- r:
		return true
	case <-p.ctx.Done():
		return false
	}
}

func await[T any](p *Player, ch chan T) (T, bool) {
	select {
	case v := <-ch:
		return v, true
	case <-p.ctx.Done():
		var zero T
		return zero, false
	}
}

func (p *Player) wake() { notify(p.wakeCh) }

func (p *Player) run() {
	defer close(p.done)
	defer p.shutdown()
	timer := time.NewTimer(idleWake)
	defer timer.Stop()
	var updates <-chan struct{}
	us, _ := p.src.(updatingSource)
	if us != nil {
		updates = us.Updated()
	}
	for {
		p.takeSeek()
		p.step()
		timer.Reset(p.nextWake())
		select {
		case <-p.ctx.Done():
			return
		case r := <-p.reqs:
			// A seek asked before the request is worked on first, as the
			// caller saw them.
			p.takeSeek()
			r.handle(p)
		case ev := <-p.pipeEvents:
			p.onPipeEvent(ev)
		case <-updates:
			updates = us.Updated()
			p.sourceUpdated()
		case <-p.wakeCh:
		case <-timer.C:
		}
	}
}

// step does everything that is due: take the decoders' output, finish a
// preroll, show due frames, top up the device, and notice stalls and the
// end.
func (p *Player) step() {
	p.pruneRetired()
	p.checkConnection()
	p.checkAudioDevice()
	p.mix.pull()
	p.selectClock()
	pos := p.clock.position()
	for _, s := range p.slots {
		if s.video != nil && s != p.steps.parked {
			p.receiveVideo(s)
		}
	}
	if p.prerolling && p.prerollReady(pos) {
		p.finishPreroll(pos)
	}
	p.shareLink(pos)
	if !p.prerolling {
		for _, s := range p.slots {
			if s.video != nil && s != p.steps.parked {
				p.presentVideo(s, pos)
			}
		}
		p.feedAudio(pos)
		p.checkStall(pos)
		p.settleLive(pos)
		p.checkThinned()
		p.checkEnded(pos)
	}
	p.presentSubtitle(p.clock.position())
	p.updateClock()
	p.measureLatency()
	p.clockPos.Store(int64(p.clock.position()))
	p.publish()
	p.publishStatus()
}

// nextWake is how long the goroutine may sleep: until the next frame is
// due, the next audio top-up, or idleWake.
func (p *Player) nextWake() time.Duration {
	wait := idleWake
	if p.prerolling {
		return wait
	}
	if !p.clock.running {
		// Paused or stalled: the device was filled ahead once, and decoders
		// wake the goroutine when they deliver.
		return wait
	}
	if p.clock.kind == ClockAudio && p.sink != nil {
		wait = min(wait, audioFeedPeriod)
	}
	pos := p.clock.position()
	if p.subChange >= 0 {
		wait = min(wait, max(p.subChange-pos, 0))
	}
	for _, s := range p.slots {
		v := s.video
		switch {
		case v == nil || s == p.steps.parked:
		case v.head != nil:
			wait = min(wait, max(v.head.pts-pos, 0))
		case v.ended && v.tail > pos:
			// The end of the last picture may be the end of everything.
			wait = min(wait, v.tail-pos)
		}
	}
	return wait
}

// updateClock runs the clock (and the device) exactly when playback should
// advance.
func (p *Player) updateClock() {
	run := p.wantPlay && !p.prerolling && !p.stalled && !p.starting && !p.ended && !p.allFailed()
	if run && !p.clock.running && p.sink != nil && p.clock.kind == ClockAudio && p.clock.anchored && p.sink.Played() == 0 {
		p.audioStartAt = p.opts.Now()
	}
	if run {
		p.clock.start()
	} else {
		p.clock.stop()
	}
	if p.sink != nil && p.sinkPaused == run {
		if run {
			p.sink.Resume()
		} else {
			p.sink.Pause()
		}
		p.sinkPaused = !run
	}
}

func (p *Player) shutdown() {
	for _, s := range p.slots {
		p.stopTrack(s)
	}
	for _, pl := range p.retired {
		<-pl.done
	}
	p.retired = nil
	if p.sink != nil {
		p.sink.Close()
		p.sink = nil
	}
	if p.tempo != nil {
		p.tempo.Close()
		p.tempo = nil
	}
	p.events.close()
}
