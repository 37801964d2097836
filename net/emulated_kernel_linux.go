//go:build linux

package net

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	stdnet "net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"
	ma "github.com/multiformats/go-multiaddr"
	"golang.org/x/sys/unix"
)

// kernelTCP carries an emulated pair's TCP through the operating system's
// own TCP stack, so its congestion control meets the link's loss: each
// host's sockets live in a network namespace of their own whose only way
// out is a tun device, and the IP packets between the two devices cross
// the same simnet link, with the same loss, as QUIC's datagrams do.
type kernelTCP struct {
	// sharerNS and viewerNS hold the two namespaces open.
	sharerNS, viewerNS *os.File
	// sharerTun and viewerTun are the namespaces' tun devices.
	sharerTun, viewerTun *os.File
	// sharerConn and viewerConn are the devices' simnet endpoints.
	sharerConn, viewerConn *lossyConn
	// congestion is the congestion control of TCP in both namespaces.
	congestion string
	// wg counts the four goroutines that move packets.
	wg sync.WaitGroup
}

const (
	// kernelTunName names the tun device in each namespace: the
	// namespaces are the pair's own, so every pair can use the same one.
	kernelTunName = "reelay0"
	// kernelMTU is the tun devices' MTU, Ethernet's: an IP packet from
	// one fits simnet's MTU whole.
	kernelMTU = 1500
)

// startKernelTCP starts the sharer and the viewer with TCP alone, each in
// a namespace of its own, joined by the simnet link. Only the sharer
// listens; the viewer dials from its namespace. It needs the right to
// make namespaces and tun devices (root), and cleans up after itself
// when it fails.
func (p *EmulatedPair) startKernelTCP() (err error) {
	k := &kernelTCP{}
	defer func() {
		if err == nil {
			return
		}
		for _, h := range []*Host{p.Viewer, p.Sharer} {
			if h != nil {
				h.Close()
			}
		}
		k.close()
		if p.sim != nil {
			p.sim.Close()
		}
		p.Viewer, p.Sharer, p.kernel, p.sim, p.sharerEnd, p.viewerEnd = nil, nil, nil, nil, nil, nil
	}()
	if k.sharerNS, k.sharerTun, k.congestion, err = newTunNamespace(kernelSharerIP, p.link); err != nil {
		return err
	}
	if k.viewerNS, k.viewerTun, _, err = newTunNamespace(kernelViewerIP, p.link); err != nil {
		return err
	}
	p.startSimnet()
	k.sharerConn = p.sharerEnd.open(p.sharerEnd.addr)
	k.viewerConn = p.viewerEnd.open(p.viewerEnd.addr)
	k.wg.Add(4)
	go k.carry(k.sharerTun, k.sharerConn, p.viewerEnd.addr)
	go k.deliver(k.viewerConn, k.viewerTun)
	go k.carry(k.viewerTun, k.viewerConn, p.sharerEnd.addr)
	go k.deliver(k.sharerConn, k.sharerTun)
	p.kernel = k

	// Reuseport would bind the sharer's dials to its listening port; it
	// never dials, and the viewer's dials go through namespaceDialer.
	sharer := []libp2p.Option{libp2p.Transport(tcp.NewTCPTransport, tcp.DisableReuseport())}
	if p.Sharer, err = NewHost(HostOptions{ListenAddrs: []string{}, transports: sharer}); err != nil {
		return fmt.Errorf("net: starting the emulated link's sharer failed: %w", err)
	}
	listen := ma.StringCast(fmt.Sprintf("/ip4/%s/tcp/0", kernelSharerIP))
	// The listening socket is made in the sharer's namespace, and so is
	// every connection it accepts.
	if err := inNamespace(k.sharerNS, func() error { return p.Sharer.Network().Listen(listen) }); err != nil {
		return fmt.Errorf("net: the emulated link's sharer cannot listen on %s: %w", listen, err)
	}
	viewer := []libp2p.Option{libp2p.Transport(tcp.NewTCPTransport, tcp.DisableReuseport(),
		tcp.WithDialerForAddr(func(ma.Multiaddr) (tcp.ContextDialer, error) { return namespaceDialer{k.viewerNS}, nil }))}
	if p.Viewer, err = NewHost(HostOptions{ListenAddrs: []string{}, transports: viewer}); err != nil {
		return fmt.Errorf("net: starting the emulated link's viewer failed: %w", err)
	}
	return nil
}

// carry sends each IP packet the tun device gives into the simnet link,
// addressed to the other end, until the device is closed.
func (k *kernelTCP) carry(tun *os.File, from *lossyConn, to stdnet.Addr) {
	defer k.wg.Done()
	buf := make([]byte, kernelMTU)
	for {
		n, err := tun.Read(buf)
		if err != nil {
			return
		}
		// The link copies the packet; a lost one looks sent.
		from.WriteTo(buf[:n], to)
	}
}

// deliver hands each packet that crossed the link to the tun device, for
// the namespace's TCP, until the endpoint is closed.
func (k *kernelTCP) deliver(conn *lossyConn, tun *os.File) {
	defer k.wg.Done()
	buf := make([]byte, kernelMTU)
	for {
		n, _, err := conn.ReadFrom(buf)
		if err != nil {
			return
		}
		if _, err := tun.Write(buf[:n]); errors.Is(err, os.ErrClosed) {
			return
		}
		// Any other failure loses the packet, as a full queue would.
	}
}

// close stops the goroutines and lets go of the devices and namespaces,
// which vanish once the hosts' sockets in them are closed too.
func (k *kernelTCP) close() {
	for _, f := range []*os.File{k.sharerTun, k.viewerTun} {
		if f != nil {
			f.Close()
		}
	}
	for _, c := range []*lossyConn{k.sharerConn, k.viewerConn} {
		if c != nil {
			c.Close()
		}
	}
	k.wg.Wait()
	for _, f := range []*os.File{k.sharerNS, k.viewerNS} {
		if f != nil {
			f.Close()
		}
	}
}

// newTunNamespace makes a network namespace whose one interface is a tun
// device with addr on a /30, up, its route to the other end given link's
// congestion control, and returns the namespace, the device and the
// congestion control TCP uses there.
func newTunNamespace(addr netip.Addr, link EmulatedLink) (ns, tun *os.File, congestion string, err error) {
	err = onThreadOfItsOwn(func() error {
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			return fmt.Errorf("net: a network namespace for the emulated link: %w", err)
		}
		f, err := os.Open(fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid()))
		if err != nil {
			return fmt.Errorf("net: holding the emulated link's network namespace: %w", err)
		}
		t, err := newTun(addr)
		if err != nil {
			f.Close()
			return err
		}
		if congestion, err = setCongestion(addr, link.Congestion); err != nil {
			t.Close()
			f.Close()
			return fmt.Errorf("net: link %q: %w", link, err)
		}
		ns, tun = f, t
		return nil
	})
	return ns, tun, congestion, err
}

// newTun makes the tun device kernelTunName in the calling thread's
// namespace, gives it addr on a /30 and the MTU, and brings it up.
func newTun(addr netip.Addr) (*os.File, error) {
	// Non-blocking, so the runtime's poller serves it and Close ends a
	// Read in progress.
	fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		return nil, fmt.Errorf("net: a tun device for the emulated link: %w", err)
	}
	if err := configureTun(fd, addr); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("net: setting up the emulated link's tun device: %w", err)
	}
	// Only once attached to its device: the poller refuses a bare one.
	return os.NewFile(uintptr(fd), "/dev/net/tun"), nil
}

// configureTun attaches fd to a new tun device and sets it up with ioctls
// on a socket of the namespace's.
func configureTun(fd int, addr netip.Addr) error {
	ifr, err := unix.NewIfreq(kernelTunName)
	if err != nil {
		return err
	}
	ifr.SetUint16(unix.IFF_TUN | unix.IFF_NO_PI)
	if err := unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr); err != nil {
		return fmt.Errorf("TUNSETIFF: %w", err)
	}
	s, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(s)
	set := func(name string, req uint, fill func(*unix.Ifreq) error) error {
		r, err := unix.NewIfreq(kernelTunName)
		if err != nil {
			return err
		}
		if err := fill(r); err != nil {
			return err
		}
		if err := unix.IoctlIfreq(s, req, r); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		return nil
	}
	ip := addr.As4()
	if err := set("SIOCSIFADDR", unix.SIOCSIFADDR, func(r *unix.Ifreq) error { return r.SetInet4Addr(ip[:]) }); err != nil {
		return err
	}
	if err := set("SIOCSIFNETMASK", unix.SIOCSIFNETMASK, func(r *unix.Ifreq) error { return r.SetInet4Addr([]byte{255, 255, 255, 252}) }); err != nil {
		return err
	}
	if err := set("SIOCSIFMTU", unix.SIOCSIFMTU, func(r *unix.Ifreq) error { r.SetUint32(kernelMTU); return nil }); err != nil {
		return err
	}
	return set("SIOCSIFFLAGS", unix.SIOCSIFFLAGS, func(r *unix.Ifreq) error { r.SetUint16(unix.IFF_UP); return nil })
}

// setCongestion gives the route to the other end, in the calling thread's
// namespace, where this end has addr, the congestion control name, unless
// it is empty, and returns the one TCP uses across it. The route's,
// because a namespace other than the machine's own may not make most of
// them its default.
func setCongestion(addr netip.Addr, name string) (string, error) {
	if name == "" {
		b, err := os.ReadFile("/proc/sys/net/ipv4/tcp_congestion_control")
		return strings.TrimSpace(string(b)), err
	}
	prefix := netip.PrefixFrom(addr, 30).Masked()
	// The command runs in the namespace: a child starts in its parent
	// thread's.
	out, err := exec.Command("ip", "route", "replace", prefix.String(), "dev", kernelTunName,
		"proto", "kernel", "scope", "link", "src", addr.String(), "congctl", name).CombinedOutput()
	if err != nil {
		have, _ := os.ReadFile("/proc/sys/net/ipv4/tcp_available_congestion_control")
		return "", fmt.Errorf("TCP's congestion control %q is not to be had here (there are %s): %w: %s", name, strings.TrimSpace(string(have)), err, bytes.TrimSpace(out))
	}
	return name, nil
}

// namespaceDialer dials TCP from inside a namespace.
type namespaceDialer struct{ ns *os.File }

// DialContext makes the socket in the namespace; once made, it stays in it
// whichever thread uses it.
func (d namespaceDialer) DialContext(ctx context.Context, network, addr string) (stdnet.Conn, error) {
	var c stdnet.Conn
	err := inNamespace(d.ns, func() error {
		var err error
		c, err = (&stdnet.Dialer{}).DialContext(ctx, network, addr)
		return err
	})
	return c, err
}

// inNamespace runs fn on a thread of its own that has entered ns.
func inNamespace(ns *os.File, fn func() error) error {
	return onThreadOfItsOwn(func() error {
		if err := unix.Setns(int(ns.Fd()), unix.CLONE_NEWNET); err != nil {
			return fmt.Errorf("net: entering the emulated link's network namespace: %w", err)
		}
		return fn()
	})
}

// onThreadOfItsOwn runs fn on an operating system thread that nothing else
// runs on, and that ends with it: fn may move the thread to another
// namespace without any other goroutine ever running there.
func onThreadOfItsOwn(fn func() error) error {
	done := make(chan error, 1)
	go func() {
		// Never unlocked: a goroutine that ends locked takes its thread
		// with it.
		runtime.LockOSThread()
		done <- fn()
	}()
	return <-done
}
