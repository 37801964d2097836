package net_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"io"
	stdnet "net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	gosync "sync"
	"testing"
	"time"

	ma "github.com/multiformats/go-multiaddr"

	"reelay/assets"
	p2pnet "reelay/net"
	"reelay/net/leakcheck"
	avsync "reelay/sync"
)

// sharerConfig is what TestRestartingSharerProcess needs to serve the same
// link each time it starts.
type sharerConfig struct {
	Dir, Identity, Token string
	Listen               []string
}

const sharerConfigEnv = "REELAY_RESTARTING_SHARER"

// TestRestartingSharerProcess is the sharer of TestViewerRidesOutASharerRestart,
// run as a child: it shares the folder with the identity, listen addresses
// and token of $REELAY_RESTARTING_SHARER, prints the link, and serves until
// killed or until its stdin closes.
func TestRestartingSharerProcess(t *testing.T) {
	raw := os.Getenv(sharerConfigEnv)
	if raw == "" {
		t.Skip("runs only as TestViewerRidesOutASharerRestart's sharer")
	}
	var cfg sharerConfig
	if err := json.Unmarshal([]byte(raw), &cfg); err != nil {
		t.Fatal(err)
	}
	key, err := p2pnet.LoadIdentity(cfg.Identity)
	if err != nil {
		t.Fatal(err)
	}
	h, err := p2pnet.NewHost(p2pnet.HostOptions{Identity: key, ListenAddrs: cfg.Listen})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	s := p2pnet.NewSharer(h, p2pnet.SharerOptions{})
	defer s.Close()
	link, err := s.ShareWithToken(cfg.Dir, cfg.Token)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("link %s\n", link)
	io.Copy(io.Discard, os.Stdin)
}

// sharerChild is one run of the sharer process.
type sharerChild struct {
	cmd   *exec.Cmd
	stdin io.Closer
	// link is the link it printed; up is when it printed it: from then on
	// it serves.
	link p2pnet.Link
	up   time.Time
}

func startSharerChild(t *testing.T, cfg sharerConfig) *sharerChild {
	t.Helper()
	raw, _ := json.Marshal(cfg)
	cmd := exec.Command(os.Args[0], "-test.run=^TestRestartingSharerProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), sharerConfigEnv+"="+string(raw))
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &sharerChild{cmd: cmd, stdin: stdin}
	t.Cleanup(c.kill)
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if l, ok := strings.CutPrefix(sc.Text(), "link "); ok {
				lines <- l
			}
		}
		close(lines)
	}()
	select {
	case l, ok := <-lines:
		if !ok {
			t.Fatal("the sharer process ended without a link")
		}
		c.up = time.Now()
		if c.link, err = p2pnet.ParseLink(l); err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no link from the sharer process within 30 s")
	}
	return c
}

// kill ends the process at once, as a crash or a power cut would: no
// connection is closed properly.
func (c *sharerChild) kill() {
	if c.cmd.ProcessState == nil {
		c.cmd.Process.Kill()
		c.stdin.Close()
		c.cmd.Wait()
	}
}

// frameLog is a video sink that logs the frames shown.
type frameLog struct {
	mu     gosync.Mutex
	frames []shownFrame
}

type shownFrame struct {
	pts time.Duration
	at  time.Time
}

func (l *frameLog) Show(_ *image.RGBA, pts time.Duration) {
	l.mu.Lock()
	l.frames = append(l.frames, shownFrame{pts: pts, at: time.Now()})
	l.mu.Unlock()
}

func (l *frameLog) all() []shownFrame {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.frames)
}

// connLog collects the player's connection events.
type connLog struct {
	mu     gosync.Mutex
	events []avsync.Event
}

func (l *connLog) onEvent(ev avsync.Event) {
	if ev.Kind == avsync.EventConnection {
		l.mu.Lock()
		l.events = append(l.events, ev)
		l.mu.Unlock()
	}
}

func (l *connLog) states() []p2pnet.ConnState {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []p2pnet.ConnState
	for _, e := range l.events {
		out = append(out, e.Connection)
	}
	return out
}

func freePorts(t *testing.T) (tcp, udp int) {
	t.Helper()
	l, err := stdnet.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	u, err := stdnet.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	return l.Addr().(*stdnet.TCPAddr).Port, u.LocalAddr().(*stdnet.UDPAddr).Port
}

// TestViewerRidesOutASharerRestart plays the demo recording from a sharer
// process, kills that process mid-play (SIGKILL: nothing is closed
// properly) and starts it again with the same identity, addresses and
// token. The viewer stalls, says it is reconnecting, and plays on from
// where it was: within 5 s of the sharer's return (from the moment it
// serves again to the next frame shown), with no frame skipped.
//
// Over TCP the kernel closes the dead process's connections, so the loss
// is seen at once; over QUIC nothing tells the viewer, and the stall
// watchdog (or the new process's stateless reset) has to.
func TestViewerRidesOutASharerRestart(t *testing.T) {
	for _, transport := range []string{"tcp", "quic-v1"} {
		t.Run(transport, func(t *testing.T) { rideOutRestart(t, transport) })
	}
}

func rideOutRestart(t *testing.T, transport string) {
	leakcheck.Check(t)
	dir := t.TempDir()
	if err := assets.CopyDemo(dir); err != nil {
		t.Fatal(err)
	}
	tcp, udp := freePorts(t)
	cfg := sharerConfig{Dir: dir, Identity: filepath.Join(t.TempDir(), "identity.key"), Token: p2pnet.NewToken(),
		Listen: []string{fmt.Sprintf("/ip4/127.0.0.1/tcp/%d", tcp), fmt.Sprintf("/ip4/127.0.0.1/udp/%d/quic-v1", udp)}}
	sharer := startSharerChild(t, cfg)
	link := sharer.link
	// The link's address over the transport under test only.
	link.Addrs = slices.DeleteFunc(link.Addrs, func(a ma.Multiaddr) bool {
		return !strings.HasSuffix(a.String(), "/"+transport) && !strings.Contains(a.String(), "/"+transport+"/")
	})
	if len(link.Addrs) != 1 {
		t.Fatalf("link addresses over %s: %v", transport, link.Addrs)
	}

	vh, err := p2pnet.NewHost(p2pnet.HostOptions{ListenAddrs: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	defer vh.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	rec, err := p2pnet.DialWith(ctx, vh, link, p2pnet.DialOptions{})
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Close()
	if got := rec.Steps().Path; got != p2pnet.PathLAN {
		t.Fatalf("path %v", got)
	}

	conns := &connLog{}
	p, err := avsync.Open(t.Context(), rec.Source(), avsync.Options{
		// The wall clock: the test needs no sound device.
		OpenAudio: func() (avsync.AudioSink, error) { return nil, errors.New("no sound in this test") },
		VideoSize: func(_ string, w, h int) (int, int) { return w / 4, h / 4 },
		OnEvent:   conns.onEvent,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	logs := map[string]*frameLog{"camera": {}, "screen": {}}
	for name, l := range logs {
		p.SetVideoSink(name, l)
	}
	p.Play()
	waitState(t, p, avsync.StatePlaying, 20*time.Second)
	time.Sleep(2 * time.Second)

	sharer.kill()
	killedAt, posAtKill := time.Now(), p.Position()
	// The sharer stays away until the buffer is spent and playback stalls.
	waitState(t, p, avsync.StateBuffering, 30*time.Second)
	stalledAt, posAtStall := time.Now(), p.Position()
	// A sharer that vanished without closing is noticed once requests
	// received nothing for StallTimeout and a probe went unanswered.
	noticeBy := time.Now().Add(3*time.Second + 2*time.Second + 2*time.Second)
	for rec.Connection().State != p2pnet.ConnReconnecting && time.Now().Before(noticeBy) {
		time.Sleep(50 * time.Millisecond)
	}
	if st := rec.Connection().State; st != p2pnet.ConnReconnecting {
		t.Errorf("connection %v during the outage, want %v", st, p2pnet.ConnReconnecting)
	}
	if pos := p.Position(); pos != posAtStall {
		t.Errorf("the position moved from %v to %v while stalled", posAtStall, pos)
	}

	sharer = startSharerChild(t, cfg)
	waitState(t, p, avsync.StatePlaying, 10*time.Second)
	playingAgain := time.Since(sharer.up)
	var firstAfter time.Duration
	for firstAfter == 0 && time.Since(sharer.up) < 10*time.Second {
		for _, l := range logs {
			for _, f := range l.all() {
				if f.at.After(sharer.up) && (firstAfter == 0 || f.at.Sub(sharer.up) < firstAfter) {
					firstAfter = f.at.Sub(sharer.up)
				}
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(2 * time.Second)
	stats, tracks := p.Stats(), p.Tracks()

	// Continuity: around the outage each track showed its frames in order,
	// none skipped (a gap of at most one frame, as before the outage).
	for name, l := range logs {
		frames := l.all()
		i := slices.IndexFunc(frames, func(f shownFrame) bool { return f.at.After(sharer.up) })
		if i <= 0 {
			t.Fatalf("%s: no frame shown after the sharer came back (%d frames)", name, len(frames))
		}
		before, after := frames[i-1], frames[i]
		step := frames[1].pts - frames[0].pts
		t.Logf("%s: last frame before the outage pts %v, first after pts %v (frame step %v); shown %v after the sharer's return",
			name, before.pts, after.pts, step, after.at.Sub(sharer.up).Round(time.Millisecond))
		if gap := after.pts - before.pts; gap <= 0 || gap > step+step/2 {
			t.Errorf("%s: frames jumped from pts %v to %v across the outage", name, before.pts, after.pts)
		}
	}
	var dropped int64
	for _, tr := range tracks {
		if tr.Err != nil {
			t.Errorf("%s: %v", tr.Name, tr.Err)
		}
		dropped += tr.Stats.FramesDropped
	}
	c := stats.Connection
	t.Logf("%s: position %v at the kill, %v at the stall (%v after the kill); sharer back %v after the kill; playing again %v and next frame %v after its return; %d stall(s), %v stalled; connection %v, %d reconnect(s), down %v; connection events %v; %d frames dropped over the run",
		transport, posAtKill.Round(time.Millisecond), posAtStall.Round(time.Millisecond), stalledAt.Sub(killedAt).Round(time.Millisecond),
		sharer.up.Sub(killedAt).Round(time.Millisecond), playingAgain.Round(time.Millisecond), firstAfter.Round(time.Millisecond),
		stats.Stalls, stats.StallTime.Round(time.Millisecond), c.State, c.Reconnects, c.Downtime.Round(time.Millisecond), conns.states(), dropped)
	if firstAfter == 0 || firstAfter > 5*time.Second {
		t.Errorf("the next frame came %v after the sharer's return, want within 5 s", firstAfter)
	}
	if c.State != p2pnet.ConnConnected || c.Reconnects != 1 {
		t.Errorf("connection after the outage: %+v", c)
	}
	if want := []p2pnet.ConnState{p2pnet.ConnConnected, p2pnet.ConnReconnecting, p2pnet.ConnConnected}; !slices.Equal(conns.states(), want) {
		t.Errorf("connection events %v, want %v", conns.states(), want)
	}
	if stats.Stalls != 1 {
		t.Errorf("%d stalls, want the one of the outage", stats.Stalls)
	}
}

func waitState(t *testing.T, p *avsync.Player, want avsync.State, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for p.State() != want {
		if time.Now().After(deadline) {
			t.Fatalf("player %v, not %v after %v", p.State(), want, within)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestLiveViewerRidesOutASharerRestart: a viewer plays a recording at its
// live edge while ffmpeg writes it; the sharer's process is killed and,
// seconds later, started again with the same identity, addresses and
// token. The live track, grown meanwhile and shared again under another
// version, goes on as the same track, and playing comes back near the
// live edge rather than where the outage stopped it.
func TestLiveViewerRidesOutASharerRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("records in real time")
	}
	leakcheck.Check(t)
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	rec := exec.CommandContext(ctx, "ffmpeg", "-loglevel", "error", "-re",
		"-f", "lavfi", "-i", "testsrc2=size=320x180:rate=30", "-t", "60", "-c:v", "libx264", "-preset", "veryfast",
		"-g", "30", "-pix_fmt", "yuv420p", "-flush_packets", "1", "-f", "mpegts", filepath.Join(dir, "screen.ts"))
	if err := rec.Start(); err != nil {
		t.Skipf("no ffmpeg: %v", err)
	}
	defer rec.Wait()
	defer cancel()
	time.Sleep(3 * time.Second)
	tcp, udp := freePorts(t)
	cfg := sharerConfig{Dir: dir, Identity: filepath.Join(t.TempDir(), "identity.key"), Token: p2pnet.NewToken(),
		Listen: []string{fmt.Sprintf("/ip4/127.0.0.1/tcp/%d", tcp), fmt.Sprintf("/ip4/127.0.0.1/udp/%d/quic-v1", udp)}}
	sharer := startSharerChild(t, cfg)
	vh, err := p2pnet.NewHost(p2pnet.HostOptions{ListenAddrs: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	defer vh.Close()
	dctx, dcancel := context.WithTimeout(t.Context(), 10*time.Second)
	r, err := p2pnet.Dial(dctx, vh, sharer.link)
	dcancel()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if tr, _ := r.Track("screen"); tr.Live && tr.End > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the track is not live")
		}
	}
	p, err := avsync.Open(t.Context(), r.Source(), avsync.Options{
		OpenAudio: func() (avsync.AudioSink, error) { return nil, errors.New("no sound in this test") },
		VideoSize: func(_ string, w, h int) (int, int) { return w / 4, h / 4 },
	})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	frames := &frameLog{}
	p.SetVideoSink("screen", frames)
	p.Play()
	waitState(t, p, avsync.StatePlaying, 20*time.Second)
	time.Sleep(3 * time.Second)

	sharer.kill()
	before := p.Status()
	time.Sleep(5 * time.Second)
	sharer = startSharerChild(t, cfg)
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		st := p.Status()
		if st.State == avsync.StatePlaying && st.Position > before.Position+3*time.Second {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not playing near the edge again 15 s after the sharer's return: %v at %v, edge %v", st.State, st.Position, st.LiveEdge)
		}
	}
	time.Sleep(2 * time.Second)
	st := p.Status()
	t.Logf("before the kill: at %v, edge %v; after the return: at %v, edge %v, %d stalls, connection %v",
		before.Position, before.LiveEdge, st.Position, st.LiveEdge, st.Stats.Stalls, st.Stats.Connection.State)
	for _, tr := range p.Tracks() {
		if tr.Err != nil {
			t.Errorf("%s: %v", tr.Name, tr.Err)
		}
	}
	if !st.Live || st.LiveEdge-st.Position > 3*time.Second {
		t.Errorf("after the sharer's return: at %v with the edge at %v (live %v), want near the edge", st.Position, st.LiveEdge, st.Live)
	}
}
