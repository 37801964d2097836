package net

import (
	"log/slog"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/protocol/holepunch"
	manet "github.com/multiformats/go-multiaddr/net"
)

// Path is how the bytes between a viewer and a sharer travel.
type Path int

const (
	// PathUnknown: there is no connection media may use (none at all, or
	// only one through a relay that limits traffic).
	PathUnknown Path = iota
	// PathLAN: a direct connection to an address on the local network or
	// this machine.
	PathLAN
	// PathDirect: a direct connection to a public address, dialled
	// without help (the sharer is reachable from the internet).
	PathDirect
	// PathHolePunched: a direct connection that DCUtR hole punching
	// opened through the routers of both sides.
	PathHolePunched
	// PathRelayed: through a circuit relay that does not limit traffic,
	// one that someone runs for this purpose.
	PathRelayed
)

// String is the path as the status line shows it.
func (p Path) String() string {
	switch p {
	case PathLAN:
		return "direct (LAN)"
	case PathDirect:
		return "direct (internet)"
	case PathHolePunched:
		return "direct (hole punched)"
	case PathRelayed:
		return "relayed"
	default:
		return "not connected"
	}
}

// Path is the path the recording's requests take now. It changes when the
// connection does (a hole punch completes, the sharer moves networks).
func (r *Recording) Path() Path { return pathTo(r.h, r.link.Peer) }

// pathTo classifies the connection to p that new streams use: libp2p
// never opens them on a limited connection and prefers direct ones.
func pathTo(h host.Host, p peer.ID) Path {
	var relayed bool
	for _, c := range h.Network().ConnsToPeer(p) {
		st := c.Stat()
		if st.Limited || c.IsClosed() {
			continue
		}
		if isRelayAddr(c.RemoteMultiaddr()) {
			relayed = true
			continue
		}
		switch {
		case holePunchesOf(h).opened(p, st.Opened):
			return PathHolePunched
		case manet.IsPrivateAddr(c.RemoteMultiaddr()):
			return PathLAN
		default:
			return PathDirect
		}
	}
	if relayed {
		return PathRelayed
	}
	return PathUnknown
}

// usableConn reports whether h has a connection to p that media may use,
// and whether it has one through a limited relay.
func usableConn(h host.Host, p peer.ID) (usable, limited bool) {
	for _, c := range h.Network().ConnsToPeer(p) {
		if c.IsClosed() {
			continue
		}
		if c.Stat().Limited {
			limited = true
		} else {
			usable = true
		}
	}
	return usable, limited
}

func holePunchesOf(h host.Host) *holePunches {
	if hh, ok := h.(*Host); ok && hh.reach != nil {
		return hh.reach.punches
	}
	return nil
}

// holePunchWindow bounds how long after a hole punch started a new direct
// connection still counts as its result; libp2p gives each attempt 10 s.
const holePunchWindow = 15 * time.Second

// holePunches is a holepunch.EventTracer remembering the latest hole
// punch with each peer.
type holePunches struct {
	log *slog.Logger
	mu  sync.Mutex
	m   map[peer.ID]holePunch
}

type holePunch struct {
	started, ended time.Time
	ok             bool
	// err is why the latest attempt failed or could not start.
	err string
}

func newHolePunches(log *slog.Logger) *holePunches {
	return &holePunches{log: log, m: map[peer.ID]holePunch{}}
}

// Trace implements holepunch.EventTracer.
func (hp *holePunches) Trace(evt *holepunch.Event) {
	at := time.Unix(0, evt.Timestamp)
	hp.mu.Lock()
	defer hp.mu.Unlock()
	for id, p := range hp.m {
		if at.Sub(p.started) > 10*time.Minute && at.Sub(p.ended) > 10*time.Minute {
			delete(hp.m, id)
		}
	}
	p := hp.m[evt.Remote]
	switch e := evt.Evt.(type) {
	case *holepunch.StartHolePunchEvt:
		p = holePunch{started: at}
		hp.log.Debug("hole punch started", "peer", evt.Remote, "addrs", e.RemoteAddrs, "rtt", e.RTT)
	case *holepunch.EndHolePunchEvt:
		p.ended, p.ok, p.err = at, e.Success, e.Error
		hp.log.Debug("hole punch ended", "peer", evt.Remote, "ok", e.Success, "took", e.EllapsedTime, "err", e.Error)
	case *holepunch.ProtocolErrorEvt:
		p.err = e.Error
		hp.log.Debug("hole punch protocol error", "peer", evt.Remote, "err", e.Error)
	default:
		return
	}
	hp.m[evt.Remote] = p
}

// opened reports whether a direct connection to id opened at t came from
// a hole punch.
func (hp *holePunches) opened(id peer.ID, t time.Time) bool {
	if hp == nil {
		return false
	}
	hp.mu.Lock()
	p, ok := hp.m[id]
	hp.mu.Unlock()
	// The connection opens before the attempt reports its end.
	return ok && !p.started.IsZero() && !t.Before(p.started.Add(-time.Second)) && t.Before(p.started.Add(holePunchWindow))
}

// state says how the latest hole punch with id went, for error messages.
func (hp *holePunches) state(id peer.ID) (started bool, err string) {
	if hp == nil {
		return false, ""
	}
	hp.mu.Lock()
	defer hp.mu.Unlock()
	p := hp.m[id]
	return !p.started.IsZero(), p.err
}

var _ holepunch.EventTracer = (*holePunches)(nil)
