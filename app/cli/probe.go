package cli

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"strings"

	p2pnet "reelay/net"
)

// reachFlags are the switches for how a host finds peers and gets through
// NATs. Each falls back to an environment variable, so commands without
// the flags (fetch, play) follow the same settings:
// REELAY_BOOTSTRAP and REELAY_RELAY (multiaddrs separated by commas or
// spaces), REELAY_NO_DHT=1, REELAY_NO_MDNS=1.
type reachFlags struct {
	bootstrap, relays stringList
	noDHT, noMDNS     bool
}

func addReachFlags(fs *flag.FlagSet) *reachFlags {
	r := &reachFlags{noDHT: envBool("REELAY_NO_DHT"), noMDNS: envBool("REELAY_NO_MDNS")}
	fs.Var(&r.bootstrap, "bootstrap", "DHT bootstrap peer, a multiaddr ending in /p2p/ID (repeatable); default: $REELAY_BOOTSTRAP, else libp2p's public bootstrap peers")
	fs.Var(&r.relays, "relay", "circuit relay to meet peers through, a multiaddr ending in /p2p/ID (repeatable); default: $REELAY_RELAY, else relays found through the DHT")
	fs.BoolVar(&r.noDHT, "no-dht", r.noDHT, "do not use the DHT: a link holding only a peer ID then works on the local network only")
	fs.BoolVar(&r.noMDNS, "no-mdns", r.noMDNS, "do not announce or look for peers on the local network")
	return r
}

// options turns the switches into ReachOptions; log receives what the
// host learns about its reachability.
func (r *reachFlags) options(log *slog.Logger) (*p2pnet.ReachOptions, error) {
	ro := &p2pnet.ReachOptions{NoDHT: r.noDHT, NoMDNS: r.noMDNS, Logger: log}
	boot := []string(r.bootstrap)
	if len(boot) == 0 {
		boot = envList("REELAY_BOOTSTRAP")
	}
	relays := []string(r.relays)
	if len(relays) == 0 {
		relays = envList("REELAY_RELAY")
	}
	var err error
	if len(boot) > 0 {
		if ro.Bootstrap, err = p2pnet.ParseAddrInfos(boot); err != nil {
			return nil, fmt.Errorf("%w: --bootstrap: %v", errUsage, err)
		}
	}
	if len(relays) > 0 {
		if ro.Relays, err = p2pnet.ParseAddrInfos(relays); err != nil {
			return nil, fmt.Errorf("%w: --relay: %v", errUsage, err)
		}
	}
	return ro, nil
}

func envBool(name string) bool {
	v := os.Getenv(name)
	return v != "" && v != "0" && v != "false"
}

func envList(name string) []string {
	return strings.FieldsFunc(os.Getenv(name), func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\t' })
}

// stderrLog is for commands that have no env at hand: how the sharer was
// reached goes to stderr like the rest of the command's log.
func stderrLog() *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: logLevel()}))
}

// openLink parses a link and dials it from a fresh viewer host; the caller
// closes the host. Discovery follows the REELAY_* environment variables.
func openLink(ctx context.Context, s string) (*p2pnet.Host, *p2pnet.Recording, error) {
	return openLinkWith(ctx, s, &reachFlags{noDHT: envBool("REELAY_NO_DHT"), noMDNS: envBool("REELAY_NO_MDNS")}, stderrLog())
}

// openLinkWith is openLink with explicit switches; log receives how the
// sharer was reached and when the first track bytes arrived.
func openLinkWith(ctx context.Context, s string, rf *reachFlags, log *slog.Logger) (*p2pnet.Host, *p2pnet.Recording, error) {
	link, err := p2pnet.ParseLink(s)
	if err != nil {
		return nil, nil, err
	}
	// A viewer's own reachability is of no interest unless debugging.
	reachLog := slog.New(slog.DiscardHandler)
	if logLevel() <= slog.LevelDebug {
		reachLog = log
	}
	ro, err := rf.options(reachLog)
	if err != nil {
		return nil, nil, err
	}
	// The viewer listens so that hole punching and mDNS can work. A link
	// to this machine (demo, bench) needs neither, nor the DHT.
	o := p2pnet.HostOptions{Reach: ro}
	if link.OnThisMachine() {
		o = p2pnet.HostOptions{ListenAddrs: []string{}}
	}
	h, err := p2pnet.NewHost(o)
	if err != nil {
		return nil, nil, err
	}
	rec, err := p2pnet.DialWith(ctx, h, link, p2pnet.DialOptions{Logger: log})
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

// probeReach is how the sharer was reached; times in milliseconds from
// the start of the dial.
type probeReach struct {
	Path        string  `json:"path"`
	Found       string  `json:"found"`
	LookupMS    float64 `json:"lookup_ms"`
	RelayMS     float64 `json:"relay_ms"`
	HolePunchMS float64 `json:"holepunch_ms"`
	ConnectMS   float64 `json:"connect_ms"`
	FirstByteMS float64 `json:"firstbyte_ms"`
}

type probeResult struct {
	Name   string       `json:"name"`
	Tracks []probeTrack `json:"tracks"`
	Reach  probeReach   `json:"reach"`
}

func runProbe(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("probe", flag.ContinueOnError)
	rf := addReachFlags(fs)
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return fmt.Errorf("%w: probe takes one link", errUsage)
	}
	h, rec, err := openLinkWith(ctx, pos[0], rf, e.log)
	if err != nil {
		return err
	}
	defer h.Close()
	st := rec.Steps()
	out := probeResult{Name: rec.Name(), Tracks: []probeTrack{}, Reach: probeReach{
		Path: rec.Path().String(), Found: st.Found,
		LookupMS: ms(st.Lookup), RelayMS: ms(st.Relay), HolePunchMS: ms(st.HolePunch),
		ConnectMS: ms(st.Connect), FirstByteMS: ms(st.FirstByte),
	}}
	for _, t := range rec.Tracks() {
		out.Tracks = append(out.Tracks, probeTrack{Name: t.Name, Size: t.Size, Start: t.Start.Seconds()})
	}
	enc := json.NewEncoder(e.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}
