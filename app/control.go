package app

import (
	"context"
	gosync "sync"
	"sync/atomic"
	"time"

	avsync "reelay/sync"
)

// pollPeriod is how often the controls are refreshed from the engine:
// often enough for a smooth seek bar, rarely enough to cost nothing.
const pollPeriod = 200 * time.Millisecond

// status is a snapshot of the engine for the controls, taken off the UI
// goroutine and handed over by value.
type status struct {
	// seekGen is the number of the newest seek the engine took: a
	// position from before the newest seek asked for is stale.
	seekGen  uint64
	position time.Duration
	duration time.Duration
	state    avsync.State
	tracks   []avsync.Track
	stats    avsync.Stats
	// rtt is the sharer's round-trip time (0 for a local folder) and path
	// how media reaches this machine ("" for a local folder).
	rtt  time.Duration
	path string
	// subscribed is how many Subscribe calls the engine had carried out
	// before this snapshot: which tracks are on is the engine's word only
	// once it has every switch the window asked for.
	subscribed uint64
	// chapters are the recording's chapters.
	chapters []avsync.Chapter
	// live says the recording is being written; liveEdge is its newest
	// whole data on the timeline.
	live     bool
	liveEdge time.Duration
	// atEdge says the engine plays at the live edge.
	atEdge bool
}

// control carries the window's commands to the engine on a goroutine of
// its own, so the UI goroutine never waits for the engine, and reads the
// engine's status for the controls. Seeks and the status go straight to
// the engine, which never makes them wait: its newest seek wins, and its
// status is a published snapshot.
type control struct {
	// p is the engine.
	p Player
	// link reads the sharer's round-trip time and the path to it; nil for
	// a local source.
	link func() (time.Duration, string)
	// onStatus receives each snapshot, on the control goroutine.
	onStatus func(status)
	// onSubscribeError receives a refused Subscribe, on the control
	// goroutine.
	onSubscribeError func(track string, on bool, err error)

	// mu guards ops.
	mu gosync.Mutex
	// ops are the commands other than seeks, in the order asked.
	ops []func()
	// signal wakes the goroutine for new commands.
	signal chan struct{}
	// pollNow asks for a snapshot at once (after a seek or a toggle).
	pollNow chan struct{}
	// subsAsked counts Subscribe calls (UI goroutine); subsDone those
	// the engine carried out (control goroutine).
	subsAsked uint64
	subsDone  atomic.Uint64

	// ctx ends the goroutine; done is closed when it returned.
	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}
}

func newControl(ctx context.Context, p Player) *control {
	ctx, cancel := context.WithCancel(ctx)
	return &control{
		p: p, signal: make(chan struct{}, 1), pollNow: make(chan struct{}, 1),
		ctx: ctx, cancel: cancel, done: make(chan struct{}),
	}
}

func (c *control) start() { go c.run() }

// close stops the goroutine and waits for it; the player is not closed.
func (c *control) close() {
	c.cancel()
	<-c.done
}

func (c *control) push(op func()) {
	c.mu.Lock()
	c.ops = append(c.ops, op)
	c.mu.Unlock()
	notifyChan(c.signal)
}

func (c *control) Play()               { c.push(func() { c.p.Play() }) }
func (c *control) Pause()              { c.push(func() { c.p.Pause() }) }
func (c *control) SetVolume(v float64) { c.push(func() { c.p.SetVolume(v) }) }
func (c *control) SetMuted(m bool)     { c.push(func() { c.p.SetMuted(m) }) }
func (c *control) SetSpeed(r float64)  { c.push(func() { c.p.SetSpeed(r) }) }

// StepFrame steps a picture; the engine pauses.
func (c *control) StepFrame(dir int) {
	c.push(func() { c.p.StepFrame(dir) })
	notifyChan(c.pollNow)
}

// SetVideoSink sets where a track's pictures go.
func (c *control) SetVideoSink(track string, s avsync.VideoSink) {
	c.push(func() { c.p.SetVideoSink(track, s) })
}

// SetSubtitlesShown shows or hides the subtitles.
func (c *control) SetSubtitlesShown(on bool) { c.push(func() { c.p.SetSubtitlesShown(on) }) }

// Subscribe switches a track; it returns the switch's number, which
// status.subscribed reaches once the engine carried it out. UI goroutine.
func (c *control) Subscribe(track string, on bool) uint64 {
	c.subsAsked++
	c.push(func() {
		if err := c.p.Subscribe(track, on); err != nil && c.onSubscribeError != nil {
			c.onSubscribeError(track, on, err)
		}
		c.subsDone.Add(1)
		notifyChan(c.pollNow)
	})
	return c.subsAsked
}

// GoLive asks the engine for the live edge, as Seek does.
func (c *control) GoLive() uint64 {
	n := c.p.GoLive()
	notifyChan(c.pollNow)
	return n
}

// Seek asks the engine for t, replacing any target it has not taken yet,
// and returns the seek's number.
func (c *control) Seek(t time.Duration) uint64 {
	n := c.p.Seek(t)
	notifyChan(c.pollNow)
	return n
}

func (c *control) run() {
	defer close(c.done)
	tick := time.NewTicker(pollPeriod)
	defer tick.Stop()
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-c.signal:
			c.mu.Lock()
			ops := c.ops
			c.ops = nil
			c.mu.Unlock()
			for _, op := range ops {
				op()
			}
		case <-c.pollNow:
			c.poll()
		case <-tick.C:
			c.poll()
		}
	}
}

func (c *control) poll() {
	if c.onStatus == nil || c.ctx.Err() != nil {
		return
	}
	s := status{subscribed: c.subsDone.Load()}
	st := c.p.Status()
	s.seekGen, s.position, s.duration, s.state = st.Seek, st.Position, st.Duration, st.State
	s.tracks, s.stats, s.chapters = st.Tracks, st.Stats, st.Chapters
	s.live, s.liveEdge, s.atEdge = st.Live, st.LiveEdge, st.AtLiveEdge
	if c.link != nil {
		s.rtt, s.path = c.link()
	}
	c.onStatus(s)
}

// notifyChan wakes a goroutine waiting on ch without blocking.
func notifyChan(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}
