package app

import (
	"image"
	"image/color"
	"slices"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	avsync "reelay/sync"
)

// span is a stretch of the recording's timeline.
type span struct{ from, to time.Duration }

// seekBar shows the played part, the buffered spans and the position of
// a recording, and seeks where it is tapped or dragged. Above the pointer
// it shows the time there, so a seek lands where meant. It does not take
// the keyboard focus, so the player's keys keep working after a click.
type seekBar struct {
	widget.BaseWidget
	// duration is the recording's length; nothing seeks before it is known.
	duration time.Duration
	// position is where the handle is.
	position time.Duration
	// buffered are the spans ready to play without waiting.
	buffered []span
	// chapters are the recording's chapters: a mark on the bar at each
	// start after the first, and the title in the tooltip.
	chapters []avsync.Chapter
	// dragging says the handle follows the pointer; positions from the
	// engine are not shown meanwhile.
	dragging bool
	// onSeek is called with every new target: while dragging (final is
	// false, a preview) and when tapped or released (final is true).
	onSeek func(t time.Duration, final bool)
	// tipShown says the pointer is over the bar (or dragging it), so the
	// time under it shows above the bar; tipX is the pointer's x in the
	// bar.
	tipShown bool
	tipX     float32
	// tipRect is where the renderer put the tooltip, in the bar's
	// coordinates, for the debug log.
	tipRect fyne.Position
	tipSize fyne.Size
	// onTip, when set, is told what the tooltip says after each change
	// ("" once hidden), for the debug log.
	onTip func(text string)
	// onHover, when set, is told the time under the pointer while the
	// tooltip shows (hovering false once it hides), to fetch its picture.
	onHover func(t time.Duration, hovering bool)
	// thumb is the picture the tooltip shows above the time (nil for
	// none), thumbSize its size in Fyne units.
	thumb     image.Image
	thumbSize fyne.Size
}

// setThumb puts a picture in the tooltip, size units large; nil removes
// it.
func (s *seekBar) setThumb(img image.Image, size fyne.Size) {
	s.thumb, s.thumbSize = img, size
	s.Refresh()
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

// MouseIn shows the time under the pointer.
func (s *seekBar) MouseIn(e *desktop.MouseEvent) { s.MouseMoved(e) }

// MouseMoved follows the pointer with the time under it.
func (s *seekBar) MouseMoved(e *desktop.MouseEvent) { s.showTip(e.Position.X) }

// MouseOut hides the time, unless a drag goes on outside the bar.
func (s *seekBar) MouseOut() {
	if s.dragging || !s.tipShown {
		return
	}
	s.tipShown = false
	s.Refresh()
	s.tellTip()
}

// showTip puts the time under x above the bar, once the duration is known.
func (s *seekBar) showTip(x float32) {
	if s.duration <= 0 || (s.tipShown && x == s.tipX) {
		return
	}
	s.tipShown, s.tipX = true, x
	s.Refresh()
	s.tellTip()
}

// tipText is what the tooltip says: the time under the pointer, and the
// chapter there.
func (s *seekBar) tipText() string {
	if !s.tipShown || s.duration <= 0 {
		return ""
	}
	t := s.at(s.tipX)
	if c := chapterAt(s.chapters, t); c != "" {
		return formatTime(t) + " · " + c
	}
	return formatTime(t)
}

// setChapters marks the chapters on the bar.
func (s *seekBar) setChapters(cs []avsync.Chapter) {
	if slices.Equal(cs, s.chapters) {
		return
	}
	s.chapters = cs
	s.Refresh()
}

// chapterAt is the title of the chapter t is in ("" for none, or an
// untitled one).
func chapterAt(cs []avsync.Chapter, t time.Duration) string {
	title := ""
	for _, c := range cs {
		if c.Start <= t {
			title = c.Title
		}
	}
	return title
}

func (s *seekBar) tellTip() {
	if s.onTip != nil {
		s.onTip(s.tipText())
	}
	if s.onHover != nil {
		s.onHover(s.at(s.tipX), s.tipShown && s.duration > 0)
	}
}

func (s *seekBar) Dragged(e *fyne.DragEvent) {
	if s.duration <= 0 {
		return
	}
	// The pointer is not hovering while it drags: the tooltip follows
	// the drag instead.
	s.showTip(e.Position.X)
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
	// The pointer may have left the bar meanwhile; if it has not, its
	// next move shows the time again.
	s.tipShown = false
	s.Refresh()
	s.tellTip()
	s.onSeek(s.position, true)
}

var _ desktop.Hoverable = (*seekBar)(nil)

func (s *seekBar) CreateRenderer() fyne.WidgetRenderer {
	r := &seekBarRenderer{
		s:      s,
		track:  canvas.NewRectangle(color.Gray{0x40}),
		played: canvas.NewRectangle(theme.Color(theme.ColorNamePrimary)),
		handle: canvas.NewCircle(theme.Color(theme.ColorNameForeground)),
		tip:    canvas.NewText("", theme.Color(theme.ColorNameForeground)),
		tipBg:  canvas.NewRectangle(theme.Color(theme.ColorNameOverlayBackground)),
		thumb:  &canvas.Image{FillMode: canvas.ImageFillContain, ScaleMode: canvas.ImageScaleFastest},
	}
	r.track.CornerRadius = 3
	r.played.CornerRadius = 3
	r.tip.TextStyle.Monospace = true
	r.tipBg.CornerRadius = 4
	r.tipBg.StrokeColor = theme.Color(theme.ColorNameSeparator)
	r.tipBg.StrokeWidth = 1
	return r
}

// Tooltip geometry, in Fyne units: the padding around its text, the gap
// between it and the bar, and the least room it leaves at the window's
// edges.
const (
	tipPadX   = 6
	tipPadY   = 3
	tipGap    = 4
	tipMargin = 2
)

type seekBarRenderer struct {
	s *seekBar
	// track is the whole bar, buffered the spans ready, played the part
	// before the handle.
	track    *canvas.Rectangle
	buffered []*canvas.Rectangle
	played   *canvas.Rectangle
	// marks are the chapters' starts, gaps cut across the bar.
	marks  []*canvas.Rectangle
	handle *canvas.Circle
	// tip says the time under the pointer, on tipBg, above the bar: it
	// is drawn outside the bar's bounds, over the video.
	tip   *canvas.Text
	tipBg *canvas.Rectangle
	// thumb is the picture at the time under the pointer, above it.
	thumb   *canvas.Image
	objects []fyne.CanvasObject
}

func (r *seekBarRenderer) Destroy() {}

func (r *seekBarRenderer) MinSize() fyne.Size { return fyne.NewSize(120, seekBarHeight) }

func (r *seekBarRenderer) Objects() []fyne.CanvasObject {
	r.objects = r.objects[:0]
	r.objects = append(r.objects, r.track)
	for _, b := range r.buffered {
		r.objects = append(r.objects, b)
	}
	r.objects = append(r.objects, r.played)
	for _, m := range r.marks {
		r.objects = append(r.objects, m)
	}
	return append(r.objects, r.handle, r.tipBg, r.thumb, r.tip)
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
	r.layoutMarks(size, y, thick)
	const d = 14
	r.handle.Move(fyne.NewPos(px-d/2, (size.Height-d)/2))
	r.handle.Resize(fyne.NewSize(d, d))
	r.layoutTip(size)
}

// layoutMarks cuts a gap across the bar at every chapter's start but
// the first, as browser players mark chapters.
func (r *seekBarRenderer) layoutMarks(size fyne.Size, y, thick float32) {
	var starts []time.Duration
	for _, c := range r.s.chapters {
		if c.Start > 0 && c.Start < r.s.duration {
			starts = append(starts, c.Start)
		}
	}
	for len(r.marks) < len(starts) {
		r.marks = append(r.marks, canvas.NewRectangle(theme.Color(theme.ColorNameBackground)))
	}
	r.marks = r.marks[:len(starts)]
	const gap = 3
	for i, t := range starts {
		r.marks[i].Move(fyne.NewPos(r.x(t, size.Width)-gap/2, y))
		r.marks[i].Resize(fyne.NewSize(gap, thick))
	}
}

// layoutTip centres the tooltip above the pointer, moved sideways as far
// as it takes to stay inside the window, and below the bar if the window
// has no room above it.
func (r *seekBarRenderer) layoutTip(size fyne.Size) {
	text := r.s.tipText()
	if text == "" {
		r.tip.Hide()
		r.tipBg.Hide()
		r.thumb.Hide()
		return
	}
	if r.tip.Text != text {
		r.tip.Text = text
		r.tip.Refresh()
	}
	ts := r.tip.MinSize()
	w, h := ts.Width+2*tipPadX, ts.Height+2*tipPadY
	th := fyne.Size{}
	if r.s.thumb != nil {
		th = r.s.thumbSize
		w, h = max(w, th.Width+2*tipPadY), h+th.Height+tipPadY
	}
	x, y := r.s.tipX-w/2, -h-tipGap
	// The window's edges in the bar's coordinates.
	left, right, top := float32(0), size.Width, float32(-1e9)
	if d := fyne.CurrentApp().Driver(); d != nil {
		if c := d.CanvasForObject(r.s); c != nil {
			abs := d.AbsolutePositionForObject(r.s)
			left, right, top = -abs.X+tipMargin, c.Size().Width-abs.X-tipMargin, -abs.Y
		}
	}
	x = max(min(x, right-w), left)
	if y < top {
		y = size.Height + tipGap
	}
	r.tipBg.Move(fyne.NewPos(x, y))
	r.tipBg.Resize(fyne.NewSize(w, h))
	r.s.tipRect, r.s.tipSize = fyne.NewPos(x, y), fyne.NewSize(w, h)
	if r.s.thumb != nil {
		if r.thumb.Image != r.s.thumb {
			r.thumb.Image = r.s.thumb
			r.thumb.Refresh()
		}
		r.thumb.Move(fyne.NewPos(x+(w-th.Width)/2, y+tipPadY))
		r.thumb.Resize(th)
		r.thumb.Show()
	} else {
		r.thumb.Hide()
	}
	r.tip.Move(fyne.NewPos(x+(w-ts.Width)/2, y+h-tipPadY-ts.Height))
	r.tip.Resize(ts)
	r.tip.Show()
	r.tipBg.Show()
}

func (r *seekBarRenderer) Refresh() {
	r.played.FillColor = theme.Color(theme.ColorNamePrimary)
	r.handle.FillColor = theme.Color(theme.ColorNameForeground)
	r.tip.Color = theme.Color(theme.ColorNameForeground)
	for _, m := range r.marks {
		m.FillColor = theme.Color(theme.ColorNameBackground)
	}
	r.tipBg.FillColor = theme.Color(theme.ColorNameOverlayBackground)
	r.tipBg.StrokeColor = theme.Color(theme.ColorNameSeparator)
	r.Layout(r.s.Size())
	canvas.Refresh(r.s)
}
