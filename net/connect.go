package net

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/peerstore"
	"github.com/libp2p/go-libp2p/p2p/protocol/holepunch"
	ma "github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"
)

// DialOptions configure DialWith.
type DialOptions struct {
	// Logger receives how the sharer was reached and when the first track
	// bytes arrived. It defaults to discarding.
	Logger *slog.Logger
	// DirectTimeout bounds the wait for a direct connection once the
	// sharer answered only through a relay that limits traffic. It
	// defaults to 10 s.
	DirectTimeout time.Duration
	// ReconnectMin and ReconnectMax bound the wait, growing exponentially
	// with jitter, between attempts to reconnect to a lost sharer and
	// between retries of a failed request. They default to 250 ms and 2 s:
	// a sharer that comes back is found within 2 s, for one dial every 2 s
	// while it is away.
	ReconnectMin, ReconnectMax time.Duration
	// StallTimeout is how long requests may receive nothing before the
	// connection is probed, and closed if the sharer does not answer the
	// probe within ProbeTimeout: a peer that vanished without closing (a
	// QUIC connection to a killed process, a dropped link) is noticed
	// then rather than at the transport's idle timeout. They default to
	// 3 s and 2 s.
	StallTimeout, ProbeTimeout time.Duration
}

func (o *DialOptions) setDefaults() {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.DirectTimeout <= 0 {
		o.DirectTimeout = 10 * time.Second
	}
	if o.ReconnectMin <= 0 {
		o.ReconnectMin = 250 * time.Millisecond
	}
	if o.ReconnectMax <= 0 {
		o.ReconnectMax = 2 * time.Second
	}
	o.ReconnectMax = max(o.ReconnectMax, o.ReconnectMin)
	if o.StallTimeout <= 0 {
		o.StallTimeout = 3 * time.Second
	}
	if o.ProbeTimeout <= 0 {
		o.ProbeTimeout = 2 * time.Second
	}
}

// ErrNoDirectPath is returned by Dial when the sharer answers only through
// a relay that limits traffic and no direct connection could be made:
// such a relay is a meeting point, never a carrier of media.
var ErrNoDirectPath = errors.New("net: no direct path to the sharer")

// Where a sharer's working addresses came from.
const (
	FoundLink      = "link"
	FoundMDNS      = "mDNS"
	FoundDHT       = "DHT"
	FoundRelay     = "relay"     // through a relay in ReachOptions.Relays
	FoundConnected = "connected" // a connection existed before Dial
)

// DialSteps are what reaching a sharer took; durations count from the
// start of Dial, except HolePunch.
type DialSteps struct {
	// Found says where the addresses that worked came from: FoundLink,
	// FoundMDNS, FoundDHT, FoundRelay or FoundConnected.
	Found string
	// Lookup is when mDNS or the DHT answered; zero for link addresses.
	Lookup time.Duration
	// Relay is when a connection through a relay first existed; zero
	// when none was needed.
	Relay time.Duration
	// HolePunch is from the relayed connection to the direct one.
	HolePunch time.Duration
	// Connect is when a connection media may use existed.
	Connect time.Duration
	// FirstByte is when the sharer's first answer (the track list) arrived.
	FirstByte time.Duration
	// FirstTrackByte is when the first track bytes arrived; zero until then.
	FirstTrackByte time.Duration
	// Path is the path in use when Dial returned.
	Path Path
}

// dhtHeadStart is how long a link's own addresses are tried alone before
// the DHT is asked too; a link's addresses usually work, and a lookup
// costs connections to strangers.
const dhtHeadStart = 2 * time.Second

// holePunchReadyWait bounds the wait for this host's hole punching to be
// ready (it needs a public address learned from a peer) before meeting a
// sharer through a relay: the sharer starts the hole punch once, as soon
// as the relayed connection opens.
const holePunchReadyWait = 3 * time.Second

// relayDelay gives a source's direct addresses a head start over its relay
// addresses, as libp2p's dial ranker does for public ones.
const relayDelay = 500 * time.Millisecond

// dialer finds and connects to one sharer for Dial.
type dialer struct {
	h  host.Host
	rc *reach // nil for a host without Reach
	id peer.ID
	o  DialOptions

	start time.Time
	// wake is poked when a connection to the sharer opens.
	wake chan struct{}
	// cands receive what discovery sources found.
	cands chan candidate
	// attempts receive the end of each connection attempt.
	attempts chan attempt
	// pending counts sources and attempts that have not reported.
	pending int
	// wg waits for every goroutine the dialer started.
	wg sync.WaitGroup

	// source maps an address to the source that found it first.
	source map[string]string
	// lookup is how long each source took to answer.
	lookup map[string]time.Duration
	// firstOK is the first source whose attempt connected.
	firstOK string
	// errs say why each source or attempt failed, for the error message.
	errs []string
	// steps fill in as the dial goes.
	steps DialSteps
	// relayAt is when a connection through a limited relay first existed.
	relayAt time.Time
}

type candidate struct {
	source string
	addrs  []ma.Multiaddr
	took   time.Duration
	err    error
}

type attempt struct {
	source string
	err    error
}

func newDialer(h host.Host, id peer.ID, o DialOptions) *dialer {
	d := &dialer{
		h:        h,
		id:       id,
		o:        o,
		start:    time.Now(),
		wake:     make(chan struct{}, 1),
		cands:    make(chan candidate),
		attempts: make(chan attempt),
		source:   map[string]string{},
		lookup:   map[string]time.Duration{},
	}
	if hh, ok := h.(*Host); ok {
		d.rc = hh.reach
	}
	return d
}

// run connects to the sharer: the link's addresses at once, mDNS at once,
// the DHT when the link holds no address or after dhtHeadStart. A
// connection through a relay that limits traffic is not enough: run then
// waits for the hole punch (or a direct address that works) up to
// DirectTimeout.
func (d *dialer) run(ctx context.Context, l Link) error {
	ctx, cancel := context.WithCancel(ctx)
	defer func() {
		cancel()
		d.drain()
	}()
	nb := &network.NotifyBundle{ConnectedF: func(_ network.Network, c network.Conn) {
		if c.RemotePeer() == d.id {
			select {
			case d.wake <- struct{}{}:
			default:
			}
		}
	}}
	d.h.Network().Notify(nb)
	defer d.h.Network().StopNotify(nb)

	if usable, _ := usableConn(d.h, d.id); usable {
		d.steps.Found = FoundConnected
		d.finish()
		return nil
	}
	if len(l.Addrs) > 0 {
		d.addCandidate(ctx, candidate{source: FoundLink, addrs: l.Addrs})
	}
	if d.rc != nil && d.rc.found != nil {
		d.goSource(ctx, FoundMDNS, d.rc.found.find)
	}
	if d.rc != nil && len(d.rc.o.Relays) > 0 {
		d.addCandidate(ctx, candidate{source: FoundRelay, addrs: circuitAddrs(d.rc.o.Relays)})
	}
	hasDHT := d.rc != nil && d.rc.dht.Load() != nil
	var dhtTimer <-chan time.Time
	startDHT := func() {
		if hasDHT {
			hasDHT, dhtTimer = false, nil
			d.goSource(ctx, FoundDHT, d.rc.lookupDHT)
		}
	}
	if len(l.Addrs) == 0 {
		startDHT()
	} else if hasDHT {
		t := time.NewTimer(dhtHeadStart)
		defer t.Stop()
		dhtTimer = t.C
	}
	if d.pending == 0 {
		return unreachableError(fmt.Sprintf("net: the sharer %s is unreachable: the link holds no address, and this host cannot look peers up (no mDNS or DHT)", shortID(d.id)))
	}

	var directDeadline <-chan time.Time
	for {
		usable, limited := usableConn(d.h, d.id)
		if usable {
			d.finish()
			return nil
		}
		if limited && d.relayAt.IsZero() {
			d.relayAt = time.Now()
			d.steps.Relay = d.relayAt.Sub(d.start)
			t := time.NewTimer(d.o.DirectTimeout)
			defer t.Stop()
			directDeadline = t.C
			d.o.Logger.Debug("met the sharer through a relay; waiting for a direct connection", "peer", d.id, "after", d.steps.Relay)
			// Identify over the relayed connection may have told of
			// direct addresses no source had.
			d.goAttempt(ctx, "", nil, true, 0)
		}
		if d.pending == 0 && !limited && !hasDHT {
			return unreachableError(fmt.Sprintf("net: the sharer %s is unreachable: %s", shortID(d.id), strings.Join(d.errs, "; ")))
		}
		select {
		case c := <-d.cands:
			d.pending--
			if c.err != nil {
				d.errs = append(d.errs, c.source+": "+c.err.Error())
				continue
			}
			d.o.Logger.Debug("found the sharer's addresses", "by", c.source, "after", c.took, "addrs", c.addrs)
			d.addCandidate(ctx, c)
		case a := <-d.attempts:
			d.pending--
			if a.err != nil {
				if a.source != "" {
					d.errs = append(d.errs, a.source+" addresses: "+a.err.Error())
				}
				if a.source == FoundLink {
					// The link is stale; ask the DHT now.
					startDHT()
				}
			} else if d.firstOK == "" {
				d.firstOK = a.source
			}
		case <-d.wake:
		case <-dhtTimer:
			startDHT()
		case <-directDeadline:
			return d.noDirect()
		case <-ctx.Done():
			if _, limited := usableConn(d.h, d.id); limited {
				return d.noDirect()
			}
			return unreachableError(fmt.Sprintf("net: the sharer %s is unreachable: %v (%s)", shortID(d.id), context.Cause(ctx), strings.Join(d.errs, "; ")))
		}
	}
}

// goSource runs one discovery source.
func (d *dialer) goSource(ctx context.Context, name string, find func(context.Context, peer.ID) ([]ma.Multiaddr, error)) {
	d.pending++
	d.wg.Go(func() {
		addrs, err := find(ctx, d.id)
		c := candidate{source: name, addrs: addrs, took: time.Since(d.start), err: err}
		select {
		case d.cands <- c:
		case <-ctx.Done():
		}
	})
}

// addCandidate tries a source's addresses: direct ones at once, relay
// ones once hole punching is ready.
func (d *dialer) addCandidate(ctx context.Context, c candidate) {
	d.lookup[c.source] = c.took
	for _, a := range c.addrs {
		if _, ok := d.source[string(a.Bytes())]; !ok {
			d.source[string(a.Bytes())] = c.source
		}
	}
	d.h.Peerstore().AddAddrs(d.id, c.addrs, peerstore.TempAddrTTL)
	var direct, relayed []ma.Multiaddr
	for _, a := range c.addrs {
		if isRelayAddr(a) {
			relayed = append(relayed, a)
		} else {
			direct = append(direct, a)
		}
	}
	if len(direct) > 0 {
		d.goAttempt(ctx, c.source, direct, true, 0)
	}
	if len(relayed) > 0 {
		var delay time.Duration
		if len(direct) > 0 {
			delay = relayDelay
		}
		d.goAttempt(ctx, c.source, relayed, false, delay)
	}
}

// goAttempt connects to the sharer. A direct attempt forces a new direct
// connection even when a relayed one exists; a relay attempt waits for
// hole punching to be ready, and delay for direct attempts to win.
func (d *dialer) goAttempt(ctx context.Context, source string, addrs []ma.Multiaddr, direct bool, delay time.Duration) {
	d.pending++
	hp := d.rc != nil
	d.wg.Go(func() {
		var err error
		if direct {
			if addrs == nil && !slices.ContainsFunc(d.h.Peerstore().Addrs(d.id), func(a ma.Multiaddr) bool { return !isRelayAddr(a) }) {
				err = errors.New("no direct address")
			} else {
				// The swarm's dial, not the host's Connect: Connect then
				// waits for the identify exchange, a round trip the first
				// request does not need (openStream).
				d.h.Peerstore().AddAddrs(d.id, addrs, peerstore.TempAddrTTL)
				_, err = d.h.Network().DialPeer(network.WithForceDirectDial(ctx, "reelay: media needs a direct path"), d.id)
			}
		} else {
			if hp && mayLearnPublicAddr(d.h) {
				waitHolePunchReady(ctx, d.h, holePunchReadyWait)
			}
			if delay > 0 {
				t := time.NewTimer(delay)
				select {
				case <-t.C:
				case <-ctx.Done():
				}
				t.Stop()
			}
			if usable, _ := usableConn(d.h, d.id); !usable && ctx.Err() == nil {
				err = d.h.Connect(ctx, peer.AddrInfo{ID: d.id, Addrs: addrs})
			}
		}
		select {
		case d.attempts <- attempt{source: source, err: err}:
		case <-ctx.Done():
		}
	})
}

// drain waits for the dialer's goroutines, which all end once ctx is done.
func (d *dialer) drain() { d.wg.Wait() }

// finish records the steps of a successful connection.
func (d *dialer) finish() {
	now := time.Now()
	d.steps.Connect = now.Sub(d.start)
	if !d.relayAt.IsZero() {
		d.steps.HolePunch = now.Sub(d.relayAt)
	}
	d.steps.Path = pathTo(d.h, d.id)
	if d.steps.Found == "" {
		d.steps.Found = d.winner()
	}
	d.steps.Lookup = d.lookup[d.steps.Found]
}

// winner names the source whose address carried the connection: the
// direct one's, or for a hole punch the relayed one's.
func (d *dialer) winner() string {
	var relayed string
	for _, c := range d.h.Network().ConnsToPeer(d.id) {
		src, ok := d.source[string(c.RemoteMultiaddr().Bytes())]
		if !ok {
			continue
		}
		if !c.Stat().Limited {
			return src
		}
		relayed = src
	}
	switch {
	case relayed != "":
		return relayed
	case d.firstOK != "":
		return d.firstOK
	}
	return FoundLink
}

// noDirect is the plain error for a sharer met only through a limited
// relay. The relayed connection is closed: it is of no use to media.
func (d *dialer) noDirect() error {
	started, herr := holePunchesOf(d.h).state(d.id)
	var why string
	switch {
	case d.rc == nil:
		why = "this host does not hole punch"
	case !holePunchReady(d.h):
		why = "hole punching could not start: this machine has not learned its public address"
	case herr != "":
		why = "hole punching failed: " + herr
	case started:
		why = "hole punching did not get through"
	default:
		why = "the sharer did not start hole punching"
	}
	d.h.Network().ClosePeer(d.id)
	return fmt.Errorf("%w %s: it answers only through a relay that limits traffic, and no direct connection came within %s (%s). "+
		"Reelay never sends media through a limited relay; try again, or use a relay you run without limits",
		ErrNoDirectPath, shortID(d.id), d.o.DirectTimeout, why)
}

// circuitAddrs are the addresses of any peer through relays.
func circuitAddrs(relays []peer.AddrInfo) []ma.Multiaddr {
	var out []ma.Multiaddr
	for _, r := range relays {
		via := ma.StringCast("/p2p/" + r.ID.String() + "/p2p-circuit")
		for _, a := range r.Addrs {
			out = append(out, a.Encapsulate(via))
		}
	}
	return out
}

func holePunchReady(h host.Host) bool {
	return slices.Contains(h.Mux().Protocols(), holepunch.Protocol)
}

// mayLearnPublicAddr reports whether h is connected to a peer on a public
// address, one that tells h its public address.
func mayLearnPublicAddr(h host.Host) bool {
	for _, c := range h.Network().Conns() {
		if manet.IsPublicAddr(c.RemoteMultiaddr()) && !isRelayAddr(c.RemoteMultiaddr()) {
			return true
		}
	}
	return false
}

// waitHolePunchReady waits until h answers hole punches, or max.
func waitHolePunchReady(ctx context.Context, h host.Host, max time.Duration) {
	ctx, cancel := context.WithTimeout(ctx, max)
	defer cancel()
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for !holePunchReady(h) {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
