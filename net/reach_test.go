package net

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/protocol/circuitv2/client"
	ma "github.com/multiformats/go-multiaddr"
)

// newReachHost starts a host with Reach on loopback (or listening on
// listen), closed with the test.
func newReachHost(tb testing.TB, listen []string, ro ReachOptions) *Host {
	tb.Helper()
	if listen == nil {
		listen = LoopbackListenAddrs
	}
	h, err := NewHost(HostOptions{ListenAddrs: listen, Reach: &ro})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { h.Close() })
	return h
}

func addrInfo(h *Host) peer.AddrInfo { return peer.AddrInfo{ID: h.ID(), Addrs: h.Addrs()} }

// shareFolder serves a one-track folder from h and returns the track's bytes.
func shareFolder(tb testing.TB, h *Host) (*Sharer, Link, []byte) {
	tb.Helper()
	dir := tb.TempDir()
	want := writeRandomFile(tb, filepath.Join(dir, "screen.mp4"), 2<<20+5, 7)
	s := NewSharer(h, SharerOptions{})
	tb.Cleanup(func() { s.Close() })
	l, err := s.Share(dir)
	if err != nil {
		tb.Fatal(err)
	}
	return s, l, want
}

// readsBack checks a range of the track arrives byte-exact.
func readsBack(tb testing.TB, rec *Recording, want []byte) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	got := make([]byte, 256<<10)
	n, err := rec.ReadRange(ctx, "screen", 12345, got)
	if err != nil {
		tb.Fatal(err)
	}
	if !bytes.Equal(got[:n], want[12345:12345+n]) || n != len(got) {
		tb.Fatalf("read %d wrong bytes", n)
	}
}

// TestDHTFindsSharerByPeerID: a link holding only the sharer's peer ID
// opens through a DHT among hosts on this machine, with no mDNS.
func TestDHTFindsSharerByPeerID(t *testing.T) {
	checkGoroutines(t)
	boot := newReachHost(t, nil, ReachOptions{NoMDNS: true, Public: true, Bootstrap: []peer.AddrInfo{}})
	bootInfo := []peer.AddrInfo{addrInfo(boot)}
	sh := newReachHost(t, nil, ReachOptions{NoMDNS: true, Bootstrap: bootInfo})
	_, l, want := shareFolder(t, sh)
	vh := newReachHost(t, nil, ReachOptions{NoMDNS: true, Bootstrap: bootInfo})

	// The sharer joins the DHT by connecting to its bootstrap peer.
	waitFor(t, 10*time.Second, "the sharer to reach the bootstrap peer", func() bool {
		return boot.Network().Connectedness(sh.ID()) == network.Connected
	})
	ctx, cancel := context.WithTimeout(t.Context(), 15*time.Second)
	defer cancel()
	rec, err := DialWith(ctx, vh, Link{Peer: l.Peer, Token: l.Token}, DialOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Close()
	st := rec.Steps()
	t.Logf("steps: %+v", st)
	if st.Found != FoundDHT {
		t.Errorf("found by %q, want %q", st.Found, FoundDHT)
	}
	if rec.Path() != PathLAN {
		t.Errorf("path %v, want %v", rec.Path(), PathLAN)
	}
	readsBack(t, rec, want)
}

// TestNoAddressNoDiscoveryFailsPlainly: a peer-ID-only link on a host
// that cannot look peers up says so at once.
func TestNoAddressNoDiscoveryFailsPlainly(t *testing.T) {
	vh := newLoopbackHost(t)
	start := time.Now()
	_, err := Dial(t.Context(), vh, Link{Peer: testLink(t).Peer, Token: newToken()})
	if err == nil || !strings.Contains(err.Error(), "holds no address") {
		t.Fatalf("error %v, want one saying the link holds no address", err)
	}
	if time.Since(start) > time.Second {
		t.Errorf("took %v to say so", time.Since(start))
	}
}

// relayedShare is a sharer that listens nowhere and is reachable only
// through a reservation on relay, as behind a NAT with no port forward.
type relayedShare struct {
	relay, sharer *Host
	s             *Sharer
	link          Link // holds only the relay address
	want          []byte
}

func newRelayedShare(t *testing.T, unlimited bool) *relayedShare {
	t.Helper()
	rs := &relayedShare{}
	rs.relay = newReachHost(t, nil, ReachOptions{NoMDNS: true, NoDHT: true, Public: true, UnlimitedRelay: unlimited})
	rs.sharer = newReachHost(t, []string{}, ReachOptions{NoMDNS: true, NoDHT: true, Reachability: network.ReachabilityPrivate})
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	// autorelay advertises only relays with public addresses; on
	// loopback, reserve directly and write the circuit address by hand.
	if _, err := client.Reserve(ctx, rs.sharer, addrInfo(rs.relay)); err != nil {
		t.Fatalf("reservation on the relay failed: %v", err)
	}
	rs.s, rs.link, rs.want = shareFolder(t, rs.sharer)
	circuit := rs.relay.Addrs()[0].Encapsulate(ma.StringCast("/p2p/" + rs.relay.ID().String() + "/p2p-circuit"))
	rs.link.Addrs = []ma.Multiaddr{circuit}
	return rs
}

// TestLimitedRelayNeverCarriesMedia: a sharer reachable only through a
// relay with libp2p's default limits is met there, but no request goes
// through it: Dial fails saying so, and a request on the relayed
// connection is refused. Once the sharer has a direct address, the same
// recording opens on the direct path.
func TestLimitedRelayNeverCarriesMedia(t *testing.T) {
	checkGoroutines(t)
	rs := newRelayedShare(t, false)
	vh := newReachHost(t, nil, ReachOptions{NoMDNS: true, NoDHT: true})

	start := time.Now()
	_, err := DialWith(t.Context(), vh, rs.link, DialOptions{DirectTimeout: 2 * time.Second})
	if !errors.Is(err, ErrNoDirectPath) {
		t.Fatalf("Dial over a limited relay: %v, want ErrNoDirectPath", err)
	}
	t.Logf("refused after %v: %v", time.Since(start).Round(time.Millisecond), err)
	for _, w := range []string{"relay that limits traffic", "never sends media through a limited relay"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("message %q does not say %q", err, w)
		}
	}

	// Below Dial: the request path itself never uses a limited connection.
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if err := vh.Connect(network.WithAllowLimitedConn(ctx, "test"), peer.AddrInfo{ID: rs.link.Peer, Addrs: rs.link.Addrs}); err != nil {
		t.Fatalf("meeting through the relay failed: %v", err)
	}
	if _, limited := usableConn(vh, rs.link.Peer); !limited {
		t.Fatal("no limited connection to the sharer")
	}
	r := &Recording{h: vh, link: rs.link, lanes: newLanes(vh, rs.link.Peer, slog.New(slog.DiscardHandler))}
	defer r.lanes.close()
	short, cancelShort := context.WithTimeout(ctx, time.Second)
	_, err = r.ReadRange(short, "screen", 0, make([]byte, 1024))
	cancelShort()
	if err == nil {
		t.Fatal("a read went through the limited relay")
	}
	for _, v := range rs.s.Viewers() {
		if v.Requests != 0 || v.BytesSent != 0 {
			t.Fatalf("the sharer served %d requests, %d bytes over the relay", v.Requests, v.BytesSent)
		}
	}
	if r.Path() != PathUnknown {
		t.Errorf("path over a limited relay is %v, want %v", r.Path(), PathUnknown)
	}

	// The direct path appears: the sharer starts listening.
	if err := rs.sharer.Network().Listen(ma.StringCast("/ip4/127.0.0.1/tcp/0")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "the sharer's new address", func() bool { return len(rs.sharer.Addrs()) > 0 })
	fresh := rs.link
	fresh.Addrs = append(append([]ma.Multiaddr(nil), rs.link.Addrs...), rs.sharer.Addrs()...)
	rec, err := DialWith(ctx, vh, fresh, DialOptions{DirectTimeout: 2 * time.Second})
	if err != nil {
		t.Fatalf("Dial once a direct path exists: %v", err)
	}
	defer rec.Close()
	if rec.Path() != PathLAN {
		t.Errorf("path %v, want %v", rec.Path(), PathLAN)
	}
	readsBack(t, rec, rs.want)
}

// TestUnlimitedRelayCarriesMedia: a relay its owner runs without limits
// may carry media, and the path says so.
func TestUnlimitedRelayCarriesMedia(t *testing.T) {
	checkGoroutines(t)
	rs := newRelayedShare(t, true)
	vh := newReachHost(t, nil, ReachOptions{NoMDNS: true, NoDHT: true})
	ctx, cancel := context.WithTimeout(t.Context(), 15*time.Second)
	defer cancel()
	rec, err := DialWith(ctx, vh, rs.link, DialOptions{DirectTimeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Close()
	if rec.Path() != PathRelayed {
		t.Errorf("path %v, want %v", rec.Path(), PathRelayed)
	}
	readsBack(t, rec, rs.want)
}

// TestViewerReachesSharerThroughItsRelay: sharer and viewer both name the
// relay their owner runs; a peer-ID-only link then opens through it with
// no DHT and no mDNS.
func TestViewerReachesSharerThroughItsRelay(t *testing.T) {
	rs := newRelayedShare(t, true)
	vh := newReachHost(t, nil, ReachOptions{NoMDNS: true, NoDHT: true, Relays: []peer.AddrInfo{addrInfo(rs.relay)}})
	ctx, cancel := context.WithTimeout(t.Context(), 15*time.Second)
	defer cancel()
	rec, err := DialWith(ctx, vh, Link{Peer: rs.link.Peer, Token: rs.link.Token}, DialOptions{DirectTimeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Close()
	if st := rec.Steps(); st.Found != FoundRelay || st.Path != PathRelayed {
		t.Errorf("found by %q on %v, want %q on %v", st.Found, st.Path, FoundRelay, PathRelayed)
	}
	readsBack(t, rec, rs.want)
}

func TestPathString(t *testing.T) {
	for p, want := range map[Path]string{
		PathUnknown:     "not connected",
		PathLAN:         "direct (LAN)",
		PathDirect:      "direct (internet)",
		PathHolePunched: "direct (hole punched)",
		PathRelayed:     "relayed",
		Path(99):        "not connected",
	} {
		if p.String() != want {
			t.Errorf("%d: %q, want %q", p, p.String(), want)
		}
	}
}

func TestParseAddrInfos(t *testing.T) {
	id := testLink(t).Peer.String()
	ais, err := ParseAddrInfos([]string{"/ip4/1.2.3.4/tcp/1/p2p/" + id, "/ip4/1.2.3.4/udp/1/quic-v1/p2p/" + id})
	if err != nil || len(ais) != 1 || len(ais[0].Addrs) != 2 {
		t.Fatalf("%+v, %v: want one peer with two addresses", ais, err)
	}
	if _, err := ParseAddrInfos([]string{"/ip4/1.2.3.4/tcp/1"}); err == nil || !strings.Contains(err.Error(), "/p2p/") {
		t.Errorf("an address without a peer ID: %v", err)
	}
}

func waitFor(tb testing.TB, d time.Duration, what string, ok func() bool) {
	tb.Helper()
	deadline := time.Now().Add(d)
	for !ok() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
