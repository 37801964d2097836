package cli

import (
	"context"
	"encoding/binary"
	"flag"
	"fmt"
	"image"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"text/tabwriter"
	"time"

	"reelay/media"
	p2pnet "reelay/net"
	avsync "reelay/sync"
)

// The headline benchmarks, shared by `reelay bench` and `go test -bench`:
// each figure over loopback libp2p is measured beside the same pipeline on
// a local folder, alternating between the two in one run, so the ratio holds
// on a busy machine where absolute times do not.

// benchTimeout bounds one measurement (an open, a seek).
const benchTimeout = 30 * time.Second

// errBenchNoSound keeps the audio device out of the measurements: opening
// it costs the same with either source and is not the pipeline's work.
var errBenchNoSound = fmt.Errorf("%w: the benchmark plays no sound", media.ErrNoAudioDevice)

func benchNoSound() (avsync.AudioSink, error) { return nil, errBenchNoSound }

// loopback is a recording folder shared by one libp2p host on loopback and
// dialled by another, in this process.
type loopback struct {
	// sharerHost serves dir through sharer; link names the recording.
	sharerHost *p2pnet.Host
	sharer     *p2pnet.Sharer
	link       p2pnet.Link
	// viewerHost holds rec, the dialled recording.
	viewerHost *p2pnet.Host
	rec        *p2pnet.Recording
}

func startLoopback(ctx context.Context, dir string) (*loopback, error) {
	sh, err := p2pnet.NewHost(p2pnet.HostOptions{ListenAddrs: p2pnet.LoopbackListenAddrs})
	if err != nil {
		return nil, err
	}
	l := &loopback{sharerHost: sh, sharer: p2pnet.NewSharer(sh, p2pnet.SharerOptions{})}
	if l.link, err = l.sharer.Share(dir); err != nil {
		l.Close()
		return nil, err
	}
	if l.viewerHost, l.rec, err = dialLoopback(ctx, l.link); err != nil {
		l.Close()
		return nil, err
	}
	return l, nil
}

// dialLoopback connects to a link on this machine as a viewer does, from a
// new host that does not listen, without logging each dial.
func dialLoopback(ctx context.Context, link p2pnet.Link) (*p2pnet.Host, *p2pnet.Recording, error) {
	h, err := p2pnet.NewHost(p2pnet.HostOptions{ListenAddrs: []string{}})
	if err != nil {
		return nil, nil, err
	}
	rec, err := p2pnet.Dial(ctx, h, link)
	if err != nil {
		h.Close()
		return nil, nil, err
	}
	return h, rec, nil
}

func (l *loopback) Close() {
	if l.viewerHost != nil {
		l.viewerHost.Close()
	}
	l.sharer.Close()
	l.sharerHost.Close()
}

// firstFrame opens a player on src with the given tracks and sinks that
// drop the pictures, and returns it once a picture was shown, with the time
// from Open to that picture.
func firstFrame(ctx context.Context, src avsync.Source, tracks []string) (*avsync.Player, time.Duration, error) {
	shown := make(chan struct{})
	var once bool
	p, err := avsync.Open(ctx, src, avsync.Options{Subscribe: tracks, OpenAudio: benchNoSound})
	if err != nil {
		return nil, 0, err
	}
	for _, t := range src.Tracks() {
		// Show is called on the player's goroutine only.
		p.SetVideoSink(t.Name, avsync.VideoSinkFunc(func(*image.RGBA, time.Duration) {
			if !once {
				once = true
				close(shown)
			}
		}))
	}
	select {
	case <-shown:
	case <-time.After(benchTimeout):
		p.Close()
		return nil, 0, fmt.Errorf("no picture from %q within %v", src.Name(), benchTimeout)
	case <-ctx.Done():
		p.Close()
		return nil, 0, ctx.Err()
	}
	return p, p.Stats().FirstFrame, nil
}

// ttffSample is one round of time to first frame.
type ttffSample struct {
	// local is from a local folder; open is over loopback on a connection
	// already made; connect adds a new viewer host dialling the sharer.
	local, open, connect time.Duration
}

// benchPair is one recording folder read two ways: from the disk, and
// through a sharer and a viewer on loopback.
type benchPair struct {
	// folder reads dir from the disk; lb shares it on loopback.
	folder *p2pnet.Folder
	lb     *loopback
}

func newBenchPair(ctx context.Context, dir string) (*benchPair, error) {
	folder, err := p2pnet.OpenFolder(dir)
	if err != nil {
		return nil, err
	}
	lb, err := startLoopback(ctx, dir)
	if err != nil {
		return nil, err
	}
	return &benchPair{folder: folder, lb: lb}, nil
}

func (bp *benchPair) Close() { bp.lb.Close() }

// benchFirstFrame measures time to first frame of the given tracks (nil:
// all), from a fresh player (and fresh readers) each time.
func (bp *benchPair) benchFirstFrame(ctx context.Context, tracks []string, rounds int) ([]ttffSample, error) {
	once := func(src avsync.Source) (time.Duration, error) {
		p, d, err := firstFrame(ctx, src, tracks)
		if err != nil {
			return 0, err
		}
		p.Close()
		return d, nil
	}
	connect := func() (time.Duration, error) {
		start := time.Now()
		h, rec, err := dialLoopback(ctx, bp.lb.link)
		if err != nil {
			return 0, err
		}
		defer h.Close()
		dialled := time.Since(start)
		d, err := once(rec.Source())
		return dialled + d, err
	}
	out := make([]ttffSample, rounds)
	for i := range out {
		s := &out[i]
		// The order turns each round, so a drift in the machine's load
		// falls on every kind alike.
		steps := []func() error{
			func() (err error) { s.local, err = once(avsync.FolderSource(bp.folder)); return err },
			func() (err error) { s.open, err = once(bp.lb.rec.Source()); return err },
			func() (err error) { s.connect, err = connect(); return err },
		}
		for k := range steps {
			if err := steps[(i+k)%len(steps)](); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// seekSample is one seek on each source to the same target.
type seekSample struct {
	target        time.Duration
	local, remote time.Duration
}

// benchSeeks measures seeks to random targets at least minTarget into the
// recording: each on a freshly opened player whose tracks have
// buffered what they read at open, so a target past what they read is
// fetched (over loopback) or read (locally) after the Seek call. The
// latency is from the Seek call to the first picture shown at the target.
func (bp *benchPair) benchSeeks(ctx context.Context, rounds int, minTarget time.Duration, rng *rand.Rand) ([]seekSample, error) {
	out := make([]seekSample, rounds)
	for i := range out {
		s := &out[i]
		srcs := []avsync.Source{avsync.FolderSource(bp.folder), bp.lb.rec.Source()}
		lat := make([]time.Duration, 2)
		for k := range srcs {
			j := (i + k) % 2
			p, _, err := firstFrame(ctx, srcs[j], nil)
			if err != nil {
				return nil, err
			}
			if s.target == 0 {
				dur := p.Duration()
				if dur <= minTarget+time.Second {
					p.Close()
					return nil, fmt.Errorf("recording of %v is too short to seek %v in", dur, minTarget)
				}
				s.target = minTarget + time.Duration(rng.Int64N(int64(dur-minTarget-time.Second)))
			}
			lat[j], err = seekOnce(ctx, p, s.target)
			p.Close()
			if err != nil {
				return nil, err
			}
		}
		s.local, s.remote = lat[0], lat[1]
	}
	return out, nil
}

// seekOnce waits for p's tracks to finish reading what opening asked of
// them, seeks to t and returns the seek's latency.
func seekOnce(ctx context.Context, p *avsync.Player, t time.Duration) (time.Duration, error) {
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	deadline := time.Now().Add(benchTimeout)
	idle := func() bool {
		for _, tr := range p.Tracks() {
			if !tr.On {
				continue
			}
			if tr.Stats.BufferedAhead < avsync.DefaultBufferTarget-time.Second {
				return false
			}
			if r := tr.Stats.Reader; r != nil && r.InFlight > 0 {
				return false
			}
		}
		return true
	}
	wait := func() error {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("seek to %v did not finish within %v", t, benchTimeout)
		}
		return nil
	}
	for !idle() {
		if err := wait(); err != nil {
			return 0, err
		}
	}
	done := len(p.Stats().SeekLatencies)
	p.Seek(t)
	for {
		if l := p.Stats().SeekLatencies; len(l) > done {
			return l[done], nil
		}
		if err := wait(); err != nil {
			return 0, err
		}
	}
}

// indexAtEnd says whether the MP4/MOV file at path has its index (moov)
// after its media data (mdat), by walking the top-level boxes.
func indexAtEnd(path string) (bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	var off int64
	seenMdat := false
	for {
		var hdr [16]byte
		if _, err := f.ReadAt(hdr[:8], off); err != nil {
			return false, fmt.Errorf("%s has no moov box: %w", filepath.Base(path), err)
		}
		size := int64(binary.BigEndian.Uint32(hdr[:4]))
		switch string(hdr[4:8]) {
		case "moov":
			return seenMdat, nil
		case "mdat":
			seenMdat = true
		}
		switch size {
		case 0:
			return false, fmt.Errorf("%s has no moov box", filepath.Base(path))
		case 1:
			if _, err := f.ReadAt(hdr[8:16], off+8); err != nil {
				return false, err
			}
			size = int64(binary.BigEndian.Uint64(hdr[8:16]))
		}
		if size < 8 {
			return false, fmt.Errorf("%s: bad box size %d at %d", filepath.Base(path), size, off)
		}
		off += size
	}
}

// tailIndexDemo makes, in a new folder under dir, a one-track recording
// of the demo's camera and mic in a MOV file whose index is at the end,
// with the ffmpeg CLI (stream copy, no re-encoding).
func tailIndexDemo(ctx context.Context, demo, dir string) (string, error) {
	ffmpeg, err := exec.LookPath("ffmpeg")
	if err != nil {
		return "", fmt.Errorf("making a file with its index at the end needs the ffmpeg CLI: %w", err)
	}
	out := filepath.Join(dir, "tail")
	if err := os.Mkdir(out, 0o755); err != nil {
		return "", err
	}
	file := filepath.Join(out, "av-tail.mov")
	cmd := exec.CommandContext(ctx, ffmpeg, "-nostdin", "-hide_banner", "-loglevel", "error",
		"-i", filepath.Join(demo, "camera.mp4"), "-i", filepath.Join(demo, "mic.m4a"),
		"-map", "0:v", "-map", "1:a", "-c", "copy", file)
	if msg, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("ffmpeg failed: %w: %s", err, msg)
	}
	if tail, err := indexAtEnd(file); err != nil || !tail {
		return "", fmt.Errorf("ffmpeg did not put the index of %s at the end (%v)", file, err)
	}
	return out, nil
}

// benchRow is one line of `reelay bench`'s table.
type benchRow struct {
	what          string
	local, remote []time.Duration
}

func runBench(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	rounds := fs.Int("runs", 15, "measurements of each figure (with --link: runs of the whole benchmark, default 1)")
	linkSpec := fs.String("link", "", "play across an emulated home link: round trip, rate, loss and TCP's congestion control (50ms,20mbit,0.1%,cubic)")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 || *rounds < 1 {
		return fmt.Errorf("%w: bench takes no argument and --runs ≥ 1", errUsage)
	}
	if *linkSpec != "" {
		link, err := p2pnet.ParseEmulatedLink(*linkSpec)
		if err != nil {
			return fmt.Errorf("%w: --link: %v", errUsage, err)
		}
		runs := 1
		fs.Visit(func(f *flag.Flag) {
			if f.Name == "runs" {
				runs = *rounds
			}
		})
		return runHomeLinkBench(ctx, e, link, runs)
	}
	dir, err := extractDemo()
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	work, err := os.MkdirTemp("", "reelay-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	fmt.Fprintf(e.stderr, "reelay bench: the built-in demo (60 s: camera 640x360 30 fps, screen 1280x720 15 fps, mic), %d runs each, %d CPUs; loopback libp2p beside a local folder, alternating\n", *rounds, runtime.NumCPU())

	demo, err := newBenchPair(ctx, dir)
	if err != nil {
		return err
	}
	defer demo.Close()
	var rows []benchRow
	seeks, err := demo.benchSeeks(ctx, *rounds, 10*time.Second, rand.New(rand.NewPCG(1, 2)))
	if err != nil {
		return fmt.Errorf("seek benchmark: %w", err)
	}
	r := benchRow{what: "seek → first frame (demo, 3 tracks)"}
	for _, s := range seeks {
		r.local, r.remote = append(r.local, s.local), append(r.remote, s.remote)
	}
	rows = append(rows, r)

	ttff, err := demo.benchFirstFrame(ctx, nil, *rounds)
	if err != nil {
		return fmt.Errorf("first frame benchmark: %w", err)
	}
	open, conn := benchRow{what: "first frame (demo, 3 tracks)"}, benchRow{what: "first frame incl. dial (demo)"}
	for _, s := range ttff {
		open.local, open.remote = append(open.local, s.local), append(open.remote, s.open)
		conn.local, conn.remote = append(conn.local, s.local), append(conn.remote, s.connect)
	}
	rows = append(rows, open, conn)

	if tail, err := tailIndexDemo(ctx, dir, work); err != nil {
		fmt.Fprintf(e.stderr, "reelay bench: skipping the file with its index at the end: %v\n", err)
	} else {
		bp, err := newBenchPair(ctx, tail)
		if err != nil {
			return err
		}
		defer bp.Close()
		ttff, err := bp.benchFirstFrame(ctx, nil, *rounds)
		if err != nil {
			return fmt.Errorf("first frame benchmark (index at the end): %w", err)
		}
		r := benchRow{what: "first frame (index at end, a+v)"}
		for _, s := range ttff {
			r.local, r.remote = append(r.local, s.local), append(r.remote, s.open)
		}
		rows = append(rows, r)
	}
	printBench(e.stdout, rows)
	fmt.Fprintln(e.stdout, "\nseek: on a fresh player, to a random point 10 s or more in; first frame: from opening a player to its first\n"+
		"picture, over loopback on a connection already made, or with a new viewer host dialling first. Ratios are\n"+
		"loopback over local, measured alternately in this run.")
	return nil
}

// runHomeLinkBench is `reelay bench --link`: the home-link benchmark, runs
// times, each run's table as it ends.
func runHomeLinkBench(ctx context.Context, e *env, link p2pnet.EmulatedLink, runs int) error {
	dir, err := homeRecording(ctx, e.stderr)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stderr, "reelay bench: 40 s recording (screen 1280x720 30 fps 6 Mbit/s + AAC, camera 640x360 1 Mbit/s, Opus mic; indexes at the end), %d CPUs, no sound device\n", runtime.NumCPU())
	for i := range runs {
		if runs > 1 {
			fmt.Fprintf(e.stdout, "\nrun %d of %d\n", i+1, runs)
		}
		printHomeLink(e.stdout, link, benchHomeLink(ctx, dir, link, io.Discard))
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	fmt.Fprintln(e.stdout, "\nfirst frame: from dialling the sharer (local: from opening the player) to the first picture; a seek: from the\n"+
		"Seek call to the first picture at its target; fetched / read: bytes the network reader received over bytes the\n"+
		"demuxers read. Round trips: the most any track's reads waited for one after another on the way to the first\n"+
		"frame (after dialling and asking for the tracks) and to each seek's; waits for requests sent side by side\n"+
		"count once. Stalls count the waits once playing; a link too slow to start shows as few frames\n"+
		"shown. Ratios are against the local run of the same benchmark.")
	return nil
}

func printBench(w io.Writer, rows []benchRow) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "measure\tlocal p50\tp95\tloopback p50\tp95\tratio p50\tratio p95\t")
	for _, r := range rows {
		lp50, lp95 := quantile(r.local, 0.5), quantile(r.local, 0.95)
		rp50, rp95 := quantile(r.remote, 0.5), quantile(r.remote, 0.95)
		fmt.Fprintf(tw, "%s\t%.1f ms\t%.1f ms\t%.1f ms\t%.1f ms\t%.2f×\t%.2f×\t\n", r.what,
			ms(lp50), ms(lp95), ms(rp50), ms(rp95), ratio(rp50, lp50), ratio(rp95, lp95))
	}
	tw.Flush()
}

// ratio is a/b, 0 when b is.
func ratio(a, b time.Duration) float64 {
	if b <= 0 {
		return 0
	}
	return float64(a) / float64(b)
}
