package app

// A recording being written: the Live button beside the time, which says
// the player is at the live edge or takes it back there (End does too).

import (
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	avsync "reelay/sync"
)

// newLiveButton makes the Live button, hidden until a track is live.
func (pv *playerView) newLiveButton() *widget.Button {
	b := widget.NewButtonWithIcon("Live", theme.MediaRecordIcon(), pv.goLive)
	b.Hide()
	return b
}

// updateLive shows the Live button as the engine's status says: "Live"
// at the edge, "Go live" behind it, hidden for a finished recording.
func (pv *playerView) updateLive(s status) {
	pv.live, pv.liveEdge = s.live, s.liveEdge
	b := pv.liveBtn
	if !pv.live {
		if b.Visible() {
			b.Hide()
		}
		return
	}
	text, imp := "Go live", widget.MediumImportance
	if s.atEdge {
		text, imp = "Live", widget.DangerImportance
	}
	if b.Text != text || b.Importance != imp {
		b.SetText(text)
		b.Importance = imp
		b.Refresh()
	}
	if !b.Visible() {
		b.Show()
	}
}

// goLive returns to the live edge.
func (pv *playerView) goLive() {
	if !pv.live {
		return
	}
	if n := pv.ctl.GoLive(); n > 0 {
		pv.seekGen = n
		pv.position = max(pv.liveEdge-avsync.DefaultLiveDelay, 0)
		pv.buffered = nil
		pv.updateTime()
	}
}

// liveText is what the Live button says, "" while it is hidden, for the
// debug status.
func liveText(pv *playerView) string {
	if !pv.liveBtn.Visible() {
		return ""
	}
	return pv.liveBtn.Text
}
