package app

import (
	"fyne.io/fyne/v2"
	"github.com/go-gl/glfw/v3.3/glfw"
)

// screenFraction is the most of the screen a window sized by the app
// takes, leaving room for a desktop's panels and the window's frame.
const screenFraction = 0.92

// watchScreen learns, once the driver runs, the size of the screen the
// window opens on, and shrinks the window to fit it: the player is
// 1280×844, taller than a 1366×768 or 1280×800 screen, whose bottom edge
// would hide the status line. Fyne has no screen-size API; its desktop
// driver is GLFW, asked on the main thread once it has started. Sizes the
// app sets later go through resize.
func (u *ui) watchScreen() {
	u.a.Lifecycle().SetOnStarted(func() {
		m := glfw.GetPrimaryMonitor()
		if m == nil {
			return
		}
		mode := m.GetVideoMode()
		if mode == nil || mode.Width <= 0 || mode.Height <= 0 {
			return
		}
		s := u.w.Canvas().Scale()
		u.screen = fyne.NewSize(float32(mode.Width)/s*screenFraction, float32(mode.Height)/s*screenFraction)
		u.debug.emit("screen", map[string]any{"screen": [2]int{mode.Width, mode.Height}})
		if size := u.w.Canvas().Size(); size.Width > u.screen.Width || size.Height > u.screen.Height {
			u.resize(size)
		}
	})
}

// resize gives the window size, or as much of it as fits the screen.
func (u *ui) resize(size fyne.Size) {
	if u.screen.Width > 0 {
		size = fyne.NewSize(min(size.Width, u.screen.Width), min(size.Height, u.screen.Height))
	}
	u.w.Resize(size)
}
