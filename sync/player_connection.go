package sync

import "reelay/net/track"

// connection is the source's connection now, or else that of the first
// open track whose reader knows it (a source that wraps a remote
// recording); the zero Connection for a local recording.
func (p *Player) connection() track.Connection {
	if cr, ok := p.src.(connectionReporter); ok {
		return cr.Connection()
	}
	for _, s := range p.slots {
		if s.pl == nil {
			continue
		}
		if c := s.pl.readerConnection(); c.State != track.ConnUnknown {
			return c
		}
	}
	return track.Connection{}
}

// checkConnection reports a change of the connection's state. The player
// itself needs no telling: reads wait while the sharer is away, so the
// tracks stop demuxing and playback stalls once the buffer is spent.
func (p *Player) checkConnection() {
	c := p.connection()
	// Unknown after known: every track is off, nothing says otherwise.
	if c.State == p.conn || c.State == track.ConnUnknown {
		return
	}
	ev := Event{Kind: EventConnection, Connection: c.State, Err: c.Err}
	switch c.State {
	case track.ConnReconnecting:
		ev.Notice = "Reconnecting to the sharer…"
		// Playing a live recording at its edge, the viewer comes back to
		// the edge, not to where the outage stopped it.
		p.reliveAfterOutage = p.atLiveEdge(p.clock.position())
	case track.ConnConnected:
		if p.conn != track.ConnUnknown {
			ev.Notice = "Reconnected to the sharer"
		}
		if p.reliveAfterOutage {
			p.reliveAfterOutage = false
			p.goLiveLater = true
		}
	case track.ConnUnshared:
		ev.Notice = "The sharer stopped sharing this recording"
	}
	p.conn = c.State
	p.events.push(ev)
}
