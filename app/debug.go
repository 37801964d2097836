package app

import (
	"encoding/json"
	"io"
	gosync "sync"
	"time"

	"fyne.io/fyne/v2"
)

// debugLog writes one JSON object per line: {"ev": kind, "t_ms": …,
// fields…}. Tests read it to find the window's parts and follow its state
// without guessing at pixels. Safe for concurrent use; nil-safe.
type debugLog struct {
	// mu serialises lines.
	mu gosync.Mutex
	w  io.Writer
	// start is when the log began, for t_ms.
	start time.Time
}

func newDebugLog(w io.Writer) *debugLog {
	if w == nil {
		return nil
	}
	return &debugLog{w: w, start: time.Now()}
}

func (d *debugLog) enabled() bool { return d != nil }

func (d *debugLog) emit(kind string, fields map[string]any) {
	if d == nil {
		return
	}
	m := map[string]any{"ev": kind, "t_ms": time.Since(d.start).Milliseconds()}
	for k, v := range fields {
		m[k] = v
	}
	b, err := json.Marshal(m)
	if err != nil {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.w.Write(append([]byte(DebugPrefix), append(b, '\n')...))
}

// DebugPrefix starts every line Options.Debug receives.
const DebugPrefix = "reelay-ui: "

// rectOf is an object's place in the window, in pixels: [x, y, w, h].
func rectOf(c fyne.Canvas, o fyne.CanvasObject) [4]int {
	pos := fyne.CurrentApp().Driver().AbsolutePositionForObject(o)
	s := c.Scale()
	size := o.Size()
	return [4]int{int(pos.X * s), int(pos.Y * s), int(size.Width * s), int(size.Height * s)}
}
