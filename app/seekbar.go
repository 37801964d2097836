package app

import (
	"image/color"
	"slices"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// span is a stretch of the recording's timeline.
type span struct{ from, to time.Duration }

// seekBar shows the played part, the buffered spans and the position of
// a recording, and seeks where it is tapped or dragged. It does not take
// the keyboard focus, so the player's keys keep working after a click.
type seekBar struct {
	widget.BaseWidget
	// duration is the recording's length; nothing seeks before it is known.
	duration time.Duration
	// position is where the handle is.
	position time.Duration
	// buffered are the spans ready to play without waiting.
	buffered []span
	// dragging says the handle follows the pointer; positions from the
	// engine are not shown meanwhile.
	dragging bool
	// onSeek is called with every new target: while dragging (final is
	// false, a preview) and when tapped or released (final is true).
	onSeek func(t time.Duration, final bool)
}

// seekBarHeight is the bar's height in Fyne units: a comfortable target.
const seekBarHeight = 24

func newSeekBar(onSeek func(time.Duration, bool)) *seekBar {
	s := &seekBar{onSeek: onSeek}
	s.ExtendBaseWidget(s)
	return s
}

// set shows the engine's position, duration and buffered spans, unless
// the user is dragging.
func (s *seekBar) set(pos, dur time.Duration, buffered []span) {
	if s.dragging {
		pos = s.position
	}
	if pos == s.position && dur == s.duration && slices.Equal(buffered, s.buffered) {
		return
	}
	s.position, s.duration, s.buffered = pos, dur, buffered
	s.Refresh()
}

// at is the time under x.
func (s *seekBar) at(x float32) time.Duration {
	w := s.Size().Width
	if w <= 0 || s.duration <= 0 {
		return 0
	}
	f := min(max(x/w, 0), 1)
	return time.Duration(float64(f) * float64(s.duration)).Round(time.Millisecond)
}

func (s *seekBar) Tapped(e *fyne.PointEvent) {
	if s.duration <= 0 {
		return
	}
	s.position = s.at(e.Position.X)
	s.Refresh()
	s.onSeek(s.position, true)
}

func (s *seekBar) Dragged(e *fyne.DragEvent) {
	if s.duration <= 0 {
		return
	}
	s.dragging = true
	t := s.at(e.Position.X)
	if t == s.position {
		return
	}
	s.position = t
	s.Refresh()
	s.onSeek(t, false)
}

func (s *seekBar) DragEnd() {
	if !s.dragging {
		return
	}
	s.dragging = false
	s.onSeek(s.position, true)
}

func (s *seekBar) CreateRenderer() fyne.WidgetRenderer {
	r := &seekBarRenderer{
		s:      s,
		track:  canvas.NewRectangle(color.Gray{0x40}),
		played: canvas.NewRectangle(theme.Color(theme.ColorNamePrimary)),
		handle: canvas.NewCircle(theme.Color(theme.ColorNameForeground)),
	}
	r.track.CornerRadius = 3
	r.played.CornerRadius = 3
	return r
}

type seekBarRenderer struct {
	s *seekBar
	// track is the whole bar, buffered the spans ready, played the part
	// before the handle.
	track    *canvas.Rectangle
	buffered []*canvas.Rectangle
	played   *canvas.Rectangle
	handle   *canvas.Circle
	objects  []fyne.CanvasObject
}

func (r *seekBarRenderer) Destroy() {}

func (r *seekBarRenderer) MinSize() fyne.Size { return fyne.NewSize(120, seekBarHeight) }

func (r *seekBarRenderer) Objects() []fyne.CanvasObject {
	r.objects = r.objects[:0]
	r.objects = append(r.objects, r.track)
	for _, b := range r.buffered {
		r.objects = append(r.objects, b)
	}
	return append(r.objects, r.played, r.handle)
}

func (r *seekBarRenderer) x(t time.Duration, w float32) float32 {
	if r.s.duration <= 0 {
		return 0
	}
	f := float32(float64(t) / float64(r.s.duration))
	return min(max(f, 0), 1) * w
}

func (r *seekBarRenderer) Layout(size fyne.Size) {
	const thick = 6
	y := (size.Height - thick) / 2
	r.track.Move(fyne.NewPos(0, y))
	r.track.Resize(fyne.NewSize(size.Width, thick))
	for len(r.buffered) < len(r.s.buffered) {
		b := canvas.NewRectangle(color.Gray{0x90})
		b.CornerRadius = 3
		r.buffered = append(r.buffered, b)
	}
	r.buffered = r.buffered[:len(r.s.buffered)]
	for i, sp := range r.s.buffered {
		x0, x1 := r.x(sp.from, size.Width), r.x(sp.to, size.Width)
		r.buffered[i].Move(fyne.NewPos(x0, y))
		r.buffered[i].Resize(fyne.NewSize(x1-x0, thick))
	}
	px := r.x(r.s.position, size.Width)
	r.played.Move(fyne.NewPos(0, y))
	r.played.Resize(fyne.NewSize(px, thick))
	const d = 14
	r.handle.Move(fyne.NewPos(px-d/2, (size.Height-d)/2))
	r.handle.Resize(fyne.NewSize(d, d))
}

func (r *seekBarRenderer) Refresh() {
	r.played.FillColor = theme.Color(theme.ColorNamePrimary)
	r.handle.FillColor = theme.Color(theme.ColorNameForeground)
	r.Layout(r.s.Size())
	canvas.Refresh(r.s)
}
