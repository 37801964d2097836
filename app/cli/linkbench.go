package cli

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	p2pnet "reelay/net"
	avsync "reelay/sync"
)

// The home-link benchmark, shared by `reelay bench --link SPEC` and
// `go test -bench HomeLink`: a recording like a friend's screen share is
// played for homeLinkPlay with the seeks of homeLinkSeeks, from a local
// folder (the baseline) and from a sharer across an emulated home link
// over QUIC and over TCP, one after the other in one run.

// homeLinkPlay and homeLinkSeeks are the run: 32 s of playback and five
// seeks spread evenly over it, far forwards and back.
const homeLinkPlay = 32 * time.Second

var homeLinkSeeks = []time.Duration{5 * time.Second, 25 * time.Second, 12 * time.Second, 33 * time.Second, 2 * time.Second}

// homeRecordingRecipe makes the benchmark's recording with the ffmpeg CLI:
// 40 s of a 1280x720 30 fps H.264 screen at 6 Mbit/s with AAC, a 640x360
// camera at 1 Mbit/s and an Opus microphone, 7.2 Mbit/s in all. Both MP4
// files keep ffmpeg's default of the index at the end, as a recorder that
// could not go back to the start writes them. Noise keeps x264 at its
// rate; a keyframe every 2 s.
var homeRecordingRecipe = []struct {
	file string
	args []string
}{
	{"screen.mp4", []string{"-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=30:duration=40,noise=alls=20:allf=t+u",
		"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=40",
		"-c:v", "libx264", "-preset", "veryfast", "-b:v", "6M", "-maxrate", "6M", "-bufsize", "6M", "-g", "60",
		"-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "128k"}},
	{"camera.mp4", []string{"-f", "lavfi", "-i", "testsrc2=size=640x360:rate=30:duration=40,noise=alls=20:allf=t+u",
		"-c:v", "libx264", "-preset", "veryfast", "-b:v", "1M", "-maxrate", "1M", "-bufsize", "1M", "-g", "60",
		"-pix_fmt", "yuv420p"}},
	{"mic.ogg", []string{"-f", "lavfi", "-i", "sine=frequency=660:sample_rate=48000:duration=40", "-c:a", "libopus", "-b:a", "64k"}},
}

// homeRecording returns the folder of the benchmark's recording, making it
// on first use under os.TempDir(), named by its recipe, so later runs (and
// `go test -bench`) reuse it: encoding the screen takes about half a
// minute on two cores.
func homeRecording(ctx context.Context, progress io.Writer) (string, error) {
	ffmpeg, err := exec.LookPath("ffmpeg")
	if err != nil {
		return "", fmt.Errorf("making the benchmark's recording needs the ffmpeg CLI: %w", err)
	}
	h := sha256.New()
	for _, f := range homeRecordingRecipe {
		fmt.Fprintf(h, "%s\x00%s\x00", f.file, strings.Join(f.args, "\x00"))
	}
	dir := filepath.Join(os.TempDir(), "reelay-homelink-"+hex.EncodeToString(h.Sum(nil)[:6]))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	for _, f := range homeRecordingRecipe {
		file := filepath.Join(dir, f.file)
		if _, err := os.Stat(file); err == nil {
			continue
		}
		fmt.Fprintf(progress, "reelay bench: encoding %s for the benchmark (once)\n", f.file)
		// A hidden name while it is written: the folder never shows a
		// half-made track, and two runs at once do not clash.
		tmp := filepath.Join(dir, fmt.Sprintf(".%d-%s", os.Getpid(), f.file))
		args := append([]string{"-nostdin", "-hide_banner", "-loglevel", "error", "-y"}, f.args...)
		if out, err := exec.CommandContext(ctx, ffmpeg, append(args, tmp)...).CombinedOutput(); err != nil {
			os.Remove(tmp)
			return "", fmt.Errorf("ffmpeg making %s failed: %w: %s", f.file, err, out)
		}
		if err := os.Rename(tmp, file); err != nil {
			return "", err
		}
	}
	return dir, nil
}

// linkRun is one source's run of the home-link benchmark.
type linkRun struct {
	// name says where the recording came from: "local", "QUIC", "TCP".
	name string
	// rep is the run's report, nil when skip or err says why not.
	rep *playReport
	// link is what the emulated link counted (zero for local).
	link p2pnet.EmulatedLinkStats
	// carrier says how TCP crossed the link; empty for the others.
	carrier string
	// skip says why the source was not measured; err why it failed.
	skip string
	err  error
}

// benchHomeLink plays dir for homeLinkPlay with homeLinkSeeks from the
// folder and across the emulated link over QUIC and TCP.
func benchHomeLink(ctx context.Context, dir string, link p2pnet.EmulatedLink, notices io.Writer) []linkRun {
	o := playOptions{For: homeLinkPlay, Seeks: homeLinkSeeks, OpenAudio: benchNoSound}
	var runs []linkRun
	folder, err := p2pnet.OpenFolder(dir)
	if err != nil {
		return []linkRun{{name: "local", err: err}}
	}
	rep, err := playSource(ctx, avsync.FolderSource(folder), "folder", time.Now(), o, notices)
	runs = append(runs, linkRun{name: "local", rep: rep, err: err})
	for _, tr := range []p2pnet.Transport{p2pnet.TransportQUIC, p2pnet.TransportTCP} {
		runs = append(runs, playAcross(ctx, dir, link, tr, o, notices))
	}
	return runs
}

// playAcross shares dir from one host and plays it from another across
// the emulated link.
func playAcross(ctx context.Context, dir string, link p2pnet.EmulatedLink, tr p2pnet.Transport, o playOptions, notices io.Writer) linkRun {
	run := linkRun{name: tr.String()}
	pair, err := p2pnet.NewEmulatedPair(link, tr)
	if err != nil {
		run.skip = err.Error()
		return run
	}
	defer pair.Close()
	if cc := pair.TCPCongestion(); cc != "" {
		run.carrier = "the operating system's TCP (" + cc + ") across the same emulated link"
	} else if why := pair.Proxied(); why != nil {
		run.carrier = fmt.Sprintf("through toxiproxy on loopback, without loss (%v)", why)
	}
	sharer := p2pnet.NewSharer(pair.Sharer, p2pnet.SharerOptions{})
	defer sharer.Close()
	l, err := sharer.Share(dir)
	if err != nil {
		run.err = err
		return run
	}
	connectAt := time.Now()
	rec, err := p2pnet.Dial(ctx, pair.Viewer, l)
	if err != nil {
		run.err = err
		return run
	}
	defer rec.Close()
	run.rep, run.err = playSource(ctx, rec.Source(), "link", connectAt, o, notices)
	run.link = pair.Stats()
	return run
}

// seekLatencies are the run's seek latencies in order; a seek that never
// showed its frame counts as missing.
func (r linkRun) seekLatencies() (lat []time.Duration, missing int) {
	for _, s := range r.rep.Seeks {
		if s.Latency == nil {
			missing++
			continue
		}
		lat = append(lat, time.Duration(*s.Latency*float64(time.Millisecond)))
	}
	return lat, missing
}

// bytes returns what the network reader fetched and what the demuxers
// read, over every track.
func (r linkRun) bytes() (fetched, read int64) {
	for _, t := range r.rep.Tracks {
		read += t.BytesRead
		if t.BytesFetched != nil {
			fetched += *t.BytesFetched
		}
	}
	return fetched, read
}

// roundTrips says the round trips the reads waited for in sequence on
// the way to the first frame and to each seek's, "–" for a local run.
func (r linkRun) roundTrips() string {
	ff := r.rep.FirstFrame.RoundTrips
	if ff == nil {
		return "–"
	}
	var seeks []string
	for _, s := range r.rep.Seeks {
		if s.RoundTrips != nil {
			seeks = append(seeks, fmt.Sprint(*s.RoundTrips))
		}
	}
	return fmt.Sprintf("%d; %s", *ff, strings.Join(seeks, ", "))
}

func (r linkRun) firstFrame() time.Duration {
	ff := r.rep.FirstFrame.FromConnect
	if ff == nil {
		ff = r.rep.FirstFrame.FromOpen
	}
	if ff == nil {
		return 0
	}
	return time.Duration(*ff * float64(time.Millisecond))
}

// printHomeLink writes the benchmark's table: one row per source, with the
// first frame and the seeks' p50 as ratios against the local run.
func printHomeLink(w io.Writer, link p2pnet.EmulatedLink, runs []linkRun) {
	fmt.Fprintf(w, "home link %s: %v of play, seeks to %s\n", link, homeLinkPlay, fmtSeconds(homeLinkSeeks))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "source\tfirst frame\tseeks → first frame\tseek p50\tmax\tround trips: first frame; seeks\tstalls\tframes shown / dropped\tfetched / read\tpackets lost\t")
	var base *linkRun
	for i, r := range runs {
		if r.rep == nil {
			fmt.Fprintf(tw, "%s\t–\t\t\t\t\t\t\t\t\t\n", r.name)
			continue
		}
		if r.name == "local" {
			base = &runs[i]
		}
		lat, missing := r.seekLatencies()
		var each []string
		for _, l := range lat {
			each = append(each, fmt.Sprintf("%.2f", l.Seconds()))
		}
		for range missing {
			each = append(each, "–")
		}
		p50, worst := quantile(lat, 0.5), slices.Max(append(lat, 0))
		var shown, dropped int64
		for _, t := range r.rep.Tracks {
			shown += t.FramesPresented
			dropped += t.FramesDropped
		}
		fetched, read := r.bytes()
		ff := fmt.Sprintf("%.2f s", r.firstFrame().Seconds())
		seek := fmt.Sprintf("%.2f s", p50.Seconds())
		if base != nil && base != &runs[i] {
			ff += fmt.Sprintf(" (%.1f×)", ratio(r.firstFrame(), base.firstFrame()))
			if bl, _ := base.seekLatencies(); len(bl) > 0 {
				seek += fmt.Sprintf(" (%.1f×)", ratio(p50, quantile(bl, 0.5)))
			}
		}
		bytes := "–"
		if fetched > 0 {
			bytes = fmt.Sprintf("%.1f / %.1f MB (%.2f×)", float64(fetched)/1e6, float64(read)/1e6, float64(fetched)/float64(read))
		}
		lost := "–"
		if d, u := r.link.Down, r.link.Up; d.Packets+u.Packets > 0 {
			lost = fmt.Sprintf("%d of %d", d.Lost+u.Lost, d.Packets+u.Packets)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s s\t%s\t%.2f s\t%s\t%d (%.0f ms)\t%d / %d\t%s\t%s\t\n", r.name, ff, strings.Join(each, ", "), seek,
			worst.Seconds(), r.roundTrips(), r.rep.Stalls.Count, r.rep.Stalls.Total, shown, dropped, bytes, lost)
	}
	tw.Flush()
	for _, r := range runs {
		switch {
		case r.skip != "":
			fmt.Fprintf(w, "%s: not measured: %s\n", r.name, r.skip)
		case r.err != nil:
			fmt.Fprintf(w, "%s: failed: %v\n", r.name, r.err)
		}
		if r.carrier != "" {
			fmt.Fprintf(w, "%s: %s\n", r.name, r.carrier)
		}
		if r.rep == nil {
			continue
		}
		if c := r.rep.Connection; c != nil && c.Lanes > 1 {
			fmt.Fprintf(w, "%s: %d connections to the sharer at the end (the sharer reported loss)\n", r.name, c.Lanes)
		}
		for _, t := range r.rep.Tracks {
			if t.Thinned > 0 {
				fmt.Fprintf(w, "%s: %s showed keyframes only for %.1f s (the link too slow for every picture)\n", r.name, t.Name, t.Thinned/1000)
			}
		}
		for _, st := range r.rep.Stalls.List {
			why := "decoding"
			if st.Network {
				why = "network"
			}
			fmt.Fprintf(w, "%s: stalled at %.1f s for %.0f ms waiting for %s (%s)\n", r.name, st.At, st.Duration, st.Track, why)
		}
	}
}

func fmtSeconds(ds []time.Duration) string {
	var s []string
	for _, d := range ds {
		s = append(s, fmt.Sprintf("%g", d.Seconds()))
	}
	return strings.Join(s, ", ") + " s"
}
