package cli

import (
	"context"
	"flag"
	"fmt"

	p2pnet "reelay/net"
)

func runShare(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("share", flag.ContinueOnError)
	var listen stringList
	fs.Var(&listen, "listen", "multiaddr to listen on (repeatable); default: every interface, TCP and QUIC")
	identity := fs.String("identity", "", "identity key file; default: reelay/identity.key in the user config dir")
	newLink := fs.Bool("new-link", false, "revoke the folder's previous link and make a new one (the link otherwise stays the same across restarts)")
	rf := addReachFlags(fs)
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return fmt.Errorf("%w: share takes one folder", errUsage)
	}
	ro, err := rf.options(e.log)
	if err != nil {
		return err
	}
	// Behind a NAT, a relay reservation lets viewers meet this sharer
	// and hole punch to it.
	ro.Rendezvous = true
	id, err := identityPath(*identity)
	if err != nil {
		return err
	}
	ss := newShareService(e, id, func() (p2pnet.HostOptions, error) {
		return p2pnet.HostOptions{ListenAddrs: listen, Reach: ro}, nil
	})
	defer ss.close()
	sf, err := ss.share(pos[0], *newLink)
	if err != nil {
		return err
	}
	defer sf.Stop()
	// The link alone on the first line, so scripts can read it.
	fmt.Fprintln(e.stdout, sf.Link())
	h := ss.host()
	if h == nil {
		// One identity is served by one process: the folder is shared by
		// the one running with it, for as long as this command runs.
		e.log.Info("sharing through the Reelay already running with this identity; press Ctrl+C to stop", "folder", pos[0], "pid", sf.PID())
		<-ctx.Done()
		e.log.Info("stopped sharing")
		return nil
	}
	e.log.Info("sharing; press Ctrl+C to stop", "folder", pos[0], "peer", h.ID(), "addrs", h.Addrs())
	// A link holding only the peer ID works too, through mDNS or the DHT;
	// one with addresses saves the lookup, so say when they change (a
	// relay reservation arrives, the network changes).
	changes, stopWatching, err := h.AddrChanges()
	if err != nil {
		return err
	}
	defer stopWatching()
	last := sf.Link()
	for {
		select {
		case <-ctx.Done():
			e.log.Info("stopped sharing")
			return nil
		case <-changes:
			if now := sf.Link(); now != last {
				last = now
				e.log.Info("the link's addresses changed; the first link still works", "link", now)
			}
		}
	}
}

// identityPath is the identity key file: path, by default the user's.
func identityPath(path string) (string, error) {
	if path == "" {
		return p2pnet.DefaultIdentityPath()
	}
	return path, nil
}

// runRelay runs a public helper for sharers and viewers behind NATs: a
// circuit relay where they meet, a DHT bootstrap peer, and an AutoNAT
// server that tells peers whether they are reachable. Run it on a machine
// the internet can reach.
func runRelay(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("relay", flag.ContinueOnError)
	var listen stringList
	fs.Var(&listen, "listen", "multiaddr to listen on (repeatable); default: every interface, TCP and QUIC")
	identity := fs.String("identity", "", "identity key file, so the relay's address stays the same; default: reelay/identity.key in the user config dir")
	unlimited := fs.Bool("unlimited", false, "lift the relay's limits (2 minutes, 128 KiB per connection) so media may flow through it; only for people you trust")
	var boot stringList
	fs.Var(&boot, "bootstrap", "DHT peer to join, a multiaddr ending in /p2p/ID (repeatable); default: libp2p's public bootstrap peers")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return fmt.Errorf("%w: relay takes no arguments", errUsage)
	}
	ro := &p2pnet.ReachOptions{NoMDNS: true, Public: true, UnlimitedRelay: *unlimited, Logger: e.log}
	if len(boot) > 0 {
		if ro.Bootstrap, err = p2pnet.ParseAddrInfos(boot); err != nil {
			return fmt.Errorf("%w: --bootstrap: %v", errUsage, err)
		}
	}
	id, err := identityPath(*identity)
	if err != nil {
		return err
	}
	h, err := p2pnet.NewHost(p2pnet.HostOptions{IdentityFile: id, ListenAddrs: listen, Reach: ro})
	if err != nil {
		return err
	}
	defer h.Close()
	// Its addresses, one a line, to pass as --bootstrap and --relay.
	addrs, err := h.P2PAddrs()
	if err != nil {
		return err
	}
	for _, a := range addrs {
		fmt.Fprintln(e.stdout, a)
	}
	e.log.Info("relaying; press Ctrl+C to stop", "peer", h.ID(), "unlimited", *unlimited)
	<-ctx.Done()
	return nil
}
