package net

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/routing"
	ma "github.com/multiformats/go-multiaddr"
)

// mdnsAddrTTL keeps addresses mDNS found for as long as a peer usually
// stays on a network; mDNS answers again when asked.
const mdnsAddrTTL = 10 * time.Minute

// mdnsFinds collects the peers mDNS sees on the local network.
type mdnsFinds struct {
	h  host.Host
	mu sync.Mutex
	// addrs is the latest announcement of each peer seen.
	addrs map[peer.ID][]ma.Multiaddr
	// waiters are closed when their peer is seen.
	waiters map[peer.ID][]chan struct{}
}

func newMDNSFinds(h host.Host) *mdnsFinds {
	return &mdnsFinds{h: h, addrs: map[peer.ID][]ma.Multiaddr{}, waiters: map[peer.ID][]chan struct{}{}}
}

// HandlePeerFound implements mdns.Notifee. Found peers are only
// remembered: Reelay connects to the one a link names, not to everyone.
func (m *mdnsFinds) HandlePeerFound(ai peer.AddrInfo) {
	m.h.Peerstore().AddAddrs(ai.ID, ai.Addrs, mdnsAddrTTL)
	m.mu.Lock()
	m.addrs[ai.ID] = ai.Addrs
	ws := m.waiters[ai.ID]
	delete(m.waiters, ai.ID)
	m.mu.Unlock()
	for _, w := range ws {
		close(w)
	}
}

// find waits until mDNS has seen id and returns its addresses.
func (m *mdnsFinds) find(ctx context.Context, id peer.ID) ([]ma.Multiaddr, error) {
	m.mu.Lock()
	if a, ok := m.addrs[id]; ok {
		m.mu.Unlock()
		return a, nil
	}
	w := make(chan struct{})
	m.waiters[id] = append(m.waiters[id], w)
	m.mu.Unlock()
	select {
	case <-w:
		m.mu.Lock()
		defer m.mu.Unlock()
		return m.addrs[id], nil
	case <-ctx.Done():
		m.mu.Lock()
		ws := m.waiters[id]
		for i, x := range ws {
			if x == w {
				m.waiters[id] = append(ws[:i], ws[i+1:]...)
				break
			}
		}
		if len(m.waiters[id]) == 0 {
			delete(m.waiters, id)
		}
		m.mu.Unlock()
		return nil, errors.New("not seen on the local network (mDNS)")
	}
}

// errNoDHTPeers says the DHT never got a peer to ask.
var errNoDHTPeers = errors.New("the DHT reached none of its bootstrap peers")

// lookupDHT asks the DHT where id is. It returns as soon as a DHT peer
// answers with id's addresses, rather than when the whole lookup ends:
// the lookup would otherwise dial id itself (through a relay, and wait for
// the hole punch) before it reports.
func (r *reach) lookupDHT(ctx context.Context, id peer.ID) ([]ma.Multiaddr, error) {
	d := r.dht.Load()
	if d == nil {
		return nil, errors.New("the DHT is off")
	}
	// A lookup on an empty routing table fails at once; wait for the
	// bootstrap connections instead.
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for d.RoutingTable().Size() == 0 {
		select {
		case <-ctx.Done():
			return nil, errNoDHTPeers
		case <-t.C:
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ectx, events := routing.RegisterForQueryEvents(ctx)
	type result struct {
		ai  peer.AddrInfo
		err error
	}
	done := make(chan result, 1)
	go func() {
		ai, err := d.FindPeer(ectx, id)
		done <- result{ai, err}
	}()
	finish := func(addrs []ma.Multiaddr, err error) ([]ma.Multiaddr, error) {
		cancel()
		<-done
		return addrs, err
	}
	for {
		select {
		case ev, ok := <-events:
			if !ok {
				events = nil
				continue
			}
			if ev.Type != routing.PeerResponse {
				continue
			}
			for _, ai := range ev.Responses {
				if ai != nil && ai.ID == id && len(ai.Addrs) > 0 {
					return finish(ai.Addrs, nil)
				}
			}
		case res := <-done:
			switch {
			case res.err != nil && ctx.Err() != nil:
				return nil, errors.New("the DHT did not find it in time")
			case res.err != nil:
				return nil, fmt.Errorf("the DHT did not find it: %w", res.err)
			case len(res.ai.Addrs) == 0:
				return nil, errors.New("the DHT knows no address for it")
			}
			return res.ai.Addrs, nil
		}
	}
}
