package app

import (
	"context"
	gosync "sync"
	"time"

	avsync "reelay/sync"
)

// pollPeriod is how often the controls are refreshed from the engine:
// often enough for a smooth seek bar, rarely enough to cost nothing.
const pollPeriod = 200 * time.Millisecond

// status is a snapshot of the engine for the controls, taken off the UI
// goroutine and handed over by value.
type status struct {
	// seekGen counts the seeks sent to the engine before the snapshot: a
	// position taken before the newest seek was sent is stale.
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
}

// control carries the window's commands to the engine on a goroutine of
// its own, so the UI goroutine never waits for the engine, and polls the
// engine for what the controls show.
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

	// mu guards ops, seek, seekSet and seekGen.
	mu gosync.Mutex
	// ops are the commands other than seeks, in the order asked.
	ops []func()
	// seek is the newest target not yet sent: older ones are dropped,
	// which is how dragging the seek bar coalesces before the engine.
	seek    time.Duration
	seekSet bool
	// seekGen numbers the seeks asked for.
	seekGen uint64
	// signal wakes the goroutine for new commands.
	signal chan struct{}
	// pollNow asks for a snapshot at once (after a seek or a toggle).
	pollNow chan struct{}

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

func (c *control) Subscribe(track string, on bool) {
	c.push(func() {
		if err := c.p.Subscribe(track, on); err != nil && c.onSubscribeError != nil {
			c.onSubscribeError(track, on, err)
		}
		notifyChan(c.pollNow)
	})
}

// Seek asks for t, replacing any target not sent yet, and returns the
// seek's number.
func (c *control) Seek(t time.Duration) uint64 {
	c.mu.Lock()
	c.seek, c.seekSet = t, true
	c.seekGen++
	gen := c.seekGen
	c.mu.Unlock()
	notifyChan(c.signal)
	return gen
}

func (c *control) run() {
	defer close(c.done)
	tick := time.NewTicker(pollPeriod)
	defer tick.Stop()
	var sent uint64
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-c.signal:
			c.mu.Lock()
			ops := c.ops
			c.ops = nil
			seek, seekSet, gen := c.seek, c.seekSet, c.seekGen
			c.seekSet = false
			c.mu.Unlock()
			for _, op := range ops {
				op()
			}
			if seekSet {
				c.p.Seek(seek)
				sent = gen
				c.poll(sent)
			}
		case <-c.pollNow:
			c.poll(sent)
		case <-tick.C:
			c.poll(sent)
		}
	}
}

func (c *control) poll(seekGen uint64) {
	if c.onStatus == nil || c.ctx.Err() != nil {
		return
	}
	s := status{
		seekGen:  seekGen,
		position: c.p.Position(),
		duration: c.p.Duration(),
		state:    c.p.State(),
		tracks:   c.p.Tracks(),
		stats:    c.p.Stats(),
	}
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
