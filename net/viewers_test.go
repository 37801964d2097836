package net

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	gosync "sync"
	"syscall"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
)

// logBuffer collects a logger's lines for a test to read.
type logBuffer struct {
	mu  gosync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) count(msg string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Count(l.buf.String(), "msg=\""+msg+"\"")
}

// TestViewersAreOnlyPeersThatWatch: a peer connected for other reasons
// (a DHT or relay peer) or whose requests are all refused is neither
// listed nor logged as a viewer; a peer reading the recording is, with
// its bytes and throughput, until its last connection closes.
func TestViewersAreOnlyPeersThatWatch(t *testing.T) {
	checkGoroutines(t)
	dir := t.TempDir()
	want := writeRandomFile(t, filepath.Join(dir, "screen.mp4"), 2<<20, 3)
	logs := &logBuffer{}
	sh := newLoopbackHost(t)
	s := NewSharer(sh, SharerOptions{Logger: slog.New(slog.NewTextHandler(logs, nil))})
	t.Cleanup(func() { s.Close() })
	link, err := s.Share(dir)
	if err != nil {
		t.Fatal(err)
	}
	sharer := peer.AddrInfo{ID: sh.ID(), Addrs: sh.Addrs()}

	bystander := newLoopbackHost(t)
	if err := bystander.Connect(t.Context(), sharer); err != nil {
		t.Fatal(err)
	}
	prober := newLoopbackHost(t)
	if err := prober.Connect(t.Context(), sharer); err != nil {
		t.Fatal(err)
	}
	rawExchangeFrom(t, prober, sh.ID(), frame(request{Method: MethodGet, Token: newToken()}))
	rawExchangeFrom(t, prober, sh.ID(), []byte("\x05hello"))
	if vs := s.Viewers(); len(vs) != 0 || logs.count("viewer connected") != 0 {
		t.Fatalf("viewers %+v before anyone watched; log:\n%s", vs, logs.buf.String())
	}

	vh := newLoopbackHost(t)
	rec, err := Dial(t.Context(), vh, link)
	if err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 2<<20)
	if _, err := rec.ReadRange(t.Context(), "screen", 0, got); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("read: %v", err)
	}
	vs := s.Viewers()
	if len(vs) != 1 || vs[0].Peer != vh.ID() {
		t.Fatalf("viewers %+v, want only %s", vs, vh.ID())
	}
	if v := vs[0]; v.BytesSent != int64(len(want)) || v.Requests != 2 || v.Throughput <= 0 {
		t.Errorf("viewer stats %+v, want %d bytes in 2 requests and a throughput", v, len(want))
	}
	if n := logs.count("viewer connected"); n != 1 {
		t.Errorf("%d viewer connected lines, want 1", n)
	}

	vh.Network().ClosePeer(sh.ID())
	waitFor(t, 5*time.Second, "the viewer to leave", func() bool { return len(s.Viewers()) == 0 })
	waitFor(t, 5*time.Second, "the viewer left line", func() bool { return logs.count("viewer left") == 1 })
	bystander.Network().ClosePeer(sh.ID())
	prober.Network().ClosePeer(sh.ID())
	time.Sleep(100 * time.Millisecond)
	if n := logs.count("viewer left"); n != 1 {
		t.Errorf("%d viewer left lines, want 1:\n%s", n, logs.buf.String())
	}
}

// manyViewersRecording is the recording TestManyViewers shares: two
// 2 Mbit/s video tracks and a 128 kbit/s audio track.
var manyViewersRecording = []struct {
	file string
	rate int64
}{{"camera.mp4", videoRate}, {"screen.mp4", videoRate}, {"mic.m4a", audioRate}}

// mediaRate is the recording's bytes per second of media, all tracks.
var mediaRate = func() (n int64) {
	for _, tr := range manyViewersRecording {
		n += tr.rate
	}
	return n
}()

// joinSpacing is the time between two viewers starting to play.
const joinSpacing = 200 * time.Millisecond

// manyViewersHeapBound is the most Go heap the sharer may hold serving
// 30 viewers: the copy buffers of every request they keep in flight (about
// 13 each, 4 per track and the tail, × 128 KiB ≈ 49 MiB) and room for the
// rest. It does not grow with the time they watch.
const manyViewersHeapBound = 64 << 20

// TestManyViewers: 30 viewers, each its own libp2p host in this test
// process, watch the same three-track recording from one sharer for 5 s
// (60 s with REELAY_LONG=1) over loopback. Decoding 90 tracks in real time
// does not fit on the 2 cores this runs on, so each viewer is a paced
// puller: it reads each track at its media byte rate through a RangeReader
// with 3 s of readahead, as a player would (pullPaced). No read stalls
// after the start. The sharer runs in a child process (the test binary
// again, TestSharerProcess) so its CPU and memory are its own: its Go heap
// stays under manyViewersHeapBound, and its throughput, CPU and memory are
// logged.
func TestManyViewers(t *testing.T) {
	// The full run (REELAY_LONG=1) is 30 viewers for 60 s. The short one in
	// make test has 10: with the race detector, 30 viewers' pullers and a
	// sharer on 2 shared cores measure the runner's load more than Reelay.
	dur, viewers := 5*time.Second, 10
	if os.Getenv("REELAY_LONG") != "" {
		dur, viewers = 60*time.Second, 30
	}
	checkGoroutines(t)
	dir := t.TempDir()
	files := map[string][]byte{}
	for i, tr := range manyViewersRecording {
		size := int(tr.rate * int64(dur+5*time.Second) / int64(time.Second))
		files[stem(tr.file)] = writeRandomFile(t, filepath.Join(dir, tr.file), size, uint64(i+10))
	}
	child := startSharerProcess(t, dir)
	defer child.stop(t)

	ctx, cancel := context.WithTimeout(t.Context(), dur+60*time.Second)
	defer cancel()
	recs := make([]*Recording, viewers)
	hosts := make([]host.Host, viewers)
	var wg gosync.WaitGroup
	errs := make(chan error, viewers)
	for i := range viewers {
		h, err := NewHost(HostOptions{ListenAddrs: []string{}})
		if err != nil {
			t.Fatal(err)
		}
		hosts[i] = h
		defer h.Close()
		wg.Go(func() {
			var err error
			if recs[i], err = Dial(ctx, h, child.link); err != nil {
				errs <- fmt.Errorf("viewer %d: %w", i, err)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}

	results := make(chan pullResult, viewers*len(manyViewersRecording))
	var readers []*RangeReader
	before := child.latest()
	viewersCPU := processCPU()
	start := time.Now()
	for i, rec := range recs {
		// Viewers open the link one after another, as people do, not in
		// the same millisecond.
		if i > 0 {
			time.Sleep(joinSpacing)
		}
		for _, tr := range manyViewersRecording {
			// The player's options (sync opens tracks with PrefetchTail),
			// but 2 MiB of cache: it holds the 3 s readahead (750 KB) and
			// keeps 90 readers' memory small.
			r, err := rec.OpenTrack(stem(tr.file), RangeReaderOptions{CacheSize: 2 << 20, PrefetchTail: true})
			if err != nil {
				t.Fatal(err)
			}
			readers = append(readers, r)
			wg.Go(func() { results <- pullPaced(ctx, r, stem(tr.file), files[stem(tr.file)], tr.rate, dur) })
		}
	}
	wg.Wait()
	wall := time.Since(start)
	viewersCPU = processCPU() - viewersCPU
	after := child.latest()
	for _, r := range readers {
		r.Close()
	}
	close(results)

	var stalls, reads int
	worst, longest := -bufferTarget, time.Duration(0)
	var pulled int64
	for res := range results {
		reads += res.reads
		stalls += res.stalls
		worst = max(worst, res.worst)
		longest = max(longest, res.longest)
		pulled += res.bytes
		if res.err != nil {
			t.Errorf("%s: %v", res.track, res.err)
		}
		if res.stalls > 0 {
			t.Errorf("%s stalled %d times: %v", res.track, res.stalls, res.stallNotes)
		}
	}
	span := after.at.Sub(before.at).Seconds()
	cpu := (after.cpu - before.cpu).Seconds()
	t.Logf("%d viewers × %d tracks for %v: %d reads, %d stalls, the latest %v after due, the longest took %v; %.1f MB read",
		viewers, len(manyViewersRecording), wall.Round(time.Millisecond), reads, stalls, worst.Round(time.Millisecond), longest.Round(time.Millisecond), float64(pulled)/1e6)
	t.Logf("sharer: %d viewers listed, sent %.2f MB/s over %.1f s, CPU %.0f%% of one core (%.2f s), Go heap peak %.1f MiB (in use), VmHWM %.0f MiB, race detector %v",
		after.viewers, float64(after.sent-before.sent)/1e6/span, span, 100*cpu/span, cpu, float64(child.heapPeak())/(1<<20), float64(child.vmHWM())/(1<<20), raceEnabled)
	mid := before.at.Add(after.at.Sub(before.at) / 2)
	t.Logf("sharer's Go heap peak: %.1f MiB in the first half, %.1f MiB in the second; the recording's media rate × %d viewers is %.2f MB/s",
		float64(child.heapPeakIn(before.at, mid))/(1<<20), float64(child.heapPeakIn(mid, after.at))/(1<<20), viewers, float64(int64(viewers)*mediaRate)/1e6)
	t.Logf("viewers' process: CPU %.0f%% of one core", 100*viewersCPU.Seconds()/wall.Seconds())
	if after.viewers != viewers {
		t.Errorf("the sharer lists %d viewers, want %d", after.viewers, viewers)
	}
	if peak := child.heapPeak(); peak > manyViewersHeapBound {
		t.Errorf("the sharer's heap reached %d MiB, over %d MiB", peak>>20, manyViewersHeapBound>>20)
	}
}

// sharerSample is one line of TestSharerProcess's report.
type sharerSample struct {
	at time.Time
	// heap is the Go heap in use; cpu the user and system time so far.
	heap    uint64
	cpu     time.Duration
	sent    int64
	viewers int
}

// sharerProcess is TestSharerProcess running as a child.
type sharerProcess struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	link  Link
	done  chan struct{}

	// output holds what the child printed besides samples.
	output logBuffer

	mu      gosync.Mutex
	samples []sharerSample
}

// startSharerProcess runs the test binary as a sharer of dir and waits
// for its link.
func startSharerProcess(t *testing.T, dir string) *sharerProcess {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	sp := &sharerProcess{done: make(chan struct{})}
	sp.cmd = exec.Command(exe, "-test.run=^TestSharerProcess$", "-test.count=1", "-test.timeout=10m")
	sp.cmd.Env = append(os.Environ(), "REELAY_SHARER_DIR="+dir)
	sp.cmd.Stderr = &sp.output
	if sp.stdin, err = sp.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	out, err := sp.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := sp.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	links := make(chan string, 1)
	go func() {
		defer close(sp.done)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			line := sc.Text()
			switch f := strings.Fields(line); {
			case len(f) == 2 && f[0] == "link":
				links <- f[1]
			case len(f) == 6 && f[0] == "sample":
				var v [5]int64
				for i := range v {
					v[i], _ = strconv.ParseInt(f[i+1], 10, 64)
				}
				sp.mu.Lock()
				sp.samples = append(sp.samples, sharerSample{at: time.Unix(0, v[0]), heap: uint64(v[1]), cpu: time.Duration(v[2]), sent: v[3], viewers: int(v[4])})
				sp.mu.Unlock()
			default:
				sp.output.Write([]byte(line + "\n"))
			}
		}
	}()
	select {
	case s := <-links:
		if sp.link, err = ParseLink(s); err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		sp.cmd.Process.Kill()
		t.Fatalf("the sharer process gave no link")
	}
	return sp
}

// latest waits for the next sample and returns it.
func (sp *sharerProcess) latest() sharerSample {
	sp.mu.Lock()
	n := len(sp.samples)
	sp.mu.Unlock()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		sp.mu.Lock()
		if len(sp.samples) > n {
			s := sp.samples[len(sp.samples)-1]
			sp.mu.Unlock()
			return s
		}
		sp.mu.Unlock()
	}
	return sharerSample{}
}

func (sp *sharerProcess) heapPeak() uint64 { return sp.heapPeakIn(time.Time{}, time.Now()) }

// heapPeakIn is the largest heap sampled in [from, to].
func (sp *sharerProcess) heapPeakIn(from, to time.Time) uint64 {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	var peak uint64
	for _, s := range sp.samples {
		if !s.at.Before(from) && !s.at.After(to) {
			peak = max(peak, s.heap)
		}
	}
	return peak
}

// vmHWM is the child's peak resident memory, with the race detector's
// shadow memory when it is on.
func (sp *sharerProcess) vmHWM() int64 {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", sp.cmd.Process.Pid))
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) == 3 && f[0] == "VmHWM:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	return 0
}

// stop closes the child's stdin, which ends it, and waits for it.
func (sp *sharerProcess) stop(t *testing.T) {
	sp.stdin.Close()
	exited := make(chan error, 1)
	go func() { <-sp.done; exited <- sp.cmd.Wait() }()
	select {
	case err := <-exited:
		if err != nil {
			sp.output.mu.Lock()
			t.Errorf("the sharer process failed: %v\n%s", err, sp.output.buf.String())
			sp.output.mu.Unlock()
		}
	case <-time.After(30 * time.Second):
		sp.cmd.Process.Kill()
		<-exited
		t.Errorf("the sharer process did not end")
	}
}

// TestSharerProcess is the sharer of TestManyViewers, run as a child: it
// shares $REELAY_SHARER_DIR on loopback, prints the link, then every
// 250 ms a sample line (time, Go heap in use, CPU time, bytes sent,
// viewers listed), until its stdin closes.
func TestSharerProcess(t *testing.T) {
	dir := os.Getenv("REELAY_SHARER_DIR")
	if dir == "" {
		t.Skip("runs only as TestManyViewers' sharer")
	}
	h, err := NewHost(HostOptions{ListenAddrs: LoopbackListenAddrs})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	s := NewSharer(h, SharerOptions{})
	defer s.Close()
	link, err := s.Share(dir)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("link %s\n", link)
	stdinClosed := make(chan struct{})
	go func() {
		io.Copy(io.Discard, os.Stdin)
		close(stdinClosed)
	}()
	tk := time.NewTicker(250 * time.Millisecond)
	defer tk.Stop()
	for {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		cpu := processCPU()
		var sent int64
		vs := s.Viewers()
		for _, v := range vs {
			sent += v.BytesSent
		}
		fmt.Printf("sample %d %d %d %d %d\n", time.Now().UnixNano(), ms.HeapInuse, cpu, sent, len(vs))
		select {
		case <-stdinClosed:
			return
		case <-tk.C:
		}
	}
}

// processCPU is the user and system time this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
