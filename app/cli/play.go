package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	gosync "sync"
	"time"

	"reelay/media/syncclip"
	p2pnet "reelay/net"
	avsync "reelay/sync"
)

const playUsage = "play SOURCE --headless [--for DUR] [--seek T ...] [--tracks a,b] --report json"

// playHelp is what `reelay play --help` prints: the exact meaning of every
// flag, since scripts and tests read the report.
const playHelp = `usage: reelay ` + playUsage + `

Plays SOURCE (a link or a local recording folder) in real time without a
window: pictures go to null sinks, sound to the audio device when there is
one (without one the picture runs on the wall clock and a notice is printed
on stderr). At the end one JSON report is printed on stdout.

  --headless     required: play without a window
  --for DUR      stop after DUR of playback: wall time from the moment the
                 first frames are ready (the run ends sooner if the
                 recording ends with no seek left); default: play to the end
  --seek T       seek to T (12.5, 12.5s, 1m3s; past the end: the end);
                 repeatable. With N seeks and a run of length D (--for, or
                 else the recording's duration), the i-th seek, in the order
                 given, is requested at i*D/(N+1) after playback starts, and
                 playback goes on from its target, also after the end was
                 reached.
  --tracks a,b   the tracks to switch on; default: every track
  --report json  the report's format (only json)

The report: time to first frame from opening the player and, for a link,
from connecting (creating the viewer's host and dialling); frames presented
and dropped per track; bytes read per track (and fetched over the network
for a link); the A/V offset at presentation (p50, p95, max) measured on a
sync clip's flashes and beeps, when sound is played; stalls (count, total
time, and each one: where, how long, which track ran low, and whether it
was waiting for the network); each seek's latency, from the Seek call to
the first frame shown at its target; how long each track showed its
keyframes only, the link too slow for every picture (thinned_ms, and
thinned_at_end when it still did); the clock (audio or wall) and the
audio notice. For a link, also each track's request round trip (time to
first byte, smoothed); how many round trips the first frame and each seek
waited for in sequence (round_trips: the most of any track, requests
sent side by side counting once); and the connection to the sharer: its
state at the end, how many times it was lost and regained, the time
spent reconnecting, and how many connections carried the requests at the
end (connections: more than one on a link that lost packets);
"Reconnecting to the sharer…" and the like are printed on stderr as they
happen.
`

// playOptions configure a headless run.
type playOptions struct {
	// For bounds the run; 0 plays to the end.
	For time.Duration
	// Seeks are the targets, requested evenly over the run.
	Seeks []time.Duration
	// Tracks are the tracks switched on; nil is every track.
	Tracks []string
	// OpenAudio opens the audio device; nil is the default device.
	OpenAudio func() (avsync.AudioSink, error)
}

// playReport is the JSON report of `reelay play --headless`. Durations are
// in milliseconds (_ms) or seconds (_s); null means not measured.
type playReport struct {
	// Source is "link" or "folder"; Recording is its name.
	Source    string `json:"source"`
	Recording string `json:"recording"`
	// State is the player's at the end.
	State string `json:"state"`
	// Clock is what drove playback at the end: "audio" or "wall";
	// AudioNotice says why not audio, when audio tracks were on.
	Clock       string `json:"clock"`
	AudioNotice string `json:"audio_notice,omitempty"`
	// PlayedFor is the run's wall time; Position and Duration are the
	// player's at the end.
	PlayedFor float64 `json:"played_for_s"`
	Position  float64 `json:"position_s"`
	Duration  float64 `json:"duration_s"`
	// FirstFrame is the time to the first picture shown.
	FirstFrame firstFrameReport `json:"first_frame"`
	// Tracks are every track of the recording, on or off.
	Tracks []trackReport `json:"tracks"`
	// AVOffset is measured on a sync clip's flashes and beeps.
	AVOffset avOffsetReport `json:"av_offset"`
	// Stalls are the times playback waited for data.
	Stalls stallReport `json:"stalls"`
	// Seeks are the seeks requested, in order.
	Seeks []seekReport `json:"seeks"`
	// Connection is the link to the sharer (links only).
	Connection *connectionReport `json:"connection,omitempty"`
	// Live is how far behind a recording being written playback ran
	// (recordings with a live track only).
	Live *liveReport `json:"live,omitempty"`
}

// liveReport measures playing a recording while it is written: how far
// the position ran behind the live edge, the newest whole data the
// sharer had told of, sampled while playing. A picture's whole latency,
// from its write to its showing, adds the sharer's look at the file
// (every 0.1 s) and the way to the viewer.
type liveReport struct {
	// Tracks are the tracks live at the end.
	Tracks []string `json:"tracks"`
	// BehindP50 and BehindP95 are the distance behind the edge while
	// playing; BehindAtEnd is the distance at the end of the run.
	BehindP50   float64 `json:"behind_edge_p50_ms"`
	BehindP95   float64 `json:"behind_edge_p95_ms"`
	BehindAtEnd float64 `json:"behind_edge_at_end_ms"`
	// Samples is how many distances were measured.
	Samples int `json:"samples"`
}

type connectionReport struct {
	// State is the connection's at the end.
	State string `json:"state"`
	// Reconnects counts the times it was lost and made again; Downtime is
	// the time spent reconnecting.
	Reconnects int     `json:"reconnects"`
	Downtime   float64 `json:"downtime_ms"`
	// Lanes counts the connections range requests went out on at the
	// end: more than one on a link that lost packets.
	Lanes int `json:"connections"`
}

type firstFrameReport struct {
	// FromOpen is from opening the player to the first picture shown.
	FromOpen *float64 `json:"from_open_ms"`
	// FromConnect adds connecting to the sharer (links only).
	FromConnect *float64 `json:"from_connect_ms,omitempty"`
	// RoundTrips is the most round trips a track's reads waited for in
	// sequence from opening to the first picture (links only): those
	// after connecting and asking for the recording's tracks.
	RoundTrips *int `json:"round_trips,omitempty"`
}

type trackReport struct {
	Name  string `json:"name"`
	On    bool   `json:"on"`
	State string `json:"state"`
	Error string `json:"error,omitempty"`
	Video bool   `json:"video"`
	Audio bool   `json:"audio"`
	// FramesPresented and FramesDropped count pictures.
	FramesPresented int64 `json:"frames_presented"`
	FramesDropped   int64 `json:"frames_dropped"`
	// SamplesMixed counts 48 kHz audio frames written to the device.
	SamplesMixed int64 `json:"samples_mixed"`
	// BytesRead is what the demuxer read; BytesFetched and Requests what
	// the network reader fetched (links only).
	BytesRead    int64  `json:"bytes_read"`
	BytesFetched *int64 `json:"bytes_fetched,omitempty"`
	Requests     *int64 `json:"requests,omitempty"`
	// RTT is the reader's smoothed time to first byte of a request
	// (links only).
	RTT          *float64 `json:"rtt_ms,omitempty"`
	DecodeErrors int64    `json:"decode_errors"`
	// Thinned is how long the track showed keyframes only, the link too
	// slow for every picture; ThinnedAtEnd says it still did at the end.
	Thinned      float64 `json:"thinned_ms"`
	ThinnedAtEnd bool    `json:"thinned_at_end,omitempty"`
}

type avOffsetReport struct {
	// Flashes counts the flashes measured; the figures are null without.
	Flashes int      `json:"flashes"`
	P50     *float64 `json:"p50_ms"`
	P95     *float64 `json:"p95_ms"`
	Max     *float64 `json:"max_ms"`
	// Unmatched counts flashes heard with no beep near them.
	Unmatched int `json:"unmatched"`
	// TrackSkew is the largest gap between video tracks showing one flash.
	TrackSkew *float64 `json:"track_skew_ms"`
	// Note says why nothing was measured.
	Note string `json:"note,omitempty"`
}

type stallReport struct {
	Count int     `json:"count"`
	Total float64 `json:"total_ms"`
	// List has each stall: where, how long, the track that ran low, and
	// whether its bytes had yet to arrive (else they had, and the machine
	// was too busy to demux them in time).
	List []stallEntry `json:"list"`
}

type stallEntry struct {
	At       float64 `json:"at_s"`
	Duration float64 `json:"ms"`
	Track    string  `json:"track"`
	Network  bool    `json:"waiting_for_network"`
}

type seekReport struct {
	// Target is where the seek went; At is when it was requested, from the
	// start of playback.
	Target float64 `json:"target_s"`
	At     float64 `json:"at_s"`
	// Latency is from the Seek call to the first frame shown at the
	// target; null if it did not finish (superseded, or the run ended).
	Latency *float64 `json:"latency_ms"`
	// RoundTrips is the most round trips a track's reads waited for in
	// sequence on the way to that frame (links only).
	RoundTrips *int `json:"round_trips,omitempty"`
}

func runPlay(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("play", flag.ContinueOnError)
	headless := fs.Bool("headless", false, "play without a window")
	forDur := fs.Duration("for", 0, "stop after this much playback")
	var seeks stringList
	fs.Var(&seeks, "seek", "seek to this time (repeatable)")
	tracks := fs.String("tracks", "", "tracks to switch on, comma-separated")
	format := fs.String("report", "json", "report format")
	pos, err := parseFlags(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(e.stderr, playHelp)
		return flag.ErrHelp
	}
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return fmt.Errorf("%w: play takes one source (link or folder)", errUsage)
	}
	if !*headless {
		return fmt.Errorf("%w: play needs --headless (`reelay SOURCE` opens the window)", errUsage)
	}
	if *format != "json" {
		return fmt.Errorf("%w: unknown report format %q (only json)", errUsage, *format)
	}
	if *forDur < 0 {
		return fmt.Errorf("%w: --for %v is negative", errUsage, *forDur)
	}
	o := playOptions{For: *forDur}
	for _, s := range seeks {
		t, err := parseTime(s)
		if err != nil {
			return fmt.Errorf("%w: --seek %q: %v", errUsage, s, err)
		}
		o.Seeks = append(o.Seeks, t)
	}
	if *tracks != "" {
		o.Tracks = strings.Split(*tracks, ",")
	}
	rep, err := playHeadless(ctx, pos[0], o, e.stderr)
	if rep != nil {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		if encErr := enc.Encode(rep); err == nil {
			err = encErr
		}
	}
	return err
}

// parseTime reads a position: a Go duration (1m3.5s) or seconds (63.5).
func parseTime(s string) (time.Duration, error) {
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		if f < 0 {
			return 0, errors.New("negative time")
		}
		return time.Duration(f * float64(time.Second)), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, errors.New("not a time (say 12.5 or 1m3s)")
	}
	if d < 0 {
		return 0, errors.New("negative time")
	}
	return d, nil
}

// playRun collects what a headless run sees through the player's events.
type playRun struct {
	// notices is where notices are printed.
	notices io.Writer
	// mu guards seeked.
	mu gosync.Mutex
	// seeked are the seeks finished, in order.
	seeked []avsync.Event
}

func (r *playRun) onEvent(ev avsync.Event) {
	switch ev.Kind {
	case avsync.EventConnection:
		if ev.Notice != "" {
			fmt.Fprintf(r.notices, "reelay: %s\n", ev.Notice)
		}
	case avsync.EventNotice:
		if ev.Track != "" {
			fmt.Fprintf(r.notices, "reelay: %s: %s\n", ev.Track, withDetail(ev.Notice, ev.Err))
		} else {
			fmt.Fprintf(r.notices, "reelay: %s\n", withDetail(ev.Notice, ev.Err))
		}
	case avsync.EventSeeked:
		r.mu.Lock()
		r.seeked = append(r.seeked, ev)
		r.mu.Unlock()
	}
}

// withDetail is a notice for the command line: its words, then the error
// behind them when they do not already say it.
func withDetail(notice string, err error) string {
	if err == nil || notice == "" || strings.Contains(notice, err.Error()) {
		return notice
	}
	return notice + " (" + err.Error() + ")"
}

// pollPeriod is how often a headless run looks at the player.
const pollPeriod = 20 * time.Millisecond

// openTimeout bounds the wait for the first frames; a run still opening
// then reports what it has.
const openTimeout = 30 * time.Second

// playHeadless plays src as playHelp says and returns the report; the
// report is returned with an error too when the run went wrong after the
// player opened.
func playHeadless(ctx context.Context, src string, o playOptions, notices io.Writer) (*playReport, error) {
	kind := "link"
	if fi, err := os.Stat(src); err == nil && fi.IsDir() {
		kind = "folder"
	}
	connectAt := time.Now()
	source, closeSource, err := openSource(ctx, src)
	if err != nil {
		return nil, err
	}
	defer closeSource()
	return playSource(ctx, source, kind, connectAt, o, notices)
}

// playSource plays an opened source as playHeadless does; kind is "link"
// or "folder", and connectAt is when connecting to a link began.
func playSource(ctx context.Context, source avsync.Source, kind string, connectAt time.Time, o playOptions, notices io.Writer) (*playReport, error) {
	rep := &playReport{Source: kind, Recording: source.Name(), Seeks: []seekReport{}}

	meter := syncclip.NewMeter()
	run := &playRun{notices: notices}
	openAt := time.Now()
	p, err := avsync.Open(ctx, source, avsync.Options{
		Subscribe: o.Tracks,
		OpenAudio: meter.OpenAudio(o.OpenAudio),
		OnEvent:   run.onEvent,
	})
	if err != nil {
		return nil, err
	}
	for _, t := range source.Tracks() {
		p.SetVideoSink(t.Name, meter.VideoSink(t.Name, nil))
	}
	p.Play()

	tick := time.NewTicker(pollPeriod)
	defer tick.Stop()
	wait := func() bool {
		select {
		case <-ctx.Done():
			return false
		case <-tick.C:
			return true
		}
	}
	// The run starts once the first frames are ready.
	for p.State() == avsync.StateOpening && time.Since(openAt) < openTimeout && wait() {
	}
	start := time.Now()
	length := o.For
	if length == 0 {
		length = p.Duration()
	}
	if len(o.Seeks) > 0 && length <= 0 {
		p.Close()
		return nil, fmt.Errorf("%w: the recording's length is unknown: give --for to space the seeks", errUsage)
	}
	dur := p.Duration()
	var behind []time.Duration
	for ctx.Err() == nil {
		if st := p.Status(); st.Live && st.State == avsync.StatePlaying {
			behind = append(behind, st.LiveEdge-st.Position)
		}
		elapsed := time.Since(start)
		if n := len(rep.Seeks); n < len(o.Seeks) && elapsed >= time.Duration(n+1)*length/time.Duration(len(o.Seeks)+1) {
			target := o.Seeks[n]
			p.Seek(target)
			// After the end the player pauses; the run plays on.
			p.Play()
			if dur > 0 {
				target = min(target, dur)
			}
			rep.Seeks = append(rep.Seeks, seekReport{Target: seconds(target), At: seconds(elapsed)})
			continue
		}
		st := p.State()
		if st == avsync.StateError || (o.For > 0 && elapsed >= o.For) ||
			(st == avsync.StateEnded && len(rep.Seeks) == len(o.Seeks)) {
			break
		}
		if !wait() {
			break
		}
	}
	rep.PlayedFor = seconds(time.Since(start))

	stats, tracks := p.Stats(), p.Tracks()
	if st := p.Status(); st.Live || len(behind) > 0 {
		rep.Live = liveFigures(behind, st, source.Tracks())
	}
	rep.State = p.State().String()
	rep.Position = seconds(p.Position())
	rep.Duration = seconds(p.Duration())
	p.Close()

	rep.Clock, rep.AudioNotice = stats.Clock.String(), withDetail(stats.AudioNotice, stats.AudioErr)
	rep.FirstFrame.FromOpen = msPtr(stats.FirstFrame, stats.FirstFrame > 0)
	if rep.Source == "link" {
		rep.FirstFrame.FromConnect = msPtr(stats.FirstFrame+openAt.Sub(connectAt), stats.FirstFrame > 0)
		if stats.FirstFrame > 0 {
			rep.FirstFrame.RoundTrips = &stats.FirstFrameRoundTrips
		}
	}
	rep.Stalls = stallReport{Count: stats.Stalls, Total: ms(stats.StallTime), List: []stallEntry{}}
	for _, st := range stats.StallLog {
		rep.Stalls.List = append(rep.Stalls.List, stallEntry{At: seconds(st.Position), Duration: ms(st.Duration), Track: st.Track, Network: st.Waiting})
	}
	if c := stats.Connection; c.State != p2pnet.ConnUnknown {
		rep.Connection = &connectionReport{State: c.State.String(), Reconnects: c.Reconnects, Downtime: ms(c.Downtime), Lanes: c.Lanes}
	}
	anyAudio := false
	for _, t := range tracks {
		tr := trackReport{
			Name: t.Name, On: t.On, State: t.State.String(), Video: t.HasVideo(), Audio: t.HasAudio(),
			FramesPresented: t.Stats.FramesPresented, FramesDropped: t.Stats.FramesDropped,
			SamplesMixed: t.Stats.SamplesMixed, BytesRead: t.Stats.BytesRead, DecodeErrors: t.Stats.DecodeErrors,
			Thinned: ms(t.Stats.ThinnedTime), ThinnedAtEnd: t.Thinned,
		}
		if t.Err != nil {
			tr.Error = t.Err.Error()
		}
		if r := t.Stats.Reader; r != nil {
			tr.BytesFetched, tr.Requests = &r.BytesFetched, &r.Requests
			tr.RTT = msPtr(r.RTT, r.RTT > 0)
		}
		anyAudio = anyAudio || (t.On && t.HasAudio())
		rep.Tracks = append(rep.Tracks, tr)
	}
	rep.AVOffset = avOffset(meter.Report(), anyAudio, stats)
	run.mu.Lock()
	matchSeeks(rep.Seeks, run.seeked, rep.Source == "link")
	run.mu.Unlock()

	if rep.State == avsync.StateError.String() {
		return rep, errors.New("no track could be played")
	}
	if err := ctx.Err(); err != nil {
		return rep, err
	}
	return rep, nil
}

// avOffset summarises what the meter measured, or says why nothing was.
func avOffset(r syncclip.Report, anyAudio bool, st avsync.Stats) avOffsetReport {
	out := avOffsetReport{Flashes: len(r.Offsets), Unmatched: r.Unmatched}
	switch {
	case len(r.Offsets) > 0:
		out.P50 = msPtr(r.Quantile(0.5), true)
		out.P95 = msPtr(r.Quantile(0.95), true)
		out.Max = msPtr(r.Quantile(1), true)
		out.TrackSkew = msPtr(r.TrackSkew, true)
	case !anyAudio:
		out.Note = "no audio track on: nothing to measure against"
	case st.AudioNotice != "":
		out.Note = "no sound played (see audio_notice)"
	default:
		out.Note = "no flash seen while sound played (is it a sync clip?)"
	}
	return out
}

// matchSeeks gives each seek the latency of the seek that finished at its
// target, in order; a seek superseded before it finished keeps none.
func matchSeeks(seeks []seekReport, done []avsync.Event, remote bool) {
	j := 0
	for i := range seeks {
		for k := j; k < len(done); k++ {
			if seconds(done[k].Position) == seeks[i].Target {
				seeks[i].Latency = msPtr(done[k].Latency, true)
				if remote {
					n := done[k].RoundTrips
					seeks[i].RoundTrips = &n
				}
				j = k + 1
				break
			}
		}
	}
}

// liveFigures sums up the distances behind the live edge sampled while
// playing, and the tracks live at the end.
func liveFigures(behind []time.Duration, end avsync.Status, tracks []p2pnet.TrackInfo) *liveReport {
	r := &liveReport{Tracks: []string{}, Samples: len(behind)}
	for _, t := range tracks {
		if t.Live {
			r.Tracks = append(r.Tracks, t.Name)
		}
	}
	if end.Live {
		r.BehindAtEnd = ms(end.LiveEdge - end.Position)
	}
	if len(behind) > 0 {
		slices.Sort(behind)
		r.BehindP50 = ms(behind[len(behind)/2])
		r.BehindP95 = ms(behind[min(len(behind)-1, len(behind)*95/100)])
	}
	return r
}
