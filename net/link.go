package net

import (
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"
)

// A link is one copyable string:
//
//	reelay://<peer ID>/<token>?a=<multiaddr>&a=<multiaddr>…
//
// The token is 160 random bits in lower-case base32, so it survives chat
// apps, URL bars and double-click selection.
const (
	linkScheme   = "reelay"
	tokenBytes   = 20
	tokenLen     = 32 // base32 of tokenBytes, unpadded
	maxLinkLen   = 8 << 10
	maxLinkAddrs = 32
)

var tokenEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// Link is what a viewer needs to open a shared recording.
type Link struct {
	// Peer is the sharer's identity; the connection is authenticated to it.
	Peer peer.ID
	// Addrs are where to try to reach the sharer (without /p2p/ suffix).
	Addrs []ma.Multiaddr
	// Token names the recording and grants read access to it.
	Token string
}

// NewToken returns a fresh unguessable token, for a sharer that keeps its
// links across restarts (Sharer.ShareWithToken).
func NewToken() string { return newToken() }

// newToken returns a fresh unguessable token.
func newToken() string {
	b := make([]byte, tokenBytes)
	rand.Read(b) // never fails: crypto/rand panics rather than return short
	return tokenEncoding.EncodeToString(b)
}

// String renders the link in its copyable form.
func (l Link) String() string {
	var b strings.Builder
	b.WriteString(linkScheme + "://")
	b.WriteString(l.Peer.String())
	b.WriteByte('/')
	b.WriteString(l.Token)
	for i, a := range l.Addrs {
		if i == 0 {
			b.WriteByte('?')
		} else {
			b.WriteByte('&')
		}
		// Slashes are legal in a query and keep the address readable.
		b.WriteString("a=" + strings.ReplaceAll(url.QueryEscape(a.String()), "%2F", "/"))
	}
	return b.String()
}

// ErrBadLink is what every error of ParseLink is: the text is not a whole
// Reelay link.
var ErrBadLink = errors.New("link")

// ParseLink parses a link strictly: anything it does not understand is an
// error that says what is wrong, so a mangled paste fails before dialling.
func ParseLink(s string) (Link, error) {
	s = strings.TrimSpace(s)
	if len(s) > maxLinkLen {
		return Link{}, fmt.Errorf("%w: %d characters, longer than any link Reelay makes", ErrBadLink, len(s))
	}
	u, err := url.Parse(s)
	if err != nil || u.Scheme != linkScheme {
		return Link{}, fmt.Errorf("%w: not a Reelay link (it should start with reelay://)", ErrBadLink)
	}
	if u.User != nil || u.Fragment != "" || u.Opaque != "" || u.Port() != "" {
		return Link{}, fmt.Errorf("%w: unexpected parts; copy the whole link again", ErrBadLink)
	}
	id, err := peer.Decode(u.Host)
	if err != nil {
		return Link{}, fmt.Errorf("%w: the peer ID %q is not valid: %w", ErrBadLink, u.Host, err)
	}
	token := strings.TrimPrefix(u.Path, "/")
	if err := checkToken(token); err != nil {
		return Link{}, err
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return Link{}, fmt.Errorf("%w: malformed addresses: %w", ErrBadLink, err)
	}
	l := Link{Peer: id, Token: token}
	for k, vs := range q {
		if k != "a" {
			return Link{}, fmt.Errorf("%w: unknown field %q", ErrBadLink, k)
		}
		if len(vs) > maxLinkAddrs {
			return Link{}, fmt.Errorf("%w: %d addresses, at most %d", ErrBadLink, len(vs), maxLinkAddrs)
		}
		for _, v := range vs {
			a, err := ma.NewMultiaddr(v)
			if err != nil {
				return Link{}, fmt.Errorf("%w: address %q is not valid: %w", ErrBadLink, v, err)
			}
			addr, pid := peer.SplitAddr(a)
			if pid != "" && pid != id {
				return Link{}, fmt.Errorf("%w: address %q names another peer", ErrBadLink, v)
			}
			if addr == nil {
				return Link{}, fmt.Errorf("%w: address %q has no transport part", ErrBadLink, v)
			}
			l.Addrs = append(l.Addrs, addr)
		}
	}
	return l, nil
}

func checkToken(token string) error {
	if len(token) != tokenLen {
		return fmt.Errorf("%w: the token has %d characters, want %d", ErrBadLink, len(token), tokenLen)
	}
	// Every character is checked: the base32 decoder would skip a
	// newline, as in a link whose token ends with %0A.
	for i := range len(token) {
		if c := token[i]; (c < 'a' || c > 'z') && (c < '2' || c > '7') {
			return fmt.Errorf("%w: the token holds characters a Reelay token never has", ErrBadLink)
		}
	}
	if _, err := tokenEncoding.DecodeString(token); err != nil {
		return fmt.Errorf("%w: the token holds characters a Reelay token never has", ErrBadLink)
	}
	return nil
}

// WithAddrs is the link with its addresses replaced by those of addrs
// worth carrying (a host's current ones, say).
func (l Link) WithAddrs(addrs []ma.Multiaddr) Link {
	l.Addrs = linkAddrs(addrs)
	return l
}

// OnThisMachine reports whether every address in the link is loopback: a
// sharer on this machine (the demo, a benchmark), which needs no
// discovery, relay or hole punch to reach.
func (l Link) OnThisMachine() bool {
	return len(l.Addrs) > 0 && !slices.ContainsFunc(l.Addrs, func(a ma.Multiaddr) bool { return !manet.IsIPLoopback(a) })
}
