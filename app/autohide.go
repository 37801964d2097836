package app

// In fullscreen the controls and the status line step aside while the
// recording plays and nobody touches anything, so the picture has the
// whole screen, and come back on the first move of the mouse or key.

import (
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/widget"
)

// controlsIdle is how long the controls stay in fullscreen without a
// mouse move or a key, as in mpv and browser players.
const controlsIdle = 3 * time.Second

// pointerWatch lies over the whole player, under the controls, and
// tells the player view where the pointer moves: Fyne tells only the
// topmost hoverable object under the pointer, and nothing else in the
// player hovers over the picture. It draws nothing and takes no taps.
type pointerWatch struct {
	widget.BaseWidget
	// onMove receives each position of the pointer over the player.
	onMove func(fyne.Position)
	// onOut is called when the pointer went onto a control that hovers
	// (a button, the seek bar) or out of the window.
	onOut func()
}

func newPointerWatch(onMove func(fyne.Position), onOut func()) *pointerWatch {
	p := &pointerWatch{onMove: onMove, onOut: onOut}
	p.ExtendBaseWidget(p)
	return p
}

func (p *pointerWatch) MouseIn(e *desktop.MouseEvent)    { p.onMove(e.Position) }
func (p *pointerWatch) MouseMoved(e *desktop.MouseEvent) { p.onMove(e.Position) }
func (p *pointerWatch) MouseOut()                        { p.onOut() }

// CreateRenderer draws nothing: with a software GL every object painted
// over the picture costs on every frame.
func (p *pointerWatch) CreateRenderer() fyne.WidgetRenderer { return emptyRenderer{} }

var _ desktop.Hoverable = (*pointerWatch)(nil)

// emptyRenderer is the renderer of a widget with nothing to draw.
type emptyRenderer struct{}

func (emptyRenderer) Destroy()                     {}
func (emptyRenderer) Layout(fyne.Size)             {}
func (emptyRenderer) MinSize() fyne.Size           { return fyne.Size{} }
func (emptyRenderer) Objects() []fyne.CanvasObject { return nil }
func (emptyRenderer) Refresh()                     {}

// pointerMoved is a move of the pointer over the player: it shows the
// controls, and notes whether the pointer is on them, where they stay.
func (pv *playerView) pointerMoved(at fyne.Position) {
	pv.pointerOnControls = !pv.controlsHidden && at.Y >= pv.controls.Position().Y
	pv.activity()
}

// pointerLeft: the pointer went onto a control that takes the hover
// itself, a button or the seek bar, where the controls stay until it
// moves over the picture again. (It may instead have left the window
// for another screen; the controls then stay too, which does no harm.)
func (pv *playerView) pointerLeft() {
	pv.pointerOnControls = !pv.controlsHidden
}

// activity is a mouse move or a key: the controls show, and hide again
// controlsIdle after the last one if nothing keeps them.
func (pv *playerView) activity() {
	if pv.closed.Load() {
		return
	}
	pv.lastActive = time.Now()
	if pv.controlsHidden {
		pv.showControls(true)
	}
	pv.armIdle()
}

// mayHideControls says nothing keeps the controls on screen: the window
// is fullscreen, the recording plays (or buffers to), the pointer is not on the controls,
// no seek is being dragged, and no dialog is open.
func (pv *playerView) mayHideControls() bool {
	u := pv.u
	switch {
	case !u.w.FullScreen(), !pv.playing:
		// Paused, ended or failed: the controls are what comes next.
		return false
	case pv.pointerOnControls, pv.seek.dragging:
		return false
	case u.dialog != nil, u.w.Canvas().Overlays().Top() != nil:
		return false
	}
	return true
}

// checkControls shows the controls when something now keeps them, and
// starts counting the idle time afresh when nothing does any more (the
// recording plays again, a dialog closed); it runs with every status the
// engine publishes and when the window enters or leaves fullscreen.
func (pv *playerView) checkControls() {
	if pv.closed.Load() {
		return
	}
	if !pv.mayHideControls() {
		if pv.controlsHidden {
			pv.showControls(true)
		}
		return
	}
	if !pv.controlsHidden && pv.idleTimer == nil {
		pv.lastActive = time.Now()
		pv.armIdle()
	}
}

// armIdle starts the timer that hides the controls, unless it runs
// already or nothing would be hidden.
func (pv *playerView) armIdle() {
	if pv.idleTimer != nil || pv.controlsHidden || !pv.mayHideControls() {
		return
	}
	pv.startIdleTimer(pv.u.controlsIdle)
}

func (pv *playerView) startIdleTimer(d time.Duration) {
	pv.idleTimer = time.AfterFunc(d, func() {
		pv.u.do(pv.idleTimeout)
	})
}

// idleTimeout hides the controls once nothing moved for controlsIdle and
// nothing keeps them; moves meanwhile only postponed it.
func (pv *playerView) idleTimeout() {
	pv.idleTimer = nil
	if pv.closed.Load() || pv.controlsHidden || !pv.mayHideControls() {
		return
	}
	if left := pv.u.controlsIdle - time.Since(pv.lastActive); left > 0 {
		pv.startIdleTimer(left)
		return
	}
	pv.showControls(false)
}

// stopIdle stops the timer, when the view closes.
func (pv *playerView) stopIdle() {
	if pv.idleTimer != nil {
		pv.idleTimer.Stop()
		pv.idleTimer = nil
	}
}

// showControls shows or hides the controls and the status line; the
// picture takes the room they leave.
func (pv *playerView) showControls(on bool) {
	if pv.controlsHidden == !on {
		return
	}
	pv.controlsHidden = !on
	if on {
		pv.controls.Show()
	} else {
		pv.pointerOnControls = false
		pv.controls.Hide()
	}
	pv.root.Refresh()
	pv.u.debug.emit("controls", map[string]any{"shown": on})
}
