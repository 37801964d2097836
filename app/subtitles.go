package app

import (
	"image/color"
	"strings"
	gosync "sync"
	"sync/atomic"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
)

// subtitleView shows the engine's subtitle text over the bottom of the
// video area, as players do: white lines, each on a dark band, centred,
// in a size that follows the area's height.
type subtitleView struct {
	// do runs a function on the UI goroutine.
	do func(func())
	// detached says the player view closed.
	detached atomic.Bool

	// mu guards latest and pending, handed from the engine's goroutine.
	mu      gosync.Mutex
	latest  string
	pending bool

	// Owned by the UI goroutine.

	// text is what is shown; lines and bands show it, one of each per
	// line (kept for reuse).
	text  string
	lines []*canvas.Text
	bands []*canvas.Rectangle
	// area is where the subtitles go, in the video area's coordinates.
	area fyne.Size
	// restack puts new lines' objects in the video area.
	restack func()
	// onChange is told the new text, for the debug log.
	onChange func(text string)
}

// Subtitle geometry, in Fyne units: the text is a twentieth of the
// area's height within [subtitleMinSize, subtitleMaxSize], each band pads
// its line by a quarter of that, and the lines sit a tenth of the height
// above the bottom edge (clear of a picture-in-picture's lower edge is
// not promised: players put subtitles over the picture).
const (
	subtitleMinSize = 14
	subtitleMaxSize = 44
)

func newSubtitleView(do func(func())) *subtitleView { return &subtitleView{do: do} }

// ShowSubtitle is the engine's avsync.SubtitleSink; it returns at once.
func (v *subtitleView) ShowSubtitle(text string) {
	if v.detached.Load() {
		return
	}
	v.mu.Lock()
	v.latest = text
	schedule := !v.pending
	v.pending = true
	v.mu.Unlock()
	if schedule {
		v.do(v.apply)
	}
}

// apply shows the newest text; UI goroutine.
func (v *subtitleView) apply() {
	v.mu.Lock()
	text := v.latest
	v.pending = false
	v.mu.Unlock()
	if v.detached.Load() || text == v.text {
		return
	}
	v.text = text
	if v.layout(v.area) && v.restack != nil {
		v.restack()
	}
	if v.onChange != nil {
		v.onChange(text)
	}
}

// objects are the canvas objects to paint over the pictures, with room
// for as many lines as have been shown.
func (v *subtitleView) objects() []fyne.CanvasObject {
	var out []fyne.CanvasObject
	for i := range v.lines {
		out = append(out, v.bands[i], v.lines[i])
	}
	return out
}

// layout places the lines at the bottom of an area of size; UI goroutine.
// New lines beyond those made before make the area restack (grow).
func (v *subtitleView) layout(size fyne.Size) (grew bool) {
	v.area = size
	var lines []string
	if v.text != "" {
		lines = strings.Split(v.text, "\n")
	}
	for len(v.lines) < len(lines) {
		t := canvas.NewText("", color.White)
		t.TextStyle.Bold = true
		t.Alignment = fyne.TextAlignCenter
		b := canvas.NewRectangle(color.NRGBA{A: 0xb4})
		b.CornerRadius = 3
		v.lines, v.bands = append(v.lines, t), append(v.bands, b)
		grew = true
	}
	ts := min(max(size.Height/20, subtitleMinSize), subtitleMaxSize)
	pad := ts / 4
	lineH := float32(0)
	for i, t := range v.lines {
		if i >= len(lines) || size.Width <= 0 {
			t.Hide()
			v.bands[i].Hide()
			continue
		}
		t.Text, t.TextSize = lines[i], ts
		lineH = t.MinSize().Height
	}
	y := size.Height - size.Height/10 - float32(len(lines))*(lineH+pad)
	for i := 0; i < len(lines) && size.Width > 0; i++ {
		t, b := v.lines[i], v.bands[i]
		w := min(t.MinSize().Width, size.Width-4*pad)
		t.Move(fyne.NewPos((size.Width-w)/2, y))
		t.Resize(fyne.NewSize(w, lineH))
		b.Move(fyne.NewPos((size.Width-w)/2-pad, y-pad/4))
		b.Resize(fyne.NewSize(w+2*pad, lineH+pad/2))
		t.Show()
		b.Show()
		t.Refresh()
		b.Refresh()
		y += lineH + pad
	}
	return grew
}
