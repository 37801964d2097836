// Package report is what `reelay play --report` and `reelay demo --report`
// write: the frame rates a window presented, how long its UI goroutine kept
// work waiting (measured by a Watchdog), and the process's memory. The
// window fills it in; this room holds the figures' shape and the tools
// that take them.
package report

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
	"sync"
	"sync/atomic"
	"time"
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

// Watchdog measures how long the UI goroutine takes to run a function
// handed to it: every period it schedules an empty one (unless the last is
// still waiting) and records the delay until it ran.
type Watchdog struct {
	// do runs a function on the UI goroutine.
	do func(func())
	// waiting says a probe has not run yet.
	waiting atomic.Bool
	// mu guards samples.
	mu      sync.Mutex
	samples []delaySample
	// ctx ends the goroutine; done is closed when it returned.
	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}
}

// NewWatchdog returns a watchdog that hands its probes to do, which runs a
// function on the UI goroutine; Start starts it, Stop ends it.
func NewWatchdog(do func(func())) *Watchdog {
	ctx, cancel := context.WithCancel(context.Background())
	return &Watchdog{do: do, ctx: ctx, cancel: cancel, done: make(chan struct{})}
}

func (w *Watchdog) Start() { go w.run() }

func (w *Watchdog) Stop() {
	w.cancel()
	<-w.done
}

func (w *Watchdog) run() {
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

// Delays returns the delays measured between from and to (any, if zero).
func (w *Watchdog) Delays(from, to time.Time) []time.Duration {
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

// Report is what a window measured of a run, written as JSON.
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
	Tracks []Track `json:"tracks"`
	// UI is how long the UI goroutine kept work waiting.
	UI UI `json:"ui"`
	// Memory is the process's resident memory.
	Memory Memory `json:"memory"`
	// Errors are the messages the window showed.
	Errors []string `json:"errors,omitempty"`
}

// Track is one video track's frame rates.
type Track struct {
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

// UI sums up the watchdog's samples.
type UI struct {
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

// Memory is read from /proc/self/status.
type Memory struct {
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

// UIOf sums up the delays a Watchdog measured during playback and over
// the whole run.
func UIOf(playing, run []time.Duration) UI {
	var u UI
	u.Samples = len(playing)
	if len(playing) > 0 {
		d := slices.Sorted(slices.Values(playing))
		u.MaxMs = ms(d[len(d)-1])
		u.P99Ms = ms(d[min(len(d)-1, int(math.Ceil(0.99*float64(len(d))))-1)])
		for _, x := range d {
			if x > uiBlockLimit {
				u.Over50Ms++
			}
		}
	}
	if len(run) > 0 {
		u.RunMaxMs = ms(slices.Max(run))
	}
	return u
}

// Write writes r as indented JSON.
func (r Report) Write(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// ms is d in milliseconds, to two decimals.
func ms(d time.Duration) float64 { return Round2(float64(d) / float64(time.Millisecond)) }

// Round2 rounds x to two decimals.
func Round2(x float64) float64 { return math.Round(x*100) / 100 }

// ReadMemory reads VmHWM and VmRSS from /proc/self/status (Linux; zero
// elsewhere).
func ReadMemory() Memory {
	var r Memory
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	r.GoHeapMB, r.GoSysMB, r.GCs = Round2(float64(ms.HeapInuse)/1e6), Round2(float64(ms.Sys)/1e6), ms.NumGC
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
		mb := Round2(kb * 1024 / 1e6)
		if k == "VmHWM" {
			r.VmHWMMB = mb
		} else {
			r.VmRSSMB = mb
		}
	}
	return r
}
