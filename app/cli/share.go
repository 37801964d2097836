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
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return fmt.Errorf("%w: share takes one folder", errUsage)
	}
	if *identity == "" {
		if *identity, err = p2pnet.DefaultIdentityPath(); err != nil {
			return err
		}
	}
	key, err := p2pnet.LoadIdentity(*identity)
	if err != nil {
		return err
	}
	h, err := p2pnet.NewHost(p2pnet.HostOptions{Identity: key, ListenAddrs: listen})
	if err != nil {
		return err
	}
	defer h.Close()
	s := p2pnet.NewSharer(h, p2pnet.SharerOptions{Logger: e.log})
	defer s.Close()
	link, err := s.Share(pos[0])
	if err != nil {
		return err
	}
	// The link alone on the first line, so scripts can read it.
	fmt.Fprintln(e.stdout, link)
	e.log.Info("sharing; press Ctrl+C to stop", "folder", pos[0], "peer", h.ID(), "addrs", h.Addrs())
	<-ctx.Done()
	e.log.Info("stopped sharing")
	return nil
}
