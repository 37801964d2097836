package media

import "time"

// audioStepJitter is how late oto's reader may see a step of a device fed
// without a break and still have it placed right after the previous one.
// Within it, a late-scheduled reader costs the clock nothing; beyond it, or
// if the device runs slower than the wall clock, the clock is off by at most
// this much.
const audioStepJitter = 10 * time.Millisecond

// audioClockSlew caps how fast the reported position may run, relative to
// the wall clock, while it catches up with the model after a resume or a late
// observation, so a correction shows as a short speed-up, never a jump.
const audioClockSlew = 1.1

// audioClock turns observations of how much audio the device has taken from
// oto into the position being heard: monotonic, smooth between the device's
// period-sized steps, frozen while paused, and stopping when the audio runs
// out. Times are passed in so tests can drive it without a device.
//
// The model is ebiten's: position = audio taken by the device − what the
// device has not played yet. oto only tells what it still buffers, so the
// device's own buffer is an estimate (latency). A step of audio taken at t
// is heard at t+latency and lasts as long as it plays, so the position ramps
// through each step at wall-clock speed, stamped with the step's time.
type audioClock struct {
	// latency is how long audio the device has taken takes to be heard.
	latency time.Duration

	// taken is the media the device has taken, as of stepAt.
	taken time.Duration
	// prevTaken is taken before the last step; the position ramps from it.
	prevTaken time.Duration
	// stepAt is when the last step was taken: when it was observed, or, if
	// the device was fed without a break, right after the previous step.
	stepAt time.Time
	// fed says the player still held audio for the device at the last
	// observation: the next step then follows the last without a gap.
	fed bool

	// starved is set when nothing was left to give the device while playing:
	// the device then plays out what it holds, which the model (that waits for
	// the next step) would never report, so a stopwatch (drain) does.
	starved bool
	// starvedAt is when starvation was first observed.
	starvedAt time.Time
	// starvedFrom is the position at starvedAt, where the drain starts.
	starvedFrom time.Duration
	// floor is where the last drain got to; the position never goes below it.
	floor time.Duration

	// paused freezes the position.
	paused bool
	// pos is the last position reported; positions never go back.
	pos time.Duration
	// posAt is when pos was reported, for the slew limit.
	posAt time.Time
}

// reset restarts the clock at zero (after a Clear).
func (c *audioClock) reset(now time.Time, paused bool) {
	*c = audioClock{latency: c.latency, stepAt: now, posAt: now, paused: paused}
}

// observe records that the device has taken taken of media in total, seen at
// now; fed says the player still holds audio for the device, starved that
// nothing more was there to give it.
func (c *audioClock) observe(now time.Time, taken time.Duration, fed, starved bool) {
	if taken > c.taken {
		if c.starved {
			c.floor = max(c.floor, c.drain(now))
			c.starved = false
		}
		at := now
		if c.fed {
			// The device takes a step when it has played the last one, so a
			// step seen late happened when the last one ran out.
			late := now.Sub(c.stepAt.Add(c.taken - c.prevTaken))
			at = now.Add(-min(max(late, 0), audioStepJitter))
		}
		c.prevTaken, c.taken, c.stepAt = c.taken, taken, at
	}
	c.fed = fed && !c.paused
	if starved && !c.starved && !c.paused {
		c.starved = true
		c.starvedAt = now
		c.starvedFrom = max(c.model(now), c.floor)
	}
}

// model is the position the device steps alone give at now.
func (c *audioClock) model(now time.Time) time.Duration {
	ramp := min(max(now.Sub(c.stepAt), 0), c.taken-c.prevTaken)
	return c.prevTaken + ramp - c.latency
}

// drain is the position while starved: the device keeps playing what it
// holds at wall-clock speed, up to the end of the audio it took.
func (c *audioClock) drain(now time.Time) time.Duration {
	return min(c.taken, c.starvedFrom+max(now.Sub(c.starvedAt), 0))
}

// position reports the position at now.
func (c *audioClock) position(now time.Time) time.Duration {
	if c.paused {
		return c.pos
	}
	target := max(c.model(now), c.floor)
	if c.starved {
		target = max(target, c.drain(now))
	}
	limit := c.pos + time.Duration(float64(max(now.Sub(c.posAt), 0))*audioClockSlew)
	if target = min(target, limit); target > c.pos {
		c.pos = target
	}
	c.posAt = now
	return c.pos
}

// pause freezes the position where it is at now.
func (c *audioClock) pause(now time.Time) {
	c.position(now)
	if c.starved {
		c.floor = max(c.floor, c.drain(now))
		c.starved = false
	}
	c.paused = true
	c.fed = false
}

// resume lets the position run again from where it froze.
func (c *audioClock) resume(now time.Time) {
	c.paused = false
	c.posAt = now
}
