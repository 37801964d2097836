package net

import (
	"strings"
	"testing"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

func testLink(t testing.TB) Link {
	t.Helper()
	_, pub, err := crypto.GenerateEd25519Key(nil)
	if err != nil {
		t.Fatal(err)
	}
	id, err := peer.IDFromPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return Link{
		Peer:  id,
		Token: newToken(),
		Addrs: []ma.Multiaddr{
			ma.StringCast("/ip4/192.168.1.20/tcp/4001"),
			ma.StringCast("/ip4/192.168.1.20/udp/4001/quic-v1"),
			ma.StringCast("/ip6/::1/tcp/4001"),
		},
	}
}

func TestLinkRoundTrip(t *testing.T) {
	l := testLink(t)
	s := l.String()
	if strings.ContainsAny(s, " \n\"'<>") {
		t.Fatalf("link %q has characters that break when pasted", s)
	}
	got, err := ParseLink("  " + s + "\n")
	if err != nil {
		t.Fatal(err)
	}
	if got.Peer != l.Peer || got.Token != l.Token || len(got.Addrs) != len(l.Addrs) {
		t.Fatalf("round trip: %+v, want %+v", got, l)
	}
	for i := range l.Addrs {
		if !got.Addrs[i].Equal(l.Addrs[i]) {
			t.Errorf("addr %d: %v, want %v", i, got.Addrs[i], l.Addrs[i])
		}
	}
}

// linkCases are also the fuzz seeds.
func linkCases(t testing.TB) map[string]string {
	l := testLink(t)
	good := l.String()
	id := l.Peer.String()
	return map[string]string{
		"":                          "not a Reelay link",
		"https://x/y":               "not a Reelay link",
		"reelay://":                 "peer ID",
		"reelay://" + id:            "token",
		"reelay://" + id + "/short": "token has 5 characters",
		"reelay://" + id + "/" + strings.Repeat("1", tokenLen): "characters a Reelay token never has",
		// The base32 decoder skips newlines; the parser must not.
		"reelay://" + id + "/" + strings.Repeat("a", tokenLen-1) + "%0A": "characters a Reelay token never has",
		"reelay://notapeer/" + l.Token:                                   "peer ID",
		good + "&b=1":                                                    "unknown field",
		good + "&a=/ip4/1.2.3.4":                                         "",
		good + "&a=/nonsense/1":                                          "not valid",
		good + "#frag":                                                   "unexpected parts",
		"reelay://user@" + id + "/" + l.Token:                            "unexpected parts",
		good + "&a=/ip4/1.2.3.4/tcp/1/p2p/" + testLink(t).Peer.String():  "another peer",
		good + "&a=/p2p/" + id:                                           "no transport part",
		good:                                                             "",
	}
}

func TestParseLinkErrors(t *testing.T) {
	for in, want := range linkCases(t) {
		_, err := ParseLink(in)
		switch {
		case want == "" && err != nil:
			t.Errorf("%q: unexpected error %v", in, err)
		case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
			t.Errorf("%q: error %v, want one saying %q", in, err, want)
		}
	}
}

func FuzzParseLink(f *testing.F) {
	for in := range linkCases(f) {
		f.Add(in)
	}
	f.Fuzz(func(t *testing.T, s string) {
		l, err := ParseLink(s)
		if err != nil {
			return
		}
		again, err := ParseLink(l.String())
		if err != nil {
			t.Fatalf("%q parsed, but its String %q does not: %v", s, l.String(), err)
		}
		if again.String() != l.String() {
			t.Fatalf("not stable: %q then %q", l.String(), again.String())
		}
	})
}
