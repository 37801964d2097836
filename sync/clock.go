package sync

import "time"

// ClockKind says what drives the player's position.
type ClockKind int

const (
	// ClockUnknown is the zero value; the engine never reports it.
	ClockUnknown ClockKind = iota
	// ClockWall is a monotonic wall clock: no audio track is on, or there
	// is no audio device.
	ClockWall
	// ClockAudio is the audio device: the position is what has been heard.
	ClockAudio
)

func (k ClockKind) String() string {
	switch k {
	case ClockWall:
		return "wall"
	case ClockAudio:
		return "audio"
	default:
		return "unknown"
	}
}

// clock is the one position every track is scheduled against. It is owned
// by the player's goroutine.
//
// On the wall clock the position runs with Now while running. On the audio
// clock it is the timeline time of the first sample written since the last
// Clear plus what the device has played since: so it stops by itself when
// the device is paused or starved, and what is shown matches what is heard.
// At a speed other than 1 both run rate times as fast: the audio written is
// stretched by that much (media.Tempo), each sample heard standing for rate
// samples of the timeline.
type clock struct {
	// now reads the wall clock.
	now func() time.Time
	// kind is the master in use.
	kind ClockKind
	// rate is the playback speed, 1 at normal speed.
	rate float64
	// running says the wall clock advances; the audio clock advances when
	// its sink plays, which the player keeps in step.
	running bool
	// base is the position when the wall clock was last set, stopped or
	// rebased, and the audio clock's position before its first sample.
	base time.Duration
	// since is when base was taken, for a running wall clock.
	since time.Time
	// sink is the device of the audio clock.
	sink AudioSink
	// anchor is the timeline time of the first sample written since the
	// last Clear; anchored says one was written.
	anchor   time.Duration
	anchored bool
	// handoff says the audio clock took over from a running wall clock and
	// the wall clock goes on until the device is heard, so the picture does
	// not freeze for the device's latency.
	handoff bool
	// last is the latest position returned on the audio clock: the device
	// clock may step back a little when interpolation overshoots, the
	// position never does.
	last time.Duration
}

func newClock(now func() time.Time) clock {
	return clock{now: now, kind: ClockWall, rate: 1, since: now()}
}

// position is the current timeline position.
func (c *clock) position() time.Duration {
	if c.kind != ClockAudio || c.sink == nil {
		return c.wall()
	}
	if !c.anchored {
		if c.handoff {
			c.last = c.wall()
			return c.last
		}
		return c.base
	}
	played := c.sink.Played()
	if c.handoff {
		if played <= 0 {
			c.last = max(c.last, c.wall())
			return c.last
		}
		c.handoff = false
	}
	p := c.anchor + c.scale(played)
	if p < c.last {
		return c.last
	}
	c.last = p
	return p
}

func (c *clock) wall() time.Duration {
	if !c.running {
		return c.base
	}
	return c.base + c.scale(c.now().Sub(c.since))
}

// scale turns time passed into timeline time at the clock's rate.
func (c *clock) scale(d time.Duration) time.Duration {
	if c.rate == 1 {
		return d
	}
	return time.Duration(float64(d) * c.rate)
}

// setRate changes the speed from the current position on. The audio
// clock then waits for its first sample again, as after a Clear, the wall
// clock going on meanwhile while running (so the picture never freezes).
func (c *clock) setRate(r float64) {
	pos := c.position()
	c.base, c.since, c.rate = pos, c.now(), r
	if c.kind == ClockAudio {
		c.anchored, c.handoff, c.last = false, c.running, pos
	}
}

// set moves the clock to t, stopped (a seek); the audio clock waits for its
// first sample again.
func (c *clock) set(t time.Duration) {
	c.base, c.since, c.running = t, c.now(), false
	c.anchored, c.handoff, c.last = false, false, t
}

// start lets the wall clock run; the audio clock runs with its sink.
func (c *clock) start() {
	if c.running {
		return
	}
	c.base = c.position()
	c.since, c.running = c.now(), true
}

// stop freezes the wall clock where it is.
func (c *clock) stop() {
	if !c.running {
		return
	}
	c.base = c.position()
	c.since, c.running = c.now(), false
}

// setAnchor records the timeline time of the first sample written since the
// last Clear.
func (c *clock) setAnchor(t time.Duration) {
	c.anchor, c.anchored = t, true
}

// useAudio makes sink the master; the sink must have been cleared. When the
// wall clock is running, it goes on until the device is heard.
func (c *clock) useAudio(sink AudioSink) {
	pos := c.position()
	c.base, c.since = pos, c.now()
	c.kind, c.sink = ClockAudio, sink
	c.anchored, c.handoff, c.last = false, c.running, pos
}

// useWall makes the wall clock the master from the current position on.
func (c *clock) useWall() {
	pos := c.position()
	c.base, c.since = pos, c.now()
	c.kind, c.sink = ClockWall, nil
	c.anchored, c.handoff, c.last = false, false, pos
}
