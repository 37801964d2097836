package sync

import (
	"slices"
	"time"
)

// Status is what a display shows of a player, taken at one moment.
type Status struct {
	// Position, Duration and State are as Position, Duration and State
	// return them.
	Position time.Duration
	Duration time.Duration
	State    State
	// Tracks and Stats are as Tracks and Stats return them.
	Tracks []Track
	Stats  Stats
	// Speed is the playback speed (SetSpeed).
	Speed float64
	// Subtitle is the subtitle text at the position, "" when none shows.
	Subtitle string
	// Chapters are the recording's chapters, nil without.
	Chapters []Chapter
	// Live says a track switched on is still being written; LiveEdge is
	// its newest whole data on the timeline, where GoLive goes
	// (LiveDelay behind it).
	Live     bool
	LiveEdge time.Duration
	// AtLiveEdge says the position is at the live edge (within the live
	// delay and a second of it), not behind it.
	AtLiveEdge bool
	// Seek is the number of the newest seek the player took (Seek returns
	// it; 0 before the first): a display that asked for a newer one knows
	// the position is from before it.
	Seek uint64
}

// statusPeriod is how often the player publishes its Status while nothing
// changes: often enough for a smooth seek bar and status line, rarely
// enough that copying the tracks costs nothing.
const statusPeriod = 100 * time.Millisecond

// publishStatus publishes a new Status when statusPeriod has passed, or
// at once when a seek was taken or the state changed.
func (p *Player) publishStatus() {
	now := p.opts.Now()
	if p.status.Load() != nil && p.epoch == p.statusEpoch && p.state == p.statusState && now.Sub(p.statusAt) < statusPeriod {
		return
	}
	p.statusAt, p.statusEpoch, p.statusState = now, p.epoch, p.state
	p.status.Store(&Status{
		Position: p.clock.position(),
		Duration: p.duration,
		State:    p.state,
		Tracks:   p.snapshotTracks(),
		Stats:    p.snapshotStats(),
		Seek:     p.seeksTaken,
		Speed:    p.speed,
		Subtitle: p.subText,
		Chapters: p.chapters(),
		Live:     p.lastEdge.Load() > 0,
		LiveEdge: time.Duration(p.lastEdge.Load()),

		AtLiveEdge: p.atLiveEdge(p.clock.position()),
	})
}

// snapshotStats is a copy of the player's counters.
func (p *Player) snapshotStats() Stats {
	s := p.stats
	s.SeekLatencies = slices.Clone(s.SeekLatencies)
	s.StallLog = slices.Clone(s.StallLog)
	s.Clock = p.clock.kind
	s.AudioNotice, s.AudioErr = p.audioNotice, p.audioErr
	s.EventsCoalesced = p.events.coalescedCount()
	s.Connection = p.connection()
	return s
}
