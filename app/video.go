package app

import (
	"image"
	"image/color"
	"math"
	gosync "sync"
	"sync/atomic"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// layoutMode says how several video tracks share the video area.
type layoutMode int

const (
	// layoutPiP shows the screen (or the first video track) large and the
	// others as pictures in the picture, bottom right.
	layoutPiP layoutMode = iota
	// layoutSideBySide gives every video track an equal cell.
	layoutSideBySide
)

func (m layoutMode) String() string {
	if m == layoutSideBySide {
		return "side-by-side"
	}
	return "pip"
}

// Picture-in-picture geometry, in Fyne units.
const (
	pipFraction = 0.25
	pipMargin   = 12
)

// videoTile shows one track's pictures: one canvas.Image whose Image is
// swapped for each frame the engine presents. It is the track's
// avsync.VideoSink.
type videoTile struct {
	// track and kind name what it shows.
	track string
	kind  trackKind
	// do runs a function on the UI goroutine; applyFn is apply, bound
	// once so handing a frame over allocates nothing.
	do      func(func())
	applyFn func()
	// img shows the frames. bg blacks out the whole cell while there is
	// no picture, and bars only the strips a picture of another shape
	// leaves: with a software GL every pixel painted costs on every
	// frame, so black is never painted under the picture.
	img  *canvas.Image
	bg   *canvas.Rectangle
	bars [2]*canvas.Rectangle
	// probe is a 1×1 raster refreshed with every frame; Fyne calls its
	// generator while painting, which counts the frames that reached the
	// screen, not just the ones handed to Fyne.
	probe *canvas.Raster
	// probePix is what the probe paints: one transparent pixel.
	probePix *image.RGBA
	// badge says, over the picture's corner, what the picture is not:
	// the track shows keyframes only (the link is too slow for every
	// picture), has not started yet, or has ended.
	badge   *canvas.Text
	badgeBg *canvas.Rectangle

	// mu guards latest and pending.
	mu gosync.Mutex
	// latest is the newest frame not yet put on img; the engine keeps it
	// and the frame before it out of its pool, so it is safe to upload.
	latest *image.RGBA
	// pending says an apply is scheduled on the UI goroutine: frames that
	// arrive meanwhile replace latest rather than queue up.
	pending bool
	// received counts frames the engine handed over.
	received atomic.Int64
	// detached says the player view closed: frames still arriving from
	// the engine as it stops are not shown.
	detached atomic.Bool
	// size is the tile's size in pixels (w<<32 | h), read by decode
	// goroutines to convert frames at display size.
	size atomic.Uint64

	// Owned by the UI goroutine.

	// visible says the track's pictures are wanted on screen; note is
	// the badge's text, "" for none.
	visible bool
	note    string
	// waiting says the clock is before the track's start: there is no
	// picture to show yet. inset says the tile is a picture-in-picture
	// over the main one, where waiting shows only the badge.
	waiting bool
	inset   bool
	// applied counts frames put on img; painted counts those painted.
	applied     int64
	painted     int64
	paintedSeen int64
	// frameW and frameH are the size of the last frame applied.
	frameW, frameH int
	// aspect is the source's width over height, for picture-in-picture
	// cells; 16:9 until known.
	aspect float32
	// rect is where the tile is, in the area's coordinates.
	rect fyne.Size
	pos  fyne.Position
	// scale converts Fyne units to pixels; nil counts them as pixels.
	scale func() float32
}

func newVideoTile(track string, kind trackKind, do func(func())) *videoTile {
	t := &videoTile{track: track, kind: kind, do: do, aspect: 16.0 / 9, probePix: image.NewRGBA(image.Rect(0, 0, 1, 1))}
	t.img = &canvas.Image{FillMode: canvas.ImageFillContain, ScaleMode: canvas.ImageScaleFastest}
	t.bg = canvas.NewRectangle(color.Black)
	t.bars = [2]*canvas.Rectangle{canvas.NewRectangle(color.Black), canvas.NewRectangle(color.Black)}
	t.probe = canvas.NewRaster(func(_, _ int) image.Image {
		if t.applied != t.paintedSeen {
			t.paintedSeen = t.applied
			t.painted++
		}
		return t.probePix
	})
	t.probe.ScaleMode = canvas.ImageScalePixels
	t.badge = canvas.NewText("", color.White)
	t.badge.TextSize = theme.CaptionTextSize()
	t.badgeBg = canvas.NewRectangle(color.NRGBA{A: 0xb0})
	t.badgeBg.CornerRadius = 4
	t.badge.Hide()
	t.badgeBg.Hide()
	t.applyFn = t.apply
	return t
}

// setWaiting says whether the clock is before the track's start; a
// picture from elsewhere on the timeline (before a seek back) is dropped.
// UI goroutine.
func (t *videoTile) setWaiting(on bool) {
	if on == t.waiting {
		return
	}
	t.waiting = on
	if on {
		t.clear()
	}
}

// setNote puts text on the badge, or hides it for ""; UI goroutine.
func (t *videoTile) setNote(text string) {
	if text == t.note {
		return
	}
	t.note = text
	t.badge.Text = text
	t.placeBadge()
}

// badgePad is the room around the badge's text, and its margin from the
// picture's corner.
const badgePad = 6

// placeBadge puts the badge in the tile's top left corner, or hides it;
// UI goroutine.
func (t *videoTile) placeBadge() {
	if t.note == "" || !t.visible || t.rect.Width <= 0 {
		t.badge.Hide()
		t.badgeBg.Hide()
		return
	}
	ts := t.badge.MinSize()
	t.badgeBg.Move(fyne.NewPos(t.pos.X+badgePad, t.pos.Y+badgePad))
	t.badgeBg.Resize(fyne.NewSize(ts.Width+2*badgePad, ts.Height+badgePad))
	t.badge.Move(fyne.NewPos(t.pos.X+2*badgePad, t.pos.Y+badgePad*3/2))
	t.badge.Resize(ts)
	t.badgeBg.Show()
	t.badge.Show()
	t.badgeBg.Refresh()
	t.badge.Refresh()
}

// Show hands a frame to the window; it runs on the engine's goroutine and
// returns at once.
func (t *videoTile) Show(frame *image.RGBA, _ time.Duration) {
	if t.detached.Load() {
		return
	}
	t.received.Add(1)
	t.mu.Lock()
	t.latest = frame
	schedule := !t.pending
	t.pending = true
	t.mu.Unlock()
	if schedule {
		t.do(t.applyFn)
	}
}

// apply puts the newest frame on screen; UI goroutine.
func (t *videoTile) apply() {
	t.mu.Lock()
	f := t.latest
	t.latest, t.pending = nil, false
	t.mu.Unlock()
	if f == nil || t.detached.Load() {
		return
	}
	first := t.img.Image == nil
	t.img.Image = f
	t.applied++
	if w, h := f.Rect.Dx(), f.Rect.Dy(); w != t.frameW || h != t.frameH || first {
		t.frameW, t.frameH = w, h
		t.fit()
	}
	t.img.Refresh()
	t.probe.Refresh()
}

// fit blacks out what of the tile's cell the picture leaves: the whole
// cell before the first frame (the image is hidden then, or the painter
// would upload a blank texture of the cell's size) unless it is an inset
// waiting for its track to start, else the strips beside or above and
// below a picture of another shape; UI goroutine.
func (t *videoTile) fit() {
	for _, b := range t.bars {
		b.Hide()
	}
	if !t.visible || t.rect.Width <= 0 || t.rect.Height <= 0 {
		t.bg.Hide()
		t.img.Hide()
		return
	}
	if t.img.Image == nil || t.frameW <= 0 || t.frameH <= 0 {
		t.img.Hide()
		if t.waiting && t.inset {
			t.bg.Hide()
			return
		}
		t.bg.Move(t.pos)
		t.bg.Resize(t.rect)
		t.bg.Show()
		return
	}
	t.bg.Hide()
	t.img.Show()
	// The picture's place as the painter computes it for ImageFillContain;
	// each strip reaches a pixel into the picture, which is painted over
	// it, so rounding never leaves a seam.
	w, h := t.rect.Width, t.rect.Height
	aspect := float32(t.frameW) / float32(t.frameH)
	px := float32(1)
	if t.scale != nil {
		px = 1 / t.scale()
	}
	switch view := w / h; {
	case view > aspect:
		pad := (w - h*aspect) / 2
		if pad < px/2 {
			return
		}
		t.bars[0].Move(t.pos)
		t.bars[1].Move(fyne.NewPos(t.pos.X+w-pad-px, t.pos.Y))
		for _, b := range t.bars {
			b.Resize(fyne.NewSize(pad+px, h))
		}
	case view < aspect:
		pad := (h - w/aspect) / 2
		if pad < px/2 {
			return
		}
		t.bars[0].Move(t.pos)
		t.bars[1].Move(fyne.NewPos(t.pos.X, t.pos.Y+h-pad-px))
		for _, b := range t.bars {
			b.Resize(fyne.NewSize(w, pad+px))
		}
	default:
		return
	}
	for _, b := range t.bars {
		b.Show()
	}
}

// clear forgets the picture, so a track switched on again does not show
// a stale frame; UI goroutine.
func (t *videoTile) clear() {
	t.mu.Lock()
	t.latest = nil
	t.mu.Unlock()
	t.img.Image = nil
	t.img.Refresh()
	t.fit()
}

func (t *videoTile) setPixelSize(w, h int) {
	t.size.Store(uint64(uint32(w))<<32 | uint64(uint32(h)))
}

// videoSize is the size to convert a frame of srcW×srcH to: the largest
// that fits the tile with the source's shape, never larger than the
// source (the GPU scales up for free, the converter does not).
func (t *videoTile) videoSize(srcW, srcH int) (int, int) {
	s := t.size.Load()
	bw, bh := int(s>>32), int(uint32(s))
	if bw <= 0 || bh <= 0 || srcW <= 0 || srcH <= 0 {
		return srcW, srcH
	}
	f := math.Min(math.Min(float64(bw)/float64(srcW), float64(bh)/float64(srcH)), 1)
	w := max(int(float64(srcW)*f)&^1, 2)
	h := max(int(float64(srcH)*f)&^1, 2)
	return w, h
}

// videoArea lays out every visible video track: side by side, or the
// screen large with the others as pictures in the picture.
type videoArea struct {
	// tiles are every track's tile, in the recording's order; byName finds
	// them, also for the decode goroutines (under mu): a track that
	// appears while the recording is written adds one.
	tiles  []*videoTile
	mu     gosync.RWMutex
	byName map[string]*videoTile
	// mode is the current layout; UI goroutine.
	mode layoutMode
	// bg is the black behind the cells, shown only where no cell is
	// (painting it under the pictures would cost on every frame); empty
	// says no video is on.
	bg    *canvas.Rectangle
	empty *widget.Label
	// box holds every object; its layout is the area itself.
	box *fyne.Container
	// scale converts Fyne units to pixels.
	scale func() float32
	// onLayout is told after every layout pass; UI goroutine.
	onLayout func()
	// subs shows subtitles over the pictures.
	subs *subtitleView
}

func newVideoArea(tiles []*videoTile, subs *subtitleView, scale func() float32) *videoArea {
	a := &videoArea{tiles: tiles, byName: map[string]*videoTile{}, scale: scale, bg: canvas.NewRectangle(color.Black), subs: subs}
	subs.restack = a.restack
	a.empty = widget.NewLabel("No video track is on")
	a.empty.Alignment = fyne.TextAlignCenter
	for _, t := range tiles {
		a.byName[t.track] = t
		t.scale = scale
	}
	a.box = container.New(a)
	a.restack()
	return a
}

// VideoSize is the engine's Options.VideoSize: frames are converted at the
// size their tile shows them. Safe for concurrent use.
func (a *videoArea) VideoSize(track string, srcW, srcH int) (int, int) {
	a.mu.RLock()
	t := a.byName[track]
	a.mu.RUnlock()
	if t != nil {
		return t.videoSize(srcW, srcH)
	}
	return srcW, srcH
}

// addTile adds a track's tile after the others.
func (a *videoArea) addTile(t *videoTile) {
	t.scale = a.scale
	a.mu.Lock()
	a.tiles = append(a.tiles, t)
	a.byName[t.track] = t
	a.mu.Unlock()
	a.restack()
}

// visible lists the tiles to show, in the recording's order.
func (a *videoArea) visible() []*videoTile {
	var out []*videoTile
	for _, t := range a.tiles {
		if t.visible {
			out = append(out, t)
		}
	}
	return out
}

// main is the tile shown large in picture-in-picture: the screen if one is
// visible, else the first.
func (a *videoArea) main(vis []*videoTile) *videoTile {
	for _, t := range vis {
		if t.kind == kindScreen {
			return t
		}
	}
	return vis[0]
}

// restack orders the objects so the large picture is painted first and
// the small ones over it, then lays them out again; UI goroutine.
func (a *videoArea) restack() {
	objs := []fyne.CanvasObject{a.bg, a.empty}
	vis := a.visible()
	var order []*videoTile
	if len(vis) > 0 {
		m := a.main(vis)
		order = append(order, m)
		for _, t := range vis {
			if t != m {
				order = append(order, t)
			}
		}
	}
	for _, t := range a.tiles {
		if !t.visible {
			order = append(order, t)
		}
	}
	for _, t := range order {
		objs = append(objs, t.bg, t.bars[0], t.bars[1], t.probe, t.img, t.badgeBg, t.badge)
	}
	objs = append(objs, a.subs.objects()...)
	a.box.Objects = objs
	a.box.Refresh()
}

func (a *videoArea) setMode(m layoutMode) {
	a.mode = m
	a.restack()
}

// MinSize lets the window shrink the video as far as it likes.
func (a *videoArea) MinSize([]fyne.CanvasObject) fyne.Size { return fyne.NewSize(160, 90) }

// Layout places the tiles; it is the fyne.Layout of box.
func (a *videoArea) Layout(_ []fyne.CanvasObject, size fyne.Size) {
	a.bg.Resize(size)
	a.bg.Move(fyne.Position{})
	vis := a.visible()
	a.empty.Resize(a.empty.MinSize())
	a.empty.Move(fyne.NewPos((size.Width-a.empty.MinSize().Width)/2, (size.Height-a.empty.MinSize().Height)/2))
	if len(vis) == 0 {
		a.empty.Show()
		a.bg.Show()
	} else {
		a.empty.Hide()
		a.bg.Hide()
	}
	for _, t := range a.tiles {
		if !t.visible {
			t.img.Hide()
			t.probe.Hide()
			t.fit()
			t.placeBadge()
			t.setPixelSize(0, 0)
		}
	}
	switch {
	case len(vis) == 0:
	case a.mode == layoutPiP && len(vis) > 1:
		m := a.main(vis)
		a.place(m, fyne.Position{}, size, false)
		w := float32(math.Round(float64(size.Width * pipFraction)))
		y := size.Height - pipMargin
		for _, t := range vis {
			if t == m {
				continue
			}
			h := w / t.aspect
			y -= h
			a.place(t, fyne.NewPos(size.Width-pipMargin-w, y), fyne.NewSize(w, h), true)
			y -= pipMargin
		}
	default:
		n := len(vis)
		cols := n
		if n > 3 {
			cols = int(math.Ceil(math.Sqrt(float64(n))))
		}
		rows := (n + cols - 1) / cols
		if cols*rows > n {
			a.bg.Show() // the last row has empty cells
		}
		cw, ch := size.Width/float32(cols), size.Height/float32(rows)
		for i, t := range vis {
			a.place(t, fyne.NewPos(float32(i%cols)*cw, float32(i/cols)*ch), fyne.NewSize(cw, ch), false)
		}
	}
	if a.subs.layout(size) {
		// The first time this many lines show: their objects join.
		defer a.restack()
	}
	if a.onLayout != nil {
		a.onLayout()
	}
}

// place puts a tile at pos with size, black where its picture is not;
// inset says it is a picture-in-picture over the main tile.
func (a *videoArea) place(t *videoTile, pos fyne.Position, size fyne.Size, inset bool) {
	t.pos, t.rect, t.inset = pos, size, inset
	t.img.Move(pos)
	t.img.Resize(size)
	t.probe.Move(pos)
	t.probe.Resize(fyne.NewSize(1, 1))
	t.probe.Show()
	t.fit()
	t.placeBadge()
	s := a.scale()
	t.setPixelSize(int(size.Width*s), int(size.Height*s))
}
