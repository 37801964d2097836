package net

import (
	"fmt"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/network"
	rcmgr "github.com/libp2p/go-libp2p/p2p/host/resource-manager"
)

// Per-peer limits every Reelay host enforces through libp2p's resource
// manager. System-wide limits stay libp2p's defaults scaled to the machine;
// these do not scale, so one peer gets the same share on any machine and
// cannot fill the system-wide limits alone.
const (
	// PeerMaxConns bounds one peer's connections, inbound and outbound
	// alike: a dial tries TCP and QUIC over IPv4 and IPv6 at once, and a
	// relayed meeting adds one, so 8 leaves room and no more.
	PeerMaxConns = 8
	// PeerMaxStreamsInbound bounds the streams one peer has open to us,
	// every protocol counted (identify, ping, DHT, relay, Reelay).
	PeerMaxStreamsInbound = 256
	// PeerMaxStreamsOutbound bounds the streams we open to one peer.
	PeerMaxStreamsOutbound = 512
	// PeerMaxMemory bounds the memory the network stack reserves for one
	// peer: the muxer's receive windows (yamux 256 KiB per stream, QUIC's
	// grown windows) and the sharer's copy buffers. It caps a peer's
	// bytes in flight.
	PeerMaxMemory = 64 << 20
	// PeerMaxFD bounds one peer's file descriptors (a TCP connection is
	// one; QUIC shares the UDP socket).
	PeerMaxFD = 8

	// ProtocolPeerMaxStreamsInbound bounds one peer's /reelay/stream
	// streams at once on a sharer: twice SharerOptions.MaxRequestsPerPeer's
	// default, so requests past that cap still get a busy answer; past
	// this one the resource manager resets them before any handler runs.
	// A viewer keeps about 12 (4 in flight for each of 3 tracks).
	ProtocolPeerMaxStreamsInbound = 64
	// ProtocolPeerMaxStreamsOutbound bounds the /reelay/stream streams a
	// viewer opens to one sharer; its readers keep far fewer.
	ProtocolPeerMaxStreamsOutbound = 128
	// ProtocolPeerMaxMemory bounds what a sharer reserves for one peer's
	// requests: a copy buffer per request being served (32 × 128 KiB with
	// the defaults) with room to spare.
	ProtocolPeerMaxMemory = 16 << 20
)

// newResourceManager is libp2p's default resource manager with the
// per-peer limits above in place of its memory-scaled ones.
func newResourceManager() (network.ResourceManager, error) {
	cfg := rcmgr.DefaultLimits
	libp2p.SetDefaultServiceLimits(&cfg)
	cfg.PeerBaseLimit = rcmgr.BaseLimit{
		Conns:           PeerMaxConns,
		ConnsInbound:    PeerMaxConns,
		ConnsOutbound:   PeerMaxConns,
		Streams:         PeerMaxStreamsInbound + PeerMaxStreamsOutbound,
		StreamsInbound:  PeerMaxStreamsInbound,
		StreamsOutbound: PeerMaxStreamsOutbound,
		Memory:          PeerMaxMemory,
		FD:              PeerMaxFD,
	}
	cfg.PeerLimitIncrease = rcmgr.BaseLimitIncrease{}
	cfg.AddProtocolPeerLimit(ProtocolID, rcmgr.BaseLimit{
		Streams:         ProtocolPeerMaxStreamsInbound + ProtocolPeerMaxStreamsOutbound,
		StreamsInbound:  ProtocolPeerMaxStreamsInbound,
		StreamsOutbound: ProtocolPeerMaxStreamsOutbound,
		Memory:          ProtocolPeerMaxMemory,
	}, rcmgr.BaseLimitIncrease{})
	rm, err := rcmgr.NewResourceManager(rcmgr.NewFixedLimiter(cfg.AutoScale()))
	if err != nil {
		return nil, fmt.Errorf("net: starting the resource manager failed: %w", err)
	}
	return rm, nil
}
