package media

import (
	"testing"
	"time"
)

// period is the step the fake device takes audio in (about what the
// PulseAudio ALSA plugin chooses for a 100 ms buffer: a third of it).
const period = 32 * time.Millisecond

// firstStep is the first period boundary at or after at.
func firstStep(at time.Duration) time.Duration {
	return (at + period - 1) / period * period
}

// deviceRun drives c as a device would: from `from` to `to`, taking one
// period of audio at each period boundary (until the audio runs out at
// avail), and checks every millisecond that the position is monotonic and
// within tol of want(t).
func deviceRun(t *testing.T, c *audioClock, t0 time.Time, taken *time.Duration, avail time.Duration,
	from, to time.Duration, want func(time.Duration) time.Duration, tol time.Duration,
) {
	t.Helper()
	last := c.position(t0.Add(from))
	for at := from; at <= to; at += time.Millisecond {
		now := t0.Add(at)
		if at%period == 0 {
			*taken = min(*taken+period, avail)
			c.observe(now, *taken, *taken < avail, *taken == avail)
		}
		pos := c.position(now)
		if pos < last {
			t.Fatalf("at %v the position went back from %v to %v", at, last, pos)
		}
		if pos > *taken {
			t.Fatalf("at %v the position %v is past the %v taken", at, pos, *taken)
		}
		if w := want(at); pos < w-tol || pos > w+tol {
			t.Fatalf("at %v the position is %v, want %v ± %v", at, pos, w, tol)
		}
		last = pos
	}
}

func TestAudioClockFollowsTheDeviceLatencyBehind(t *testing.T) {
	t0 := time.Unix(1000, 0)
	c := &audioClock{latency: 100 * time.Millisecond}
	c.reset(t0, false)
	var taken time.Duration
	// Heard = taken − latency: nothing for the first 100 ms, then wall time.
	deviceRun(t, c, t0, &taken, time.Hour, 0, 2*time.Second, func(at time.Duration) time.Duration {
		return max(at-100*time.Millisecond, 0)
	}, time.Millisecond)
}

func TestAudioClockAbsorbsLateObservations(t *testing.T) {
	t0 := time.Unix(1000, 0)
	c := &audioClock{latency: 100 * time.Millisecond}
	c.reset(t0, false)
	var taken time.Duration
	last := time.Duration(0)
	for k := range 60 {
		// Every third step is seen 4 ms late, and one 30 ms late (beyond
		// audioStepJitter): the first cost nothing, the other a little, for
		// a while.
		at := time.Duration(k) * period
		late := time.Duration(0)
		if k%3 == 0 {
			late = 4 * time.Millisecond
		}
		if k == 31 {
			late = 30 * time.Millisecond
		}
		taken += period
		c.observe(t0.Add(at+late), taken, true, false)
		for ms := at + late; ms < at+period; ms += time.Millisecond {
			pos := c.position(t0.Add(ms))
			if pos < last {
				t.Fatalf("at %v the position went back", ms)
			}
			tol := time.Millisecond
			if k >= 31 && k <= 39 {
				// Behind by what the step was late beyond the jitter, made
				// up at audioClockSlew.
				tol = 30*time.Millisecond - audioStepJitter
			}
			if want := max(ms-100*time.Millisecond, 0); pos < want-tol || pos > want+time.Millisecond {
				t.Fatalf("at %v the position is %v, want %v (−%v, +1ms)", ms, pos, want, tol)
			}
			last = pos
		}
	}
}

func TestAudioClockFollowsASlowDevice(t *testing.T) {
	// The device plays 1% slower than the wall clock: the clock follows it,
	// off by at most audioStepJitter, however long it plays.
	t0 := time.Unix(1000, 0)
	c := &audioClock{latency: 100 * time.Millisecond}
	c.reset(t0, false)
	var taken time.Duration
	devicePeriod := period * 101 / 100
	for k := range 2000 {
		at := time.Duration(k) * devicePeriod
		taken += period
		c.observe(t0.Add(at), taken, true, false)
		now := t0.Add(at + devicePeriod/2)
		heard := max(time.Duration(float64(at+devicePeriod/2)/1.01)-100*time.Millisecond, 0)
		if pos := c.position(now); pos < heard-2*time.Millisecond || pos > heard+audioStepJitter+2*time.Millisecond {
			t.Fatalf("after %v the position is %v, want %v (+%v)", at, pos, heard, audioStepJitter)
		}
	}
}

func TestAudioClockPauseFreezesAndResumeGoesOnSmoothly(t *testing.T) {
	t0 := time.Unix(1000, 0)
	c := &audioClock{latency: 100 * time.Millisecond}
	c.reset(t0, false)
	var taken time.Duration
	deviceRun(t, c, t0, &taken, time.Hour, 0, 510*time.Millisecond, func(at time.Duration) time.Duration {
		return max(at-100*time.Millisecond, 0)
	}, time.Millisecond)

	c.pause(t0.Add(510 * time.Millisecond))
	frozen := c.position(t0.Add(510 * time.Millisecond))
	for at := 510 * time.Millisecond; at < 900*time.Millisecond; at += time.Millisecond {
		if pos := c.position(t0.Add(at)); pos != frozen {
			t.Fatalf("at %v, paused, the position moved from %v to %v", at, frozen, pos)
		}
	}

	// The device takes audio again from the first period after 900 ms. The
	// audio it played out while paused is skipped by a short speed-up (at
	// most audioClockSlew), never a jump, and the clock then runs at the
	// device's pace, latency behind what it takes.
	c.resume(t0.Add(900 * time.Millisecond))
	last, lastAt := frozen, 900*time.Millisecond
	resumedTaken := taken
	for at := 900 * time.Millisecond; at <= 2*time.Second; at += time.Millisecond {
		now := t0.Add(at)
		if at%period == 0 {
			taken += period
			c.observe(now, taken, true, false)
		}
		pos := c.position(now)
		if pos < last {
			t.Fatalf("at %v the position went back", at)
		}
		if limit := time.Duration(float64(at-lastAt) * audioClockSlew); pos-last > limit+time.Microsecond {
			t.Fatalf("at %v the position jumped %v in %v", at, pos-last, at-lastAt)
		}
		last, lastAt = pos, at
	}
	// Steady again: the audio taken at the first step after resume is heard
	// 100 ms later.
	want := resumedTaken + (2*time.Second - firstStep(900*time.Millisecond)) - 100*time.Millisecond
	if d := last - want; d < -time.Millisecond || d > time.Millisecond {
		t.Errorf("at 2s the position is %v, want %v", last, want)
	}
}

func TestAudioClockStarvedPlaysOutWhatTheDeviceHolds(t *testing.T) {
	t0 := time.Unix(1000, 0)
	c := &audioClock{latency: 100 * time.Millisecond}
	c.reset(t0, false)
	var taken time.Duration
	const avail = 300 * time.Millisecond
	// Heard = wall − latency until everything written is heard, then it stays.
	deviceRun(t, c, t0, &taken, avail, 0, time.Second, func(at time.Duration) time.Duration {
		return min(max(at-100*time.Millisecond, 0), avail)
	}, time.Millisecond)

	// More audio from 1.2 s: it is heard 100 ms later, and the clock waits
	// for it rather than running ahead of the sound.
	deviceRun(t, c, t0, &taken, time.Hour, 1200*time.Millisecond, 2*time.Second, func(at time.Duration) time.Duration {
		return max(at-firstStep(1200*time.Millisecond)-100*time.Millisecond, 0) + avail
	}, time.Millisecond)
}

func TestAudioClockResetRestartsAtZero(t *testing.T) {
	t0 := time.Unix(1000, 0)
	c := &audioClock{latency: 100 * time.Millisecond}
	c.reset(t0, false)
	var taken time.Duration
	deviceRun(t, c, t0, &taken, time.Hour, 0, time.Second, func(at time.Duration) time.Duration {
		return max(at-100*time.Millisecond, 0)
	}, time.Millisecond)

	c.reset(t0.Add(time.Second), false)
	if pos := c.position(t0.Add(time.Second)); pos != 0 {
		t.Fatalf("position %v after reset", pos)
	}
	if c.latency != 100*time.Millisecond {
		t.Fatalf("reset lost the latency")
	}
	taken = 0
	deviceRun(t, c, t0.Add(time.Second), &taken, time.Hour, 0, time.Second, func(at time.Duration) time.Duration {
		return max(at-100*time.Millisecond, 0)
	}, time.Millisecond)
}
