// Package linktest puts a shaped link between a viewer and a sharer in
// tests: a toxiproxy proxy, run in the test's process, in front of the
// sharer's TCP address, with latency, bandwidth, dropped and stalled
// connections switched on and off while the test runs. Toxiproxy is a TCP
// proxy, so the sharer must be reached over TCP through Addr only.
package linktest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"testing"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/rs/zerolog"

	"reelay/net/leakcheck"
)

// Proxy is one shaped link.
type Proxy struct {
	// p is the toxiproxy proxy.
	p *toxiproxy.Proxy
}

// New starts a proxy on a loopback port in front of upstream (host:port),
// stopped when tb ends.
func New(tb testing.TB, upstream string) *Proxy {
	tb.Helper()
	// Toxics log through zerolog's global logger; tests read their own.
	zerolog.SetGlobalLevel(zerolog.Disabled)
	// When a connection closes while a toxic holds its bytes (a latency
	// toxic's delay line, say), toxiproxy leaves that toxic's goroutine
	// blocked for good on a stage that stopped reading. They are the
	// harness's, not Reelay's.
	leakcheck.Ignore("github.com/Shopify/toxiproxy/v2")
	srv := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(nil), zerolog.Nop())
	p := toxiproxy.NewProxy(srv, "reelay", "127.0.0.1:0", upstream)
	if err := p.Start(); err != nil {
		tb.Fatalf("linktest: starting the proxy failed: %v", err)
	}
	tb.Cleanup(p.Stop)
	return &Proxy{p: p}
}

// Addr is where the proxy listens (host:port).
func (p *Proxy) Addr() string { return p.p.Listen }

// Port is the port the proxy listens on.
func (p *Proxy) Port() int {
	_, port, _ := net.SplitHostPort(p.p.Listen)
	var n int
	fmt.Sscan(port, &n)
	return n
}

// Stream says which way a toxic acts: Downstream is sharer to viewer,
// Upstream viewer to sharer.
type Stream string

const (
	Downstream Stream = "downstream"
	Upstream   Stream = "upstream"
)

// Add adds a toxic by toxiproxy's type name ("latency", "bandwidth",
// "timeout", "reset_peer", "slicer", …) with its attributes, to the
// connections open now and later. name must be unique among the proxy's
// toxics; Remove takes it off. It is safe to call from any goroutine.
func (p *Proxy) Add(name, typ string, stream Stream, attrs map[string]any) error {
	body, err := json.Marshal(map[string]any{"name": name, "type": typ, "stream": stream, "toxicity": 1.0, "attributes": attrs})
	if err != nil {
		return err
	}
	if _, err := p.p.Toxics.AddToxicJson(bytes.NewReader(body)); err != nil {
		return fmt.Errorf("linktest: adding toxic %s (%s) failed: %w", name, typ, err)
	}
	return nil
}

// Remove takes a toxic off.
func (p *Proxy) Remove(ctx context.Context, name string) error {
	if err := p.p.Toxics.RemoveToxic(ctx, name); err != nil {
		return fmt.Errorf("linktest: removing toxic %s failed: %w", name, err)
	}
	return nil
}

// Shape gives the link a one-way latency and a bandwidth in bits per
// second in each direction, the way a home connection has them.
func (p *Proxy) Shape(oneWay time.Duration, bitsPerSecond int64) error {
	for _, s := range []Stream{Downstream, Upstream} {
		// Bandwidth first, so the latency is added to paced bytes, as on a
		// link whose queue is at the sender.
		if err := p.Add("bandwidth_"+string(s), "bandwidth", s, map[string]any{"rate": bitsPerSecond / 8 / 1000}); err != nil {
			return err
		}
		if err := p.Add("latency_"+string(s), "latency", s, map[string]any{"latency": oneWay.Milliseconds()}); err != nil {
			return err
		}
	}
	return nil
}
