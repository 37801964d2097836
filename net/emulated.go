package net

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	stdnet "net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/Shopify/toxiproxy/v2/stream"
	"github.com/Shopify/toxiproxy/v2/toxics"
	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/network"
	libp2pquic "github.com/libp2p/go-libp2p/p2p/transport/quic"
	"github.com/libp2p/go-libp2p/p2p/transport/quicreuse"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"
	"github.com/marcopolo/simnet"
	ma "github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"
	"github.com/quic-go/quic-go"
	"github.com/rs/zerolog"
	"go.uber.org/fx"
)

// EmulatedLink is a home connection between a sharer and a viewer, as
// NewEmulatedPair reproduces it in this process: a delay, a rate and
// random loss in each direction.
type EmulatedLink struct {
	// RTT is the round trip; each direction gets half, so a request and
	// its answer take at least RTT. It defaults to zero: no delay.
	RTT time.Duration
	// Rate is how many bits per second cross the link, each direction
	// alike, as on a symmetric line. Over QUIC simnet counts the UDP
	// payload (not the IP and UDP headers); over TCP the whole IP packet
	// (TCP and IP headers too), or through toxiproxy the byte stream,
	// rounded to whole kilobytes (1000 bytes) per second. It defaults to
	// zero: no limit.
	Rate int64
	// Loss is the probability, from 0 to just under 1, that a packet is
	// lost, drawn independently for every packet in each direction.
	// Through toxiproxy TCP cannot be given loss: it relays a byte stream
	// and has no packets to drop, so NewEmulatedPair refuses it there. It
	// defaults to zero: nothing lost at random.
	Loss float64
	// Queue would be the router's queue, as the time it takes to drain at
	// Rate, for a drop-tail queue of that size. Neither emulator can be
	// given one, so NewEmulatedPair refuses any value but zero rather than
	// pretend. The queue really is simnet's fq_codel on each endpoint's
	// uplink and downlink (CoDel target 5 ms, interval 100 ms, no limit on
	// its length; the pair's packets are one flow, so plain CoDel), whose
	// drops simnet does not count. Through toxiproxy it is the sender's
	// and the proxy's loopback socket buffers in front of the rate stage,
	// up to the kernel's tcp_wmem and tcp_rmem maxima (megabytes): they
	// never drop, so TCP sees delay but never a loss, and fills them as
	// far as its and yamux's flow control let it. It defaults to zero,
	// which means that queue.
	Queue time.Duration
	// Congestion is the congestion control of TCP's senders on both ends,
	// as Linux names it (cubic, bbr, reno), for TCP across simnet; empty
	// keeps the machine's default. QUIC keeps quic-go's own whatever it
	// says.
	Congestion string
}

// rateUnits are the units ParseEmulatedLink knows for a rate, largest
// first so String picks the shortest form.
var rateUnits = []struct {
	name string
	bits int64
}{{"gbit", 1e9}, {"mbit", 1e6}, {"kbit", 1e3}}

// ParseEmulatedLink reads a link in the form RTT[,rate][,loss][,tcp],
// as in "50ms,20mbit,0.1%,cubic": the round trip as a Go duration, the
// rate in kbit, mbit or gbit per second (rounded to whole bits per
// second), the loss as a percentage, and TCP's congestion control. The
// rate and the loss may be left out, each meaning none, and the
// congestion control, meaning the machine's default.
func ParseEmulatedLink(s string) (EmulatedLink, error) {
	bad := func(format string, a ...any) (EmulatedLink, error) {
		return EmulatedLink{}, fmt.Errorf("net: link %q: %s", s, fmt.Sprintf(format, a...))
	}
	fields := strings.Split(s, ",")
	if len(fields) > 4 {
		return bad("has %d fields, want at most 4 (RTT, rate, loss, TCP's congestion control)", len(fields))
	}
	for i := range fields {
		fields[i] = strings.TrimSpace(fields[i])
		if fields[i] == "" {
			return bad("field %d is empty", i+1)
		}
	}
	var l EmulatedLink
	rtt, err := time.ParseDuration(fields[0])
	if err != nil {
		return bad("the round trip %q is not a duration like 50ms", fields[0])
	}
	if rtt < 0 {
		return bad("the round trip %v is negative", rtt)
	}
	l.RTT = rtt
	var haveRate, haveLoss bool
	for _, f := range fields[1:] {
		lower := strings.ToLower(f)
		switch {
		case strings.HasSuffix(lower, "%"):
			if haveLoss {
				return bad("gives the loss twice")
			}
			haveLoss = true
			p, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(lower, "%")), 64)
			if err != nil || math.IsNaN(p) {
				return bad("the loss %q is not a percentage like 0.1%%", f)
			}
			if p < 0 || p >= 100 {
				return bad("the loss %s is outside 0%% to 100%% (100%% excluded)", f)
			}
			l.Loss = p / 100
		case strings.HasSuffix(lower, "bit"):
			if haveRate {
				return bad("gives the rate twice")
			}
			haveRate = true
			rate, err := parseRate(lower)
			if err != nil {
				return bad("the rate %q %v", f, err)
			}
			l.Rate = rate
		case congestionName(lower):
			if l.Congestion != "" {
				return bad("gives TCP's congestion control twice")
			}
			l.Congestion = lower
		default:
			return bad("%q is neither a rate (kbit, mbit, gbit), a loss (%%) nor a congestion control (cubic, bbr)", f)
		}
	}
	return l, nil
}

// congestionName says whether s can name a congestion control: a letter,
// then letters, digits or underscores, as Linux's names go.
func congestionName(s string) bool {
	for i, r := range s {
		switch {
		case r >= 'a' && r <= 'z':
		case i > 0 && (r >= '0' && r <= '9' || r == '_'):
		default:
			return false
		}
	}
	return s != ""
}

// parseRate reads a rate such as "20mbit" (lower case) in bits per second.
func parseRate(s string) (int64, error) {
	for _, u := range rateUnits {
		num, ok := strings.CutSuffix(s, u.name)
		if !ok {
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
		if err != nil || math.IsNaN(v) {
			return 0, errors.New("is not a number and a unit like 20mbit")
		}
		bits := math.Round(v * float64(u.bits))
		switch {
		case bits < 1:
			return 0, errors.New("is under 1 bit per second; leave the rate out for no limit")
		case bits > 1e18:
			return 0, errors.New("is beyond any link")
		}
		return int64(bits), nil
	}
	return 0, errors.New("needs a unit: kbit, mbit or gbit")
}

// String gives the link in ParseEmulatedLink's form, leaving out a rate
// or loss of zero. Queue has no place in that form.
func (l EmulatedLink) String() string {
	var b strings.Builder
	b.WriteString(l.RTT.String())
	if l.Rate > 0 {
		b.WriteString(",")
		b.WriteString(formatRate(l.Rate))
	}
	if l.Loss > 0 {
		// Twelve digits hide the rounding of a percentage divided by 100
		// and multiplied back, so a parsed link prints as it was written.
		b.WriteString("," + strconv.FormatFloat(l.Loss*100, 'g', 12, 64) + "%")
	}
	if l.Congestion != "" {
		b.WriteString("," + l.Congestion)
	}
	return b.String()
}

// formatRate writes bits per second in the largest unit that keeps it
// whole, and in kbit with decimals when none does.
func formatRate(bits int64) string {
	for _, u := range rateUnits {
		if bits%u.bits == 0 {
			return strconv.FormatInt(bits/u.bits, 10) + u.name
		}
	}
	return strconv.FormatFloat(float64(bits)/1e3, 'f', -1, 64) + "kbit"
}

// check reports a link no emulator can reproduce, whatever the transport.
func (l EmulatedLink) check() error {
	switch {
	case l.RTT < 0:
		return fmt.Errorf("net: link %q: the round trip is negative", l)
	case l.Rate < 0:
		return fmt.Errorf("net: link %q: the rate is negative", l)
	case math.IsNaN(l.Loss) || l.Loss < 0 || l.Loss >= 1:
		return fmt.Errorf("net: link %q: the loss %v is not a probability from 0 to just under 1", l, l.Loss)
	case l.Congestion != "" && !congestionName(l.Congestion):
		return fmt.Errorf("net: link %q: %q cannot name a congestion control", l, l.Congestion)
	case l.Queue != 0:
		return fmt.Errorf("net: link %q: a drop-tail queue of %v cannot be emulated: simnet queues with fq_codel and toxiproxy in TCP socket buffers, neither of a size one can set; leave Queue zero", l, l.Queue)
	}
	return nil
}

// Transport is the libp2p transport an EmulatedPair's hosts talk over.
type Transport int

const (
	// TransportUnknown is the zero value, which NewEmulatedPair refuses.
	TransportUnknown Transport = iota
	// TransportQUIC is QUIC over UDP, through simnet: delay, rate, loss
	// and an fq_codel queue, per packet.
	TransportQUIC
	// TransportTCP is the operating system's TCP, each host in a network
	// namespace of its own, the IP packets between them through simnet:
	// delay, rate, loss and an fq_codel queue, per packet, as for QUIC.
	// Where namespaces and tun devices cannot be made (they need Linux and
	// root), it is TCP through a toxiproxy proxy instead: delay and rate on the byte
	// stream, no loss.
	TransportTCP
	// transportTCPProxy is TCP through the proxy even where the operating
	// system's could cross simnet, for tests of the proxy.
	transportTCPProxy
)

// String names the transport as a command line would: "quic" or "tcp".
func (t Transport) String() string {
	switch t {
	case TransportQUIC:
		return "quic"
	case TransportTCP:
		return "tcp"
	case transportTCPProxy:
		return "tcp-proxy"
	default:
		return "unknown"
	}
}

// EmulatedLinkStats counts what went into an emulated link so far, each
// direction.
type EmulatedLinkStats struct {
	// Down is sharer to viewer: the media.
	Down EmulatedDirectionStats
	// Up is viewer to sharer: requests and acknowledgements.
	Up EmulatedDirectionStats
}

// EmulatedDirectionStats counts one direction of an emulated link.
type EmulatedDirectionStats struct {
	// Packets counts the packets sent into the link, lost ones included:
	// QUIC's datagrams, or TCP's IP packets. Through toxiproxy, which
	// relays a byte stream, it stays zero.
	Packets int64
	// Bytes counts what was sent into the link, lost packets included:
	// the datagrams' payloads, or the whole IP packets; through toxiproxy,
	// the bytes that left the proxy's rate stage.
	Bytes int64
	// Lost counts the packets dropped at random for EmulatedLink.Loss.
	// Drops by simnet's fq_codel are not among them: simnet does not
	// report them. Through toxiproxy nothing is lost.
	Lost int64
}

// EmulatedPair is a sharer host and a viewer host on either side of an
// emulated link, in this process.
type EmulatedPair struct {
	// Sharer serves; the Viewer can reach it only across the link, and
	// the addresses in its links are the link's.
	Sharer *Host
	// Viewer dials the Sharer.
	Viewer *Host

	// link is what the pair emulates, for errors.
	link EmulatedLink
	// sim is the simulated network; nil through toxiproxy.
	sim *simnet.Simnet
	// sharerEnd and viewerEnd are the hosts' simnet endpoints, kept for
	// Stats; nil through toxiproxy.
	sharerEnd, viewerEnd *simEndpoint
	// laneMu guards laneEnds, the simnet endpoints of the viewer's lanes
	// (lanes.go), each of its own address with the viewer's link.
	laneMu   sync.Mutex
	laneEnds []*simEndpoint
	// kernel carries TCP through the operating system's TCP stack and the
	// simnet; nil over QUIC and through the proxy.
	kernel *kernelTCP
	// proxyWhy says why TCP goes through the proxy instead: why kernel
	// could not be made.
	proxyWhy error
	// proxy shapes TCP in front of the sharer where kernel cannot be made;
	// nil otherwise.
	proxy *toxiproxy.Proxy
	// down and up count the bytes leaving the proxy's rate stage each
	// way; nil without the proxy.
	down, up *departureToxic
	// closed is closed by Close, for the proxy's delay stages to let go
	// of what they hold: the connection they would pass it to may be gone.
	closed chan struct{}

	// closeOnce makes Close idempotent; closeErr is what the first Close
	// returned, for the later ones.
	closeOnce sync.Once
	closeErr  error
}

// simnetPort is the UDP port every simnet endpoint listens on; each
// host has an address of its own.
const simnetPort = 8000

// The sharer's and the viewer's addresses where TCP crosses the link
// through the operating system (startKernelTCP), on a /30 of their own in
// each one's namespace.
var (
	kernelSharerIP = netip.MustParseAddr("10.77.0.1")
	kernelViewerIP = netip.MustParseAddr("10.77.0.2")
)

// NewEmulatedPair starts a sharer host and a viewer host joined by link
// over tr. Both keep Reelay's resource manager and limits (NewHost). Over
// QUIC they talk through simnet only. Over TCP each lives in a network
// namespace whose one way out crosses simnet; where namespaces cannot be
// made, the sharer listens on loopback and announces only the address of
// a toxiproxy proxy that shapes the traffic, and the viewer dials through
// it (Proxied says so). Close stops both hosts and the link.
func NewEmulatedPair(link EmulatedLink, tr Transport) (*EmulatedPair, error) {
	if err := link.check(); err != nil {
		return nil, err
	}
	p := &EmulatedPair{link: link}
	var err error
	switch tr {
	case TransportQUIC:
		err = p.startQUIC()
	case TransportTCP:
		err = p.startTCP()
	case transportTCPProxy:
		err = p.startProxyTCP()
	default:
		return nil, fmt.Errorf("net: link %q: no transport chosen (QUIC or TCP)", link)
	}
	if err != nil {
		p.Close()
		return nil, err
	}
	return p, nil
}

// startSimnet starts the simnet link and makes the sharer's and the
// viewer's endpoints on it: a static delay of half the round trip in the
// router, Rate on each endpoint's uplink and downlink.
func (p *EmulatedPair) startSimnet() {
	// simnet has no "unlimited"; this is far beyond what Reelay moves.
	rate := math.MaxInt / 2
	if p.link.Rate > 0 && p.link.Rate < int64(rate) {
		rate = int(p.link.Rate)
	}
	dir := simnet.LinkSettings{BitsPerSecond: rate, MTU: 1500}
	settings := simnet.NodeBiDiLinkSettings{Uplink: dir, Downlink: dir}
	p.sim = &simnet.Simnet{
		LatencyFunc: simnet.StaticLatency(p.link.RTT / 2),
		// simnet logs packets sent to addresses it does not know; on a real
		// network they vanish silently too.
		Logger: slog.New(slog.DiscardHandler),
	}
	p.sim.Start()
	p.sharerEnd = &simEndpoint{sim: p.sim, addr: &stdnet.UDPAddr{IP: simnet.IntToPublicIPv4(0), Port: simnetPort}, settings: settings, loss: p.link.Loss}
	p.viewerEnd = &simEndpoint{sim: p.sim, addr: &stdnet.UDPAddr{IP: simnet.IntToPublicIPv4(1), Port: simnetPort}, settings: settings, loss: p.link.Loss}
}

// startQUIC puts both hosts on the simnet link, QUIC their only transport.
func (p *EmulatedPair) startQUIC() error {
	p.startSimnet()
	var err error
	if p.Sharer, err = p.sharerEnd.newHost(nil); err != nil {
		return fmt.Errorf("net: starting the emulated link's sharer failed: %w", err)
	}
	// The viewer listens too: quic-go dials from a listening endpoint, and
	// only a simnet address is routable on the link.
	if p.Viewer, err = p.viewerEnd.newHost(nil); err != nil {
		return fmt.Errorf("net: starting the emulated link's viewer failed: %w", err)
	}
	key := p.Viewer.Peerstore().PrivKey(p.Viewer.ID())
	p.Viewer.lane = func() (*Host, error) { return p.newLane(key) }
	return nil
}

// newLane starts a host for one of the viewer's lanes, under its key, on a
// simnet endpoint of its own: the viewer's downlink is not the narrow end.
func (p *EmulatedPair) newLane(key crypto.PrivKey) (*Host, error) {
	p.laneMu.Lock()
	e := &simEndpoint{sim: p.sim, addr: &stdnet.UDPAddr{IP: simnet.IntToPublicIPv4(laneFirstIP + len(p.laneEnds)), Port: simnetPort}, settings: p.viewerEnd.settings, loss: p.link.Loss}
	p.laneEnds = append(p.laneEnds, e)
	p.laneMu.Unlock()
	return e.newHost(key)
}

// laneFirstIP numbers the simnet address of the viewer's first lane,
// clear of the sharer's (0), the viewer's (1) and other viewers'.
const laneFirstIP = 100

// startTCP carries TCP across the simnet link through the operating
// system's TCP stack where this process may make network namespaces and
// tun devices (startKernelTCP), and through a toxiproxy proxy, which can
// give no loss, where it may not.
func (p *EmulatedPair) startTCP() error {
	err := p.startKernelTCP()
	if err == nil {
		return nil
	}
	p.proxyWhy = err
	return p.startProxyTCP()
}

// startProxyTCP starts the sharer on loopback, a toxiproxy proxy in front
// of it, and a viewer that knows only the proxy's address.
func (p *EmulatedPair) startProxyTCP() error {
	if p.link.Loss > 0 || p.link.Congestion != "" {
		why := "it was not tried"
		if p.proxyWhy != nil {
			why = p.proxyWhy.Error()
		}
		unreachable := "the operating system's TCP in network namespaces of the link's own, which root on Linux can make, is out of reach (" + why + ")"
		if p.link.Loss > 0 {
			return fmt.Errorf("net: link %q: TCP cannot be given random loss here: toxiproxy relays a byte stream and has no packets to drop, and %s", p.link, unreachable)
		}
		return fmt.Errorf("net: link %q: TCP's congestion control cannot be chosen through toxiproxy, and %s", p.link, unreachable)
	}
	kbytes := (p.link.Rate + 4000) / 8000
	if p.link.Rate > 0 && kbytes == 0 {
		return fmt.Errorf("net: link %q: toxiproxy paces in kilobytes per second and cannot go below 8kbit", p.link)
	}
	var announce atomic.Pointer[ma.Multiaddr]
	// The one transport that crosses the link, and the proxy's address
	// to announce instead of the sharer's own.
	sharer := []libp2p.Option{
		libp2p.Transport(tcp.NewTCPTransport),
		// Until the proxy runs, announce nothing rather than the address
		// that bypasses it.
		libp2p.AddrsFactory(func([]ma.Multiaddr) []ma.Multiaddr {
			if a := announce.Load(); a != nil {
				return []ma.Multiaddr{*a}
			}
			return nil
		}),
	}
	var err error
	p.Sharer, err = NewHost(HostOptions{ListenAddrs: []string{"/ip4/127.0.0.1/tcp/0"}, transports: sharer})
	if err != nil {
		return fmt.Errorf("net: starting the emulated link's sharer failed: %w", err)
	}
	var upstream string
	for _, a := range p.Sharer.Network().ListenAddresses() {
		if na, err := manet.ToNetAddr(a); err == nil {
			if _, ok := na.(*stdnet.TCPAddr); ok {
				upstream = na.String()
			}
		}
	}
	if upstream == "" {
		return fmt.Errorf("net: link %q: the sharer listens on %v, no TCP address", p.link, p.Sharer.Network().ListenAddresses())
	}
	if err := p.startProxy(upstream, kbytes); err != nil {
		return err
	}
	proxyAddr, err := ma.NewMultiaddr("/ip4/127.0.0.1/tcp/" + p.proxyPort())
	if err != nil {
		return fmt.Errorf("net: link %q: the proxy's address %s: %w", p.link, p.proxy.Listen, err)
	}
	announce.Store(&proxyAddr)
	viewer := []libp2p.Option{libp2p.Transport(tcp.NewTCPTransport)}
	if p.Viewer, err = NewHost(HostOptions{ListenAddrs: []string{}, transports: viewer}); err != nil {
		return fmt.Errorf("net: starting the emulated link's viewer failed: %w", err)
	}
	return nil
}

// startProxy starts toxiproxy on a loopback port in front of upstream,
// with a rate of kbytes kilobytes per second (none when zero) and half
// the round trip, each direction.
func (p *EmulatedPair) startProxy(upstream string, kbytes int64) error {
	registerToxics()
	p.closed = make(chan struct{})
	srv := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(nil), zerolog.Nop())
	p.proxy = toxiproxy.NewProxy(srv, "reelay-emulated", "127.0.0.1:0", upstream)
	if err := p.proxy.Start(); err != nil {
		p.proxy = nil
		return fmt.Errorf("net: starting the emulated link's proxy failed: %w", err)
	}
	oneWay := p.link.RTT / 2
	for _, way := range []string{"downstream", "upstream"} {
		// The rate stage comes first, so bytes wait for it in the socket
		// buffers as at a router; the departure stage then stamps them as
		// leaving that queue, so the delay stage adds the whole one-way
		// delay after it. Toxiproxy's own latency stage counts from when
		// the proxy read the bytes, which would hide the delay behind the
		// queue, and it blocks for good once its connection is gone.
		if kbytes > 0 {
			if _, err := p.addToxic(way+"_rate", "bandwidth", way, map[string]any{"rate": kbytes}); err != nil {
				return err
			}
		}
		w, err := p.addToxic(way+"_departure", departureToxicType, way, nil)
		if err != nil {
			return err
		}
		d, ok := w.Toxic.(*departureToxic)
		if !ok {
			return fmt.Errorf("net: the emulated link's proxy made a %T for a departure stage", w.Toxic)
		}
		if way == "downstream" {
			p.down = d
		} else {
			p.up = d
		}
		w, err = p.addToxic(way+"_delay", delayToxicType, way, map[string]any{"delay": oneWay})
		if err != nil {
			return err
		}
		dl, ok := w.Toxic.(*delayToxic)
		if !ok {
			return fmt.Errorf("net: the emulated link's proxy made a %T for a delay stage", w.Toxic)
		}
		// No connection runs through the proxy yet: the sharer announces
		// it only once this returns.
		dl.closed.Store(&p.closed)
	}
	return nil
}

// proxyPort is the port the proxy listens on, which toxiproxy picked.
func (p *EmulatedPair) proxyPort() string {
	_, port, _ := stdnet.SplitHostPort(p.proxy.Listen)
	return port
}

// addToxic adds a toxic to the proxy's chain for one direction.
func (p *EmulatedPair) addToxic(name, typ, way string, attrs map[string]any) (*toxics.ToxicWrapper, error) {
	if attrs == nil {
		attrs = map[string]any{}
	}
	body, err := json.Marshal(map[string]any{"name": name, "type": typ, "stream": way, "toxicity": 1.0, "attributes": attrs})
	if err != nil {
		return nil, fmt.Errorf("net: shaping the emulated link (%s) failed: %w", name, err)
	}
	w, err := p.proxy.Toxics.AddToxicJson(bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("net: shaping the emulated link (%s) failed: %w", name, err)
	}
	return w, nil
}

// Proxied says why TCP goes through toxiproxy, without loss and with
// the operating system's socket buffers for a queue, rather than through
// the operating system's TCP across simnet; nil when it does not.
func (p *EmulatedPair) Proxied() error {
	switch {
	case p.proxy == nil:
		return nil
	case p.proxyWhy == nil:
		return errors.New("net: the proxy was asked for")
	}
	return p.proxyWhy
}

// TCPCongestion names the congestion control of TCP across the link, as
// Linux does, or is empty where the link has no TCP of its own (QUIC, or
// TCP through toxiproxy on loopback).
func (p *EmulatedPair) TCPCongestion() string {
	if p.kernel == nil {
		return ""
	}
	return p.kernel.congestion
}

// Stats counts what went into the link so far, each direction, as far as
// the transport lets it be counted (see EmulatedDirectionStats).
func (p *EmulatedPair) Stats() EmulatedLinkStats {
	var s EmulatedLinkStats
	if p.sharerEnd != nil {
		s.Down = p.sharerEnd.stats()
		s.Up = p.viewerEnd.stats()
		p.laneMu.Lock()
		for _, e := range p.laneEnds {
			l := e.stats()
			s.Up.Packets += l.Packets
			s.Up.Bytes += l.Bytes
			s.Up.Lost += l.Lost
		}
		p.laneMu.Unlock()
	}
	if p.down != nil {
		s.Down.Bytes = p.down.bytes.Load()
	}
	if p.up != nil {
		s.Up.Bytes = p.up.bytes.Load()
	}
	return s
}

// Close stops the viewer, the sharer and then the link: the goroutines
// that carry TCP's packets, simnet's, or the proxy and its connections. It is safe to call more
// than once. Simnet's goroutines have ended when it returns; toxiproxy's
// end shortly after, as their connections wind down (a rate stage may
// finish the chunk it is pacing first).
func (p *EmulatedPair) Close() error {
	p.closeOnce.Do(func() {
		var errs []error
		if p.Viewer != nil {
			if err := p.Viewer.Close(); err != nil {
				errs = append(errs, fmt.Errorf("net: closing the emulated link's viewer failed: %w", err))
			}
		}
		if p.Sharer != nil {
			if err := p.Sharer.Close(); err != nil {
				errs = append(errs, fmt.Errorf("net: closing the emulated link's sharer failed: %w", err))
			}
		}
		// The hosts first: closing their connections sends bytes, and
		// simnet's endpoints stop reading once it is closed.
		if p.kernel != nil {
			p.kernel.close()
		}
		if p.sim != nil {
			p.sim.Close()
		}
		if p.proxy != nil {
			close(p.closed)
			p.proxy.Stop()
		}
		p.closeErr = errors.Join(errs...)
	})
	return p.closeErr
}

// simEndpoint is one host's address on the simnet and, once the host
// listens, its endpoint there.
type simEndpoint struct {
	// sim is the network the endpoint joins.
	sim *simnet.Simnet
	// addr is the only address the host may listen on.
	addr *stdnet.UDPAddr
	// settings are the endpoint's uplink and downlink.
	settings simnet.NodeBiDiLinkSettings
	// loss is the probability that a datagram the host sends is lost.
	loss float64

	// mu guards conn, made when the host listens and read by Stats.
	mu   sync.Mutex
	conn *lossyConn
}

// newHost starts a host whose only transport is QUIC on this endpoint,
// with the identity key (a fresh one when nil).
func (e *simEndpoint) newHost(key crypto.PrivKey) (*Host, error) {
	quicOpts := []quicreuse.Option{
		quicreuse.OverrideListenUDP(e.listenUDP),
		// quicreuse asks the system's routing table which local address
		// reaches a peer; on the simnet there is only this one.
		quicreuse.OverrideSourceIPSelector(func() (quicreuse.SourceIPSelector, error) { return e, nil }),
	}
	transports := []libp2p.Option{
		libp2p.QUICReuse(newQUICConnManager, quicOpts...),
		libp2p.Transport(libp2pquic.NewTransport),
	}
	listen, err := manet.FromNetAddr(e.addr)
	if err != nil {
		return nil, fmt.Errorf("net: the simnet address %s: %w", e.addr, err)
	}
	return NewHost(HostOptions{Identity: key, ListenAddrs: []string{listen.String() + "/quic-v1"}, transports: transports})
}

// listenUDP gives quicreuse the endpoint's connection in place of a UDP
// socket; any other address has nothing behind it on the simnet.
func (e *simEndpoint) listenUDP(_ string, laddr *stdnet.UDPAddr) (stdnet.PacketConn, error) {
	if !laddr.IP.Equal(e.addr.IP) || laddr.Port != e.addr.Port {
		return nil, fmt.Errorf("net: the emulated link has no endpoint at %s, only at %s", laddr, e.addr)
	}
	// The address libp2p asked for, not e.addr: simnet routes by the
	// address bytes, and peers address packets the way libp2p writes them.
	if c := e.open(laddr); c != nil {
		return c, nil
	}
	return nil, fmt.Errorf("net: the emulated link's endpoint %s is in use already", laddr)
}

// open joins the endpoint to the simnet as addr, the first time; after
// that it returns nil.
func (e *simEndpoint) open(addr *stdnet.UDPAddr) *lossyConn {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.conn != nil {
		return nil
	}
	e.conn = &lossyConn{SimConn: e.sim.NewEndpoint(addr, e.settings), loss: e.loss}
	return e.conn
}

// PreferredSourceIPForDestination is the endpoint's address, whatever the
// destination: quicreuse then dials from the endpoint's listener.
func (e *simEndpoint) PreferredSourceIPForDestination(*stdnet.UDPAddr) (stdnet.IP, error) {
	return e.addr.IP, nil
}

// stats counts what the endpoint's host sent into the link.
func (e *simEndpoint) stats() EmulatedDirectionStats {
	e.mu.Lock()
	c := e.conn
	e.mu.Unlock()
	if c == nil {
		return EmulatedDirectionStats{}
	}
	return EmulatedDirectionStats{Packets: c.packets.Load(), Bytes: c.bytes.Load(), Lost: c.lost.Load()}
}

// newQUICConnManager is libp2p's own QUIC connection manager, with its
// check of inbound connections against the resource manager, made with
// opts that put it on the simnet. libp2p closes it with the host.
func newQUICConnManager(l fx.Lifecycle, key quic.StatelessResetKey, tokenKey quic.TokenGeneratorKey, rcmgr network.ResourceManager, opts ...quicreuse.Option) (*quicreuse.ConnManager, error) {
	opts = append(opts,
		quicreuse.ConnContext(func(ctx context.Context, ci *quic.ClientInfo) (context.Context, error) {
			addr, err := quicreuse.ToQuicMultiaddr(ci.RemoteAddr, quic.Version1)
			if err != nil {
				// The resource manager decides without an address.
				addr = nil
			}
			scope, err := rcmgr.OpenConnection(network.DirInbound, false, addr)
			if err != nil {
				return ctx, err
			}
			ctx = network.WithConnManagementScope(ctx, scope)
			context.AfterFunc(ctx, scope.Done)
			return ctx, nil
		}),
		quicreuse.VerifySourceAddress(rcmgr.VerifySourceAddress),
	)
	cm, err := quicreuse.NewConnManager(key, tokenKey, opts...)
	if err != nil {
		return nil, fmt.Errorf("net: starting QUIC on the emulated link failed: %w", err)
	}
	l.Append(fx.StopHook(cm.Close))
	return cm, nil
}

// lossyConn is a simnet endpoint that loses datagrams at random as they
// are sent, and counts them. It embeds the endpoint, so quic-go finds
// every method it looks for (SetReadBuffer, deadlines, LocalAddr).
type lossyConn struct {
	*simnet.SimConn
	// loss is the probability that a datagram is lost.
	loss float64
	// packets and bytes count the datagrams sent, lost ones included;
	// lost counts those dropped.
	packets, bytes, lost atomic.Int64
}

// WriteTo sends p into the link, or drops it with probability loss.
// A dropped datagram looks sent, as on a real network.
func (c *lossyConn) WriteTo(p []byte, addr stdnet.Addr) (int, error) {
	c.packets.Add(1)
	c.bytes.Add(int64(len(p)))
	if c.loss > 0 && rand.Float64() < c.loss {
		c.lost.Add(1)
		return len(p), nil
	}
	return c.SimConn.WriteTo(p, addr)
}

// Toxiproxy type names of departureToxic and delayToxic.
const (
	departureToxicType = "reelay_departure"
	delayToxicType     = "reelay_delay"
)

// registerToxics makes departureToxic and delayToxic known to toxiproxy,
// which builds toxics by type name.
var registerToxics = sync.OnceFunc(func() {
	toxics.Register(departureToxicType, new(departureToxic))
	toxics.Register(delayToxicType, new(delayToxic))
})

// departureToxic sits between toxiproxy's rate stage and delayToxic: it
// stamps each chunk with the time it left the queue, so the delay counts
// from there, and counts the bytes for Stats. One serves every
// connection through the proxy in its direction.
type departureToxic struct {
	// bytes counts what passed, every connection together.
	bytes atomic.Int64
}

// Pipe passes chunks on, stamped and counted, until the connection closes
// or toxiproxy interrupts it.
func (t *departureToxic) Pipe(stub *toxics.ToxicStub) {
	for {
		select {
		case <-stub.Interrupt:
			return
		case c := <-stub.Input:
			if c == nil {
				stub.Close()
				return
			}
			t.bytes.Add(int64(len(c.Data)))
			c.Timestamp = time.Now()
			select {
			case stub.Output <- c:
			case <-stub.Interrupt:
				// Toxiproxy is rebuilding the chain; the chunk must not be lost.
				stub.Output <- c
				return
			}
		}
	}
}

// delayToxic holds each chunk until Delay after it left the rate stage
// (departureToxic's stamp), like toxiproxy's latency stage, but lets go
// once the pair is closed instead of waiting for good on a connection
// that is gone. One serves every connection in its direction.
type delayToxic struct {
	// Delay is the one-way delay.
	Delay time.Duration `json:"delay"`
	// closed points to the pair's closed channel; it is set before any
	// connection runs through the proxy.
	closed atomic.Pointer[chan struct{}]
}

// GetBufferSize lets toxiproxy queue chunks in front of the stage: they
// are the bytes in flight, a delay's worth at the link's rate.
func (t *delayToxic) GetBufferSize() int { return 1024 }

// Pipe passes chunks on in order, each once its delay has passed, until
// the connection closes. Once the pair is closed it drops them instead,
// so the stages before it never block, and ends when they do.
func (t *delayToxic) Pipe(stub *toxics.ToxicStub) {
	var closed <-chan struct{}
	if c := t.closed.Load(); c != nil {
		closed = *c
	}
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for {
		var c *stream.StreamChunk
		select {
		case <-stub.Interrupt:
			return
		case <-closed:
			t.drain(stub)
			return
		case c = <-stub.Input:
		}
		if c == nil {
			stub.Close()
			return
		}
		if wait := time.Until(c.Timestamp.Add(t.Delay)); wait > 0 {
			timer.Reset(wait)
			select {
			case <-timer.C:
			case <-closed:
				t.drain(stub)
				return
			case <-stub.Interrupt:
				// Toxiproxy is rebuilding the chain; the chunk must not be lost.
				timer.Stop()
				stub.Output <- c
				return
			}
		}
		select {
		case stub.Output <- c:
		case <-closed:
			t.drain(stub)
			return
		}
	}
}

// drain drops what reaches the stage until the stages before it end.
func (t *delayToxic) drain(stub *toxics.ToxicStub) {
	for range stub.Input {
	}
	stub.Close()
}
