package cli

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	stdnet "net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	gosync "sync"
	"sync/atomic"
	"testing"
	"time"

	p2pnet "reelay/net"
	"reelay/net/leakcheck"
	"reelay/net/linktest"
	avsync "reelay/sync"
)

// The shaped link: a home connection as the issue describes it, 50 ms
// round trip and 20 Mbit/s each way, and a recording at half its rate.
const (
	shapedOneWay    = 25 * time.Millisecond
	shapedBandwidth = 20_000_000 // bits per second
	halfRateVideo   = "10M"      // x264's target; AAC adds 128 kbit/s
)

// longRuns says the 2-minute runs were asked for (REELAY_LONG=1); without
// it the runs are short enough for every `make test`.
func longRuns() bool { return envBool("REELAY_LONG") }

// halfRateRecording is a folder with one track, "camera": 640x360 30 fps
// H.264 at about 10 Mbit/s with AAC, d long. Noise on the test picture
// keeps the encoder at its bit rate; ultrafast (no CABAC) keeps decoding
// cheap on two cores. Files are cached under os.TempDir() by recipe, as
// mediatest's fixtures are.
func halfRateRecording(t *testing.T, d time.Duration) string {
	t.Helper()
	secs := fmt.Sprint(int(d.Seconds()))
	args := []string{"-f", "lavfi", "-i", "testsrc2=size=640x360:rate=30:duration=" + secs + ",noise=alls=30:allf=t+u",
		"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=" + secs,
		"-c:v", "libx264", "-preset", "ultrafast", "-b:v", halfRateVideo, "-maxrate", halfRateVideo, "-bufsize", "5M",
		"-g", "60", "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "128k", "-movflags", "+faststart"}
	sum := sha256.Sum256([]byte(strings.Join(args, "\x00")))
	cache := filepath.Join(os.TempDir(), "reelay-shaped")
	if err := os.MkdirAll(cache, 0o755); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(cache, "half-rate-"+hex.EncodeToString(sum[:6])+".mp4")
	if _, err := os.Stat(file); err != nil {
		tmp := file + fmt.Sprintf(".%d.tmp.mp4", os.Getpid())
		full := append([]string{"-nostdin", "-hide_banner", "-loglevel", "error", "-y"}, args...)
		if out, err := exec.Command("ffmpeg", append(full, tmp)...).CombinedOutput(); err != nil {
			t.Fatalf("ffmpeg: %v\n%s", err, out)
		}
		if err := os.Rename(tmp, file); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	if err := os.Link(file, filepath.Join(dir, "camera.mp4")); err != nil {
		copyFile(t, file, filepath.Join(dir, "camera.mp4"))
	}
	return dir
}

// shapedShare shares dir from a host reachable only through a shaped link:
// it listens on loopback TCP and announces the proxy's address alone, in
// the link and to the viewer's identify, so nothing reaches it around the
// proxy.
type shapedShare struct {
	proxy *linktest.Proxy
	link  p2pnet.Link
}

func newShapedShare(t *testing.T, dir string) *shapedShare {
	t.Helper()
	upstream := freeTCPPort(t)
	proxy := linktest.New(t, fmt.Sprintf("127.0.0.1:%d", upstream))
	a := fmt.Sprintf("/ip4/127.0.0.1/tcp/%d", proxy.Port())
	h, err := p2pnet.NewHost(p2pnet.HostOptions{
		ListenAddrs:   []string{fmt.Sprintf("/ip4/127.0.0.1/tcp/%d", upstream)},
		AnnounceAddrs: []string{a},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	s := p2pnet.NewSharer(h, p2pnet.SharerOptions{})
	t.Cleanup(func() { s.Close() })
	link, err := s.Share(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(link.Addrs) != 1 || link.Addrs[0].String() != a {
		t.Fatalf("link addresses %v, want the proxy's alone", link.Addrs)
	}
	if err := proxy.Shape(shapedOneWay, shapedBandwidth); err != nil {
		t.Fatal(err)
	}
	return &shapedShare{proxy: proxy, link: link}
}

// noSound makes a headless run play on the wall clock.
func noSound() (avsync.AudioSink, error) { return nil, errors.New("no sound in this test") }

// shapedPlay plays the shared recording headless over the shaped link and
// returns the report; notices (reconnecting…) are logged.
func shapedPlay(t *testing.T, ss *shapedShare, o playOptions) *playReport {
	t.Helper()
	o.OpenAudio = noSound
	var notices lockedBuffer
	rep, err := playHeadless(t.Context(), ss.link.String(), o, &notices)
	if s := notices.String(); s != "" {
		t.Logf("notices:\n%s", s)
	}
	if err != nil {
		t.Fatalf("play: %v", err)
	}
	b, _ := json.Marshal(rep)
	t.Logf("report: %s", b)
	return rep
}

// lockedBuffer is a buffer written from the player's event goroutine.
type lockedBuffer struct {
	mu  gosync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// checkThroughProxy fails if the bytes did not cross the shaped link: a
// request's first byte takes at least the round trip.
func checkThroughProxy(t *testing.T, rep *playReport) {
	t.Helper()
	for _, tr := range rep.Tracks {
		if tr.RTT == nil || *tr.RTT < float64(2*shapedOneWay/time.Millisecond) {
			t.Errorf("%s: request round trip %v ms, under the link's %v: the bytes went around the proxy", tr.Name, tr.RTT, 2*shapedOneWay)
		}
	}
}

// TestHalfRateRecordingPlaysWithoutStallOverShapedLink: over a 50 ms,
// 20 Mbit/s link, a 10 Mbit/s recording plays without a stall once it has
// started. The bar is 0 stalls for the 2-minute run (REELAY_LONG=1); the
// short run of every `make test` (12 s, on two cores shared with the
// race detector and other tests) allows one stall of under 500 ms, so a
// scheduling hiccup of the machine does not fail it, while a link or a
// reader that cannot keep up would stall again and again.
func TestHalfRateRecordingPlaysWithoutStallOverShapedLink(t *testing.T) {
	leakcheck.Check(t)
	playFor := 12 * time.Second
	if longRuns() {
		playFor = 2 * time.Minute
	}
	ss := newShapedShare(t, halfRateRecording(t, playFor+10*time.Second))
	rep := shapedPlay(t, ss, playOptions{For: playFor})
	checkThroughProxy(t, rep)
	var fetched int64
	for _, tr := range rep.Tracks {
		if tr.Error != "" {
			t.Errorf("%s: %s", tr.Name, tr.Error)
		}
		if tr.BytesFetched != nil {
			fetched += *tr.BytesFetched
		}
	}
	t.Logf("played %.1f s to position %.1f s: time to first frame %v ms from connecting (%v ms from opening the player); %d stall(s), %.0f ms stalled; %.1f MB fetched",
		rep.PlayedFor, rep.Position, deref(rep.FirstFrame.FromConnect), deref(rep.FirstFrame.FromOpen), rep.Stalls.Count, rep.Stalls.Total, float64(fetched)/1e6)
	switch {
	case rep.State != avsync.StatePlaying.String():
		t.Errorf("state %s at the end, want playing", rep.State)
	case longRuns() && rep.Stalls.Count > 0:
		t.Errorf("%d stall(s) (%.0f ms) in %v", rep.Stalls.Count, rep.Stalls.Total, playFor)
	case rep.Stalls.Count > 1 || rep.Stalls.Total > 500:
		t.Errorf("%d stall(s) (%.0f ms) in %v, want at most one under 500 ms", rep.Stalls.Count, rep.Stalls.Total, playFor)
	}
	if rep.PlayedFor-rep.Position > 1+rep.Stalls.Total/1000 {
		t.Errorf("played %.1f s of wall time but reached %.1f s", rep.PlayedFor, rep.Position)
	}
}

// TestSeeksOverShapedLink measures seek latency over the shaped link:
// seeks far from what is buffered, forwards and back, four in 15 s (ten in
// 2 minutes with REELAY_LONG=1). Each must land within 5 s (the link
// carries about 2 s of this recording per second, and a seek needs its
// keyframe's group of pictures and half a second more to show a frame).
func TestSeeksOverShapedLink(t *testing.T) {
	leakcheck.Check(t)
	playFor, length := 15*time.Second, 22*time.Second
	targets := []time.Duration{17 * time.Second, 4 * time.Second, 12 * time.Second, 1 * time.Second}
	if longRuns() {
		playFor, length = 2*time.Minute, 130*time.Second
		targets = []time.Duration{100 * time.Second, 20 * time.Second, 65 * time.Second, 5 * time.Second, 120 * time.Second,
			40 * time.Second, 85 * time.Second, 10 * time.Second, 110 * time.Second, 50 * time.Second}
	}
	ss := newShapedShare(t, halfRateRecording(t, length))
	rep := shapedPlay(t, ss, playOptions{For: playFor, Seeks: targets})
	checkThroughProxy(t, rep)
	var lat []string
	for _, s := range rep.Seeks {
		if s.Latency == nil {
			t.Errorf("seek to %.1f s at %.1f s did not finish", s.Target, s.At)
			continue
		}
		lat = append(lat, fmt.Sprintf("%.0f", *s.Latency))
		if *s.Latency > 5000 {
			t.Errorf("seek to %.1f s took %.0f ms", s.Target, *s.Latency)
		}
	}
	t.Logf("time to first frame %v ms from connecting; seek latencies %s ms; %d stall(s), %.0f ms",
		deref(rep.FirstFrame.FromConnect), strings.Join(lat, ", "), rep.Stalls.Count, rep.Stalls.Total)
}

// TestDroppedAndStalledConnectionsOverShapedLink: while a recording plays
// over the shaped link, the link resets every connection for 2 s (as a
// router dropping them), and later carries nothing for 4 s without closing
// anything (a stall: toxiproxy's timeout toxic drops the bytes). Playback
// stalls at most for as long as it must and goes on by itself: the viewer
// reconnects both times, no track fails, and after each outage the
// position keeps moving.
func TestDroppedAndStalledConnectionsOverShapedLink(t *testing.T) {
	leakcheck.Check(t)
	ss := newShapedShare(t, halfRateRecording(t, 40*time.Second))
	type toggle struct {
		at, off time.Duration
		name    string
		typ     string
		attrs   map[string]any
	}
	toggles := []*toggle{
		{at: 6 * time.Second, off: 8 * time.Second, name: "drop", typ: "reset_peer", attrs: map[string]any{"timeout": 0}},
		{at: 16 * time.Second, off: 20 * time.Second, name: "stall", typ: "timeout", attrs: map[string]any{"timeout": 0}},
	}
	ctx, cancel := context.WithCancel(t.Context())
	var wg gosync.WaitGroup
	var toggleErr atomic.Pointer[error]
	start := time.Now()
	wg.Go(func() {
		for _, tg := range toggles {
			for _, step := range []struct {
				at time.Duration
				on bool
			}{{tg.at, true}, {tg.off, false}} {
				select {
				case <-time.After(time.Until(start.Add(step.at))):
				case <-ctx.Done():
					return
				}
				var err error
				if step.on {
					err = ss.proxy.Add(tg.name, tg.typ, linktest.Downstream, tg.attrs)
				} else {
					err = ss.proxy.Remove(ctx, tg.name)
				}
				if err != nil {
					toggleErr.Store(&err)
				}
			}
		}
	})
	rep := shapedPlay(t, ss, playOptions{For: 30 * time.Second})
	cancel()
	wg.Wait()
	if err := toggleErr.Load(); err != nil {
		t.Fatal(*err)
	}
	for _, tr := range rep.Tracks {
		if tr.Error != "" {
			t.Errorf("%s failed: %s", tr.Name, tr.Error)
		}
	}
	c := rep.Connection
	if c == nil {
		t.Fatal("no connection in the report")
	}
	t.Logf("30 s with the link reset for 2 s and stalled for 4 s: %d stall(s), %.0f ms stalled; %d reconnect(s), %.0f ms reconnecting; played %.1f s to position %.1f s",
		rep.Stalls.Count, rep.Stalls.Total, c.Reconnects, c.Downtime, rep.PlayedFor, rep.Position)
	if c.Reconnects < 2 || c.State != p2pnet.ConnConnected.String() {
		t.Errorf("connection %+v, want connected after at least 2 reconnections", *c)
	}
	if rep.State != avsync.StatePlaying.String() {
		t.Errorf("state %s at the end, want playing", rep.State)
	}
	// Stalled time is at most the outages plus refilling; the rest played.
	if rep.PlayedFor-rep.Position > 1+rep.Stalls.Total/1000 {
		t.Errorf("played %.1f s of wall time but reached %.1f s with %.0f ms stalled", rep.PlayedFor, rep.Position, rep.Stalls.Total)
	}
}

// freeTCPPort is a loopback TCP port nothing listens on now.
func freeTCPPort(t *testing.T) int {
	t.Helper()
	l, err := stdnet.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*stdnet.TCPAddr).Port
}
