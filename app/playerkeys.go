package app

// What the player's keys and buttons do.

import (
	"math"
	"slices"
	"time"

	"fyne.io/fyne/v2"

	avsync "reelay/sync"
)

// seekTo asks the engine for the picture at t, and shows t at once.
func (pv *playerView) seekTo(t time.Duration) {
	t = max(t, 0)
	if pv.duration > 0 {
		t = min(t, pv.duration)
	}
	pv.seekGen = pv.ctl.Seek(t)
	pv.position = t
	pv.buffered = nil
	pv.updateTime()
}

// seekBy moves from the position shown, which is the newest target until
// the engine reports from after it, so repeated keys add up.
func (pv *playerView) seekBy(d time.Duration) { pv.seekTo(pv.position + d) }

func (pv *playerView) togglePlay() {
	if pv.playing {
		pv.playing = false
		pv.ctl.Pause()
	} else {
		pv.playing = true
		pv.ctl.Play()
	}
	pv.updatePlayButton()
}

// stepFrame pauses and steps one picture forward or back.
func (pv *playerView) stepFrame(dir int) {
	if pv.playing {
		pv.playing = false
		pv.updatePlayButton()
	}
	pv.ctl.StepFrame(dir)
}

func (pv *playerView) toggleMute() {
	pv.muted = !pv.muted
	pv.ctl.SetMuted(pv.muted)
	pv.updateVolume()
}

func (pv *playerView) setVolume(v float64) {
	v = min(max(v, 0), 1)
	v = float64(int(v*100+0.5)) / 100
	pv.vol = v
	pv.ctl.SetVolume(v)
	// Only a change is written: each write rewrites the preferences file.
	if prefs := pv.u.a.Preferences(); prefs.FloatWithFallback(prefVolume, 1) != v {
		prefs.SetFloat(prefVolume, v)
	}
	pv.updateVolume()
}

// stepSpeed moves the speed dir steps along speeds (from the nearest one
// to the speed now), or back to normal for dir 0.
func (pv *playerView) stepSpeed(dir int) {
	i := slices.Index(speeds, 1.0)
	if dir != 0 {
		cur := pv.speed
		i = 0
		for j, s := range speeds {
			if math.Abs(s-cur) < math.Abs(speeds[i]-cur) {
				i = j
			}
		}
		i = min(max(i+dir, 0), len(speeds)-1)
	}
	if speeds[i] == pv.speed {
		return
	}
	pv.speed = speeds[i]
	pv.ctl.SetSpeed(pv.speed)
	pv.updateStatus()
}

// toggleSubtitles shows or hides the subtitles, as mpv's v.
func (pv *playerView) toggleSubtitles() {
	pv.subsHidden = !pv.subsHidden
	pv.ctl.SetSubtitlesShown(!pv.subsHidden)
	if pv.subsHidden {
		pv.showToast("Subtitles hidden")
	} else {
		pv.showToast("Subtitles shown")
	}
}

// cycleSubtitles switches to the next subtitle track, and after the last
// to none, as mpv's j.
func (pv *playerView) cycleSubtitles() {
	var subs []*trackView
	cur := -1
	for _, tv := range pv.tracks {
		if tv.kind == kindSubtitles {
			if tv.on && cur < 0 {
				cur = len(subs)
			}
			subs = append(subs, tv)
		}
	}
	if len(subs) == 0 {
		return
	}
	if cur >= 0 {
		// The engine keeps one subtitle track on: switching the next on
		// switches this one off, but the last goes off by itself.
		subs[cur].on = false
		if cur == len(subs)-1 {
			pv.subsAsked = pv.ctl.Subscribe(subs[cur].name, false)
		}
		pv.updateTrack(subs[cur])
	}
	if next := cur + 1; next < len(subs) {
		subs[next].on, subs[next].err = true, nil
		pv.subsAsked = pv.ctl.Subscribe(subs[next].name, true)
		pv.updateTrack(subs[next])
		pv.showToast("Subtitles: " + subs[next].name)
		return
	}
	pv.showToast("Subtitles off")
}

// seekChapter goes to the next chapter (dir > 0) or back, where the
// engine says the chapter keys go, and says which chapter it is.
func (pv *playerView) seekChapter(dir int) {
	t, ok := avsync.ChapterTarget(pv.chapters, pv.position, dir)
	if !ok {
		return
	}
	pv.seekTo(t)
	if title := chapterAt(pv.chapters, t); title != "" {
		pv.showToast("Chapter: " + title)
	}
}

func (pv *playerView) toggleLayout() {
	if pv.area.mode == layoutPiP {
		pv.area.setMode(layoutSideBySide)
	} else {
		pv.area.setMode(layoutPiP)
	}
	pv.updateLayoutButton()
}

// typedKey handles the player's keys, as in mpv.
func (pv *playerView) typedKey(e *fyne.KeyEvent) {
	switch e.Name {
	case fyne.KeySpace:
		pv.togglePlay()
	case fyne.KeyLeft:
		pv.seekBy(-shortSeek)
	case fyne.KeyRight:
		pv.seekBy(shortSeek)
	case fyne.KeyUp:
		pv.seekBy(longSeek)
	case fyne.KeyDown:
		pv.seekBy(-longSeek)
	case fyne.KeyM:
		pv.toggleMute()
	case fyne.Key9:
		pv.setVolume(pv.vol - volumeStep)
	case fyne.Key0:
		pv.setVolume(pv.vol + volumeStep)
	case fyne.KeyF:
		pv.u.toggleFullScreen()
	case fyne.KeyEscape:
		pv.u.setFullScreen(false)
	case fyne.KeyLeftBracket:
		pv.stepSpeed(-1)
	case fyne.KeyRightBracket:
		pv.stepSpeed(1)
	case fyne.KeyBackspace:
		pv.stepSpeed(0)
	case fyne.KeyPeriod:
		pv.stepFrame(1)
	case fyne.KeyComma:
		pv.stepFrame(-1)
	case fyne.KeyS:
		pv.screenshot()
	case fyne.KeyI:
		pv.overlay.toggle(pv)
	case fyne.KeyV:
		pv.toggleSubtitles()
	case fyne.KeyJ:
		pv.cycleSubtitles()
	case fyne.KeyPageUp:
		pv.seekChapter(-1)
	case fyne.KeyPageDown:
		pv.seekChapter(1)
	case fyne.KeyEnd:
		pv.goLive()
	case fyne.KeyQ:
		pv.u.quitNow()
	default:
		return
	}
	pv.u.debug.emit("key", map[string]any{"key": string(e.Name)})
	pv.updateFullButton()
}
