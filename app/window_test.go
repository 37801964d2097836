package app

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	gosync "sync"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"reelay/assets"
	"reelay/media"
	"reelay/media/mediatest"
	p2pnet "reelay/net"
	"reelay/net/track"
	avsync "reelay/sync"
)

// uiQueue stands in for fyne.Do: functions handed to it run on the test's
// goroutine when it flushes, as they would on the UI goroutine, so the
// test and the window never touch widgets at the same time.
type uiQueue struct {
	mu  gosync.Mutex
	fns []func()
}

func (q *uiQueue) do(fn func()) {
	q.mu.Lock()
	q.fns = append(q.fns, fn)
	q.mu.Unlock()
}

func (q *uiQueue) flush() {
	for {
		q.mu.Lock()
		fns := q.fns
		q.fns = nil
		q.mu.Unlock()
		if len(fns) == 0 {
			return
		}
		for _, fn := range fns {
			fn()
		}
	}
}

// fakePlayer records what the window asks of the engine.
type fakePlayer struct {
	mu       gosync.Mutex
	calls    []string
	seeks    []time.Duration
	subs     []string
	volume   float64
	muted    bool
	speed    float64
	playing  bool
	position time.Duration
	duration time.Duration
	sinks    map[string]avsync.VideoSink
	tracks   []avsync.Track
	onEvent  func(avsync.Event)
	closed   bool
	conn     p2pnet.Connection
	subSink  avsync.SubtitleSink
	chapters []avsync.Chapter
}

func newFakePlayer() *fakePlayer {
	video := func(w, h int) []media.StreamInfo {
		return []media.StreamInfo{{Kind: media.KindVideo, Width: w, Height: h, FrameRate: 30}}
	}
	return &fakePlayer{
		duration: 60 * time.Second, volume: 1, sinks: map[string]avsync.VideoSink{},
		tracks: []avsync.Track{
			{Name: "screen", On: true, State: avsync.StatePlaying, Streams: video(1280, 720)},
			{Name: "camera", On: true, State: avsync.StatePlaying, Streams: video(640, 360)},
			{Name: "mic", On: true, State: avsync.StatePlaying, Streams: []media.StreamInfo{{Kind: media.KindAudio}}},
		},
	}
}

func (f *fakePlayer) record(c string) {
	f.mu.Lock()
	f.calls = append(f.calls, c)
	f.mu.Unlock()
}

func (f *fakePlayer) Play() {
	f.mu.Lock()
	f.playing = true
	f.mu.Unlock()
	f.record("play")
}

func (f *fakePlayer) Pause() {
	f.mu.Lock()
	f.playing = false
	f.mu.Unlock()
	f.record("pause")
}

// GoLive does nothing: the fake plays no live recording.
func (f *fakePlayer) GoLive() uint64 { return 0 }

func (f *fakePlayer) Seek(t time.Duration) uint64 {
	f.mu.Lock()
	f.seeks = append(f.seeks, t)
	f.position = t
	n := uint64(len(f.seeks))
	f.mu.Unlock()
	f.record("seek")
	return n
}

func (f *fakePlayer) Subscribe(track string, on bool) error {
	f.mu.Lock()
	f.subs = append(f.subs, track+"="+onOff(on))
	subtitles := func(t avsync.Track) bool { return t.HasSubtitles() && !t.HasVideo() && !t.HasAudio() }
	for i, t := range f.tracks {
		switch {
		case t.Name == track:
			f.tracks[i].On = on
		case on && subtitles(t) && slices.ContainsFunc(f.tracks, func(x avsync.Track) bool { return x.Name == track && subtitles(x) }):
			// As the engine: one subtitle track on at a time.
			f.tracks[i].On = false
		}
	}
	f.mu.Unlock()
	f.record("subscribe")
	return nil
}

func (f *fakePlayer) SetVideoSink(track string, s avsync.VideoSink) {
	f.mu.Lock()
	f.sinks[track] = s
	f.mu.Unlock()
}

func (f *fakePlayer) SetSubtitleSink(s avsync.SubtitleSink) {
	f.mu.Lock()
	f.subSink = s
	f.mu.Unlock()
}

func (f *fakePlayer) SetSubtitlesShown(on bool) {
	f.record("subtitles " + onOff(on))
}

func (f *fakePlayer) SetVolume(v float64) {
	f.mu.Lock()
	f.volume = v
	f.mu.Unlock()
	f.record("volume")
}

func (f *fakePlayer) SetMuted(m bool) {
	f.mu.Lock()
	f.muted = m
	f.mu.Unlock()
	f.record("mute")
}

func (f *fakePlayer) StepFrame(dir int) {
	f.mu.Lock()
	f.playing = false
	f.mu.Unlock()
	f.record(fmt.Sprintf("step %+d", dir))
}

func (f *fakePlayer) SetSpeed(r float64) {
	f.mu.Lock()
	f.speed = r
	f.mu.Unlock()
	f.record(fmt.Sprintf("speed %g", r))
}

func (f *fakePlayer) Status() avsync.Status {
	f.mu.Lock()
	defer f.mu.Unlock()
	return avsync.Status{
		Position: f.position, Duration: f.duration, State: avsync.StatePlaying,
		Tracks: slices.Clone(f.tracks), Seek: uint64(len(f.seeks)),
		Stats: avsync.Stats{Connection: f.conn}, Chapters: f.chapters,
	}
}

// setConnection is what the engine reports of the connection from now on.
func (f *fakePlayer) setConnection(c p2pnet.Connection) {
	f.mu.Lock()
	f.conn = c
	f.mu.Unlock()
}

// Tracks are the tracks as the engine would list them.
func (f *fakePlayer) Tracks() []avsync.Track { return f.Status().Tracks }

func (f *fakePlayer) Close() error {
	f.mu.Lock()
	f.closed = true
	f.mu.Unlock()
	return nil
}

// snapshot returns a copy of the recorded values.
func (f *fakePlayer) snapshot() (seeks []time.Duration, subs []string, volume float64, muted, playing bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.seeks), slices.Clone(f.subs), f.volume, f.muted, f.playing
}

func (f *fakePlayer) event(ev avsync.Event) {
	f.mu.Lock()
	fn := f.onEvent
	f.mu.Unlock()
	fn(ev)
}

// fakeSource is a recording with a screen, a camera and a mic.
// fakeSource lists tracks by name: screen, camera and mic unless given.
type fakeSource struct {
	name   string
	tracks []string
}

func (s fakeSource) Name() string { return s.name }
func (s fakeSource) Tracks() []p2pnet.TrackInfo {
	names := s.tracks
	if names == nil {
		names = []string{"screen", "camera", "mic"}
	}
	var out []p2pnet.TrackInfo
	for _, n := range names {
		out = append(out, p2pnet.TrackInfo{Name: n})
	}
	return out
}
func (s fakeSource) OpenTrack(string) (avsync.TrackReader, error) {
	return nil, errors.New("fake source")
}

// fakeRemote is a dialled recording whose connection the test controls.
type fakeRemote struct {
	fakeSource
	mu     gosync.Mutex
	closed bool
}

func (r *fakeRemote) RTT() time.Duration { return 3 * time.Millisecond }
func (r *fakeRemote) Path() string       { return p2pnet.PathHolePunched.String() }
func (r *fakeRemote) Close() error {
	r.mu.Lock()
	r.closed = true
	r.mu.Unlock()
	return nil
}

// harness is a window on Fyne's test driver with a fake engine.
type harness struct {
	t     *testing.T
	q     *uiQueue
	w     fyne.Window
	u     *ui
	fp    *fakePlayer
	quits int
}

func newHarness(t *testing.T, o Options) *harness {
	t.Helper()
	a := test.NewTempApp(t)
	h := &harness{t: t, q: &uiQueue{}, fp: newFakePlayer()}
	h.w = test.NewTempWindow(t, nil)
	h.w.Resize(fyne.NewSize(1280, 840))
	if o.OpenPlayer == nil {
		o.OpenPlayer = func(_ context.Context, _ avsync.Source, po avsync.Options) (Player, error) {
			h.fp.mu.Lock()
			h.fp.onEvent = po.OnEvent
			h.fp.mu.Unlock()
			return h.fp, nil
		}
	}
	h.u = newUI(t.Context(), a, h.w, o, h.q.do)
	h.u.quit = func() { h.quits++ }
	t.Cleanup(func() {
		h.u.leave()
		h.q.flush()
		h.u.background.Wait()
	})
	return h
}

// waitFor flushes the UI queue until cond holds.
func (h *harness) waitFor(what string, cond func() bool) {
	h.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		h.q.flush()
		if cond() {
			return
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// openPlayer shows the player on a local fake recording and waits for
// the engine to be open and the first commands applied.
func (h *harness) openPlayer() *playerView {
	h.t.Helper()
	// The tracks the fake engine lists.
	var names []string
	for _, tr := range h.fp.Tracks() {
		names = append(names, tr.Name)
	}
	h.u.openPlayer(fakeSource{name: "Standup", tracks: names}, "", "")
	pv := h.u.player
	h.waitFor("the engine to open and play", func() bool {
		_, _, _, _, playing := h.fp.snapshot()
		return playing
	})
	h.fp.event(avsync.Event{Kind: avsync.EventDuration, Duration: 60 * time.Second})
	h.fp.event(avsync.Event{Kind: avsync.EventState, State: avsync.StatePlaying})
	h.waitFor("the duration", func() bool { return pv.duration == 60*time.Second && pv.state == avsync.StatePlaying })
	return pv
}

func (h *harness) key(name fyne.KeyName) {
	h.w.Canvas().OnTypedKey()(&fyne.KeyEvent{Name: name})
}

// playerOpened waits for the player asked for to show, its engine to
// open and a minute's duration to reach it.
func (h *harness) playerOpened() *playerView {
	h.t.Helper()
	h.waitFor("the player", func() bool { return h.u.player != nil })
	pv := h.u.player
	h.waitFor("the engine", func() bool {
		select {
		case <-pv.opened:
			return true
		default:
			return false
		}
	})
	h.fp.event(avsync.Event{Kind: avsync.EventDuration, Duration: 60 * time.Second})
	h.waitFor("the duration", func() bool { return pv.duration == 60*time.Second })
	return pv
}

// lastSeek waits for the engine to have been asked for want last.
func (h *harness) lastSeek(want time.Duration) {
	h.t.Helper()
	h.waitFor("a seek to "+want.String(), func() bool {
		seeks, _, _, _, _ := h.fp.snapshot()
		return len(seeks) > 0 && seeks[len(seeks)-1] == want
	})
}

// dialogText is what the dialog on top says: its visible labels, the
// title included; "" without a dialog.
func (h *harness) dialogText() string {
	top := h.w.Canvas().Overlays().Top()
	if top == nil {
		return ""
	}
	var texts []string
	for _, o := range test.LaidOutObjects(top) {
		if l, ok := o.(*widget.Label); ok && l.Visible() && !l.Selectable {
			texts = append(texts, l.Text)
		}
	}
	return strings.Join(texts, "\n")
}

// dialogDetails is what the dialog on top holds behind Details.
func (h *harness) dialogDetails() string {
	top := h.w.Canvas().Overlays().Top()
	if top == nil {
		return ""
	}
	for _, o := range test.LaidOutObjects(top) {
		if l, ok := o.(*widget.Label); ok && l.Selectable {
			return l.Text
		}
	}
	return ""
}

// closeDialog closes the dialog on top with Esc.
func (h *harness) closeDialog() {
	h.w.Canvas().OnTypedKey()(&fyne.KeyEvent{Name: fyne.KeyEscape})
}

func TestSeekBarSeeksToTheTimeUnderThePointer(t *testing.T) {
	h := newHarness(t, Options{})
	pv := h.openPlayer()
	w := pv.seek.Size().Width
	if w <= 0 {
		t.Fatal("the seek bar has no width")
	}
	test.TapAt(pv.seek, fyne.NewPos(w/4, seekBarHeight/2))
	h.lastSeek(15 * time.Second)
	if got := pv.timeText.Text; got != "0:15 / 1:00" {
		t.Errorf("after seeking to 15 s the time says %q", got)
	}

	// Dragging previews as it goes and ends where released.
	for _, f := range []float32{0.3, 0.4, 0.5} {
		pv.seek.Dragged(&fyne.DragEvent{PointEvent: fyne.PointEvent{Position: fyne.NewPos(w*f, 5)}})
		h.q.flush()
	}
	h.lastSeek(30 * time.Second)
	pv.seek.DragEnd()
	h.lastSeek(30 * time.Second)
	seeks, _, _, _, _ := h.fp.snapshot()
	for i := 1; i < len(seeks); i++ {
		if seeks[i] < seeks[i-1] {
			t.Errorf("seeks went back while dragging forward: %v", seeks)
		}
	}
	if got := pv.timeText.Text; got != "0:30 / 1:00" {
		t.Errorf("after dragging to 30 s the time says %q", got)
	}

	// A position polled from before the seek was sent is not shown.
	pv.applyStatus(status{seekGen: pv.seekGen - 1, position: 2 * time.Second, duration: time.Minute})
	if pv.position != 30*time.Second {
		t.Errorf("a stale poll moved the position to %v", pv.position)
	}
}

// TestSeekBarShowsWhatEveryTrackHasBuffered: the bar's buffered spans are
// the parts every track playing has at hand; a track switched off or
// failed does not narrow them.
func TestSeekBarShowsWhatEveryTrackHasBuffered(t *testing.T) {
	h := newHarness(t, Options{})
	pv := h.openPlayer()
	s := time.Second
	r := func(a, b time.Duration) avsync.TimeRange { return avsync.TimeRange{Start: a * s, End: b * s} }
	tracks := h.fp.Tracks()
	tracks[0].Buffered = []avsync.TimeRange{r(0, 10), r(40, 50)}
	tracks[1].Buffered = []avsync.TimeRange{r(0, 8), r(42, 60)}
	tracks[2].Buffered = []avsync.TimeRange{r(0, 60)}
	show := func() []span {
		pv.applyStatus(status{seekGen: pv.seekGen, position: 5 * s, duration: time.Minute, tracks: tracks})
		return pv.seek.buffered
	}
	if got, want := show(), []span{{0, 8 * s}, {42 * s, 50 * s}}; !slices.Equal(got, want) {
		t.Errorf("buffered spans = %v, want %v", got, want)
	}
	// The bar draws them where they are.
	bar := test.WidgetRenderer(pv.seek).(*seekBarRenderer)
	w := pv.seek.Size().Width
	if len(bar.buffered) != 2 || math.Abs(float64(bar.buffered[1].Position().X-w*42/60)) > 1 {
		t.Errorf("the bar draws %d spans, the second at x=%v of %v", len(bar.buffered), bar.buffered[1].Position().X, w)
	}

	tracks[1].On = false
	if got, want := show(), []span{{0, 10 * s}, {40 * s, 50 * s}}; !slices.Equal(got, want) {
		t.Errorf("with the camera off, buffered spans = %v, want %v", got, want)
	}
	tracks[1].On, tracks[0].State = true, avsync.StateError
	if got, want := show(), []span{{0, 8 * s}, {42 * s, 60 * s}}; !slices.Equal(got, want) {
		t.Errorf("with the screen failed, buffered spans = %v, want %v", got, want)
	}
}

func TestTogglesSubscribe(t *testing.T) {
	h := newHarness(t, Options{})
	pv := h.openPlayer()
	h.waitFor("the tracks' kinds", func() bool {
		return pv.byName["mic"].kind == kindAudio && pv.byName["screen"].kind == kindScreen
	})
	cam := pv.byName["camera"]
	if !cam.tile.visible || pv.byName["mic"].tile.visible {
		t.Fatalf("camera visible %v, mic visible %v; want a camera picture and no mic picture", cam.tile.visible, pv.byName["mic"].tile.visible)
	}
	test.Tap(cam.toggle.btn)
	h.waitFor("camera switched off", func() bool {
		_, subs, _, _, _ := h.fp.snapshot()
		return slices.Equal(subs, []string{"camera=off"})
	})
	if cam.tile.visible || slices.Contains(pv.area.visible(), cam.tile) {
		t.Error("the camera's picture is still laid out after switching it off")
	}
	if cam.toggle.btn.Importance != widget.LowImportance || !strings.Contains(cam.toggle.btn.Text, "off") {
		t.Errorf("the camera toggle shows %q (importance %v) when off", cam.toggle.btn.Text, cam.toggle.btn.Importance)
	}
	test.Tap(cam.toggle.btn)
	test.Tap(pv.byName["mic"].toggle.btn)
	h.waitFor("camera on, mic off", func() bool {
		_, subs, _, _, _ := h.fp.snapshot()
		return slices.Equal(subs, []string{"camera=off", "camera=on", "mic=off"})
	})
	if !cam.tile.visible {
		t.Error("the camera's picture is not back after switching it on")
	}
	if cam.toggle.btn.Icon != kindCamera.icon() || pv.byName["screen"].toggle.btn.Icon != kindScreen.icon() || pv.byName["mic"].toggle.btn.Icon != kindAudio.icon() {
		t.Error("the toggles' icons do not say camera, screen and audio")
	}
}

func TestKeys(t *testing.T) {
	h := newHarness(t, Options{})
	pv := h.openPlayer()
	h.fp.mu.Lock()
	h.fp.position = 30 * time.Second
	h.fp.mu.Unlock()
	h.waitFor("the position", func() bool { return pv.position == 30*time.Second })

	h.key(fyne.KeySpace)
	h.waitFor("space to pause", func() bool { _, _, _, _, p := h.fp.snapshot(); return !p })
	h.key(fyne.KeySpace)
	h.waitFor("space to play", func() bool { _, _, _, _, p := h.fp.snapshot(); return p })

	for _, c := range []struct {
		key  fyne.KeyName
		want time.Duration
	}{
		{fyne.KeyRight, 35 * time.Second},
		{fyne.KeyLeft, 30 * time.Second},
		{fyne.KeyLeft, 25 * time.Second},
		{fyne.KeyUp, 60 * time.Second}, // clamped to the end
		{fyne.KeyDown, 0},
		{fyne.KeyRight, 5 * time.Second},
		{fyne.KeyDown, 0}, // clamped to the start
	} {
		h.key(c.key)
		h.lastSeek(c.want)
	}

	h.key(fyne.KeyM)
	h.waitFor("m to mute", func() bool { _, _, _, m, _ := h.fp.snapshot(); return m })
	h.key(fyne.KeyM)
	h.waitFor("m to unmute", func() bool { _, _, _, m, _ := h.fp.snapshot(); return !m })
	h.key(fyne.Key9)
	h.waitFor("9 to lower the volume", func() bool { _, _, v, _, _ := h.fp.snapshot(); return v == 0.9 })
	h.key(fyne.Key9)
	h.waitFor("9 to lower it again", func() bool { _, _, v, _, _ := h.fp.snapshot(); return v == 0.8 })
	h.key(fyne.Key0)
	h.waitFor("0 to raise the volume", func() bool { _, _, v, _, _ := h.fp.snapshot(); return v == 0.9 })
	if v := h.u.a.Preferences().Float(prefVolume); v != 0.9 {
		t.Errorf("the volume remembered is %v, want 0.9", v)
	}

	// [ and ] step the speed, Backspace is back to normal, as in mpv; the
	// status line says the speed unless it is normal.
	speed := func() float64 { h.fp.mu.Lock(); defer h.fp.mu.Unlock(); return h.fp.speed }
	for _, c := range []struct {
		key  fyne.KeyName
		want float64
		says string
	}{
		{fyne.KeyRightBracket, 1.25, "1.25×"},
		{fyne.KeyRightBracket, 1.5, "1.5×"},
		{fyne.KeyLeftBracket, 1.25, "1.25×"},
		{fyne.KeyBackspace, 1, ""},
		{fyne.KeyLeftBracket, 0.75, "0.75×"},
		{fyne.KeyLeftBracket, 0.5, "0.5×"},
		{fyne.KeyLeftBracket, 0.5, "0.5×"}, // the slowest
	} {
		h.key(c.key)
		h.waitFor(fmt.Sprintf("%s for %g×", c.key, c.want), func() bool { return speed() == c.want })
		if got := pv.statusText.Text; (c.says == "") == strings.Contains(got, "×") || !strings.Contains(got, c.says) {
			t.Errorf("at %g× the status line reads %q", c.want, got)
		}
	}
	h.key(fyne.KeyBackspace)

	// . and , step a picture, pausing.
	calls := func() []string { h.fp.mu.Lock(); defer h.fp.mu.Unlock(); return slices.Clone(h.fp.calls) }
	h.key(fyne.KeyPeriod)
	h.waitFor(". to step forward", func() bool { return slices.Contains(calls(), "step +1") })
	if pv.playing {
		t.Error("after a step the window says it plays")
	}
	h.key(fyne.KeyComma)
	h.waitFor(", to step back", func() bool { return slices.Contains(calls(), "step -1") })
	h.key(fyne.KeySpace)

	h.key(fyne.KeyF)
	if !h.w.FullScreen() {
		t.Error("f did not make the window fullscreen")
	}
	h.key(fyne.KeyEscape)
	if h.w.FullScreen() {
		t.Error("Esc did not leave fullscreen")
	}
	h.key(fyne.KeyF)
	h.key(fyne.KeyF)
	if h.w.FullScreen() {
		t.Error("f did not leave fullscreen")
	}
	h.key(fyne.KeyQ)
	if h.quits != 1 {
		t.Errorf("q quit %d times, want 1", h.quits)
	}
}

// TestForClosesTheWindowAfterThatMuchPlayback: Options.For closes the
// window once it has played that long, with or without a report.
func TestForClosesTheWindowAfterThatMuchPlayback(t *testing.T) {
	h := newHarness(t, Options{For: 200 * time.Millisecond})
	h.openPlayer()
	h.waitFor("the window to close", func() bool { return h.quits == 1 })
}

// TestMalformedLinkShowsADialog: a mangled link is told in plain words,
// the parser's own account only behind Details, and never dialled.
func TestMalformedLinkShowsADialog(t *testing.T) {
	dialled := false
	h := newHarness(t, Options{Dial: func(context.Context, string) (Remote, error) { dialled = true; return nil, errors.New("no") }})
	h.u.start()
	for _, link := range []string{
		"http://example.com/not-a-link",
		// A peer ID cut short in the paste.
		"reelay://12D3KooWRvjofdSfa8RwdFwWedUHR2WPme/" + strings.Repeat("a", 32),
	} {
		h.u.watch(link)
		shown, details := h.dialogText(), h.dialogDetails()
		if !strings.Contains(shown, "not a whole Reelay link") {
			t.Errorf("%s: the dialog says %q, want it to say it is not a whole Reelay link", link, shown)
		}
		for _, jargon := range []string{"peer ID", "cid", "multihash", "link:"} {
			if strings.Contains(shown, jargon) {
				t.Errorf("%s: the dialog says %q in so many words", link, jargon)
			}
		}
		if !strings.HasPrefix(details, "link: ") {
			t.Errorf("%s: the details hold %q, want the parser's account", link, details)
		}
		h.closeDialog()
	}
	if dialled {
		t.Error("a malformed link was dialled")
	}
	if h.u.view != "home" {
		t.Errorf("the window shows %q, want home", h.u.view)
	}
}

// testLink is a well-formed link to a peer that does not exist.
func testLink(t *testing.T) string {
	l, err := p2pnet.ParseLink("reelay://12D3KooWRvjofdSfa8RwdFwWedUHR2WPmeWDgsz3PEeiArEiUU77/" + strings.Repeat("a", 32))
	if err != nil {
		t.Fatal(err)
	}
	return l.String()
}

func TestUnreachableSharerShowsADialog(t *testing.T) {
	h := newHarness(t, Options{Dial: func(context.Context, string) (Remote, error) {
		return nil, fmt.Errorf("%w: failed to dial: all dials failed", p2pnet.ErrUnreachable)
	}})
	h.u.start()
	h.u.watch(testLink(t))
	h.waitFor("the dialog", func() bool { return h.dialogText() != "" })
	if got := h.dialogText(); !strings.Contains(got, "Could not reach the sharer") || !strings.Contains(got, "could not reach the sharer. Check") || strings.Contains(got, "dial") {
		t.Errorf("the dialog says %q", got)
	}
	if h.u.view != "home" {
		t.Errorf("the window shows %q, want home", h.u.view)
	}
	// The link stays in the box, to be mended; Esc closes the dialog.
	if got := h.homeEntry().Text; got != testLink(t) {
		t.Errorf("after the failed Watch the link box holds %q, want the link", got)
	}
	h.key(fyne.KeyEscape)
	if got := h.dialogText(); got != "" {
		t.Errorf("Esc left the dialog open: %q", got)
	}
	// Enter closes one too, and no key reaches what is behind a dialog.
	h.u.showError("Something", errors.New("went wrong"))
	h.key(fyne.KeyReturn)
	if got := h.dialogText(); got != "" {
		t.Errorf("Enter left the dialog open: %q", got)
	}
}

// homeEntry is Home's link box.
func (h *harness) homeEntry() *widget.Entry {
	h.t.Helper()
	for _, o := range test.LaidOutObjects(h.w.Content()) {
		if e, ok := o.(*widget.Entry); ok {
			return e
		}
	}
	h.t.Fatal("Home has no link box")
	return nil
}

func TestADialogHasTheKeysWhileItShows(t *testing.T) {
	h := newHarness(t, Options{})
	pv := h.openPlayer()
	h.u.showError("Something", errors.New("went wrong"))
	_, _, _, _, before := h.fp.snapshot()
	h.key(fyne.KeySpace)
	h.q.flush()
	time.Sleep(100 * time.Millisecond)
	if _, _, _, _, after := h.fp.snapshot(); after != before || h.dialogText() == "" {
		t.Errorf("space behind a dialog: playing %v → %v, dialog %q", before, after, h.dialogText())
	}
	h.key(fyne.KeyEscape)
	h.key(fyne.KeySpace)
	h.waitFor("space toggling play once the dialog is closed", func() bool {
		_, _, _, _, p := h.fp.snapshot()
		return p != before
	})
	_ = pv
}

func TestFailedTrackShowsADialog(t *testing.T) {
	h := newHarness(t, Options{})
	pv := h.openPlayer()
	h.fp.event(avsync.Event{Kind: avsync.EventTrack, Track: "camera", State: avsync.StateError, Err: errors.New(`track "camera": video does not decode: invalid data`)})
	h.waitFor("the dialog", func() bool { return h.dialogText() != "" })
	if got := h.dialogText(); !strings.Contains(got, "camera") || !strings.Contains(got, "does not decode") {
		t.Errorf("the dialog says %q", got)
	}
	cam := pv.byName["camera"]
	if !strings.Contains(cam.toggle.btn.Text, "failed") || cam.tile.visible {
		t.Errorf("the camera toggle says %q and its picture is visible=%v", cam.toggle.btn.Text, cam.tile.visible)
	}
	// Tapping the failed track tries it again.
	test.Tap(cam.toggle.btn)
	h.waitFor("camera retried", func() bool {
		_, subs, _, _, _ := h.fp.snapshot()
		return slices.Contains(subs, "camera=on")
	})
}

// linkFrom is a link to a recording shared by peer (a peer ID), with
// token and addresses.
func linkFrom(t *testing.T, peer, token string, addrs ...string) string {
	t.Helper()
	s := "reelay://" + peer + "/" + token
	for i, a := range addrs {
		s += map[bool]string{true: "?", false: "&"}[i == 0] + "a=" + a
	}
	l, err := p2pnet.ParseLink(s)
	if err != nil {
		t.Fatal(err)
	}
	return l.String()
}

// watchedRows are the recordings Home lists as watched lately.
func (h *harness) watchedRows() []*watchedRow {
	var rows []*watchedRow
	for _, o := range test.LaidOutObjects(h.w.Content()) {
		if r, ok := o.(*watchedRow); ok {
			rows = append(rows, r)
		}
	}
	return rows
}

// TestHomeListsWhatWasWatchedByName: Home lists the recordings watched
// lately by name, with who shared them and when, newest first; a link
// from an older version's plain list is still there; a tap watches again;
// the bin beside a row forgets it.
func TestHomeListsWhatWasWatchedByName(t *testing.T) {
	const alice, bob = "12D3KooWRvjofdSfa8RwdFwWedUHR2WPmeWDgsz3PEeiArEiUU77", "12D3KooWGzxzKZYveHXtpG6AsrUJBcWxHBFS2HsEoGTxrMLvKXtf"
	standup := linkFrom(t, alice, strings.Repeat("a", 32), "/ip4/192.168.1.20/tcp/4001")
	review := linkFrom(t, bob, strings.Repeat("b", 32))
	older := linkFrom(t, bob, strings.Repeat("c", 32))
	// The names the sharers give, by recording (whatever the addresses).
	names := map[string]string{watchedKey(standup): "Standup", watchedKey(review): "Design review"}
	var mu gosync.Mutex
	var dialled []string
	h := newHarness(t, Options{Dial: func(_ context.Context, link string) (Remote, error) {
		mu.Lock()
		dialled = append(dialled, link)
		mu.Unlock()
		return &fakeRemote{fakeSource: fakeSource{name: names[watchedKey(link)]}}, nil
	}})
	// What an older version remembered: links alone.
	h.u.a.Preferences().SetStringList(prefRecentLinks, []string{older})
	h.u.start()
	if rows := h.watchedRows(); len(rows) != 1 || rows[0].name != "A recording" || rows[0].detail != "shared by …LvKXtf" {
		t.Errorf("an older version's link is listed as %v", describeRows(rows))
	}
	for _, l := range []string{standup, review} {
		h.u.watch(l)
		h.waitFor("the player", func() bool { return h.u.player != nil && h.u.view == "player" })
		h.u.showHome()
	}
	rows := h.watchedRows()
	want := []string{
		"Design review | shared by …LvKXtf · just now",
		"Standup | shared by …EiUU77 · just now",
		"A recording | shared by …LvKXtf",
	}
	if got := describeRows(rows); !slices.Equal(got, want) {
		t.Errorf("Home lists %q, want %q", got, want)
	}
	for _, r := range rows {
		if strings.Contains(r.name+r.detail, "reelay://") || strings.Contains(r.name+r.detail, "aaaa") {
			t.Errorf("a row shows the link: %q %q", r.name, r.detail)
		}
	}
	if got := h.u.a.Preferences().StringList(prefRecentLinks); !slices.Equal(got, []string{review, standup, older}) {
		t.Errorf("the plain list an older version reads is %q", got)
	}

	// A tap watches again, and the same recording at new addresses is
	// one entry, first.
	test.Tap(rows[1])
	h.waitFor("the player", func() bool { return h.u.player != nil && h.u.view == "player" })
	moved := linkFrom(t, alice, strings.Repeat("a", 32), "/ip4/10.0.0.7/udp/4001/quic-v1")
	h.u.watch(moved)
	h.waitFor("the player", func() bool { return h.u.player != nil && h.u.view == "player" })
	h.u.showHome()
	mu.Lock()
	if len(dialled) != 4 || dialled[2] != standup {
		t.Errorf("dialled %q; the tap on Standup should have dialled %q", dialled, standup)
	}
	mu.Unlock()
	want = []string{want[1], want[0], want[2]}
	if got := describeRows(h.watchedRows()); !slices.Equal(got, want) {
		t.Errorf("after watching Standup again Home lists %q, want %q", got, want)
	}
	if got := loadWatched(h.u.a.Preferences()); got[0].Link != moved {
		t.Errorf("the first entry opens %q, want the newest link %q", got[0].Link, moved)
	}

	// The keyboard reaches a row: Tab from the link box, Enter watches.
	h.w.Canvas().Focus(h.homeEntry())
	dialledBefore := func() int { mu.Lock(); defer mu.Unlock(); return len(dialled) }()
	for range 4 {
		if _, ok := h.w.Canvas().Focused().(*watchedRow); ok {
			break
		}
		h.w.Canvas().FocusNext()
	}
	row, ok := h.w.Canvas().Focused().(*watchedRow)
	if !ok {
		t.Fatalf("Tab from the link box reaches %T, not a watched row", h.w.Canvas().Focused())
	}
	row.TypedKey(&fyne.KeyEvent{Name: fyne.KeyReturn})
	h.waitFor("Enter on a row to watch it", func() bool { mu.Lock(); defer mu.Unlock(); return len(dialled) > dialledBefore })
	h.waitFor("the player", func() bool { return h.u.player != nil && h.u.view == "player" })
	h.u.showHome()

	// The bin beside a row forgets it, and Home keeps what was typed.
	h.homeEntry().SetText("reelay://half-typed")
	var bins []*widget.Button
	for _, o := range test.LaidOutObjects(h.w.Content()) {
		if b, ok := o.(*widget.Button); ok && b.Icon == theme.DeleteIcon() {
			bins = append(bins, b)
		}
	}
	if len(bins) != 3 {
		t.Fatalf("%d rows have a bin, want 3", len(bins))
	}
	test.Tap(bins[1])
	if got, want := describeRows(h.watchedRows()), []string{want[0], want[2]}; !slices.Equal(got, want) {
		t.Errorf("after forgetting the second row Home lists %q, want %q", got, want)
	}
	if got := h.homeEntry().Text; got != "reelay://half-typed" {
		t.Errorf("forgetting a row cleared the link box to %q", got)
	}
}

func describeRows(rows []*watchedRow) []string {
	var s []string
	for _, r := range rows {
		s = append(s, r.name+" | "+r.detail)
	}
	return s
}

// TestWatchedAgoSaysWhenAsPeopleDo: the time a recording was watched, in
// words.
func TestWatchedAgoSaysWhenAsPeopleDo(t *testing.T) {
	now := time.Date(2026, 3, 12, 15, 0, 0, 0, time.UTC)
	early := time.Date(2026, 3, 12, 1, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		at, now time.Time
		want    string
	}{
		{now.Add(-30 * time.Second), now, "just now"},
		{now.Add(time.Minute), now, "just now"}, // a clock set back
		{now.Add(-90 * time.Second), now, "a minute ago"},
		{now.Add(-5 * time.Minute), now, "5 minutes ago"},
		{now.Add(-61 * time.Minute), now, "an hour ago"},
		{now.Add(-2 * time.Hour), now, "2 hours ago"},
		{now.Add(-14 * time.Hour), now, "14 hours ago"},
		{now.Add(-19 * time.Hour), now, "yesterday"},
		{early.Add(-4 * time.Hour), early, "4 hours ago"},
		{early.Add(-20 * time.Hour), early, "yesterday"},
		{now.Add(-3 * 24 * time.Hour), now, "3 days ago"},
		{now.Add(-20 * 24 * time.Hour), now, "20 February"},
		{now.Add(-365 * 24 * time.Hour), now, "12 March 2025"},
	} {
		if got := watchedAgo(c.at, c.now); got != c.want {
			t.Errorf("watched at %v, at %v: %q, want %q", c.at, c.now, got, c.want)
		}
	}
}

// fakeSharing is a folder being shared.
type fakeSharing struct {
	mu      gosync.Mutex
	viewers []p2pnet.ViewerStats
	stopped bool
}

func (s *fakeSharing) Link() string { return "reelay://peer/token" }
func (s *fakeSharing) Name() string { return "Standup" }
func (s *fakeSharing) Tracks() []p2pnet.TrackInfo {
	return []p2pnet.TrackInfo{{Name: "screen", Size: 2e6}, {Name: "mic", Size: 5e5}}
}
func (s *fakeSharing) Viewers() []p2pnet.ViewerStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.viewers)
}
func (s *fakeSharing) Stop() error {
	s.mu.Lock()
	s.stopped = true
	s.mu.Unlock()
	return nil
}

func TestShareViewShowsLinkAndViewers(t *testing.T) {
	sh := &fakeSharing{}
	h := newHarness(t, Options{Share: func(string) (Sharing, error) { return sh, nil }})
	h.u.shareFolder("/recordings/standup")
	h.waitFor("the share view", func() bool { return h.u.view == "share" })
	var entry *readOnlyEntry
	var copyBtn, stop *widget.Button
	for _, o := range test.LaidOutObjects(h.w.Content()) {
		switch x := o.(type) {
		case *readOnlyEntry:
			entry = x
		case *widget.Button:
			switch x.Text {
			case "Copy":
				copyBtn = x
			case "Stop sharing":
				stop = x
			}
		}
	}
	if entry == nil || entry.Text != sh.Link() || copyBtn == nil || stop == nil {
		t.Fatal("the share view lacks the link field, Copy or Stop sharing")
	}
	test.Type(entry, "x")
	if entry.Text != sh.Link() {
		t.Errorf("typing changed the link to %q", entry.Text)
	}
	test.Tap(copyBtn)
	if got := h.u.a.Clipboard().Content(); got != sh.Link() {
		t.Errorf("Copy put %q on the clipboard", got)
	}
	v := h.u.share.viewers
	h.waitFor("nobody watching", func() bool { return strings.Contains(v.Text, "Nobody") })

	l, _ := p2pnet.ParseLink(testLink(t))
	sh.mu.Lock()
	sh.viewers = []p2pnet.ViewerStats{{Peer: l.Peer, Since: time.Now(), BytesSent: 1e6}}
	sh.mu.Unlock()
	h.waitFor("the viewer", func() bool { return strings.Contains(v.Text, "…EiUU77") })
	sh.mu.Lock()
	sh.viewers[0].BytesSent = 4e6
	sh.mu.Unlock()
	h.waitFor("the viewer's throughput, in the player's units", func() bool { return strings.Contains(v.Text, "Mbit/s") || strings.Contains(v.Text, "kbit/s") })

	test.Tap(stop)
	h.u.background.Wait()
	sh.mu.Lock()
	stopped := sh.stopped
	sh.mu.Unlock()
	if !stopped || h.u.view != "home" {
		t.Errorf("Stop sharing: stopped %v, view %q", stopped, h.u.view)
	}
}

func TestFramesGoOnTheImageAtTheTileSize(t *testing.T) {
	h := newHarness(t, Options{})
	pv := h.openPlayer()
	screen := pv.byName["screen"].tile
	h.waitFor("the screen's sink", func() bool {
		h.fp.mu.Lock()
		defer h.fp.mu.Unlock()
		return h.fp.sinks["screen"] == avsync.VideoSink(screen)
	})
	a, b := image.NewRGBA(image.Rect(0, 0, 4, 4)), image.NewRGBA(image.Rect(0, 0, 4, 4))
	screen.Show(a, 0)
	screen.Show(b, time.Millisecond)
	h.q.flush()
	if screen.img.Image != b || screen.applied != 1 {
		t.Errorf("after two frames between flushes the image is %p (applied %d), want the newest %p once", screen.img.Image, screen.applied, b)
	}

	// The screen takes the whole video area in picture-in-picture; frames
	// are converted at its size, never above the source's.
	area := pv.area.box.Size()
	w, hh := pv.area.VideoSize("screen", 1920, 1080)
	if float32(w) > area.Width || float32(hh) > area.Height || w < int(area.Width)-2 && hh < int(area.Height)-2 {
		t.Errorf("a 1920x1080 screen converts to %dx%d in an area of %v", w, hh, area)
	}
	if w, hh := pv.area.VideoSize("screen", 640, 360); w != 640 || hh != 360 {
		t.Errorf("a 640x360 screen converts to %dx%d, want its own size", w, hh)
	}
	cw, _ := pv.area.VideoSize("camera", 640, 360)
	if want := int(area.Width * pipFraction); cw > want || cw < want-2 {
		t.Errorf("the camera converts %d wide, want about %d in picture-in-picture", cw, want)
	}

	test.Tap(pv.layoutBtn)
	if pv.area.mode != layoutSideBySide {
		t.Fatal("the layout button did not switch to side by side")
	}
	sw, _ := pv.area.VideoSize("screen", 1280, 720)
	cw, _ = pv.area.VideoSize("camera", 1280, 720)
	if sw != cw || float32(sw) > area.Width/2 {
		t.Errorf("side by side: screen %d and camera %d wide in %v", sw, cw, area)
	}

	// Resizing the window follows.
	h.w.Resize(fyne.NewSize(800, 600))
	sw2, _ := pv.area.VideoSize("screen", 1280, 720)
	if sw2 >= sw {
		t.Errorf("after shrinking the window the screen still converts %d wide (was %d)", sw2, sw)
	}
}

// TestAThinnedTrackIsMarkedBehind: a track the engine thinned to its
// keyframes carries a badge on its picture and is named in the status
// line, until it plays whole again.
func TestAThinnedTrackIsMarkedBehind(t *testing.T) {
	h := newHarness(t, Options{})
	pv := h.openPlayer()
	tracks := h.fp.Tracks()
	show := func() {
		pv.applyStatus(status{seekGen: pv.seekGen, position: 5 * time.Second, duration: time.Minute, tracks: tracks})
	}
	camera := pv.byName["camera"].tile
	show()
	if camera.badge.Visible() || strings.Contains(pv.statusText.Text, "keyframes") {
		t.Fatalf("a whole camera is marked behind: badge %v, status %q", camera.badge.Visible(), pv.statusText.Text)
	}

	tracks[1].Thinned = true
	show()
	if !camera.badge.Visible() || !camera.badgeBg.Visible() {
		t.Error("the thinned camera has no badge")
	}
	if pv.byName["screen"].tile.badge.Visible() {
		t.Error("the whole screen has a badge")
	}
	if got := pv.statusText.Text; !strings.Contains(got, "camera: keyframes only") {
		t.Errorf("status line %q does not say the camera shows keyframes only", got)
	}
	// The badge sits in the camera's picture, not elsewhere.
	if p, tp := camera.badge.Position(), camera.pos; p.X < tp.X || p.Y < tp.Y || p.X > tp.X+camera.rect.Width || p.Y > tp.Y+camera.rect.Height {
		t.Errorf("the badge is at %v, outside the camera's tile at %v %v", p, tp, camera.rect)
	}

	tracks[1].Thinned = false
	show()
	if camera.badge.Visible() || strings.Contains(pv.statusText.Text, "keyframes") {
		t.Errorf("the camera whole again is still marked: badge %v, status %q", camera.badge.Visible(), pv.statusText.Text)
	}
}

// TestAPictureSaysWhenItStartsAndEnded: before a camera's start its
// picture-in-picture is only a badge saying when it starts, not a black
// box over the screen; past its end its last picture says it ended. The
// seek bar counts a track only over its own span as buffered or not.
func TestAPictureSaysWhenItStartsAndEnded(t *testing.T) {
	h := newHarness(t, Options{})
	pv := h.openPlayer()
	tracks := h.fp.Tracks()
	s := time.Second
	tracks[1].Start, tracks[1].End = 3*s, 70*s
	tracks[0].Buffered = []avsync.TimeRange{{Start: 0, End: 120 * s}}
	tracks[1].Buffered = []avsync.TimeRange{{Start: 3 * s, End: 70 * s}}
	tracks[2].Buffered = []avsync.TimeRange{{Start: 0, End: 120 * s}}
	camera, screen := pv.byName["camera"].tile, pv.byName["screen"].tile
	for _, tc := range []struct {
		pos  time.Duration
		want string
	}{
		{s, "Starts at 0:03"},
		{5 * s, ""},
		{75 * s, "Ended at 1:10"},
		// At the recording's end nothing needs saying.
		{120 * s, ""},
	} {
		pv.applyStatus(status{seekGen: pv.seekGen, position: tc.pos, duration: 120 * s, tracks: tracks})
		if got := camera.badge.Text; camera.badge.Visible() != (tc.want != "") || (tc.want != "" && got != tc.want) {
			t.Errorf("at %v the camera's badge reads %q (shown %v), want %q", tc.pos, got, camera.badge.Visible(), tc.want)
		}
		if screen.badge.Visible() {
			t.Errorf("at %v the screen carries %q", tc.pos, screen.badge.Text)
		}
		if waiting := tc.pos < 3*s; waiting && (camera.bg.Visible() || camera.img.Visible()) {
			t.Errorf("at %v, before the camera starts, its inset paints (black %v, picture %v)", tc.pos, camera.bg.Visible(), camera.img.Visible())
		}
		if got, want := pv.seek.buffered, []span{{0, 120 * s}}; !slices.Equal(got, want) {
			t.Errorf("at %v the bar shows %v buffered, want %v", tc.pos, got, want)
		}
	}
}

// TestTheWindowShowsTheConnectionNetKeepsUp: the window dials once; when
// the connection is lost, net reconnects by itself and the window only
// says so, with no dialog, and opens the tracks that failed meanwhile once
// it is back; a sharer that stopped sharing is told.
func TestTheWindowShowsTheConnectionNetKeepsUp(t *testing.T) {
	var mu gosync.Mutex
	dials := 0
	h := newHarness(t, Options{Dial: func(ctx context.Context, _ string) (Remote, error) {
		mu.Lock()
		dials++
		mu.Unlock()
		return &fakeRemote{fakeSource: fakeSource{name: "Standup"}}, nil
	}})
	h.u.watch(testLink(t))
	h.waitFor("the player", func() bool { return h.u.player != nil })
	pv := h.u.player
	h.waitFor("the engine to play", func() bool { _, _, _, _, p := h.fp.snapshot(); return p })
	h.fp.setConnection(p2pnet.Connection{State: p2pnet.ConnConnected, Since: time.Now()})
	h.waitFor("the path and the round trip in the status line", func() bool {
		return strings.Contains(pv.statusText.Text, "Direct connection through both routers · 3 ms")
	})

	h.fp.setConnection(p2pnet.Connection{State: p2pnet.ConnReconnecting, Since: time.Now(), Attempts: 2})
	h.waitFor("Reconnecting… in the status line", func() bool {
		return strings.Contains(pv.statusText.Text, "Reconnecting to the sharer…") && strings.Contains(pv.statusText.Text, "attempt 2")
	})
	netErr := errors.New("net: reading range 0+65536 of \"screen\" failed: stream reset")
	h.fp.event(avsync.Event{Kind: avsync.EventTrack, Track: "screen", State: avsync.StateError, Err: netErr})
	h.waitFor("the screen marked failed", func() bool { return pv.byName["screen"].err != nil })
	if got := h.dialogText(); got != "" {
		t.Errorf("a dialog shows while net reconnects: %q", got)
	}

	h.fp.setConnection(p2pnet.Connection{State: p2pnet.ConnConnected, Since: time.Now(), Reconnects: 1})
	h.waitFor("screen opened again", func() bool {
		_, subs, _, _, _ := h.fp.snapshot()
		return slices.Contains(subs, "screen=on")
	})
	h.waitFor("the status line clear of reconnecting", func() bool { return !strings.Contains(pv.statusText.Text, "Reconnecting") })
	if got := h.dialogText(); got != "" {
		t.Errorf("a dialog shows after net reconnected: %q", got)
	}
	mu.Lock()
	if dials != 1 {
		t.Errorf("the window dialled %d times; net alone reconnects", dials)
	}
	mu.Unlock()

	h.fp.setConnection(p2pnet.Connection{State: p2pnet.ConnUnshared, Since: time.Now(), Err: errors.New("net: the sharer no longer shares this recording")})
	h.waitFor("the stopped sharing dialog", func() bool { return strings.Contains(h.dialogText(), "stopped sharing") })
}

// TestNothingPlayableShowsThePlayButton: when the engine says nothing can
// play, the button offers play, not pause.
func TestNothingPlayableShowsThePlayButton(t *testing.T) {
	h := newHarness(t, Options{})
	pv := h.openPlayer()
	if pv.playBtn.Icon != theme.MediaPauseIcon() {
		t.Fatal("a playing player does not offer pause")
	}
	h.fp.event(avsync.Event{Kind: avsync.EventState, State: avsync.StateError})
	h.waitFor("the error state", func() bool { return pv.state == avsync.StateError })
	if pv.playBtn.Icon != theme.MediaPlayIcon() {
		t.Error("with nothing playable the button still offers pause")
	}
}

// TestTheLayoutIsOfferedForTwoPicturesOrMore: Side by side / Picture in
// picture is offered only while two pictures or more are on screen.
func TestTheLayoutIsOfferedForTwoPicturesOrMore(t *testing.T) {
	h := newHarness(t, Options{})
	pv := h.openPlayer()
	if !pv.layoutBtn.Visible() {
		t.Fatal("with the screen and the camera on, no layout is offered")
	}
	pv.toggleTapped(pv.byName["camera"].toggle)
	if pv.layoutBtn.Visible() {
		t.Error("with the screen alone on, a layout is still offered")
	}
	pv.toggleTapped(pv.byName["camera"].toggle)
	if !pv.layoutBtn.Visible() {
		t.Error("with the camera on again, no layout is offered")
	}
}

// TestScreenshotSavesWhatTheVideoShows: s saves the video area, the
// pictures as shown, as a PNG named after the recording and the position,
// beside any earlier one, and the status line says where.
func TestScreenshotSavesWhatTheVideoShows(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "shots")
	h := newHarness(t, Options{ScreenshotDir: dir})
	pv := h.openPlayer()
	frame := image.NewRGBA(image.Rect(0, 0, 320, 180))
	draw.Draw(frame, frame.Bounds(), &image.Uniform{color.RGBA{R: 200, G: 30, B: 30, A: 255}}, image.Point{}, draw.Src)
	pv.byName["screen"].tile.Show(frame, 0)
	h.q.flush()
	h.fp.mu.Lock()
	h.fp.position = 83 * time.Second
	h.fp.mu.Unlock()
	h.waitFor("the position", func() bool { return pv.position == 83*time.Second })

	for _, want := range []string{"Standup 1-23.png", "Standup 1-23 (2).png"} {
		h.key(fyne.KeyS)
		path := filepath.Join(dir, want)
		// Saved, and said so (the file is there a moment before).
		h.waitFor(want, func() bool { return strings.Contains(pv.statusText.Text, "Screenshot saved: "+path) })
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(f)
		f.Close()
		if err != nil {
			t.Fatalf("%s: %v", want, err)
		}
		area := pv.area.box.Size()
		// (The test driver's canvas is a few pixels short of the window.)
		if b := img.Bounds(); math.Abs(float64(b.Dx())-float64(area.Width)) > 4 || math.Abs(float64(b.Dy())-float64(area.Height)) > 4 {
			t.Errorf("%s is %v, the video area %v", want, b, area)
		}
		// The middle of the picture is the screen's red frame.
		if r, g, _, _ := img.At(img.Bounds().Dx()/2, img.Bounds().Dy()/2).RGBA(); r>>8 < 150 || g>>8 > 80 {
			t.Errorf("%s does not show the screen's picture in its middle", want)
		}
		if got := pv.statusText.Text; !strings.Contains(got, "Screenshot saved: "+path) {
			t.Errorf("the status line reads %q", got)
		}
	}
}

// TestStatsOverlay: i shows each track's figures over the video, as mpv's
// stats do, and hides them again.
func TestStatsOverlay(t *testing.T) {
	h := newHarness(t, Options{})
	pv := h.openPlayer()
	tracks := h.fp.Tracks()
	tracks[0].Stats.FramesPresented, tracks[0].Stats.FramesDropped = 1234, 5
	tracks[0].Stats.BufferedAhead = 2500 * time.Millisecond
	tracks[0].Stats.Reader = &track.ReaderStats{BytesFetched: 4_200_000}
	tracks[1].On = false
	pv.applyStatus(status{seekGen: pv.seekGen, position: 5 * time.Second, duration: time.Minute, tracks: tracks})
	if pv.overlay.box.Visible() {
		t.Fatal("the statistics show before i")
	}
	h.key(fyne.KeyI)
	if !pv.overlay.box.Visible() {
		t.Fatal("i did not show the statistics")
	}
	var text []string
	for _, o := range pv.overlay.lines.Objects {
		if l := o.(*canvas.Text); l.Visible() {
			text = append(text, l.Text)
		}
	}
	all := strings.Join(text, "\n")
	for _, want := range []string{"Standup · local folder", "screen  ", "1280×720 30 fps", "shown 1234, dropped 5", "ahead 2.5 s", "fetched 4.2 MB", "camera  off", "mic  "} {
		if !strings.Contains(all, want) {
			t.Errorf("the statistics lack %q:\n%s", want, all)
		}
	}
	if p := pv.overlay.box.Position(); p.X < 0 || p.Y < 0 || p.X > 20 || p.Y > 20 {
		t.Errorf("the statistics are at %v, want the video's top left corner", p)
	}
	h.key(fyne.KeyI)
	if pv.overlay.box.Visible() {
		t.Error("i again did not hide the statistics")
	}
}

// TestResumeWhereYouLeftOff: a recording left in its middle opens there
// the next time, saying so; one left near its end starts from the top.
func TestResumeWhereYouLeftOff(t *testing.T) {
	h := newHarness(t, Options{Dial: func(context.Context, string) (Remote, error) {
		return &fakeRemote{fakeSource: fakeSource{name: "Standup"}}, nil
	}})
	link := testLink(t)
	watch := func() *playerView {
		h.u.watch(link)
		return h.playerOpened()
	}
	leaveAt := func(pv *playerView, pos time.Duration) {
		h.fp.mu.Lock()
		h.fp.position = pos
		h.fp.mu.Unlock()
		h.waitFor("the position", func() bool { return pv.position == pos })
		h.u.showHome()
	}

	pv := watch()
	if seeks, _, _, _, _ := h.fp.snapshot(); len(seeks) != 0 {
		t.Errorf("a recording never watched opened with seeks %v", seeks)
	}
	leaveAt(pv, 34*time.Second)

	pv = watch()
	h.lastSeek(34 * time.Second)
	if got := pv.statusText.Text; !strings.Contains(got, "Resumed where you left off, at 0:34") {
		t.Errorf("the status line reads %q", got)
	}
	leaveAt(pv, 55*time.Second)

	h.fp.mu.Lock()
	h.fp.seeks = nil
	h.fp.mu.Unlock()
	watch()
	if seeks, _, _, _, _ := h.fp.snapshot(); len(seeks) != 0 {
		t.Errorf("a recording left 5 s before its end opened with seeks %v", seeks)
	}
}

// TestResumeAFolderWhereYouLeftOff: a recording folder on this machine
// opens where it was left, by its whole path.
func TestResumeAFolderWhereYouLeftOff(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "screen.mp4"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, Options{})
	play := func(path string) *playerView {
		h.u.playFolder(path)
		return h.playerOpened()
	}
	pv := play(dir)
	if seeks, _, _, _, _ := h.fp.snapshot(); len(seeks) != 0 {
		t.Errorf("a folder never played opened with seeks %v", seeks)
	}
	h.fp.mu.Lock()
	h.fp.position = 21 * time.Second
	h.fp.mu.Unlock()
	h.waitFor("the position", func() bool { return pv.position == 21*time.Second })
	h.u.showHome()

	// The same folder by another path.
	t.Chdir(filepath.Dir(dir))
	play(filepath.Join(".", filepath.Base(dir)))
	h.lastSeek(21 * time.Second)
}

// TestTheTitleNamesWhatTheWindowShows: the title puts the recording
// first, as players do, so a narrow taskbar still tells windows apart;
// the demo's own name does not repeat the app's.
func TestTheTitleNamesWhatTheWindowShows(t *testing.T) {
	sh := &fakeSharing{}
	h := newHarness(t, Options{Share: func(string) (Sharing, error) { return sh, nil }})
	h.u.start()
	if got := h.w.Title(); got != "Reelay" {
		t.Errorf("Home's title is %q, want Reelay", got)
	}
	h.openPlayer()
	if got := h.w.Title(); got != "Standup — Reelay" {
		t.Errorf("the player's title is %q, want %q", got, "Standup — Reelay")
	}
	h.u.shareFolder("/recordings/standup")
	h.waitFor("the share view", func() bool { return h.u.view == "share" })
	if got := h.w.Title(); got != "Sharing Standup — Reelay" {
		t.Errorf("the Share view's title is %q", got)
	}

	b, err := fs.ReadFile(assets.Demo, "demo/reelay.json")
	if err != nil {
		t.Fatal(err)
	}
	var manifest struct{ Name string }
	if err := json.Unmarshal(b, &manifest); err != nil {
		t.Fatal(err)
	}
	if title := windowTitle(manifest.Name); strings.Count(title, "Reelay") != 1 {
		t.Errorf("the demo's title %q says Reelay more than once", title)
	}
}

// TestTheStatusLineSaysTheConnectionInWords: the path net names, the round
// trip and the throughput read as a viewer would say them.
func TestTheStatusLineSaysTheConnectionInWords(t *testing.T) {
	h := newHarness(t, Options{Dial: func(context.Context, string) (Remote, error) {
		return &fakeRemote{fakeSource: fakeSource{name: "Standup"}}, nil
	}})
	h.u.watch(testLink(t))
	h.waitFor("the player", func() bool { return h.u.player != nil })
	pv := h.u.player
	for _, c := range []struct {
		path  p2pnet.Path
		rtt   time.Duration
		bps   float64 // bytes per second
		lanes int
		want  string
	}{
		{p2pnet.PathLAN, 12 * time.Millisecond, 131e3, 1, "Direct connection on your network · 12 ms · 1.0 Mbit/s"},
		{p2pnet.PathDirect, 48400 * time.Microsecond, 62.5e3, 1, "Direct connection over the internet · 48 ms · 500 kbit/s"},
		{p2pnet.PathHolePunched, 95 * time.Millisecond, 2.5e6, 1, "Direct connection through both routers · 95 ms · 20 Mbit/s"},
		{p2pnet.PathRelayed, 180 * time.Millisecond, 40e3, 1, "Relayed through a server · 180 ms · 320 kbit/s"},
		// A full buffer pulls nothing: no "0 B/s" to worry about.
		{p2pnet.PathLAN, 400 * time.Microsecond, 0, 1, "Direct connection on your network · under 1 ms"},
		{p2pnet.PathDirect, 50 * time.Millisecond, 1.5e6, 4, "Direct connection over the internet · 4 connections, packets are being lost · 50 ms · 12 Mbit/s"},
	} {
		pv.path, pv.rtt, pv.throughput, pv.conn.Lanes = c.path.String(), c.rtt, c.bps, c.lanes
		if got := pv.networkFigures(); got != c.want {
			t.Errorf("%v, %v, %.0f B/s: the status line says %q, want %q", c.path, c.rtt, c.bps, got, c.want)
		}
	}
	pv.path, pv.conn.Lanes = "", 0
	pv.figuresAt = time.Time{}
	pv.applyStatus(status{seekGen: pv.seekGen, rtt: 12 * time.Millisecond, path: p2pnet.PathLAN.String()})
	if got := pv.statusText.Text; !strings.Contains(got, "Direct connection on your network · 12 ms") || strings.Contains(got, "direct (LAN)") {
		t.Errorf("the status line reads %q", got)
	}

	// The tracks the fake engine lists.
	var names []string
	for _, tr := range h.fp.Tracks() {
		names = append(names, tr.Name)
	}
	h.u.openPlayer(fakeSource{name: "Standup", tracks: names}, "", "")
	if got := h.u.player.networkFigures(); got != "From this computer" {
		t.Errorf("a local folder's status line says %q", got)
	}
}

// TestTheSeekBarShowsTheTimeUnderThePointer: hovering the seek bar shows
// the time under the pointer above the bar, inside the window even at its
// edge; leaving the bar hides it, and hovering never seeks.
func TestTheSeekBarShowsTheTimeUnderThePointer(t *testing.T) {
	h := newHarness(t, Options{})
	pv := h.openPlayer()
	c := h.w.Canvas()
	// The test driver's positions leave out an inset its pointer counts.
	inset, _ := c.InteractiveArea()
	bar := fyne.CurrentApp().Driver().AbsolutePositionForObject(pv.seek).Add(inset)
	w := pv.seek.Size().Width
	r := test.WidgetRenderer(pv.seek).(*seekBarRenderer)
	hover := func(x float32) {
		t.Helper()
		test.MoveMouse(c, bar.Add(fyne.NewPos(x, seekBarHeight/2)))
	}

	hover(w / 4)
	if !r.tip.Visible() || !r.tipBg.Visible() || r.tip.Text != "0:15" {
		t.Fatalf("a quarter along a minute the tooltip shows %q (visible %v)", r.tip.Text, r.tip.Visible())
	}
	tip, size := r.tipBg.Position(), r.tipBg.Size()
	if tip.Y+size.Height > 0 {
		t.Errorf("the tooltip spans y %v to %v of the bar: not above it", tip.Y, tip.Y+size.Height)
	}
	if mid := tip.X + size.Width/2; math.Abs(float64(mid-w/4)) > 1 {
		t.Errorf("the tooltip is centred at x=%v, the pointer at %v", mid, w/4)
	}
	if !strings.Contains(r.tip.Text, ":") || r.tip.Position().X < tip.X || r.tip.Position().Y < tip.Y {
		t.Errorf("the text %q at %v is not on its background at %v", r.tip.Text, r.tip.Position(), tip)
	}

	// At the left end the tooltip would stick out of the window.
	hover(1)
	if r.tip.Text != "0:00" {
		t.Errorf("at the start the tooltip says %q", r.tip.Text)
	}
	if abs := bar.X + r.tipBg.Position().X; abs < 0 {
		t.Errorf("at the start the tooltip begins at x=%v, outside the window", abs)
	}
	hover(w - 1)
	if r.tip.Text != "0:59" {
		t.Errorf("at the end the tooltip says %q", r.tip.Text)
	}
	if right := bar.X + r.tipBg.Position().X + r.tipBg.Size().Width; right > c.Size().Width {
		t.Errorf("at the end the tooltip ends at x=%v, outside the window %v", right, c.Size().Width)
	}

	// Off the bar (over the picture) the tooltip goes.
	test.MoveMouse(c, fyne.NewPos(c.Size().Width/2, 50))
	if r.tip.Visible() || r.tipBg.Visible() {
		t.Error("the tooltip stays after the pointer left the bar")
	}
	time.Sleep(50 * time.Millisecond)
	if seeks, _, _, _, _ := h.fp.snapshot(); len(seeks) != 0 {
		t.Errorf("hovering seeked: %v", seeks)
	}

	// Dragging shows where the drag is.
	pv.seek.Dragged(&fyne.DragEvent{PointEvent: fyne.PointEvent{Position: fyne.NewPos(w/2, 5)}})
	if !r.tip.Visible() || r.tip.Text != "0:30" {
		t.Errorf("dragging to the middle the tooltip shows %q (visible %v)", r.tip.Text, r.tip.Visible())
	}
	pv.seek.DragEnd()
	if r.tip.Visible() {
		t.Error("the tooltip stays after the drag ended")
	}
}

// TestFullscreenHidesTheIdleControls: in fullscreen the controls and the
// status line go after a while without a mouse move or a key, and the
// picture takes the whole screen; a move or any key brings them back.
// They stay while paused, while the pointer is on them, while a dialog is
// open, and always outside fullscreen.
func TestFullscreenHidesTheIdleControls(t *testing.T) {
	h := newHarness(t, Options{})
	h.u.controlsIdle = 100 * time.Millisecond
	pv := h.openPlayer()
	c := h.w.Canvas()
	inset, _ := c.InteractiveArea()
	shown := func() bool { return pv.controls.Visible() && pv.statusText.Visible() }
	stays := func(why string) {
		t.Helper()
		deadline := time.Now().Add(4 * h.u.controlsIdle)
		for time.Now().Before(deadline) {
			h.q.flush()
			if !pv.controls.Visible() {
				t.Fatalf("the controls hid %s", why)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	hides := func(why string) {
		t.Helper()
		h.waitFor("the controls to hide "+why, func() bool { return !pv.controls.Visible() })
	}
	overPicture := fyne.NewPos(300, 200)

	stays("outside fullscreen")
	h.key(fyne.KeyF)
	if !h.w.FullScreen() {
		t.Fatal("f did not go fullscreen")
	}
	hides("in fullscreen")
	if got, want := pv.area.box.Size(), c.Size(); got.Height < want.Height-1 || got.Width < want.Width-1 {
		t.Errorf("with the controls hidden the picture is %v of %v", got, want)
	}

	test.MoveMouse(c, overPicture)
	if !shown() {
		t.Fatal("moving the mouse did not bring the controls back")
	}
	if got, want := pv.area.box.Size().Height, c.Size().Height-pv.controls.MinSize().Height; got > want+1 {
		t.Errorf("with the controls back the picture is %v high, over them (want %v)", got, want)
	}
	hides("after the mouse stopped")
	h.key(fyne.KeyA)
	if !shown() {
		t.Fatal("a key did not bring the controls back")
	}
	hides("after the key")

	// The pointer resting on a control keeps them.
	test.MoveMouse(c, overPicture)
	play := fyne.CurrentApp().Driver().AbsolutePositionForObject(pv.playBtn).Add(inset)
	test.MoveMouse(c, play.Add(fyne.NewPos(5, 5)))
	stays("with the pointer on the play button")
	test.MoveMouse(c, overPicture)
	hides("once the pointer is back over the picture")

	// Paused, they stay.
	h.key(fyne.KeySpace)
	stays("while paused")
	h.key(fyne.KeySpace)
	hides("once playing again")

	// A dialog brings them back and keeps them.
	h.u.showError("Something", errors.New("went wrong"))
	h.waitFor("the controls back under a dialog", shown)
	stays("while a dialog is open")
	h.closeDialog()
	if !h.w.FullScreen() {
		t.Fatal("Esc on the dialog left fullscreen")
	}
	hides("once the dialog closed")

	h.key(fyne.KeyEscape)
	if h.w.FullScreen() || !shown() {
		t.Errorf("after leaving fullscreen: fullscreen %v, controls shown %v", h.w.FullScreen(), shown())
	}
	stays("after leaving fullscreen")
}

// button is the button on screen that says text, nil if none.
func (h *harness) button(text string) *widget.Button {
	for _, o := range test.LaidOutObjects(h.w.Content()) {
		if b, ok := o.(*widget.Button); ok && b.Text == text && b.Visible() {
			return b
		}
	}
	return nil
}

// folderEntry is Home's box for a folder's path.
func (h *harness) folderEntry() *widget.Entry {
	h.t.Helper()
	var entries []*widget.Entry
	for _, o := range test.LaidOutObjects(h.w.Content()) {
		if e, ok := o.(*widget.Entry); ok {
			entries = append(entries, e)
		}
	}
	if len(entries) != 2 {
		h.t.Fatalf("Home has %d text boxes, want the link's and the folder's", len(entries))
	}
	return entries[1]
}

// problem is what Home says is wrong with the folder typed, "" if nothing.
func (h *harness) problem() string {
	for _, o := range test.LaidOutObjects(h.w.Content()) {
		if l, ok := o.(*widget.Label); ok && l.Importance == widget.DangerImportance && l.Visible() {
			return l.Text
		}
	}
	return ""
}

// TestHomeStartsTheDemoInOneClick: Home offers the built-in demo; one
// click shares it (Options.StartDemo), dials its link and plays it; it is
// not listed as watched, and leaving the player stops sharing it. Without
// a way to share it Home does not offer it; a window opened on the demo
// watches that one again.
func TestHomeStartsTheDemoInOneClick(t *testing.T) {
	demoLink := linkFrom(t, "12D3KooWRvjofdSfa8RwdFwWedUHR2WPmeWDgsz3PEeiArEiUU77", strings.Repeat("d", 32), "/ip4/127.0.0.1/tcp/4001")
	var mu gosync.Mutex
	var starts, stops int
	var dialled []string
	dial := func(_ context.Context, link string) (Remote, error) {
		mu.Lock()
		dialled = append(dialled, link)
		mu.Unlock()
		return &fakeRemote{fakeSource: fakeSource{name: "Demo recording"}}, nil
	}
	h := newHarness(t, Options{Dial: dial, StartDemo: func() (string, func(), error) {
		mu.Lock()
		starts++
		mu.Unlock()
		return demoLink, func() { mu.Lock(); stops++; mu.Unlock() }, nil
	}})
	h.u.start()
	demo := h.button("Watch the demo")
	if demo == nil {
		t.Fatal("Home does not offer the demo")
	}
	test.Tap(demo)
	h.waitFor("the demo playing", func() bool { return h.u.player != nil && h.u.view == "player" })
	if got := h.w.Title(); got != "Demo recording — Reelay" {
		t.Errorf("the demo's title is %q", got)
	}
	mu.Lock()
	if starts != 1 || !slices.Equal(dialled, []string{demoLink}) {
		t.Errorf("the demo was shared %d times and %q dialled", starts, dialled)
	}
	mu.Unlock()
	h.u.showHome()
	h.u.background.Wait()
	mu.Lock()
	if stops != 1 {
		t.Errorf("leaving the demo stopped sharing it %d times, want once", stops)
	}
	mu.Unlock()
	if rows := h.watchedRows(); len(rows) != 0 {
		t.Errorf("the demo is listed as watched: %v", describeRows(rows))
	}

	// Nothing to share the demo with: not offered.
	h2 := newHarness(t, Options{Dial: dial})
	h2.u.start()
	if h2.button("Watch the demo") != nil {
		t.Error("Home offers a demo it cannot start")
	}
	// The window `reelay demo` opened watches the demo it was opened on.
	h3 := newHarness(t, Options{Dial: dial, Link: demoLink, Demo: true})
	h3.u.showHome()
	test.Tap(h3.button("Watch the demo"))
	h3.waitFor("the demo playing", func() bool { return h3.u.player != nil && h3.u.view == "player" })
	mu.Lock()
	if starts != 1 || len(dialled) != 2 || dialled[1] != demoLink {
		t.Errorf("watching the window's own demo shared %d demos and dialled %q", starts, dialled)
	}
	mu.Unlock()
}

// TestHomeTakesAFolderPathTyped: a folder's path can be typed or pasted
// and played or shared; a path that is not a folder is told in plain
// words, and nothing opens. The folder used is offered next time.
func TestHomeTakesAFolderPathTyped(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "screen.mp4")
	if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	var mu gosync.Mutex
	var played, shared []string
	h := newHarness(t, Options{
		OpenFolder: func(d string) (avsync.Source, error) {
			mu.Lock()
			played = append(played, d)
			mu.Unlock()
			return nil, errors.New("not a recording")
		},
		Share: func(d string) (Sharing, error) {
			mu.Lock()
			shared = append(shared, d)
			mu.Unlock()
			return &fakeSharing{}, nil
		},
	})
	h.u.start()
	path := h.folderEntry()
	play, share := h.button("Play"), h.button("Share")
	if play == nil || share == nil {
		t.Fatal("Home has no Play or Share next to the folder's box")
	}
	if !play.Disabled() || !share.Disabled() {
		t.Error("Play and Share are offered with no folder typed")
	}
	for _, c := range []struct{ typed, want string }{
		{filepath.Join(dir, "nope"), "There is no folder at " + filepath.Join(dir, "nope")},
		{file, file + " is a file, not a folder"},
	} {
		path.SetText(c.typed)
		test.Tap(play)
		if got := h.problem(); !strings.HasPrefix(got, c.want) {
			t.Errorf("playing %q Home says %q, want %q…", c.typed, got, c.want)
		}
		if h.u.view != "home" {
			t.Fatalf("playing %q left Home for %q", c.typed, h.u.view)
		}
	}
	// The window makes room for what it says.
	for _, o := range test.LaidOutObjects(h.w.Content()) {
		if l, ok := o.(*widget.Label); ok && l.Importance == widget.DangerImportance {
			if end := fyne.CurrentApp().Driver().AbsolutePositionForObject(l).Y + l.Size().Height; end > h.w.Canvas().Size().Height {
				t.Errorf("what Home says of the folder ends at y=%v, below the window's %v", end, h.w.Canvas().Size().Height)
			}
		}
	}
	test.Type(path, "x")
	if got := h.problem(); got != "" {
		t.Errorf("typing left the problem said: %q", got)
	}
	mu.Lock()
	if len(played)+len(shared) != 0 {
		t.Errorf("paths that are not folders were opened: played %q, shared %q", played, shared)
	}
	mu.Unlock()

	// Pasted from a file manager: a file:// URL, or quoted.
	path.SetText("file://" + dir)
	test.Tap(share)
	h.waitFor("the share view", func() bool { return h.u.view == "share" })
	h.u.showHome()
	if got := h.folderEntry().Text; got != dir {
		t.Errorf("Home offers %q, want the folder shared last, %q", got, dir)
	}
	h.folderEntry().SetText(" '" + dir + "' ")
	test.Tap(h.button("Play"))
	h.waitFor("the folder's error", func() bool { return h.dialogText() != "" })
	mu.Lock()
	if !slices.Equal(shared, []string{dir}) || !slices.Equal(played, []string{dir}) {
		t.Errorf("shared %q and played %q, want %q each", shared, played, dir)
	}
	mu.Unlock()
}

// TestTheSeekBarShowsThePictureUnderThePointer: hovering the bar shows,
// above the time, the main picture's keyframe at or before the time under
// the pointer, fetched alone; leaving the bar takes it away.
func TestTheSeekBarShowsThePictureUnderThePointer(t *testing.T) {
	path := mediatest.Fixture(t, "screen.mp4")
	dir := t.TempDir()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "screen.mp4"), b, 0o644)
	folder, err := p2pnet.OpenFolder(dir)
	if err != nil {
		t.Fatal(err)
	}
	src := avsync.FolderSource(folder)
	h := newHarness(t, Options{})
	h.u.openPlayer(src, "", "")
	pv := h.u.player
	h.waitFor("the engine to open and play", func() bool {
		_, _, _, _, playing := h.fp.snapshot()
		return playing
	})
	h.fp.event(avsync.Event{Kind: avsync.EventDuration, Duration: 10 * time.Second})
	h.waitFor("the duration", func() bool { return pv.duration == 10*time.Second })
	h.waitFor("the tracks", func() bool { return pv.mainPicture() == "screen" })

	c := h.w.Canvas()
	inset, _ := c.InteractiveArea()
	bar := fyne.CurrentApp().Driver().AbsolutePositionForObject(pv.seek).Add(inset)
	w := pv.seek.Size().Width
	test.MoveMouse(c, bar.Add(fyne.NewPos(w*0.55, seekBarHeight/2)))
	h.waitFor("the picture", func() bool { return pv.seek.thumb != nil })
	r := test.WidgetRenderer(pv.seek).(*seekBarRenderer)
	if !r.thumb.Visible() || r.thumb.Size().Width != thumbWidth {
		t.Errorf("the picture shows %v, %v wide", r.thumb.Visible(), r.thumb.Size().Width)
	}
	if p, bg := r.thumb.Position(), r.tipBg.Position(); p.Y < bg.Y || p.Y+r.thumb.Size().Height > r.tip.Position().Y {
		t.Errorf("the picture at %v is not between the tooltip's top %v and its time at %v", p, bg, r.tip.Position())
	}
	// The keyframe at or before 5.5 s, as the engine makes it.
	th, err := avsync.OpenThumbnails(src, "screen", thumbWidth)
	if err != nil {
		t.Fatal(err)
	}
	defer th.Close()
	want, err := th.At(pv.seek.at(w * 0.55))
	if err != nil {
		t.Fatal(err)
	}
	if got := pv.seek.thumb.(*image.RGBA); !bytes.Equal(got.Pix, want.Image.Pix) {
		t.Errorf("the picture at %v is not the keyframe at %v", pv.seek.at(w*0.55), want.PTS)
	}
	test.MoveMouse(c, fyne.NewPos(5, 5))
	h.waitFor("the picture to go", func() bool { return pv.seek.thumb == nil && !r.thumb.Visible() })
}

// TestSubtitlesAndChapters: the engine's subtitle text shows over the
// bottom of the picture, a line on a band each, centred, and goes when
// it clears; v hides and shows them; a subtitle track has its own icon
// and no picture, and its toggle follows the engine when it switches it
// off for another; the chapters cut the seek bar, name themselves in its
// tooltip, and Page Down and Page Up go where the engine says.
func TestSubtitlesAndChapters(t *testing.T) {
	h := newHarness(t, Options{})
	h.fp.mu.Lock()
	h.fp.tracks = append(h.fp.tracks,
		avsync.Track{Name: "talk", On: true, State: avsync.StatePlaying, Streams: []media.StreamInfo{{Kind: media.KindSubtitle}}},
		avsync.Track{Name: "talk (subtitles)", On: true, State: avsync.StatePlaying, Streams: []media.StreamInfo{{Kind: media.KindSubtitle}}})
	h.fp.chapters = []avsync.Chapter{{Start: 0, Title: "Opening"}, {Start: 20 * time.Second, Title: "The middle"}, {Start: 45 * time.Second, Title: "Last words"}}
	h.fp.mu.Unlock()
	pv := h.openPlayer()
	h.waitFor("the subtitle tracks' kind", func() bool { return pv.byName["talk"].kind == kindSubtitles })
	talk := pv.byName["talk"]
	if talk.tile.visible || talk.toggle.btn.Icon != kindSubtitles.icon() {
		t.Errorf("a subtitle track has a picture (%v) or the wrong icon", talk.tile.visible)
	}

	// The engine keeps one subtitle track on: the toggle follows.
	h.fp.mu.Lock()
	h.fp.tracks[4].On = false
	h.fp.mu.Unlock()
	h.waitFor("the second subtitle track shown off", func() bool {
		return !pv.byName["talk (subtitles)"].on && strings.Contains(pv.byName["talk (subtitles)"].toggle.btn.Text, "off")
	})

	h.fp.mu.Lock()
	sink := h.fp.subSink
	h.fp.mu.Unlock()
	if sink == nil {
		t.Fatal("the window gave the engine no subtitle sink")
	}
	sink.ShowSubtitle("Two lines,\nthe second one")
	shown := func() []string {
		var out []string
		for i, l := range pv.subs.lines {
			if l.Visible() && pv.subs.bands[i].Visible() {
				out = append(out, l.Text)
			}
		}
		return out
	}
	h.waitFor("two lines of subtitles", func() bool { return slices.Equal(shown(), []string{"Two lines,", "the second one"}) })
	area := pv.area.box.Size()
	for i, l := range pv.subs.lines {
		b := pv.subs.bands[i]
		mid := l.Position().X + l.Size().Width/2
		if math.Abs(float64(mid-area.Width/2)) > 1 || l.Position().Y < area.Height/2 || b.Position().Y+b.Size().Height > area.Height {
			t.Errorf("line %d at %v size %v: not centred in the lower half of the %v area", i, l.Position(), l.Size(), area)
		}
		if b.Position().X > l.Position().X || b.Position().X+b.Size().Width < l.Position().X+l.Size().Width {
			t.Errorf("line %d is not on its band", i)
		}
		if !slices.Contains(pv.area.box.Objects, fyne.CanvasObject(l)) {
			t.Errorf("line %d is not in the video area", i)
		}
	}
	sink.ShowSubtitle("")
	h.waitFor("the subtitles cleared", func() bool { return len(shown()) == 0 })

	// j goes through the subtitle tracks and then none.
	h.key(fyne.KeyJ)
	h.waitFor("j to the second subtitle track", func() bool {
		_, subs, _, _, _ := h.fp.snapshot()
		return slices.Contains(subs, "talk (subtitles)=on") && pv.byName["talk (subtitles)"].on && !pv.byName["talk"].on
	})
	h.key(fyne.KeyJ)
	h.waitFor("j to none", func() bool {
		_, subs, _, _, _ := h.fp.snapshot()
		return slices.Contains(subs, "talk (subtitles)=off") && !pv.byName["talk (subtitles)"].on && !pv.byName["talk"].on
	})
	h.key(fyne.KeyJ)
	h.waitFor("j to the first again", func() bool {
		_, subs, _, _, _ := h.fp.snapshot()
		return subs[len(subs)-1] == "talk=on" && pv.byName["talk"].on
	})

	calls := func() []string { h.fp.mu.Lock(); defer h.fp.mu.Unlock(); return slices.Clone(h.fp.calls) }
	h.key(fyne.KeyV)
	h.waitFor("v to hide subtitles", func() bool { return slices.Contains(calls(), "subtitles off") })
	h.key(fyne.KeyV)
	h.waitFor("v to show them", func() bool { return slices.Contains(calls(), "subtitles on") })

	h.waitFor("the chapters on the bar", func() bool { return len(pv.chapters) == 3 })
	r := test.WidgetRenderer(pv.seek).(*seekBarRenderer)
	w := pv.seek.Size().Width
	if len(r.marks) != 2 {
		t.Fatalf("%d chapter marks on the bar, want 2 (none at the start)", len(r.marks))
	}
	if x := r.marks[0].Position().X + r.marks[0].Size().Width/2; math.Abs(float64(x-w/3)) > 1 {
		t.Errorf("the mark of the chapter at 0:20 of 1:00 is at x=%v of %v", x, w)
	}
	c := h.w.Canvas()
	inset, _ := c.InteractiveArea()
	bar := fyne.CurrentApp().Driver().AbsolutePositionForObject(pv.seek).Add(inset)
	test.MoveMouse(c, bar.Add(fyne.NewPos(w/2, seekBarHeight/2)))
	if r.tip.Text != "0:30 · The middle" {
		t.Errorf("half way the tooltip says %q, want the time and the chapter", r.tip.Text)
	}
	test.MoveMouse(c, fyne.NewPos(c.Size().Width/2, 50))

	h.key(fyne.KeyPageDown)
	h.lastSeek(20 * time.Second)
	h.key(fyne.KeyPageDown)
	h.lastSeek(45 * time.Second)
	h.key(fyne.KeyPageUp) // just into "Last words": back to "The middle"
	h.lastSeek(20 * time.Second)
	if !strings.Contains(pv.toast, "The middle") {
		t.Errorf("the toast says %q after going to a chapter", pv.toast)
	}
}
