package cli

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"

	"github.com/libp2p/go-libp2p/core/host"

	p2pnet "reelay/net"
)

// openLink parses a link and dials it from a fresh viewer host; the caller
// closes the host.
func openLink(ctx context.Context, s string) (host.Host, *p2pnet.Recording, error) {
	link, err := p2pnet.ParseLink(s)
	if err != nil {
		return nil, nil, err
	}
	h, err := p2pnet.NewHost(p2pnet.HostOptions{ListenAddrs: []string{}})
	if err != nil {
		return nil, nil, err
	}
	rec, err := p2pnet.Dial(ctx, h, link)
	if err != nil {
		h.Close()
		return nil, nil, err
	}
	return h, rec, nil
}

type probeTrack struct {
	Name  string  `json:"name"`
	Size  int64   `json:"size"`
	Start float64 `json:"start"`
}

type probeResult struct {
	Name   string       `json:"name"`
	Tracks []probeTrack `json:"tracks"`
}

func runProbe(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("probe", flag.ContinueOnError)
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return fmt.Errorf("%w: probe takes one link", errUsage)
	}
	h, rec, err := openLink(ctx, pos[0])
	if err != nil {
		return err
	}
	defer h.Close()
	out := probeResult{Name: rec.Name(), Tracks: []probeTrack{}}
	for _, t := range rec.Tracks() {
		out.Tracks = append(out.Tracks, probeTrack{Name: t.Name, Size: t.Size, Start: t.Start.Seconds()})
	}
	enc := json.NewEncoder(e.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}
