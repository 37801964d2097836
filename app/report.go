package app

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"math"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	gosync "sync"
	"sync/atomic"
	"time"

	"reelay/media"
	avsync "reelay/sync"
)

// watchdogPeriod is how often the watchdog asks the UI goroutine to run
// an empty function.
const watchdogPeriod = 20 * time.Millisecond

// uiBlockLimit is the longest the UI goroutine may be busy before the
// window feels stuck.
const uiBlockLimit = 50 * time.Millisecond

// delaySample is one watchdog measurement: how long an empty function
// waited for the UI goroutine.
type delaySample struct {
	at    time.Time
	delay time.Duration
}

// watchdog measures how long the UI goroutine takes to run a function
// handed to it: every period it schedules an empty one (unless the last is
// still waiting) and records the delay until it ran.
type watchdog struct {
	// do runs a function on the UI goroutine.
	do func(func())
	// waiting says a probe has not run yet.
	waiting atomic.Bool
	// mu guards samples.
	mu      gosync.Mutex
	samples []delaySample
	// ctx ends the goroutine; done is closed when it returned.
	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}
}

func newWatchdog(do func(func())) *watchdog {
	ctx, cancel := context.WithCancel(context.Background())
	return &watchdog{do: do, ctx: ctx, cancel: cancel, done: make(chan struct{})}
}

func (w *watchdog) start() { go w.run() }

func (w *watchdog) stop() {
	w.cancel()
	<-w.done
}

func (w *watchdog) run() {
	defer close(w.done)
	t := time.NewTicker(watchdogPeriod)
	defer t.Stop()
	for {
		select {
		case <-w.ctx.Done():
			return
		case <-t.C:
		}
		if w.waiting.Load() {
			continue
		}
		w.waiting.Store(true)
		sent := time.Now()
		w.do(func() {
			d := time.Since(sent)
			w.mu.Lock()
			w.samples = append(w.samples, delaySample{at: sent, delay: d})
			w.mu.Unlock()
			w.waiting.Store(false)
		})
	}
}

// delays returns the samples taken between from and to (any, if zero).
func (w *watchdog) delays(from, to time.Time) []time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []time.Duration
	for _, s := range w.samples {
		if (!from.IsZero() && s.at.Before(from)) || (!to.IsZero() && s.at.After(to)) {
			continue
		}
		out = append(out, s.delay)
	}
	return out
}

// measure collects the figures Options.Report asks for: presented frame
// rates per track over the playback, the UI goroutine's delays, and
// memory. Owned by the UI goroutine, except watch.
type measure struct {
	watch *watchdog
	// recording is the recording's name.
	recording string
	// started and stopped bound the playback measured; reason says why it
	// stopped.
	started, stopped time.Time
	reason           string
	// tracks are the video tracks measured.
	tracks []*trackMeasure
	// window is the window's size in pixels at the end.
	window [2]int
	// errors are the messages the window showed.
	errors []string
}

// trackMeasure is one video track's figures.
type trackMeasure struct {
	tile *videoTile
	// sourceFPS is the stream's frame rate.
	sourceFPS float64
	// painted, received and engine counts at the start of the measure.
	painted0, received0, presented0, dropped0 int64
	// and at its end.
	painted1, received1, presented1, dropped1 int64
	// frame and tile sizes at the end, in pixels.
	frame, tileSize [2]int
	// on says the track was on throughout.
	on bool
}

func newMeasure(do func(func())) *measure { return &measure{watch: newWatchdog(do)} }

// begin starts measuring the playback; tracks are the engine's latest
// snapshot.
func (m *measure) begin(pv *playerView, tracks []avsync.Track) {
	if !m.started.IsZero() {
		return
	}
	m.started = time.Now()
	m.recording = pv.src.Name()
	for _, tile := range pv.area.tiles {
		if !tile.visible {
			continue
		}
		tm := &trackMeasure{tile: tile, on: true}
		tm.painted0, tm.received0 = tile.painted, tile.received.Load()
		for _, t := range tracks {
			if t.Name == tile.track {
				tm.sourceFPS = frameRate(t)
				tm.presented0, tm.dropped0 = t.Stats.FramesPresented, t.Stats.FramesDropped
			}
		}
		m.tracks = append(m.tracks, tm)
	}
}

// end stops measuring; tracks are the engine's latest snapshot.
func (m *measure) end(pv *playerView, tracks []avsync.Track, reason string) {
	if m.started.IsZero() || !m.stopped.IsZero() {
		return
	}
	m.stopped, m.reason = time.Now(), reason
	for _, tm := range m.tracks {
		tm.painted1, tm.received1 = tm.tile.painted, tm.tile.received.Load()
		tm.frame = [2]int{tm.tile.frameW, tm.tile.frameH}
		s := pv.u.w.Canvas().Scale()
		tm.tileSize = [2]int{int(tm.tile.rect.Width * s), int(tm.tile.rect.Height * s)}
		for _, t := range tracks {
			if t.Name == tm.tile.track {
				tm.presented1, tm.dropped1 = t.Stats.FramesPresented, t.Stats.FramesDropped
				if tm.sourceFPS == 0 {
					tm.sourceFPS = frameRate(t)
				}
			}
		}
		if !tm.tile.visible {
			tm.on = false
		}
	}
	size := pv.u.w.Canvas().Size()
	s := pv.u.w.Canvas().Scale()
	m.window = [2]int{int(size.Width * s), int(size.Height * s)}
}

func frameRate(t avsync.Track) float64 {
	for _, s := range t.Streams {
		if s.Kind == media.KindVideo {
			return s.FrameRate
		}
	}
	return 0
}

// Report is what Options.Report receives.
type Report struct {
	// Recording is the recording's name.
	Recording string `json:"recording"`
	// PlayedSeconds is the wall time measured, from the first moment of
	// playing to the end of the recording or Options.For.
	PlayedSeconds float64 `json:"played_seconds"`
	// StoppedBy says what ended the measure: "end", "for" or "closed".
	StoppedBy string `json:"stopped_by"`
	// Window is the window's size in pixels.
	Window [2]int `json:"window"`
	// Tracks are the video tracks on screen.
	Tracks []TrackReport `json:"tracks"`
	// UI is how long the UI goroutine kept work waiting.
	UI UIReport `json:"ui"`
	// Memory is the process's resident memory.
	Memory MemoryReport `json:"memory"`
	// Errors are the messages the window showed.
	Errors []string `json:"errors,omitempty"`
}

// TrackReport is one video track's frame rates.
type TrackReport struct {
	Name string `json:"name"`
	// SourceFPS is the stream's frame rate.
	SourceFPS float64 `json:"source_fps"`
	// PresentedFPS counts the new frames painted on screen per second.
	PresentedFPS float64 `json:"presented_fps"`
	// Ratio is PresentedFPS over SourceFPS.
	Ratio float64 `json:"ratio"`
	// HandedFPS counts the frames the engine handed to the window per
	// second (more than PresentedFPS when two arrived between paints).
	HandedFPS float64 `json:"handed_fps"`
	// EngineDropped counts frames the engine dropped for being late.
	EngineDropped int64 `json:"engine_dropped"`
	// Frame is the size frames were converted to; Tile the size shown.
	Frame [2]int `json:"frame"`
	Tile  [2]int `json:"tile"`
}

// UIReport sums up the watchdog's samples.
type UIReport struct {
	// Samples is how many delays were measured during playback.
	Samples int `json:"samples"`
	// MaxMs and P99Ms are the longest and the 99th percentile delay
	// during playback, in milliseconds.
	MaxMs float64 `json:"max_ms"`
	P99Ms float64 `json:"p99_ms"`
	// Over50Ms counts delays longer than 50 ms during playback.
	Over50Ms int `json:"over_50ms"`
	// RunMaxMs is the longest delay over the whole run, opening included.
	RunMaxMs float64 `json:"run_max_ms"`
}

// MemoryReport is read from /proc/self/status.
type MemoryReport struct {
	// VmHWMMB is the peak resident memory; VmRSSMB the resident memory at
	// the end, in MB (10^6 bytes).
	VmHWMMB float64 `json:"vm_hwm_mb"`
	VmRSSMB float64 `json:"vm_rss_mb"`
	// GoHeapMB is the Go heap in use and GoSysMB all the memory the Go
	// runtime holds, in MB: the rest of the resident memory is C's
	// (FFmpeg, the GL driver, the X client).
	GoHeapMB float64 `json:"go_heap_mb"`
	GoSysMB  float64 `json:"go_sys_mb"`
	// GCs counts the Go garbage collections during the run.
	GCs uint32 `json:"gcs"`
}

func (m *measure) report() Report {
	r := Report{Recording: m.recording, StoppedBy: m.reason, Window: m.window, Errors: m.errors, Tracks: []TrackReport{}}
	if !m.started.IsZero() && !m.stopped.IsZero() {
		secs := m.stopped.Sub(m.started).Seconds()
		r.PlayedSeconds = round2(secs)
		for _, tm := range m.tracks {
			if !tm.on || secs <= 0 {
				continue
			}
			tr := TrackReport{
				Name: tm.tile.track, SourceFPS: round2(tm.sourceFPS),
				PresentedFPS:  round2(float64(tm.painted1-tm.painted0) / secs),
				HandedFPS:     round2(float64(tm.received1-tm.received0) / secs),
				EngineDropped: tm.dropped1 - tm.dropped0,
				Frame:         tm.frame, Tile: tm.tileSize,
			}
			if tm.sourceFPS > 0 {
				tr.Ratio = round2(tr.PresentedFPS / tm.sourceFPS)
			}
			r.Tracks = append(r.Tracks, tr)
		}
	}
	d := m.watch.delays(m.started, m.stopped)
	r.UI.Samples = len(d)
	if len(d) > 0 {
		slices.Sort(d)
		r.UI.MaxMs = ms(d[len(d)-1])
		r.UI.P99Ms = ms(d[min(len(d)-1, int(math.Ceil(0.99*float64(len(d))))-1)])
		for _, x := range d {
			if x > uiBlockLimit {
				r.UI.Over50Ms++
			}
		}
	}
	if all := m.watch.delays(time.Time{}, time.Time{}); len(all) > 0 {
		r.UI.RunMaxMs = ms(slices.Max(all))
	}
	r.Memory = readMemory()
	return r
}

func (m *measure) write(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(m.report())
}

func ms(d time.Duration) float64 { return round2(float64(d) / float64(time.Millisecond)) }

func round2(x float64) float64 { return math.Round(x*100) / 100 }

// readMemory reads VmHWM and VmRSS from /proc/self/status (Linux; zero
// elsewhere).
func readMemory() MemoryReport {
	var r MemoryReport
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	r.GoHeapMB, r.GoSysMB, r.GCs = round2(float64(ms.HeapInuse)/1e6), round2(float64(ms.Sys)/1e6), ms.NumGC
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return r
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok || (k != "VmHWM" && k != "VmRSS") {
			continue
		}
		fields := strings.Fields(v)
		if len(fields) == 0 {
			continue
		}
		kb, err := strconv.ParseFloat(fields[0], 64)
		if err != nil {
			continue
		}
		mb := round2(kb * 1024 / 1e6)
		if k == "VmHWM" {
			r.VmHWMMB = mb
		} else {
			r.VmRSSMB = mb
		}
	}
	return r
}
