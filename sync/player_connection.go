package sync

import p2pnet "reelay/net"

// connection is the source's connection now, or else that of the first
// open track whose reader knows it (a source that wraps a remote
// recording); the zero Connection for a local recording.
func (p *Player) connection() p2pnet.Connection {
	if cr, ok := p.src.(connectionReporter); ok {
		return cr.Connection()
	}
	for _, s := range p.slots {
		if s.pl == nil {
			continue
		}
		if c := s.pl.readerConnection(); c.State != p2pnet.ConnUnknown {
			return c
		}
	}
	return p2pnet.Connection{}
}

// checkConnection reports a change of the connection's state. The player
// itself needs no telling: reads wait while the sharer is away, so the
// tracks stop demuxing and playback stalls once the buffer is spent.
func (p *Player) checkConnection() {
	c := p.connection()
	// Unknown after known: every track is off, nothing says otherwise.
	if c.State == p.conn || c.State == p2pnet.ConnUnknown {
		return
	}
	ev := Event{Kind: EventConnection, Connection: c.State, Err: c.Err}
	switch c.State {
	case p2pnet.ConnReconnecting:
		ev.Notice = "Reconnecting to the sharer…"
	case p2pnet.ConnConnected:
		if p.conn != p2pnet.ConnUnknown {
			ev.Notice = "Reconnected to the sharer"
		}
	case p2pnet.ConnUnshared:
		ev.Notice = "The sharer stopped sharing this recording"
	}
	p.conn = c.State
	p.events.push(ev)
}
