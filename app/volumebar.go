package app

import (
	"image/color"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// volumeBar shows the volume from 0 to 1 and sets it where tapped or
// dragged. Unlike widget.Slider it never takes the keyboard focus, so the
// player's keys keep working after a click.
type volumeBar struct {
	widget.BaseWidget
	// value is the volume shown; muted greys it out.
	value float64
	muted bool
	// onChange is called with each new volume.
	onChange func(v float64)
}

func newVolumeBar(onChange func(float64)) *volumeBar {
	v := &volumeBar{value: 1, onChange: onChange}
	v.ExtendBaseWidget(v)
	return v
}

func (v *volumeBar) set(value float64, muted bool) {
	if value == v.value && muted == v.muted {
		return
	}
	v.value, v.muted = value, muted
	v.Refresh()
}

func (v *volumeBar) pick(x float32) {
	w := v.Size().Width
	if w <= 0 {
		return
	}
	val := float64(min(max(x/w, 0), 1))
	v.value = float64(int(val*100+0.5)) / 100
	v.Refresh()
	v.onChange(v.value)
}

func (v *volumeBar) Tapped(e *fyne.PointEvent) { v.pick(e.Position.X) }
func (v *volumeBar) Dragged(e *fyne.DragEvent) { v.pick(e.Position.X) }
func (v *volumeBar) DragEnd()                  {}

func (v *volumeBar) CreateRenderer() fyne.WidgetRenderer {
	r := &volumeBarRenderer{v: v, track: canvas.NewRectangle(color.Gray{0x40}), level: canvas.NewRectangle(theme.Color(theme.ColorNamePrimary))}
	r.track.CornerRadius = 3
	r.level.CornerRadius = 3
	return r
}

type volumeBarRenderer struct {
	v            *volumeBar
	track, level *canvas.Rectangle
}

func (r *volumeBarRenderer) Destroy()           {}
func (r *volumeBarRenderer) MinSize() fyne.Size { return fyne.NewSize(90, seekBarHeight) }
func (r *volumeBarRenderer) Objects() []fyne.CanvasObject {
	return []fyne.CanvasObject{r.track, r.level}
}

func (r *volumeBarRenderer) Layout(size fyne.Size) {
	const thick = 6
	y := (size.Height - thick) / 2
	r.track.Move(fyne.NewPos(0, y))
	r.track.Resize(fyne.NewSize(size.Width, thick))
	r.level.Move(fyne.NewPos(0, y))
	r.level.Resize(fyne.NewSize(size.Width*float32(r.v.value), thick))
}

func (r *volumeBarRenderer) Refresh() {
	if r.v.muted {
		r.level.FillColor = theme.Color(theme.ColorNameDisabled)
	} else {
		r.level.FillColor = theme.Color(theme.ColorNamePrimary)
	}
	r.Layout(r.v.Size())
	canvas.Refresh(r.v)
}
