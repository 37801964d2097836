package net

import (
	"context"
	stdnet "net"
	"testing"
	"time"
)

// TestMDNSFindsSharerFromPeerIDOnlyLink: two hosts on one network, no
// DHT; the viewer opens a link holding only the sharer's peer ID because
// mDNS told it where the sharer is.
func TestMDNSFindsSharerFromPeerIDOnlyLink(t *testing.T) {
	checkGoroutines(t)
	if !hasMulticastInterface() {
		t.Skip("no network interface with multicast: mDNS cannot run here")
	}
	sh := newReachHost(t, nil, ReachOptions{NoDHT: true})
	if sh.reach.mdns == nil {
		t.Skip("mDNS did not start on this machine")
	}
	_, l, want := shareFolder(t, sh)
	vh := newReachHost(t, nil, ReachOptions{NoDHT: true})
	ctx, cancel := context.WithTimeout(t.Context(), 15*time.Second)
	defer cancel()
	rec, err := DialWith(ctx, vh, Link{Peer: l.Peer, Token: l.Token}, DialOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Close()
	st := rec.Steps()
	t.Logf("steps: %+v", st)
	if st.Found != FoundMDNS {
		t.Errorf("found by %q, want %q", st.Found, FoundMDNS)
	}
	if rec.Path() != PathLAN {
		t.Errorf("path %v, want %v", rec.Path(), PathLAN)
	}
	readsBack(t, rec, want)
}

func hasMulticastInterface() bool {
	ifs, err := stdnet.Interfaces()
	if err != nil {
		return false
	}
	for _, i := range ifs {
		if i.Flags&stdnet.FlagUp != 0 && i.Flags&stdnet.FlagMulticast != 0 && i.Flags&stdnet.FlagLoopback == 0 {
			return true
		}
	}
	return false
}
