package app

import (
	"fmt"
	"image/color"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"

	"reelay/media"
	avsync "reelay/sync"
)

// statsPeriod is how often the statistics overlay changes: often enough
// to watch a buffer fill, rarely enough that its texts (each a new
// texture) cost nothing.
const statsPeriod = time.Second

// statsMargin is the overlay's distance from the video's corner.
const statsMargin = 8

// statsOverlay shows, over the video's top left corner, what mpv's stats
// show (the i key): per track its codec, size, frame rate, pictures shown
// and dropped, how much is buffered ahead and fetched, and the path to the
// sharer with its round trip and throughput. UI goroutine.
type statsOverlay struct {
	// box holds bg and the lines; it is the object the player lays out.
	box   *fyne.Container
	bg    *canvas.Rectangle
	lines *fyne.Container
	// shown says the overlay is on; at is when its text last changed.
	shown bool
	at    time.Time
}

func newStatsOverlay() *statsOverlay {
	o := &statsOverlay{bg: canvas.NewRectangle(color.NRGBA{A: 0xc0}), lines: container.NewVBox()}
	o.bg.CornerRadius = 4
	o.box = container.NewStack(o.bg, container.NewPadded(o.lines))
	o.box.Hide()
	return o
}

// toggle shows or hides the overlay; shown at once with pv's figures.
func (o *statsOverlay) toggle(pv *playerView) {
	o.shown = !o.shown
	pv.u.debug.emit("stats", map[string]any{"shown": o.shown})
	if !o.shown {
		o.box.Hide()
		return
	}
	o.at = time.Time{}
	o.update(pv)
	o.box.Show()
}

// update writes pv's figures, at most every statsPeriod.
func (o *statsOverlay) update(pv *playerView) {
	if !o.shown || time.Since(o.at) < statsPeriod {
		return
	}
	o.at = time.Now()
	text := statsLines(pv)
	for len(o.lines.Objects) < len(text) {
		t := canvas.NewText("", color.White)
		t.TextSize = theme.CaptionTextSize()
		t.TextStyle = fyne.TextStyle{Monospace: true}
		o.lines.Add(t)
	}
	for i, obj := range o.lines.Objects {
		t := obj.(*canvas.Text)
		if i < len(text) {
			t.Text = text[i]
			t.Show()
		} else {
			t.Hide()
		}
		t.Refresh()
	}
	o.box.Resize(o.box.MinSize())
	o.box.Refresh()
}

// statsLines says the recording's figures, one line each.
func statsLines(pv *playerView) []string {
	var out []string
	link := "local folder"
	if pv.remote != nil {
		link = pv.path
		if link == "" {
			link = "no connection"
		}
		link += " · RTT " + formatRTT(pv.rtt)
		if rate := formatBitrate(pv.throughput); rate != "" {
			link += " · " + rate
		}
	}
	out = append(out, pv.src.Name()+" · "+link)
	st := pv.stats
	line := fmt.Sprintf("clock %s · speed %s · stalls %d (%.1f s)", st.Clock, formatSpeed(pv.speed), st.Stalls, st.StallTime.Seconds())
	if n := len(st.SeekLatencies); n > 0 {
		line += fmt.Sprintf(" · seeks %d, last %d ms", st.Seeks, st.SeekLatencies[n-1].Milliseconds())
	}
	out = append(out, line)
	width := 0
	for _, t := range pv.lastTracks {
		width = max(width, len(t.Name))
	}
	for _, t := range pv.lastTracks {
		out = append(out, fmt.Sprintf("%-*s  %s", width, t.Name, trackStats(t)))
	}
	return out
}

// trackStats says one track's figures.
func trackStats(t avsync.Track) string {
	if !t.On {
		return "off"
	}
	if t.State == avsync.StateError {
		return "cannot play"
	}
	var parts []string
	for _, s := range t.Streams {
		switch s.Kind {
		case media.KindVideo:
			parts = append(parts, fmt.Sprintf("%s %d×%d %.4g fps", s.Codec, s.Width, s.Height, s.FrameRate))
		case media.KindAudio:
			parts = append(parts, fmt.Sprintf("%s %.4g kHz %d ch", s.Codec, float64(s.SampleRate)/1000, s.Channels))
		}
	}
	ts := t.Stats
	if t.HasVideo() {
		parts = append(parts, fmt.Sprintf("shown %d, dropped %d", ts.FramesPresented, ts.FramesDropped))
	}
	parts = append(parts, fmt.Sprintf("ahead %.1f s", ts.BufferedAhead.Seconds()))
	fetched := ts.BytesRead
	if r := ts.Reader; r != nil {
		fetched = r.BytesFetched
	}
	parts = append(parts, "fetched "+formatBytes(fetched))
	if t.Thinned {
		parts = append(parts, "keyframes only")
	}
	return strings.Join(parts, " · ")
}

// formatBytes says a byte count in kB, MB or GB (powers of ten).
func formatBytes(n int64) string {
	switch {
	case n >= 1e9:
		return fmt.Sprintf("%.2f GB", float64(n)/1e9)
	case n >= 1e6:
		return fmt.Sprintf("%.1f MB", float64(n)/1e6)
	default:
		return fmt.Sprintf("%.0f kB", float64(n)/1e3)
	}
}
