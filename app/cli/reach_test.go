package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	p2pnet "reelay/net"
)

// TestProbeFullLinkDoesNotWaitOnDHT: with a link holding addresses that
// work, probe answers without waiting for the DHT, even when its
// bootstrap peers cannot be reached (here: an address that swallows
// packets, the slowest way to fail).
func TestProbeFullLinkDoesNotWaitOnDHT(t *testing.T) {
	sh, err := p2pnet.NewHost(p2pnet.HostOptions{ListenAddrs: []string{"/ip4/0.0.0.0/tcp/0", "/ip4/0.0.0.0/udp/0/quic-v1"}})
	if err != nil {
		t.Fatal(err)
	}
	defer sh.Close()
	s := p2pnet.NewSharer(sh, p2pnet.SharerOptions{})
	defer s.Close()
	dir := t.TempDir()
	writeRandom(t, filepath.Join(dir, "screen.mp4"), 64<<10)
	link, err := s.Share(dir)
	if err != nil {
		t.Fatal(err)
	}
	if link.OnThisMachine() {
		t.Log("this machine has only loopback addresses: the probe opens the link without discovery")
	}
	blackhole := "/ip4/198.51.100.1/tcp/4001/p2p/" + randomPeerID(t)
	for _, args := range [][]string{
		{"probe", link.String(), "--bootstrap", blackhole},
		{"probe", link.String()}, // libp2p's public bootstrap peers
	} {
		var out, stderr bytes.Buffer
		e := &env{stdout: &out, stderr: &stderr, log: slog.New(slog.NewTextHandler(&stderr, nil))}
		start := time.Now()
		if code := run(t.Context(), e, args); code != 0 {
			t.Fatalf("%v exited %d: %s", args[2:], code, stderr.String())
		}
		took := time.Since(start)
		t.Logf("probe %v: %v", args[2:], took.Round(time.Millisecond))
		if took > 5*time.Second {
			t.Errorf("probe %v took %v: it waited on the DHT", args[2:], took)
		}
	}
}

// TestReachAcrossNATs builds, in network namespaces, a small internet: a
// public host (relay, DHT bootstrap and AutoNAT server) and two home
// networks, each behind its own router doing MASQUERADE with the usual
// stateful firewall. It runs the reelay CLI in them and shows:
//   - a viewer on the sharer's LAN opens a peer-ID-only link through mDNS;
//   - a viewer behind the other NAT finds the sharer by peer ID through the
//     DHT, meets it through the relay, goes direct by hole punching and
//     fetches a track byte-identically;
//   - while direct packets between the two routers are dropped, the fetch
//     refuses the limited relay with a plain message, and once they flow
//     again the same fetch works on the direct path.
func TestReachAcrossNATs(t *testing.T) {
	nt := newNATTopology(t)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()

	dir := t.TempDir()
	screen := writeRandom(t, filepath.Join(dir, "screen.mp4"), 3<<20+7)
	writeRandom(t, filepath.Join(dir, "camera.mp4"), 1<<20+3)

	relayKey := filepath.Join(t.TempDir(), "relay.key")
	relayID, err := p2pnet.PeerIDOf(relayKey)
	if err != nil {
		t.Fatal(err)
	}
	bootstrap := "/ip4/" + natPublicIP + "/tcp/4001/p2p/" + relayID
	both := []string{"--listen", "/ip4/0.0.0.0/tcp/4001", "--listen", "/ip4/0.0.0.0/udp/4001/quic-v1"}

	relay := nt.start(ctx, t, "inet", nil, append([]string{"relay", "--identity", relayKey}, both...)...)
	relay.waitLine(t, relay.stdout, natPublicIP+"/tcp/4001", 20*time.Second)

	started := time.Now()
	sharer := nt.start(ctx, t, "a", []string{"REELAY_BOOTSTRAP=" + bootstrap}, append([]string{"share", dir}, both...)...)
	full := sharer.waitLine(t, sharer.stdout, "reelay://", 20*time.Second)
	link, err := p2pnet.ParseLink(full)
	if err != nil {
		t.Fatal(err)
	}
	peerOnly := p2pnet.Link{Peer: link.Peer, Token: link.Token}.String()
	t.Logf("sharer's first link: %s\npeer-ID-only link: %s", full, peerOnly)

	t.Run("LANViewerFindsSharerByMDNS", func(t *testing.T) {
		out, stderr, err := nt.run(ctx, t, "a2", nil, "probe", peerOnly, "--no-dht")
		if err != nil {
			t.Fatalf("probe on the sharer's LAN: %v\n%s", err, stderr)
		}
		var res probeResult
		if err := json.Unmarshal(out, &res); err != nil {
			t.Fatalf("probe printed %q: %v", out, err)
		}
		t.Logf("LAN viewer: %+v", res.Reach)
		if res.Reach.Found != p2pnet.FoundMDNS || res.Reach.Path != p2pnet.PathLAN.String() {
			t.Errorf("found by %q on path %q, want %q on %q", res.Reach.Found, res.Reach.Path, p2pnet.FoundMDNS, p2pnet.PathLAN)
		}
	})

	// AutoNAT must find the sharer unreachable and autorelay reserve a
	// slot before the relay address is in the DHT.
	sharer.waitLine(t, sharer.stderr, "reachable through a relay", 45*time.Second)
	t.Logf("sharer: AutoNAT verdict and relay reservation %v after start", time.Since(started).Round(time.Millisecond))

	fetch := func(t *testing.T) (steps map[string]string, stderr string, err error) {
		dst := filepath.Join(t.TempDir(), "screen.mp4")
		_, se, err := nt.run(ctx, t, "b", []string{"REELAY_BOOTSTRAP=" + bootstrap}, "fetch", peerOnly, "screen", "-o", dst)
		if err != nil {
			if _, statErr := os.Stat(dst); statErr == nil {
				t.Errorf("a failed fetch left %s", dst)
			}
			return nil, string(se), err
		}
		got, err := os.ReadFile(dst)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, screen) {
			t.Fatalf("fetched %d bytes, not the shared track", len(got))
		}
		return logFields(string(se)), string(se), nil
	}
	checkPunched := func(t *testing.T, st map[string]string) {
		t.Logf("viewer behind the other NAT: path=%s found=%s; DHT lookup %s, relay connection %s, hole punch %s (after the relay), first answer %s, first track byte %s (all from the start of the dial)",
			st["path"], st["found"], st["lookup"], st["relay"], st["holepunch"], st["firstbyte"], st["after"])
		if st["path"] != p2pnet.PathHolePunched.String() || st["found"] != p2pnet.FoundDHT {
			t.Errorf("path %q found by %q, want %q by %q", st["path"], st["found"], p2pnet.PathHolePunched, p2pnet.FoundDHT)
		}
	}

	t.Run("ViewerBehindOtherNATHolePunches", func(t *testing.T) {
		st, stderr, err := fetch(t)
		if err != nil {
			t.Fatalf("fetch: %v\n%s", err, stderr)
		}
		checkPunched(t, st)
	})

	t.Run("LimitedRelayRefusedUntilDirectPathExists", func(t *testing.T) {
		unblock := nt.blockDirect(t)
		start := time.Now()
		_, stderr, err := fetch(t)
		if err == nil {
			t.Fatal("fetch succeeded while direct packets between the routers were dropped")
		}
		t.Logf("refused after %v:\n%s", time.Since(start).Round(time.Millisecond), lastLine(stderr))
		for _, w := range []string{"no direct path to the sharer", "relay that limits traffic", "never sends media through a limited relay"} {
			if !strings.Contains(stderr, w) {
				t.Errorf("the refusal does not say %q:\n%s", w, stderr)
			}
		}
		unblock()
		// As the refusal tells the user: try again. Hole punching through
		// MASQUERADE failed 1 run in 11 when measured, so a
		// second try is allowed; the path must then be the punched one.
		st, stderr, err := fetch(t)
		if err != nil {
			t.Logf("first fetch once the direct path exists failed, trying again: %s", lastLine(stderr))
			st, stderr, err = fetch(t)
		}
		if err != nil {
			t.Fatalf("fetch once the direct path exists: %v\n%s", err, stderr)
		}
		checkPunched(t, st)
	})
}

// The topology's addresses. The "internet" uses addresses libp2p takes for
// public ones (hole punching and AutoNAT ignore private ranges); the
// namespaces have no route out, so nothing leaves this machine.
const (
	natPublicIP = "11.0.0.1" // the relay
	natAIP      = "11.0.0.2" // the sharer's router
	natBIP      = "11.0.0.3" // the viewer's router
)

// natTopology is a set of network namespaces named prefix-<role>:
// inet (the public host, on a bridge standing for the internet), nata and
// natb (home routers), a and a2 (two hosts on LAN 192.168.1.0/24 behind
// nata: the sharer and a LAN viewer), b (a viewer on 192.168.2.0/24 behind
// natb).
type natTopology struct {
	prefix string
}

const nsPrefix = "rlt"

func newNATTopology(t *testing.T) *natTopology {
	t.Helper()
	skip := t.Skipf
	if os.Getenv("REELAY_REQUIRE_NETNS") == "1" {
		skip = t.Fatalf
	}
	if os.Geteuid() != 0 {
		skip("network namespaces need root (REELAY_REQUIRE_NETNS=1 makes this a failure)")
	}
	for _, tool := range []string{"ip", "iptables"} {
		if _, err := exec.LookPath(tool); err != nil {
			skip("%s is not installed (apt-get install iproute2 iptables)", tool)
		}
	}
	removeStaleNamespaces(t)
	nt := &natTopology{prefix: fmt.Sprintf("%s%d", nsPrefix, os.Getpid())}
	t.Cleanup(nt.remove)
	if err := sh("ip", "netns", "add", nt.ns("probe")); err != nil {
		skip("cannot create network namespaces here: %v", err)
	}
	nt.build(t)
	return nt
}

func (nt *natTopology) ns(role string) string { return nt.prefix + "-" + role }

var roles = []string{"probe", "inet", "nata", "natb", "a", "a2", "b"}

// remove ends what still runs in the namespaces and deletes them.
func (nt *natTopology) remove() {
	for _, r := range roles {
		out, _ := exec.Command("ip", "netns", "pids", nt.ns(r)).Output()
		for _, f := range strings.Fields(string(out)) {
			if pid, err := strconv.Atoi(f); err == nil {
				syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		exec.Command("ip", "netns", "del", nt.ns(r)).Run()
	}
}

// removeStaleNamespaces deletes namespaces a killed run of this test left.
func removeStaleNamespaces(t *testing.T) {
	out, _ := exec.Command("ip", "netns", "list").Output()
	re := regexp.MustCompile(`^` + nsPrefix + `(\d+)-\w+`)
	for _, line := range strings.Split(string(out), "\n") {
		m := re.FindStringSubmatch(strings.TrimSpace(line))
		if m == nil {
			continue
		}
		pid, _ := strconv.Atoi(m[1])
		if syscall.Kill(pid, 0) == syscall.ESRCH {
			t.Logf("removing namespace %s left by an earlier run", m[0])
			exec.Command("ip", "netns", "del", m[0]).Run()
		}
	}
}

func (nt *natTopology) build(t *testing.T) {
	t.Helper()
	var cmds [][]string
	add := func(args ...string) { cmds = append(cmds, args) }
	in := func(role string, args ...string) {
		add(append([]string{"ip", "netns", "exec", nt.ns(role)}, args...)...)
	}
	for _, r := range roles[1:] {
		add("ip", "netns", "add", nt.ns(r))
		add("ip", "-n", nt.ns(r), "link", "set", "lo", "up")
	}
	add("ip", "-n", nt.ns("inet"), "link", "add", "br0", "type", "bridge")
	add("ip", "-n", nt.ns("inet"), "addr", "add", natPublicIP+"/24", "dev", "br0")
	add("ip", "-n", nt.ns("inet"), "link", "set", "br0", "up")
	for _, x := range []struct{ nat, ext, lan, hostSide string }{{"nata", natAIP, "192.168.1", "pa"}, {"natb", natBIP, "192.168.2", "pb"}} {
		add("ip", "link", "add", "ext", "netns", nt.ns(x.nat), "type", "veth", "peer", "name", x.hostSide, "netns", nt.ns("inet"))
		add("ip", "-n", nt.ns("inet"), "link", "set", x.hostSide, "master", "br0", "up")
		add("ip", "-n", nt.ns(x.nat), "addr", "add", x.ext+"/24", "dev", "ext")
		add("ip", "-n", nt.ns(x.nat), "link", "set", "ext", "up")
		add("ip", "-n", nt.ns(x.nat), "link", "add", "lan", "type", "bridge")
		add("ip", "-n", nt.ns(x.nat), "addr", "add", x.lan+".1/24", "dev", "lan")
		add("ip", "-n", nt.ns(x.nat), "link", "set", "lan", "up")
		in(x.nat, "sysctl", "-qw", "net.ipv4.ip_forward=1")
		in(x.nat, "iptables", "-t", "nat", "-A", "POSTROUTING", "-o", "ext", "-j", "MASQUERADE")
		// A home router's firewall: nothing unsolicited gets in. Without
		// it the router answers a peer's early hole-punch SYN with a RST
		// (no mapping exists yet), which kills the attempt.
		for _, chain := range []string{"INPUT", "FORWARD"} {
			in(x.nat, "iptables", "-A", chain, "-i", "ext", "-m", "conntrack", "--ctstate", "ESTABLISHED,RELATED", "-j", "ACCEPT")
			in(x.nat, "iptables", "-A", chain, "-i", "ext", "-j", "DROP")
		}
	}
	for _, h := range []struct{ role, nat, addr, gw string }{
		{"a", "nata", "192.168.1.2", "192.168.1.1"},
		{"a2", "nata", "192.168.1.3", "192.168.1.1"},
		{"b", "natb", "192.168.2.2", "192.168.2.1"},
	} {
		add("ip", "link", "add", "eth0", "netns", nt.ns(h.role), "type", "veth", "peer", "name", "v"+h.role, "netns", nt.ns(h.nat))
		add("ip", "-n", nt.ns(h.nat), "link", "set", "v"+h.role, "master", "lan", "up")
		add("ip", "-n", nt.ns(h.role), "addr", "add", h.addr+"/24", "dev", "eth0")
		add("ip", "-n", nt.ns(h.role), "link", "set", "eth0", "up")
		add("ip", "-n", nt.ns(h.role), "route", "add", "default", "via", h.gw)
	}
	for _, c := range cmds {
		if err := sh(c...); err != nil {
			t.Fatalf("building the namespaces: %v", err)
		}
	}
}

// blockDirect drops packets between the two routers, so only the relay
// connects the two sides; the returned func lets them flow again.
func (nt *natTopology) blockDirect(t *testing.T) (unblock func()) {
	t.Helper()
	apply := func(op string) {
		for _, r := range []struct{ router, from string }{{"nata", natBIP}, {"natb", natAIP}} {
			if err := sh("ip", "netns", "exec", nt.ns(r.router), "iptables", "-t", "raw", op, "PREROUTING", "-s", r.from, "-j", "DROP"); err != nil {
				t.Fatal(err)
			}
		}
	}
	apply("-I")
	var once sync.Once
	unblock = func() { once.Do(func() { apply("-D") }) }
	t.Cleanup(unblock)
	return unblock
}

// cmd is the test binary run as the reelay CLI in a namespace.
func (nt *natTopology) cmd(ctx context.Context, t *testing.T, role string, env []string, args ...string) *exec.Cmd {
	c := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", nt.ns(role), os.Args[0]}, args...)...)
	c.Env = append(os.Environ(), "XDG_CONFIG_HOME="+filepath.Join(t.TempDir(), "config"), "REELAY_CLI_MAIN=1")
	c.Env = append(c.Env, env...)
	c.WaitDelay = 5 * time.Second
	return c
}

// run runs a command to its end.
func (nt *natTopology) run(ctx context.Context, t *testing.T, role string, env []string, args ...string) (stdout, stderr []byte, err error) {
	c := nt.cmd(ctx, t, role, env, args...)
	var o, e bytes.Buffer
	c.Stdout, c.Stderr = &o, &e
	err = c.Run()
	return o.Bytes(), e.Bytes(), err
}

// proc is a command running in the background, its output watched.
type proc struct {
	stdout, stderr *lines
}

// start runs a command until the test ends, then interrupts it.
func (nt *natTopology) start(ctx context.Context, t *testing.T, role string, env []string, args ...string) *proc {
	t.Helper()
	c := nt.cmd(ctx, t, role, env, args...)
	p := &proc{stdout: &lines{}, stderr: &lines{}}
	c.Stdout, c.Stderr = p.stdout, p.stderr
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.Process.Signal(os.Interrupt)
		c.Wait()
		if t.Failed() {
			t.Logf("%s %s, stderr:\n%s", role, args[0], p.stderr.String())
		}
	})
	return p
}

// waitLine waits for a line of l holding s and returns it.
func (p *proc) waitLine(t *testing.T, l *lines, s string, d time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		if line, ok := l.find(s); ok {
			return line
		}
		if time.Now().After(deadline) {
			t.Fatalf("no line with %q within %v; stdout:\n%s\nstderr:\n%s", s, d, p.stdout.String(), p.stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// lines is an io.Writer keeping what was written, searchable by line.
type lines struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *lines) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(b)
}

func (l *lines) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func (l *lines) find(s string) (string, bool) {
	sc := bufio.NewScanner(strings.NewReader(l.String()))
	for sc.Scan() {
		if strings.Contains(sc.Text(), s) {
			return strings.TrimSpace(sc.Text()), true
		}
	}
	return "", false
}

var logField = regexp.MustCompile(`(\w+)=("(?:[^"\\]|\\.)*"|\S+)`)

// logFields collects key=value pairs from slog text lines.
func logFields(s string) map[string]string {
	out := map[string]string{}
	for _, m := range logField.FindAllStringSubmatch(s, -1) {
		v := m[2]
		if u, err := strconv.Unquote(v); err == nil {
			v = u
		}
		out[m[1]] = v
	}
	return out
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	return s[strings.LastIndexByte(s, '\n')+1:]
}

func sh(args ...string) error {
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %w: %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return nil
}

func writeRandom(t *testing.T, path string, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	r := rand.New(rand.NewPCG(uint64(n), 1))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return b
}

func randomPeerID(t *testing.T) string {
	t.Helper()
	id, err := p2pnet.PeerIDOf(filepath.Join(t.TempDir(), "k"))
	if err != nil {
		t.Fatal(err)
	}
	return id
}
