package sync

import (
	"slices"
	"time"

	"reelay/media"
	"reelay/net/track"
)

// When the link cannot carry every track, the player degrades instead of
// freezing: a picture that would stop the clock is thinned to its
// keyframes (thin.go), and so is every less important picture (the
// smaller ones: the camera before the screen), so the clock runs on and
// the sound does not gap. A thinned track holds its last picture, marked
// behind (Track.Thinned), and tries to play whole again by itself after
// a while, when the measured bandwidth says the link carries everything;
// a track that stalls again soon after waits twice as long before the
// next try.

// Timing of degrading.
const (
	// firstRetry is how long a thinned track waits before trying to play
	// whole again; each relapse doubles it, up to maxRetry.
	firstRetry = 10 * time.Second
	maxRetry   = 80 * time.Second
	// relapseWindow is how soon after playing whole again a stall counts
	// as a relapse.
	relapseWindow = 15 * time.Second
	// waitToThin is how long the clock waits for the buffer, to start or
	// after a stall, before a link measured too slow thins a picture: one
	// that delivers less than 1 - thinShortfall of what the tracks play.
	// A QUIC connection recovering from a loss carries less for a moment;
	// a link that cannot carry the recording stays short.
	waitToThin    = time.Second
	thinShortfall = 0.35
	// recoverHeadroom is how much more than the tracks' media rate the
	// link must be measured to carry before a thinned track plays whole.
	recoverHeadroom = 1.25
)

// thinState is a track's degrading, kept by the player's goroutine.
type thinState struct {
	// able says the track can be thinned (its pipeline said so on open).
	able bool
	// on says the track is asked to show keyframes only, since since.
	on    bool
	since time.Time
	// retry is the wait before the next try to play whole; retryAt is when.
	retry   time.Duration
	retryAt time.Time
	// wholeAt is when it last played whole again after being thinned.
	wholeAt time.Time
	// lanes is how many connections to the sharer there were when it was
	// thinned: the network spreads its requests over more on a lossy link,
	// and what was measured before says nothing of them.
	lanes int
}

// pictureArea is the size of a track's largest picture, 0 without one:
// the smaller a picture, the sooner it is thinned.
func pictureArea(s *trackSlot) int {
	area := 0
	for _, st := range s.streams {
		if st.Kind == media.KindVideo {
			area = max(area, st.Width*st.Height)
		}
	}
	return area
}

// degrade is called when low would stop the clock while playing. When the
// link is measured too slow for the tracks (thinShortfall), it thins low,
// when it can be, and every picture no more important, or else the least
// important picture still whole, to free the link for low. It says
// whether the clock may run on: low no longer holds it. A stall the link
// is not to blame for (a busy machine) is left a stall, and so is one with
// no link at all: a lost connection is waited out, not degraded through.
func (p *Player) degrade(low *trackSlot) bool {
	if !p.linkUp() || p.shortfall(1) < thinShortfall {
		return false
	}
	now := p.opts.Now()
	thinnable := func(s *trackSlot) bool {
		return s.on && s.err == nil && s.opened && s.pl != nil && s.thin.able && !s.thin.on
	}
	if thinnable(low) {
		area := pictureArea(low)
		for _, s := range p.slots {
			if thinnable(s) && pictureArea(s) <= area {
				p.thin(s, now)
			}
		}
		return low.audio == nil
	}
	var least *trackSlot
	for _, s := range p.slots {
		if thinnable(s) && (least == nil || pictureArea(s) < pictureArea(least)) {
			least = s
		}
	}
	if least != nil {
		p.thin(least, now)
	}
	return false
}

// degradeWaiting thins a picture when the clock has waited waitToThin
// for the buffer and the link is measured to deliver less than
// 1 - thinShortfall of what the tracks play: the buffer would not fill in
// time. The track furthest behind decides which, as a stall's would.
func (p *Player) degradeWaiting(pos time.Duration, refilled bool) {
	if !(p.starting || p.stalled) || refilled {
		p.waitingSince = time.Time{}
		return
	}
	now := p.opts.Now()
	if p.waitingSince.IsZero() {
		p.waitingSince = now
		return
	}
	if now.Sub(p.waitingSince) < waitToThin {
		return
	}
	var low *trackSlot
	least := time.Duration(0)
	p.buffering(pos, func(s *trackSlot, ahead time.Duration) {
		if low == nil || ahead < least {
			low, least = s, ahead
		}
	})
	if low != nil {
		p.degrade(low)
	}
	p.waitingSince = now
}

// linkUp says the link is there to be blamed for a stall: the connection
// is up (or there is none to lose), and it carries something. One that
// carried nothing for 2 s while asked (every reader with requests in flight
// received 0 bytes over the last 2 s) is gone, however the connection is
// reported yet: a sharer that vanished without closing is only noticed
// when a request times out. Thinning then would only add requests.
func (p *Player) linkUp() bool {
	switch p.connection().State {
	case track.ConnConnected, track.ConnUnknown:
	default:
		return false
	}
	asked, carried := false, false
	for _, s := range p.slots {
		if s.pl == nil || !s.on {
			continue
		}
		if st, _ := s.pl.readerStats(); st != nil && st.InFlight > 0 {
			asked = true
			carried = carried || st.Throughput > 0
		}
	}
	return !asked || carried
}

// thin asks s's pipeline for keyframes only.
func (p *Player) thin(s *trackSlot, now time.Time) {
	t := &s.thin
	switch {
	case t.retry == 0:
		t.retry = firstRetry
	case !t.wholeAt.IsZero() && now.Sub(t.wholeAt) < relapseWindow:
		t.retry = min(2*t.retry, maxRetry)
	}
	t.on, t.since, t.retryAt = true, now, now.Add(t.retry)
	t.lanes = p.connection().Lanes
	s.pl.setThin(true)
}

// unthin lets s's pipeline play whole again.
func (p *Player) unthin(s *trackSlot, now time.Time) {
	t := &s.thin
	s.stats.ThinnedTime += now.Sub(t.since)
	t.on, t.wholeAt = false, now
	if s.pl != nil {
		s.pl.setThin(false)
	}
}

// checkThinned lets a thinned track play whole again once its wait is
// over and the link is measured to carry it, or at once when the network
// has opened more connections to the sharer since it was thinned: the
// most important that fits, one track at a time. Those that do not fit
// wait again. A thinned track's own reads are keyframes, a request at a
// time, and measure the round trips more than the link; on more
// connections the only measure is to try (the reader measures afresh as
// it reads ahead again), and a relapse doubles the next wait.
func (p *Player) checkThinned() {
	if !p.wantPlay || p.stalled || p.prerolling || p.starting {
		return
	}
	now := p.opts.Now()
	lanes := p.connection().Lanes
	var due []*trackSlot
	for _, s := range p.slots {
		if s.thin.on && s.pl != nil && (!now.Before(s.thin.retryAt) || lanes > s.thin.lanes) {
			due = append(due, s)
		}
	}
	slices.SortFunc(due, func(a, b *trackSlot) int { return pictureArea(b) - pictureArea(a) })
	for _, s := range due {
		if lanes > s.thin.lanes || p.linkCarries(s) {
			p.unthin(s, now)
			return
		}
		s.thin.retryAt = now.Add(s.thin.retry)
	}
}

// linkCarries says the bandwidth measured, the best any track sees,
// carries what playing would read with whole whole: the whole tracks and
// it at their rates, the other thinned ones at theirs, with
// recoverHeadroom to spare. With nothing measured, it lets the player
// try.
func (p *Player) linkCarries(whole *trackSlot) bool {
	var rate, bw float64
	for _, s := range p.slots {
		if !s.on || s.err != nil || s.pl == nil {
			continue
		}
		r := s.pl.mediaRate.Load()
		if s.thin.on && s != whole {
			r = s.pl.thinRate.Load()
		}
		rate += float64(r) * p.speed
		if st, _ := s.pl.readerStats(); st != nil {
			bw = max(bw, st.Bandwidth)
		}
	}
	return bw == 0 || bw >= recoverHeadroom*rate
}

// resetThin forgets s's degrading when its pipeline is replaced (switched
// off, failed), counting the time it was thinned.
func (p *Player) resetThin(s *trackSlot) {
	if s.thin.on {
		s.stats.ThinnedTime += p.opts.Now().Sub(s.thin.since)
	}
	s.thin = thinState{}
}

// thinnedTime is how long s has shown keyframes only, up to now.
func (p *Player) thinnedTime(s *trackSlot) time.Duration {
	d := s.stats.ThinnedTime
	if s.thin.on {
		d += p.opts.Now().Sub(s.thin.since)
	}
	return d
}
