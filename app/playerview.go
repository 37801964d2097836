package app

import (
	"context"
	"fmt"
	"log"
	"sync/atomic"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	p2pnet "reelay/net"
	avsync "reelay/sync"
)

// figuresPeriod is how often the status line's network figures change.
const figuresPeriod = time.Second

// Player keys' steps, as in mpv.
const (
	shortSeek  = 5 * time.Second
	longSeek   = 60 * time.Second
	volumeStep = 0.1
)

// speeds are the playback speeds [ and ] step through.
var speeds = []float64{0.5, 0.75, 1, 1.25, 1.5, 1.75, 2}

// playerVideoSize is the video area the player asks for when it opens: a
// 720p picture at its own size.
var playerVideoSize = fyne.NewSize(1280, 720)

// playerWindowSize is about the player's window: the video and the
// controls under it.
var playerWindowSize = fyne.NewSize(1280, 720+124)

// trackView is what the player view knows of one track.
type trackView struct {
	// name is the track's name; kind what it shows.
	name string
	kind trackKind
	// on is the user's choice; opened says the engine has probed it.
	on     bool
	opened bool
	// err is why it failed, nil when it plays.
	err error
	// toggle switches it; tile shows it (nil for audio).
	toggle *trackToggle
	tile   *videoTile
}

// playerView plays one recording: the video area, the track list, the
// transport controls and the status line. Its fields are owned by the UI
// goroutine unless said otherwise.
type playerView struct {
	u *ui
	// src is what the engine plays; remote is src when it is a link.
	src    avsync.Source
	remote Remote
	// link is the link being watched, "" for a local folder; folder is
	// the local folder played, "" for a link.
	link   string
	folder string
	// ctx ends the engine and the control; cancel ends it.
	ctx    context.Context
	cancel context.CancelFunc
	// closed is set when the view was closed; callbacks from other
	// goroutines check it before touching anything.
	closed atomic.Bool
	// ctl carries commands to the engine.
	ctl *control
	// opened is closed once the engine is open (or failed to); p is set
	// before (nil if it failed).
	opened chan struct{}
	p      Player

	// tracks are the recording's tracks in order; byName finds them.
	tracks []*trackView
	byName map[string]*trackView
	area   *videoArea

	// Widgets.
	seek       *seekBar
	timeText   *widget.Label
	liveBtn    *widget.Button
	playBtn    *widget.Button
	muteBtn    *widget.Button
	volume     *volumeBar
	layoutBtn  *widget.Button
	fullBtn    *widget.Button
	statusText *widget.Label
	// toggles holds the tracks' buttons.
	toggles  *fyne.Container
	controls fyne.CanvasObject
	root     *fyne.Container
	// pointer follows the mouse over the player, for the controls hidden
	// in fullscreen (autohide.go).
	pointer *pointerWatch

	// The controls in fullscreen. controlsHidden says they are hidden
	// and the picture has the whole screen. lastActive is the latest
	// mouse move or key; idleTimer hides the controls controlsIdle after
	// it, nil while not counting. pointerOnControls says the pointer is
	// over the controls, which then stay.
	controlsHidden    bool
	lastActive        time.Time
	idleTimer         *time.Timer
	pointerOnControls bool

	// Playback as shown.
	state    avsync.State
	playing  bool
	position time.Duration
	duration time.Duration
	buffered []span
	// seekGen is the newest seek asked for; positions from before it was
	// sent are not shown.
	seekGen uint64
	// live says a track is being written; liveEdge is its newest data.
	live     bool
	liveEdge time.Duration
	vol      float64
	muted    bool
	// speed is the playback speed asked for, 1 at normal speed.
	speed float64
	// rtt, path and throughput are the network figures last polled;
	// figures says them in the status line, refreshed at most every
	// figuresPeriod (each new text is a new texture Fyne keeps for a
	// minute).
	rtt        time.Duration
	path       string
	throughput float64
	figures    string
	figuresAt  time.Time
	// thinned names the tracks showing keyframes only.
	thinned []string
	// notice is the engine's latest notice; toast a passing message
	// shown until toastUntil.
	notice     string
	toast      string
	toastUntil time.Time
	// conn is the connection to the sharer as the engine last reported it
	// (zero for a local folder): net keeps it up, the window shows it.
	conn p2pnet.Connection
	// lastStatus says what the last debug status line showed.
	lastStatus string
	// layoutPending says a layout debug line is scheduled.
	layoutPending bool
	// forTimer closes the window after Options.For.
	forTimer *time.Timer
	// lastTracks and stats are the engine's latest snapshot of the tracks
	// and its counters.
	lastTracks []avsync.Track
	stats      avsync.Stats
	// overlay shows the statistics (the i key).
	overlay *statsOverlay
	// thumbs fetches the seek bar's pictures, from the first hover on.
	thumbs *thumbnailer
	// subs shows the subtitles; subsHidden says v hid them. subsAsked is
	// the newest track switch asked of the engine (control.Subscribe).
	subs       *subtitleView
	subsHidden bool
	subsAsked  uint64
	// chapters are the recording's chapters, as the engine lists them.
	chapters []avsync.Chapter
}

func newPlayerView(u *ui, src avsync.Source, link, folder string) *playerView {
	ctx, cancel := context.WithCancel(u.ctx)
	pv := &playerView{
		u: u, src: src, link: link, folder: folder, ctx: ctx, cancel: cancel, opened: make(chan struct{}),
		byName: map[string]*trackView{}, playing: true, state: avsync.StateOpening,
		vol: u.a.Preferences().FloatWithFallback(prefVolume, 1), speed: 1,
	}
	if r, ok := src.(Remote); ok {
		pv.remote = r
	}
	// The first commands, applied once the engine is open, before any
	// the user gives meanwhile.
	pv.ctl = newControl(ctx, nil)
	pv.ctl.SetVolume(pv.vol)
	pv.ctl.Play()
	var tiles []*videoTile
	for _, info := range src.Tracks() {
		tiles = append(tiles, pv.newTrackView(info.Name).tile)
	}
	pv.subs = newSubtitleView(u.do)
	pv.subs.onChange = func(text string) { u.debug.emit("subtitle", map[string]any{"text": text}) }
	pv.area = newVideoArea(tiles, pv.subs, func() float32 { return u.w.Canvas().Scale() })
	pv.area.onLayout = pv.layoutChanged
	pv.build()
	return pv
}

// newTrackView makes a track's button and tile, switched on.
func (pv *playerView) newTrackView(name string) *trackView {
	k := kindOf(avsync.Track{Name: name})
	tv := &trackView{name: name, kind: k, on: true}
	tv.toggle = newTrackToggle(name, k, true, pv.toggleTapped)
	tv.tile = newVideoTile(name, k, pv.u.do)
	tv.tile.visible = k.hasVideo()
	pv.tracks = append(pv.tracks, tv)
	pv.byName[name] = tv
	return tv
}

// addTrack shows a track that appeared in a recording being written:
// the engine switched it on (every track is), and it gets its button and
// its tile.
func (pv *playerView) addTrack(name string) *trackView {
	tv := pv.newTrackView(name)
	pv.toggles.Add(tv.toggle.btn)
	pv.area.addTile(tv.tile)
	pv.ctl.SetVideoSink(name, tv.tile)
	pv.updateLayoutButton()
	return tv
}

// build makes the widgets.
func (pv *playerView) build() {
	pv.seek = newSeekBar(func(t time.Duration, _ bool) { pv.seekTo(t) })
	pv.seek.onTip = pv.tipChanged
	pv.seek.onHover = pv.hover
	pv.timeText = widget.NewLabel(formatTime(0) + " / " + formatTime(0))
	pv.liveBtn = pv.newLiveButton()
	pv.playBtn = widget.NewButtonWithIcon("", theme.MediaPauseIcon(), pv.togglePlay)
	pv.muteBtn = widget.NewButtonWithIcon("", theme.VolumeUpIcon(), pv.toggleMute)
	pv.volume = newVolumeBar(pv.setVolume)
	pv.volume.set(pv.vol, false)
	pv.layoutBtn = widget.NewButtonWithIcon("", theme.GridIcon(), pv.toggleLayout)
	pv.fullBtn = widget.NewButtonWithIcon("", theme.ViewFullScreenIcon(), pv.u.toggleFullScreen)
	home := widget.NewButtonWithIcon("", theme.HomeIcon(), pv.u.showHome)
	pv.statusText = widget.NewLabel("Opening…")
	pv.statusText.Truncation = fyne.TextTruncateEllipsis

	pv.toggles = container.NewHBox()
	for _, tv := range pv.tracks {
		pv.toggles.Add(tv.toggle.btn)
	}
	pv.updateLayoutButton()
	seekRow := container.NewBorder(nil, nil, nil, container.NewHBox(pv.timeText, pv.liveBtn), pv.seek)
	buttons := container.NewHBox(pv.playBtn, pv.muteBtn, container.NewGridWrap(fyne.NewSize(100, seekBarHeight+8), pv.volume),
		widget.NewSeparator(), pv.toggles, layout.NewSpacer(), pv.layoutBtn, pv.fullBtn, home)
	pv.controls = container.NewPadded(container.NewVBox(seekRow, buttons, pv.statusText))
	pv.overlay = newStatsOverlay()
	pv.pointer = newPointerWatch(pv.pointerMoved, pv.pointerLeft)
	pv.root = container.New(&playerLayout{pv: pv}, pv.area.box, pv.pointer, pv.controls, pv.overlay.box)
}

// playerLayout gives the controls their height at the bottom and the
// video everything above, with no padding, so a 720p picture fits a
// window of 1280 × (720 + controls); the video has it all while the
// controls are hidden. The pointer watch covers everything.
type playerLayout struct{ pv *playerView }

func (l *playerLayout) MinSize([]fyne.CanvasObject) fyne.Size {
	c := l.pv.controls.MinSize()
	v := l.pv.area.box.MinSize()
	return fyne.NewSize(max(c.Width, v.Width), c.Height+v.Height)
}

func (l *playerLayout) Layout(_ []fyne.CanvasObject, size fyne.Size) {
	var ch float32
	if l.pv.controls.Visible() {
		ch = l.pv.controls.MinSize().Height
	}
	l.pv.pointer.Move(fyne.Position{})
	l.pv.pointer.Resize(size)
	l.pv.area.box.Move(fyne.Position{})
	l.pv.area.box.Resize(fyne.NewSize(size.Width, size.Height-ch))
	l.pv.controls.Move(fyne.NewPos(0, size.Height-ch))
	l.pv.controls.Resize(fyne.NewSize(size.Width, ch))
	l.pv.overlay.box.Move(fyne.NewPos(statsMargin, statsMargin))
	l.pv.overlay.box.Resize(l.pv.overlay.box.MinSize())
}

// show puts the view in the window and opens the engine in the
// background.
func (pv *playerView) show() {
	u := pv.u
	u.w.SetTitle(windowTitle(pv.src.Name()))
	// Sized before the content goes in: the window would otherwise first
	// grow to the content's minimum and may settle there.
	s := u.w.Canvas().Scale()
	ch := pv.controls.MinSize().Height
	if !u.w.FullScreen() {
		u.resize(fyne.NewSize(playerVideoSize.Width/s, playerVideoSize.Height/s+ch))
	}
	u.setContent("player", pv.root, false)
	go pv.openEngine()
}

// openEngine opens the engine and starts the control; off the UI
// goroutine.
func (pv *playerView) openEngine() {
	defer close(pv.opened)
	o := avsync.Options{OnEvent: pv.onEvent, VideoSize: pv.area.VideoSize}
	p, err := pv.u.o.OpenPlayer(pv.ctx, pv.src, o)
	if err != nil {
		pv.u.do(func() {
			if pv.closed.Load() {
				return
			}
			pv.u.showHome()
			pv.u.showError("Could not play the recording", err)
		})
		return
	}
	pv.p = p
	for _, tv := range pv.tracks {
		p.SetVideoSink(tv.name, tv.tile)
	}
	p.SetSubtitleSink(pv.subs)
	pv.ctl.p = p
	if r := pv.remote; r != nil {
		pv.ctl.link = func() (time.Duration, string) { return r.RTT(), r.Path() }
	}
	pv.ctl.onStatus = func(s status) {
		pv.u.do(func() {
			if !pv.closed.Load() {
				pv.applyStatus(s)
				// A dialog may have opened, or playing stopped.
				pv.checkControls()
			}
		})
	}
	pv.ctl.onSubscribeError = func(track string, on bool, err error) {
		pv.u.do(func() {
			if !pv.closed.Load() {
				pv.u.showError(fmt.Sprintf("Could not switch %q %s", track, onOff(on)), err)
			}
		})
	}
	pv.ctl.start()
	pv.u.do(func() {
		if pv.closed.Load() {
			return
		}
		if at := pv.u.resumeAt(pv.resumeKey()); at > 0 {
			pv.seekTo(at)
			pv.showToast("Resumed where you left off, at " + formatTime(at))
		}
	})
}

func onOff(on bool) string {
	if on {
		return "on"
	}
	return "off"
}

// close stops the engine and the control, off the UI goroutine; UI
// goroutine (or after the app stopped).
func (pv *playerView) close() {
	if pv.closed.Swap(true) {
		return
	}
	for _, tv := range pv.tracks {
		tv.tile.detached.Store(true)
	}
	pv.subs.detached.Store(true)
	if pv.forTimer != nil {
		pv.forTimer.Stop()
	}
	pv.stopIdle()
	if m := pv.u.measure; m != nil {
		m.end(pv, pv.lastTracks, "closed")
	}
	if key := pv.resumeKey(); key != "" {
		pos := pv.position
		if pv.state == avsync.StateEnded {
			pos = pv.duration
		}
		pv.u.rememberPosition(key, pos, pv.duration)
	}
	pv.cancel()
	if t := pv.thumbs; t != nil {
		pv.u.background.Go(t.close)
	}
	pv.u.background.Go(func() {
		<-pv.opened
		if pv.p != nil {
			pv.ctl.close()
			pv.p.Close()
		}
		if pv.remote != nil {
			pv.remote.Close()
		}
	})
}

// onEvent receives the engine's events on its event goroutine and hands
// them, copied, to the UI goroutine.
func (pv *playerView) onEvent(ev avsync.Event) {
	if pv.closed.Load() {
		return
	}
	pv.u.do(func() {
		if !pv.closed.Load() {
			pv.handleEvent(ev)
		}
	})
}

func (pv *playerView) handleEvent(ev avsync.Event) {
	switch ev.Kind {
	case avsync.EventState:
		pv.setState(ev.State)
	case avsync.EventDuration:
		pv.duration = ev.Duration
		pv.updateTime()
	case avsync.EventTrack:
		tv := pv.byName[ev.Track]
		if tv == nil {
			return
		}
		if ev.State == avsync.StateError && ev.Err != nil {
			pv.trackFailed(tv, ev.Err)
		} else if ev.State != avsync.StateError && tv.err != nil && ev.State != avsync.StateOff {
			tv.err = nil
			pv.updateTrack(tv)
		}
	case avsync.EventNotice:
		// The connection's changes come with the status (showConnection).
		// The status line has the words; the log the detail.
		pv.notice = ev.Notice
		if ev.Err != nil {
			log.Printf("reelay: %s: %v", ev.Notice, ev.Err)
		}
		pv.updateStatus()
	case avsync.EventSeeked:
		pv.u.debug.emit("seeked", map[string]any{"pos_ms": ev.Position.Milliseconds(), "latency_ms": ev.Latency.Milliseconds()})
	}
}

func (pv *playerView) setState(st avsync.State) {
	if st == pv.state {
		return
	}
	pv.state = st
	switch st {
	case avsync.StatePlaying, avsync.StateBuffering:
		pv.playing = true
	case avsync.StatePaused, avsync.StateEnded, avsync.StateError:
		pv.playing = false
	}
	pv.updatePlayButton()
	pv.updateStatus()
	pv.checkControls()
	if st == avsync.StatePlaying {
		if m := pv.u.measure; m != nil && m.started.IsZero() {
			m.begin(pv, pv.lastTracks)
		}
		if d := pv.u.o.For; d > 0 && pv.forTimer == nil {
			pv.forTimer = time.AfterFunc(d, func() {
				pv.u.do(func() { pv.finishMeasure("for") })
			})
		}
	}
	if st == avsync.StateEnded && pv.u.o.For > 0 {
		pv.finishMeasure("end")
	}
	if st == avsync.StateError {
		var msgs []string
		for _, tv := range pv.tracks {
			if tv.err != nil {
				msg, _ := explain(tv.err)
				msgs = append(msgs, msg)
			}
		}
		if len(msgs) == 0 {
			msgs = append(msgs, "every track failed")
		}
		pv.u.debug.emit("player-error", map[string]any{"messages": msgs})
	}
}

// finishMeasure ends a measured run and closes the window.
func (pv *playerView) finishMeasure(reason string) {
	if pv.closed.Load() {
		return
	}
	if m := pv.u.measure; m != nil {
		m.end(pv, pv.lastTracks, reason)
	}
	pv.u.quitNow()
}

// updateTrack shows a track's state on its toggle and in the video area.
func (pv *playerView) updateTrack(tv *trackView) {
	tv.toggle.set(tv.on, tv.kind, tv.err != nil)
	visible := tv.on && tv.err == nil && tv.kind.hasVideo()
	if visible != tv.tile.visible {
		tv.tile.visible = visible
		tv.tile.kind = tv.kind
		if !visible {
			tv.tile.clear()
		}
		pv.area.restack()
		pv.updateLayoutButton()
	} else if tv.tile.kind != tv.kind {
		tv.tile.kind = tv.kind
		pv.area.restack()
	}
}

func (pv *playerView) toggleTapped(t *trackToggle) {
	tv := pv.byName[t.track]
	if tv == nil {
		return
	}
	on := !tv.on
	if tv.err != nil {
		// Tapping a failed track tries it again.
		on = true
	}
	tv.on, tv.err = on, nil
	pv.subsAsked = pv.ctl.Subscribe(tv.name, on)
	pv.updateTrack(tv)
	pv.u.debug.emit("toggle", map[string]any{"track": tv.name, "on": on})
}

func (pv *playerView) updatePlayButton() {
	icon := theme.MediaPlayIcon()
	if pv.playing {
		icon = theme.MediaPauseIcon()
	}
	pv.playBtn.SetIcon(icon)
}

func (pv *playerView) updateVolume() {
	icon := theme.VolumeUpIcon()
	switch {
	case pv.muted:
		icon = theme.VolumeMuteIcon()
	case pv.vol < 0.5:
		icon = theme.VolumeDownIcon()
	}
	pv.muteBtn.SetIcon(icon)
	pv.volume.set(pv.vol, pv.muted)
	pv.updateStatus()
}

// updateLayoutButton offers the other layout, when two pictures or more
// are on screen to lay out.
func (pv *playerView) updateLayoutButton() {
	if len(pv.area.visible()) < 2 {
		pv.layoutBtn.Hide()
		return
	}
	pv.layoutBtn.Show()
	if pv.area.mode == layoutPiP {
		pv.layoutBtn.SetText("Side by side")
		pv.layoutBtn.SetIcon(theme.GridIcon())
	} else {
		pv.layoutBtn.SetText("Picture in picture")
		pv.layoutBtn.SetIcon(theme.ViewRestoreIcon())
	}
}

func (pv *playerView) updateFullButton() {
	if pv.u.w.FullScreen() {
		pv.fullBtn.SetIcon(theme.ViewRestoreIcon())
	} else {
		pv.fullBtn.SetIcon(theme.ViewFullScreenIcon())
	}
}

// tipChanged writes a debug line with what the seek bar's tooltip says
// and where it is, in window pixels.
func (pv *playerView) tipChanged(text string) {
	if !pv.u.debug.enabled() {
		return
	}
	c := pv.u.w.Canvas()
	s := c.Scale()
	bar := fyne.CurrentApp().Driver().AbsolutePositionForObject(pv.seek)
	p, size := bar.Add(pv.seek.tipRect), pv.seek.tipSize
	pv.u.debug.emit("seek-tip", map[string]any{
		"text": text, "tip": [4]int{int(p.X * s), int(p.Y * s), int(size.Width * s), int(size.Height * s)},
		"seekbar": rectOf(c, pv.seek),
	})
}

// layoutChanged schedules a debug layout line once the layout settled.
func (pv *playerView) layoutChanged() {
	if !pv.u.debug.enabled() || pv.layoutPending {
		return
	}
	pv.layoutPending = true
	pv.u.do(func() {
		pv.layoutPending = false
		if !pv.closed.Load() {
			pv.emitLayout()
		}
	})
}

func (pv *playerView) emitLayout() {
	c := pv.u.w.Canvas()
	s := c.Scale()
	tiles := map[string]any{}
	toggles := map[string]any{}
	for _, tv := range pv.tracks {
		if tv.tile.visible {
			tiles[tv.name] = rectOf(c, tv.tile.img)
		}
		toggles[tv.name] = rectOf(c, tv.toggle.btn)
	}
	size := c.Size()
	pv.u.debug.emit("layout", map[string]any{
		"window": [2]int{int(size.Width * s), int(size.Height * s)}, "fullscreen": pv.u.w.FullScreen(),
		"mode": pv.area.mode.String(), "video": rectOf(c, pv.area.box), "tiles": tiles, "toggles": toggles,
		"time": rectOf(c, pv.timeText), "seekbar": rectOf(c, pv.seek), "status": rectOf(c, pv.statusText),
		"controls": !pv.controlsHidden,
	})
}
