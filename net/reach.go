package net

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p"
	dht "github.com/libp2p/go-libp2p-kad-dht"
	"github.com/libp2p/go-libp2p/core/event"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/discovery/mdns"
	"github.com/libp2p/go-libp2p/p2p/host/autorelay"
	"github.com/libp2p/go-libp2p/p2p/protocol/circuitv2/relay"
	"github.com/libp2p/go-libp2p/p2p/protocol/holepunch"
	ma "github.com/multiformats/go-multiaddr"
)

// ReachOptions turn on libp2p's ways of finding a peer by its ID and of
// getting through home routers: mDNS on the local network, the Kademlia
// DHT across the internet, AutoNAT to learn whether this host is reachable,
// circuit relay v2 as the meeting point, and DCUtR hole punching to turn a
// relayed meeting into a direct connection. The zero value is what a viewer
// wants; a sharer adds Rendezvous.
type ReachOptions struct {
	// NoMDNS turns off announcing this host on the local network and
	// finding sharers there. It defaults to on.
	NoMDNS bool
	// NoDHT turns off the DHT; a link holding only a peer ID then works on
	// the local network only. It defaults to on.
	NoDHT bool
	// Bootstrap are the DHT's entry points. It defaults to libp2p's public
	// bootstrap peers; an empty non-nil slice starts the DHT with none.
	Bootstrap []peer.AddrInfo
	// Relays are circuit relays to meet through: a sharer with Rendezvous
	// keeps its reservation on them, and a viewer tries to reach a sharer
	// through them. It defaults to relays found among the DHT's peers (for
	// a sharer) and the relays a sharer announces (for a viewer).
	Relays []peer.AddrInfo
	// Rendezvous keeps a reservation on a relay while AutoNAT finds this
	// host unreachable from the internet, so a viewer behind another NAT
	// can meet it there and hole punch. Sharers want it. It defaults to off.
	Rendezvous bool
	// Public makes this host help others: a DHT server, an AutoNAT server
	// and a circuit relay. It declares the host reachable from the
	// internet instead of asking AutoNAT, so use it only on such a host.
	// It defaults to off.
	Public bool
	// UnlimitedRelay lifts a Public host's relay limits (2 minutes and
	// 128 KiB per circuit), so media may flow through it. Only for a relay
	// you run for people you trust. It defaults to off.
	UnlimitedRelay bool
	// Reachability overrides AutoNAT when it is known. It defaults to
	// network.ReachabilityUnknown: AutoNAT finds out.
	Reachability network.Reachability
	// Logger receives reachability changes, relay reservations and
	// discovery failures. It defaults to discarding.
	Logger *slog.Logger
}

// DefaultBootstrapPeers are libp2p's public DHT bootstrap peers.
func DefaultBootstrapPeers() []peer.AddrInfo { return dht.GetDefaultBootstrapPeerAddrInfos() }

// ParseAddrInfos parses multiaddrs that each end in /p2p/<peer ID>, as
// given for bootstrap peers and relays; addresses of one peer are merged.
func ParseAddrInfos(ss []string) ([]peer.AddrInfo, error) {
	var out []peer.AddrInfo
	for _, s := range ss {
		a, err := ma.NewMultiaddr(s)
		if err != nil {
			return nil, fmt.Errorf("net: %q is not a multiaddr: %w", s, err)
		}
		ai, err := peer.AddrInfoFromP2pAddr(a)
		if err != nil {
			return nil, fmt.Errorf("net: %q does not end in /p2p/<peer ID>: %w", s, err)
		}
		i := slices.IndexFunc(out, func(o peer.AddrInfo) bool { return o.ID == ai.ID })
		if i < 0 {
			out = append(out, *ai)
		} else {
			out[i].Addrs = append(out[i].Addrs, ai.Addrs...)
		}
	}
	return out, nil
}

// relaySourceInterval is the least time between two searches for relay
// candidates; autorelay asks again when a reservation is lost.
const relaySourceInterval = 10 * time.Second

// reach holds a host's discovery and NAT traversal services.
type reach struct {
	o ReachOptions
	h host.Host
	// dht is set once the host exists; the relay candidate source, built
	// before the host, reads it.
	dht atomic.Pointer[dht.IpfsDHT]
	// mdns is nil when off or when no interface allows multicast.
	mdns mdns.Service
	// found collects peers mDNS saw, for Dial to wait on.
	found *mdnsFinds
	// punches remembers hole punches, to tell a punched connection from a
	// dialled one.
	punches *holePunches
	// reachability is AutoNAT's latest verdict.
	reachability atomic.Int32

	// boot are the DHT's bootstrap peers in effect.
	boot []peer.AddrInfo
	// started is closed once h is set: autorelay may ask for relay
	// candidates while the host is still being built.
	started chan struct{}

	ctx       context.Context
	ctxCancel context.CancelFunc
	wg        sync.WaitGroup
	stopOnce  sync.Once
}

func newReach(o ReachOptions) *reach {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	r := &reach{o: o, punches: newHolePunches(o.Logger), boot: o.Bootstrap, started: make(chan struct{})}
	if r.boot == nil && !o.NoDHT {
		r.boot = DefaultBootstrapPeers()
	}
	r.ctx, r.ctxCancel = context.WithCancel(context.Background())
	r.reachability.Store(int32(o.Reachability))
	if o.Public {
		r.reachability.Store(int32(network.ReachabilityPublic))
	}
	return r
}

// libp2pOptions are the host options the services need from the start.
func (r *reach) libp2pOptions() []libp2p.Option {
	o := r.o
	opts := []libp2p.Option{
		// A host that listens nowhere drops the relay transport by
		// default; Reach needs it to meet peers through relays.
		libp2p.EnableRelay(),
		libp2p.EnableHolePunching(holepunch.WithTracer(r.punches)),
	}
	switch {
	case o.Public:
		var relayOpts []relay.Option
		if o.UnlimitedRelay {
			relayOpts = append(relayOpts, relay.WithInfiniteLimits())
		}
		// The relay service starts only once the host counts as public;
		// a lone public node has no one to confirm that, so declare it.
		opts = append(opts, libp2p.EnableRelayService(relayOpts...), libp2p.EnableNATService(), libp2p.ForceReachabilityPublic())
	case o.Reachability == network.ReachabilityPublic:
		opts = append(opts, libp2p.ForceReachabilityPublic())
	case o.Reachability == network.ReachabilityPrivate:
		opts = append(opts, libp2p.ForceReachabilityPrivate())
	}
	if o.Rendezvous && !o.Public {
		// One relay is enough: it only carries the hole punch's handshake.
		arOpts := []autorelay.Option{autorelay.WithMinCandidates(1), autorelay.WithBootDelay(0), autorelay.WithMinInterval(relaySourceInterval)}
		switch {
		case len(o.Relays) > 0:
			opts = append(opts, libp2p.EnableAutoRelayWithStaticRelays(o.Relays, autorelay.WithBootDelay(0)))
		case !o.NoDHT:
			opts = append(opts, libp2p.EnableAutoRelayWithPeerSource(r.relayCandidates, arOpts...))
		}
	}
	return opts
}

// start runs the services that need the host itself.
func (r *reach) start(h host.Host) error {
	r.h = h
	close(r.started)
	sub, err := h.EventBus().Subscribe([]any{new(event.EvtLocalReachabilityChanged), new(event.EvtLocalAddressesUpdated)})
	if err != nil {
		return fmt.Errorf("net: watching reachability failed: %w", err)
	}
	r.wg.Go(func() { r.watch(sub) })
	if !r.o.NoDHT {
		mode := dht.ModeClient
		if r.o.Public {
			mode = dht.ModeServer
		}
		d, err := dht.New(h, dht.Mode(mode), dht.BootstrapPeers(r.boot...))
		if err != nil {
			r.stop()
			return fmt.Errorf("net: starting the DHT failed: %w", err)
		}
		r.dht.Store(d)
	}
	if !r.o.NoMDNS {
		r.found = newMDNSFinds(h)
		svc := mdns.NewMdnsService(h, mdns.ServiceName, r.found)
		if err := svc.Start(); err != nil {
			// A host with no multicast interface still works by link and DHT.
			r.o.Logger.Info("mDNS is off: no local network discovery", "err", err)
			svc.Close()
		} else {
			r.mdns = svc
		}
	}
	return nil
}

// watch logs what AutoNAT and the relays make of this host.
func (r *reach) watch(sub event.Subscription) {
	defer sub.Close()
	var relayed []ma.Multiaddr
	for {
		select {
		case <-r.ctx.Done():
			return
		case e, ok := <-sub.Out():
			if !ok {
				return
			}
			switch e := e.(type) {
			case event.EvtLocalReachabilityChanged:
				r.reachability.Store(int32(e.Reachability))
				switch e.Reachability {
				case network.ReachabilityPublic:
					r.o.Logger.Info("AutoNAT: this host is reachable from the internet")
				case network.ReachabilityPrivate:
					r.o.Logger.Info("AutoNAT: this host is not reachable from the internet; peers meet it through a relay")
				}
			case event.EvtLocalAddressesUpdated:
				var now []ma.Multiaddr
				for _, a := range e.Current {
					if isRelayAddr(a.Address) {
						now = append(now, a.Address)
					}
				}
				if !slices.EqualFunc(now, relayed, ma.Multiaddr.Equal) {
					relayed = now
					if len(now) > 0 {
						r.o.Logger.Info("reachable through a relay", "addrs", now)
					} else {
						r.o.Logger.Info("no relay reservation")
					}
				}
			}
		}
	}
}

// relayCandidates feeds autorelay: bootstrap peers first (a small
// network's bootstrap node is often its relay), then DHT peers. Peers that
// turn out not to be relays are skipped by autorelay.
func (r *reach) relayCandidates(ctx context.Context, num int) <-chan peer.AddrInfo {
	ch := make(chan peer.AddrInfo, max(num, 0))
	if num <= 0 {
		close(ch)
		return ch
	}
	// Not in r.wg: autorelay may ask while the host closes, and the
	// goroutine ends by itself once r.ctx is done.
	go func() {
		defer close(ch)
		select {
		case <-r.started:
		case <-ctx.Done():
			return
		case <-r.ctx.Done():
			return
		}
		sent := map[peer.ID]bool{}
		send := func(ai peer.AddrInfo) (more bool) {
			if !sent[ai.ID] && ai.ID != r.h.ID() {
				sent[ai.ID] = true
				ch <- ai // buffered for num
			}
			return len(sent) < num
		}
		for _, ai := range r.boot {
			if !send(ai) {
				return
			}
		}
		// The routing table fills while the DHT bootstraps; wait a little
		// for it rather than come back empty.
		t := time.NewTicker(500 * time.Millisecond)
		defer t.Stop()
		for range 20 {
			if d := r.dht.Load(); d != nil {
				for _, id := range d.RoutingTable().ListPeers() {
					if !send(peer.AddrInfo{ID: id, Addrs: r.h.Peerstore().Addrs(id)}) {
						return
					}
				}
			}
			if len(sent) > 0 {
				return
			}
			select {
			case <-ctx.Done():
				return
			case <-r.ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return ch
}

// stop ends the services that use the host; call it before the host closes.
func (r *reach) stop() {
	r.stopOnce.Do(func() {
		r.ctxCancel()
		if r.mdns != nil {
			r.mdns.Close()
		}
		if d := r.dht.Load(); d != nil {
			d.Close()
		}
	})
}

// wait waits for the goroutines stop ended.
func (r *reach) wait() { r.wg.Wait() }

func isRelayAddr(a ma.Multiaddr) bool {
	_, err := a.ValueForProtocol(ma.P_CIRCUIT)
	return err == nil
}
