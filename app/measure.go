package app

import (
	"io"
	"time"

	"reelay/app/report"
	"reelay/media"
	avsync "reelay/sync"
)

// measure collects the figures Options.Report asks for: presented frame
// rates per track over the playback, the UI goroutine's delays, and
// memory. Owned by the UI goroutine, except watch.
type measure struct {
	watch *report.Watchdog
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

func newMeasure(do func(func())) *measure { return &measure{watch: report.NewWatchdog(do)} }

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

func (m *measure) report() report.Report {
	r := report.Report{Recording: m.recording, StoppedBy: m.reason, Window: m.window, Errors: m.errors, Tracks: []report.Track{}}
	if !m.started.IsZero() && !m.stopped.IsZero() {
		secs := m.stopped.Sub(m.started).Seconds()
		r.PlayedSeconds = report.Round2(secs)
		for _, tm := range m.tracks {
			if !tm.on || secs <= 0 {
				continue
			}
			tr := report.Track{
				Name: tm.tile.track, SourceFPS: report.Round2(tm.sourceFPS),
				PresentedFPS:  report.Round2(float64(tm.painted1-tm.painted0) / secs),
				HandedFPS:     report.Round2(float64(tm.received1-tm.received0) / secs),
				EngineDropped: tm.dropped1 - tm.dropped0,
				Frame:         tm.frame, Tile: tm.tileSize,
			}
			if tm.sourceFPS > 0 {
				tr.Ratio = report.Round2(tr.PresentedFPS / tm.sourceFPS)
			}
			r.Tracks = append(r.Tracks, tr)
		}
	}
	r.UI = report.UIOf(m.watch.Delays(m.started, m.stopped), m.watch.Delays(time.Time{}, time.Time{}))
	r.Memory = report.ReadMemory()
	return r
}

func (m *measure) write(w io.Writer) error { return m.report().Write(w) }
