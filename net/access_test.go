package net

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
)

// rawExchangeFrom is rawExchange from any host.
func rawExchangeFrom(t *testing.T, h host.Host, sharer peer.ID, body []byte) (answer []byte, reset bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	st, err := h.NewStream(ctx, sharer, ProtocolID)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	st.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := st.Write(body); err != nil {
		return nil, true
	}
	st.CloseWrite()
	answer, err = io.ReadAll(st)
	return answer, err != nil
}

// TestAllowListAnswersOthersLikeAWrongToken: with an allow-list, a peer
// on it reads; a peer off it, even with the right token, gets exactly the
// bytes a wrong token gets.
func TestAllowListAnswersOthersLikeAWrongToken(t *testing.T) {
	ts := newTestShare(t)
	ts.sharer.Close()
	ts.sharer = NewSharer(ts.sHost, SharerOptions{Allow: []peer.ID{ts.vHost.ID()}})
	t.Cleanup(func() { ts.sharer.Close() })
	link, err := ts.sharer.Share(ts.dir)
	if err != nil {
		t.Fatal(err)
	}
	ts.link = link
	stranger := newLoopbackHost(t)
	if err := stranger.Connect(t.Context(), peer.AddrInfo{ID: ts.sHost.ID(), Addrs: ts.sHost.Addrs()}); err != nil {
		t.Fatal(err)
	}

	rec, err := Dial(t.Context(), ts.vHost, link)
	if err != nil {
		t.Fatalf("a peer on the allow-list: %v", err)
	}
	got := make([]byte, 4096)
	if _, err := rec.ReadRange(t.Context(), "mic", 0, got); err != nil || !bytes.Equal(got, ts.files["mic"][:4096]) {
		t.Fatalf("a peer on the allow-list read %v", err)
	}

	wrong := newToken()
	for _, req := range []request{
		{Method: MethodGet, Token: link.Token},
		{Method: MethodReadRange, Token: link.Token, Track: "mic", Length: 10},
	} {
		strangerRight, _ := rawExchangeFrom(t, stranger, ts.sHost.ID(), frame(req))
		req.Token = wrong
		strangerWrong, _ := rawExchangeFrom(t, stranger, ts.sHost.ID(), frame(req))
		allowedWrong, _ := rawExchangeFrom(t, ts.vHost, ts.sHost.ID(), frame(req))
		if len(strangerRight) == 0 || !bytes.Equal(strangerRight, strangerWrong) || !bytes.Equal(strangerRight, allowedWrong) {
			t.Errorf("%s: a stranger with the token got %q, with a wrong one %q; an allowed peer with a wrong one %q",
				req.Method, strangerRight, strangerWrong, allowedWrong)
		}
	}
	if _, err := Dial(t.Context(), stranger, link); !errors.Is(err, ErrNotFound) {
		t.Errorf("a stranger opening the link: %v, want not_found", err)
	}
	for _, v := range ts.sharer.Viewers() {
		if v.Peer == stranger.ID() {
			t.Error("a refused stranger is listed as a viewer")
		}
	}
}

// TestUnshareResetsOpenStreams: stopping a share resets a read in
// progress at once (the viewer gets an error, not the rest of the bytes)
// and refuses later ones with not_found.
func TestUnshareResetsOpenStreams(t *testing.T) {
	checkGoroutines(t)
	ts := newTestShare(t)
	st, err := ts.vHost.NewStream(t.Context(), ts.sHost.ID(), ProtocolID)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Reset()
	st.SetDeadline(time.Now().Add(10 * time.Second))
	st.Write(frame(request{Method: MethodReadRange, Token: ts.link.Token, Track: "screen", Length: MaxReadLength}))
	br := bufio.NewReader(st)
	var resp response
	if err := readFrame(br, &resp); err != nil || resp.Length != MaxReadLength {
		t.Fatalf("answer %+v, %v", resp, err)
	}
	first := make([]byte, 64<<10)
	if _, err := io.ReadFull(br, first); err != nil {
		t.Fatal(err)
	}
	// The viewer reads no further, so the sharer is blocked mid-read.
	time.Sleep(100 * time.Millisecond)

	start := time.Now()
	ts.sharer.Unshare(ts.link.Token)
	// Without the viewer reading on, the sharer stops serving at once
	// rather than when its blocked write times out.
	waitFor(t, time.Second, "the sharer to drop the read", func() bool {
		ts.sharer.mu.Lock()
		defer ts.sharer.mu.Unlock()
		return len(ts.sharer.streams) == 0
	})
	rest, err := io.ReadAll(br)
	if err == nil {
		t.Fatalf("the read went on after Unshare: %d more bytes, then a clean end", len(rest))
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("the read ended %v after Unshare", d)
	}
	if int64(len(first)+len(rest)) >= MaxReadLength {
		t.Errorf("all %d bytes arrived", MaxReadLength)
	}
	t.Logf("reset %v after Unshare, %d of %d bytes had arrived: %v", time.Since(start).Round(time.Millisecond), len(first)+len(rest), MaxReadLength, err)
	if _, err := ts.viewer.ReadRange(t.Context(), "screen", 0, make([]byte, 10)); !errors.Is(err, ErrNotFound) {
		t.Errorf("a read after Unshare: %v, want not_found", err)
	}
}

// TestLimitedConnectionStreamsAreReset: a peer that opens a stream over a
// relay that limits traffic (as a client other than ours might) has it
// reset, even with the right token, so media never goes through it.
func TestLimitedConnectionStreamsAreReset(t *testing.T) {
	checkGoroutines(t)
	rs := newRelayedShare(t, false)
	vh := newReachHost(t, nil, ReachOptions{NoMDNS: true, NoDHT: true})
	ctx := network.WithAllowLimitedConn(t.Context(), "test")
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := vh.Connect(ctx, peer.AddrInfo{ID: rs.link.Peer, Addrs: rs.link.Addrs}); err != nil {
		t.Fatalf("meeting through the relay failed: %v", err)
	}
	if usable, limited := usableConn(vh, rs.link.Peer); usable || !limited {
		t.Fatalf("usable %v, limited %v: want only a limited connection", usable, limited)
	}
	st, err := vh.NewStream(ctx, rs.link.Peer, ProtocolID)
	if err != nil {
		t.Fatalf("opening a stream over the limited connection: %v", err)
	}
	defer st.Reset()
	st.SetDeadline(time.Now().Add(5 * time.Second))
	st.Write(frame(request{Method: MethodGet, Token: rs.link.Token}))
	st.CloseWrite()
	answer, err := io.ReadAll(st)
	if err == nil || len(answer) > 0 {
		t.Fatalf("the sharer answered %q over a limited relay (err %v)", answer, err)
	}
	if err != nil && errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("the stream hung instead of being reset: %v", err)
	}
	if vs := rs.s.Viewers(); len(vs) != 0 {
		t.Errorf("viewers over a limited relay: %+v", vs)
	}
}

// TestIdentityRefusesGroupReadableKey: a key that the group may read is
// refused as well, and the message says how to fix it.
func TestIdentityRefusesGroupReadableKey(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "reelay")
	path := filepath.Join(dir, "identity.key")
	if _, err := LoadIdentity(path); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("identity folder mode %v (%v), want 0700", fi.Mode().Perm(), err)
	}
	os.Chmod(path, 0o640)
	_, err := LoadIdentity(path)
	if err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("group-readable key: %v, want a refusal saying chmod 600", err)
	}
}
