package net

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	stdnet "net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	ma "github.com/multiformats/go-multiaddr"

	"reelay/net/leakcheck"
	"reelay/net/linktest"
)

// restartableSharer is a sharer a test stops and starts again with the
// same identity, listen address and token, as a user restarting it would
// (the identity key and the link outlive the process).
type restartableSharer struct {
	tb     testing.TB
	key    crypto.PrivKey
	listen []string
	dir    string
	token  string
	h      *Host
	s      *Sharer
}

func newRestartableSharer(tb testing.TB, dir string) *restartableSharer {
	tb.Helper()
	key, _, err := crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	rs := &restartableSharer{tb: tb, key: key, dir: dir, token: newToken(),
		listen: []string{fmt.Sprintf("/ip4/127.0.0.1/tcp/%d", freePort(tb))}}
	tb.Cleanup(rs.stop)
	return rs
}

// freePort is a loopback TCP port nothing listens on now.
func freePort(tb testing.TB) int {
	tb.Helper()
	l, err := stdnet.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*stdnet.TCPAddr).Port
}

func (rs *restartableSharer) start() Link {
	rs.tb.Helper()
	h, err := NewHost(HostOptions{Identity: rs.key, ListenAddrs: rs.listen})
	if err != nil {
		rs.tb.Fatal(err)
	}
	rs.h, rs.s = h, NewSharer(h, SharerOptions{})
	link, err := rs.s.ShareWithToken(rs.dir, rs.token)
	if err != nil {
		rs.tb.Fatal(err)
	}
	return link
}

func (rs *restartableSharer) stop() {
	if rs.h != nil {
		rs.s.Close()
		rs.h.Close()
		rs.h, rs.s = nil, nil
	}
}

// quickReconnect are dial options that notice and retry sooner than the
// defaults, to keep tests short.
var quickReconnect = DialOptions{ReconnectMin: 50 * time.Millisecond, ReconnectMax: 300 * time.Millisecond,
	StallTimeout: time.Second, ProbeTimeout: 500 * time.Millisecond}

// dialViewer dials link from a fresh viewer host; both close with tb.
func dialViewer(tb testing.TB, link Link, o DialOptions) *Recording {
	tb.Helper()
	vh, err := NewHost(HostOptions{ListenAddrs: []string{}})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { vh.Close() })
	ctx, cancel := context.WithTimeout(tb.Context(), 10*time.Second)
	defer cancel()
	rec, err := DialWith(ctx, vh, link, o)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { rec.Close() })
	return rec
}

func waitConn(tb testing.TB, rec *Recording, want ConnState, within time.Duration) time.Duration {
	tb.Helper()
	start := time.Now()
	for rec.Connection().State != want {
		if time.Since(start) > within {
			tb.Fatalf("connection %+v, still not %v after %v", rec.Connection(), want, within)
		}
		time.Sleep(5 * time.Millisecond)
	}
	return time.Since(start)
}

// readAsync reads len(p) bytes at off in a goroutine.
func readAsync(r *RangeReader, p []byte, off int64) <-chan error {
	done := make(chan error, 1)
	go func() {
		_, err := r.ReadAt(p, off)
		done <- err
	}()
	return done
}

// TestReadsWaitForTheSharerToComeBack: the sharer goes away mid-read and
// comes back with the same identity, address and token. The read waits
// instead of failing, the cached bytes are served meanwhile, and the read
// completes with the right bytes once the sharer is back.
func TestReadsWaitForTheSharerToComeBack(t *testing.T) {
	leakcheck.Check(t)
	dir := t.TempDir()
	data := writeRandomFile(t, filepath.Join(dir, "screen.mp4"), 6<<20+5, 3)
	rs := newRestartableSharer(t, dir)
	rec := dialViewer(t, rs.start(), quickReconnect)
	r, err := rec.OpenTrack("screen", RangeReaderOptions{Readahead: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	head := make([]byte, 1<<20)
	if _, err := r.ReadAt(head, 0); err != nil || !bytes.Equal(head, data[:len(head)]) {
		t.Fatalf("first read: %v", err)
	}

	rs.stop()
	noticed := waitConn(t, rec, ConnReconnecting, 5*time.Second)
	if st := r.Connection().State; st != ConnReconnecting {
		t.Errorf("the reader says the connection is %v", st)
	}
	far := make([]byte, 512<<10)
	done := readAsync(r, far, 5<<20)
	select {
	case err := <-done:
		t.Fatalf("a read returned (%v) while the sharer was away", err)
	case <-time.After(time.Second):
	}
	// The cache survives: what was read is served without the sharer.
	start := time.Now()
	if _, err := r.ReadAt(head, 0); err != nil || !bytes.Equal(head, data[:len(head)]) {
		t.Fatalf("reading cached bytes during the outage: %v", err)
	}
	cachedIn := time.Since(start)

	restart := time.Now()
	rs.start()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("the waiting read failed after the sharer came back: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the waiting read still blocked 10 s after the sharer came back")
	}
	back := time.Since(restart)
	if !bytes.Equal(far, data[5<<20:5<<20+len(far)]) {
		t.Fatal("the read after reconnecting returned wrong bytes")
	}
	c := rec.Connection()
	t.Logf("outage noticed after %v; cached read during it %v; waiting read done %v after the restart; %+v",
		noticed.Round(time.Millisecond), cachedIn.Round(time.Microsecond), back.Round(time.Millisecond), c)
	if c.State != ConnConnected || c.Reconnects != 1 || c.Downtime <= 0 {
		t.Errorf("connection after the outage: %+v", c)
	}
	if back > 5*time.Second {
		t.Errorf("reads resumed %v after the sharer came back, want under 5 s", back)
	}
}

// TestLinkRevokedWhileAwayFailsReads: the sharer comes back without the
// link's token (it stopped sharing): reads fail with not_found and the
// recording stops reconnecting.
func TestLinkRevokedWhileAwayFailsReads(t *testing.T) {
	leakcheck.Check(t)
	dir := t.TempDir()
	writeRandomFile(t, filepath.Join(dir, "screen.mp4"), 3<<20, 4)
	rs := newRestartableSharer(t, dir)
	rec := dialViewer(t, rs.start(), quickReconnect)
	r, err := rec.OpenTrack("screen", RangeReaderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	rs.stop()
	waitConn(t, rec, ConnReconnecting, 5*time.Second)
	done := readAsync(r, make([]byte, 1000), 2<<20)
	rs.token = newToken()
	rs.start()
	select {
	case err := <-done:
		if !errors.Is(err, ErrNotFound) {
			t.Fatalf("read after the link was revoked: %v, want not_found", err)
		}
		t.Log(err)
	case <-time.After(10 * time.Second):
		t.Fatal("a read still waited 10 s after the sharer came back without the recording")
	}
	if c := rec.Connection(); c.State != ConnUnshared {
		t.Errorf("connection %+v, want %v", c, ConnUnshared)
	}
}

// TestTrackChangedWhileAwayFailsOnlyIt: a track's file changes while the
// sharer is away; after reconnecting its reads fail with changed, never
// mixing old and new bytes, and the other track reads on.
func TestTrackChangedWhileAwayFailsOnlyIt(t *testing.T) {
	leakcheck.Check(t)
	dir := t.TempDir()
	screen := writeRandomFile(t, filepath.Join(dir, "screen.mp4"), 3<<20, 5)
	writeRandomFile(t, filepath.Join(dir, "camera.mp4"), 3<<20, 6)
	rs := newRestartableSharer(t, dir)
	rec := dialViewer(t, rs.start(), quickReconnect)
	cam, err := rec.OpenTrack("camera", RangeReaderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer cam.Close()
	scr, err := rec.OpenTrack("screen", RangeReaderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer scr.Close()
	if _, err := cam.ReadAt(make([]byte, 1000), 0); err != nil {
		t.Fatal(err)
	}
	rs.stop()
	waitConn(t, rec, ConnReconnecting, 5*time.Second)
	camDone := readAsync(cam, make([]byte, 1000), 2<<20)
	got := make([]byte, 1000)
	scrDone := readAsync(scr, got, 2<<20)
	writeRandomFile(t, filepath.Join(dir, "camera.mp4"), 3<<20, 7)
	later := time.Now().Add(time.Hour)
	if err := os.Chtimes(filepath.Join(dir, "camera.mp4"), later, later); err != nil {
		t.Fatal(err)
	}
	rs.start()
	for name, done := range map[string]<-chan error{"camera": camDone, "screen": scrDone} {
		select {
		case err := <-done:
			switch {
			case name == "camera" && !errors.Is(err, ErrChanged):
				t.Errorf("camera, changed while away: %v, want changed", err)
			case name == "screen" && err != nil:
				t.Errorf("screen, unchanged: %v", err)
			}
			t.Logf("%s: %v", name, err)
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: read still waiting 10 s after the sharer came back", name)
		}
	}
	if !bytes.Equal(got, screen[2<<20:2<<20+1000]) {
		t.Error("screen read wrong bytes after reconnecting")
	}
}

// TestClosingEndsTheWait: closing the recording fails the reads waiting
// for the sharer; closing only the viewer's host ends reconnecting too.
func TestClosingEndsTheWait(t *testing.T) {
	leakcheck.Check(t)
	dir := t.TempDir()
	writeRandomFile(t, filepath.Join(dir, "screen.mp4"), 3<<20, 8)
	rs := newRestartableSharer(t, dir)
	link := rs.start()
	rec := dialViewer(t, link, quickReconnect)
	r, err := rec.OpenTrack("screen", RangeReaderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	rs.stop()
	waitConn(t, rec, ConnReconnecting, 5*time.Second)
	done := readAsync(r, make([]byte, 1000), 2<<20)
	rec.Close()
	select {
	case err := <-done:
		if !errors.Is(err, errRecordingClosed) {
			t.Errorf("read after Close: %v, want the recording closed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a read still waited 5 s after the recording was closed")
	}

	vh, err := NewHost(HostOptions{ListenAddrs: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	rs.start()
	rec2, err := DialWith(t.Context(), vh, link, quickReconnect)
	if err != nil {
		t.Fatal(err)
	}
	rs.stop()
	waitConn(t, rec2, ConnReconnecting, 5*time.Second)
	vh.Close()
	waitConn(t, rec2, ConnClosed, 5*time.Second)
}

// TestStalledConnectionIsReplaced: the link stops carrying bytes without
// closing (a toxiproxy timeout toxic: packets dropped, nothing reset). The
// recording notices that requests receive nothing, the probe fails, the
// connection is closed and a new one made once the link carries bytes
// again; the read waiting meanwhile completes.
func TestStalledConnectionIsReplaced(t *testing.T) {
	leakcheck.Check(t)
	dir := t.TempDir()
	data := writeRandomFile(t, filepath.Join(dir, "screen.mp4"), 8<<20, 9)
	rs := newRestartableSharer(t, dir)
	link := rs.start()
	port, err := link.Addrs[0].ValueForProtocol(ma.P_TCP)
	if err != nil {
		t.Fatal(err)
	}
	proxy := linktest.New(t, "127.0.0.1:"+port)
	link.Addrs = []ma.Multiaddr{ma.StringCast(fmt.Sprintf("/ip4/127.0.0.1/tcp/%d", proxy.Port()))}
	rec := dialViewer(t, link, quickReconnect)
	r, err := rec.OpenTrack("screen", RangeReaderOptions{Readahead: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, err := r.ReadAt(make([]byte, 1<<20), 0); err != nil {
		t.Fatal(err)
	}

	if err := proxy.Add("stall", "timeout", linktest.Downstream, map[string]any{"timeout": 0}); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 256<<10)
	done := readAsync(r, got, 6<<20)
	noticed := waitConn(t, rec, ConnReconnecting, 10*time.Second)
	if err := proxy.Remove(t.Context(), "stall"); err != nil {
		t.Fatal(err)
	}
	cleared := time.Now()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("the read across the stall failed: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the read still waited 10 s after the link carried bytes again")
	}
	if !bytes.Equal(got, data[6<<20:6<<20+len(got)]) {
		t.Fatal("wrong bytes after the stall")
	}
	t.Logf("stall noticed after %v (stall timeout %v + probe %v); read done %v after the link recovered; %+v",
		noticed.Round(time.Millisecond), quickReconnect.StallTimeout, quickReconnect.ProbeTimeout,
		time.Since(cleared).Round(time.Millisecond), rec.Connection())
	if noticed > quickReconnect.StallTimeout+quickReconnect.ProbeTimeout+time.Second {
		t.Errorf("a stalled link was noticed after %v", noticed)
	}
}

func TestBackoffGrowsWithJitterUpToItsCap(t *testing.T) {
	b := newBackoff(250*time.Millisecond, 2*time.Second)
	for i := range 40 {
		d := b.next()
		ceil := min(2*time.Second, 250*time.Millisecond<<min(i, 10))
		if d < ceil/2 || d > ceil {
			t.Fatalf("wait %d = %v, want within [%v, %v]", i, d, ceil/2, ceil)
		}
	}
	b.reset()
	if d := b.next(); d > 250*time.Millisecond {
		t.Errorf("after reset: %v", d)
	}
}

func TestRetryableErrors(t *testing.T) {
	for _, c := range []struct {
		err  error
		want bool
	}{
		{errors.New("stream reset"), true},
		{fmt.Errorf("reading answer: %w", os.ErrDeadlineExceeded), true},
		{ErrBusy, true},
		{errorf(CodeBusy, "too many"), true},
		{errorf(CodeNotFound, "no such recording"), false},
		{errorf(CodeOutOfRange, "past the end"), false},
		{errorf(CodeChanged, "changed"), false},
		{errorf(CodeInternal, "disk"), false},
		{fmt.Errorf("%w: the sharer announced 9 bytes for a request of 4", errMalformedAnswer), false},
	} {
		if got := retryable(c.err); got != c.want {
			t.Errorf("retryable(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}
