package net

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/event"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	libp2pquic "github.com/libp2p/go-libp2p/p2p/transport/quic"
	ma "github.com/multiformats/go-multiaddr"
)

// DefaultListenAddrs listen on every interface over TCP and QUIC, on ports
// the system picks.
var DefaultListenAddrs = []string{
	"/ip4/0.0.0.0/tcp/0",
	"/ip4/0.0.0.0/udp/0/quic-v1",
	"/ip6/::/tcp/0",
	"/ip6/::/udp/0/quic-v1",
}

// LoopbackListenAddrs keep a host on this machine only (demo and tests).
var LoopbackListenAddrs = []string{
	"/ip4/127.0.0.1/tcp/0",
	"/ip4/127.0.0.1/udp/0/quic-v1",
}

// HostOptions configure NewHost.
type HostOptions struct {
	// Identity is the host's key. It defaults to the key in IdentityFile,
	// or else a fresh ephemeral key.
	Identity crypto.PrivKey
	// IdentityFile is a key file LoadIdentity reads (creating it on first
	// use), so the peer ID, and so the links, outlive a restart. The host
	// holds it while it runs: a second host with the same file fails with
	// ErrIdentityInUse until the first is closed.
	IdentityFile string
	// ListenAddrs are multiaddrs to listen on. It defaults to DefaultListenAddrs;
	// an empty non-nil slice listens nowhere (a viewer that only dials).
	// Hole punching and mDNS need the host to listen.
	ListenAddrs []string
	// AnnounceAddrs, when set, are the only addresses the host gives
	// others (in links and to identify) in place of those it listens on:
	// a port forwarded to it, or a proxy in front of it.
	AnnounceAddrs []string
	// Reach turns on finding peers by ID and getting through NATs. It
	// defaults to nil: the host dials only the addresses it is given.
	Reach *ReachOptions

	// transports, when set, replace libp2p's default transports: the one
	// that crosses an emulated link (NewEmulatedPair), or QUIC alone for
	// a lane.
	transports []libp2p.Option
}

// Host is a libp2p host together with the services HostOptions.Reach
// asked for; Close stops them all.
type Host struct {
	host.Host
	// reach is nil for a host made without HostOptions.Reach.
	reach *reach
	// lock holds HostOptions.IdentityFile, nil without one.
	lock *identityLock
	// lane starts a host for one of a recording's lanes (lanes.go): the
	// same identity, QUIC alone, listening nowhere. It is nil where a
	// link has no room for one (an emulated TCP link).
	lane func() (*Host, error)
}

// Close stops the discovery services, then the host.
func (h *Host) Close() error {
	defer h.lock.release()
	if h.reach == nil {
		return h.Host.Close()
	}
	h.reach.stop()
	err := h.Host.Close()
	h.reach.wait()
	return err
}

// Reachability is what AutoNAT found (or Reach declared): whether peers on
// the internet can dial this host. It is unknown without Reach.
func (h *Host) Reachability() network.Reachability {
	if h.reach == nil {
		return network.ReachabilityUnknown
	}
	return network.Reachability(h.reach.reachability.Load())
}

// NewHost starts a libp2p host with TCP and QUIC, and the explicit
// per-peer limits of limits.go on connections, streams and memory.
func NewHost(o HostOptions) (*Host, error) {
	transports := libp2p.DefaultTransports
	if o.transports != nil {
		transports = libp2p.ChainOptions(o.transports...)
	}
	opts := []libp2p.Option{transports, libp2p.DefaultMuxers, libp2p.DefaultSecurity}
	if len(o.AnnounceAddrs) > 0 {
		announce := make([]ma.Multiaddr, len(o.AnnounceAddrs))
		for i, s := range o.AnnounceAddrs {
			a, err := ma.NewMultiaddr(s)
			if err != nil {
				return nil, fmt.Errorf("net: announce address %q: %w", s, err)
			}
			announce[i] = a
		}
		opts = append(opts, libp2p.AddrsFactory(func([]ma.Multiaddr) []ma.Multiaddr { return announce }))
	}
	var lock *identityLock
	if o.IdentityFile != "" {
		if o.Identity == nil {
			key, err := LoadIdentity(o.IdentityFile)
			if err != nil {
				return nil, err
			}
			o.Identity = key
		}
		l, err := lockIdentity(o.IdentityFile)
		if err != nil {
			return nil, err
		}
		lock = l
	}
	started := false
	defer func() {
		if !started {
			lock.release()
		}
	}()
	if o.Identity != nil {
		opts = append(opts, libp2p.Identity(o.Identity))
	}
	switch {
	case o.ListenAddrs == nil:
		opts = append(opts, libp2p.ListenAddrStrings(DefaultListenAddrs...))
	case len(o.ListenAddrs) == 0:
		opts = append(opts, libp2p.NoListenAddrs)
	default:
		for _, a := range o.ListenAddrs {
			if _, err := ma.NewMultiaddr(a); err != nil {
				return nil, fmt.Errorf("net: listen address %q is not a multiaddr: %w", a, err)
			}
		}
		opts = append(opts, libp2p.ListenAddrStrings(o.ListenAddrs...))
	}
	rm, err := newResourceManager()
	if err != nil {
		return nil, err
	}
	opts = append(opts, libp2p.ResourceManager(rm))
	var rc *reach
	if o.Reach != nil {
		rc = newReach(*o.Reach)
		opts = append(opts, rc.libp2pOptions()...)
	}
	h, err := libp2p.New(opts...)
	if err != nil {
		rm.Close()
		return nil, fmt.Errorf("net: starting libp2p host failed: %w", err)
	}
	hh := &Host{Host: h, reach: rc, lock: lock}
	if o.transports == nil {
		key := h.Peerstore().PrivKey(h.ID())
		hh.lane = func() (*Host, error) {
			return NewHost(HostOptions{Identity: key, ListenAddrs: []string{}, transports: []libp2p.Option{libp2p.Transport(libp2pquic.NewTransport)}})
		}
	}
	started = true
	if rc != nil {
		if err := rc.start(h); err != nil {
			hh.Close()
			return nil, err
		}
	}
	return hh, nil
}

// DefaultIdentityPath is where a sharer keeps its key, so its peer ID and
// therefore its links outlive a restart.
func DefaultIdentityPath() (string, error) {
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("net: no config directory for the identity key: %w", err)
	}
	return filepath.Join(dir, "reelay", "identity.key"), nil
}

// LoadIdentity reads the Ed25519 key at path, creating it (mode 0600, in a
// 0700 directory) on first use. A key file that other users can read is
// refused: whoever holds it can impersonate the sharer.
func LoadIdentity(path string) (crypto.PrivKey, error) {
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return createIdentity(path)
	case err != nil:
		return nil, fmt.Errorf("net: reading identity key failed: %w", err)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("net: identity key %s is readable by others (mode %04o); run chmod 600 %s", path, perm, path)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("net: reading identity key failed: %w", err)
	}
	key, err := crypto.UnmarshalPrivateKey(raw)
	if err != nil {
		return nil, fmt.Errorf("net: identity key %s is corrupt: %w", path, err)
	}
	return key, nil
}

func createIdentity(path string) (crypto.PrivKey, error) {
	key, _, err := crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("net: generating identity key failed: %w", err)
	}
	raw, err := crypto.MarshalPrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("net: encoding identity key failed: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("net: creating identity directory failed: %w", err)
	}
	// O_EXCL: two sharers starting at once must not overwrite each other's key.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return LoadIdentity(path)
	}
	if err != nil {
		return nil, fmt.Errorf("net: creating identity key failed: %w", err)
	}
	if _, err := f.Write(raw); err != nil {
		f.Close()
		os.Remove(path)
		return nil, fmt.Errorf("net: writing identity key failed: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("net: writing identity key failed: %w", err)
	}
	return key, nil
}

// AddrChanges delivers a value each time the host's own addresses change
// (a relay reservation arrives, the network changes), until stop is
// called; stop waits for the goroutine that forwards them.
func (h *Host) AddrChanges() (changes <-chan struct{}, stop func(), err error) {
	sub, err := h.EventBus().Subscribe(new(event.EvtLocalAddressesUpdated))
	if err != nil {
		return nil, nil, fmt.Errorf("net: watching the host's addresses failed: %w", err)
	}
	ch := make(chan struct{}, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range sub.Out() {
			select {
			case ch <- struct{}{}:
			default:
			}
		}
	}()
	return ch, func() { sub.Close(); <-done }, nil
}

// P2PAddrs are the host's addresses each ending in /p2p/ its peer ID, as
// other hosts are given them (--bootstrap, --relay).
func (h *Host) P2PAddrs() ([]string, error) {
	addrs, err := peer.AddrInfoToP2pAddrs(&peer.AddrInfo{ID: h.ID(), Addrs: h.Addrs()})
	if err != nil {
		return nil, err
	}
	out := make([]string, len(addrs))
	for i, a := range addrs {
		out[i] = a.String()
	}
	return out, nil
}

// PeerIDOf is the peer ID of the key in keyFile, which LoadIdentity
// creates on first use: a host made with that IdentityFile has it.
func PeerIDOf(keyFile string) (string, error) {
	key, err := LoadIdentity(keyFile)
	if err != nil {
		return "", err
	}
	id, err := peer.IDFromPrivateKey(key)
	if err != nil {
		return "", fmt.Errorf("net: identity key %s: %w", keyFile, err)
	}
	return id.String(), nil
}
