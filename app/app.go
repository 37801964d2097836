// Package app is Reelay's window, on Fyne: Home (watch a link, share or
// play a folder), the Share view and the player. It is the only package
// that imports Fyne. The network reaches it through Options (dialling a
// link, sharing a folder) and the engine through the Player interface; it
// never does network work, decoding or engine calls on the UI goroutine,
// and touches widgets only there (through fyne.Do from other goroutines).
package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	gosync "sync"
	"time"

	"fyne.io/fyne/v2"
	fyneapp "fyne.io/fyne/v2/app"
	"fyne.io/fyne/v2/dialog"

	// Before Fyne reads the locale: see the package.
	_ "reelay/app/locale"
	avsync "reelay/sync"
)

// AppID is the application's ID: it names the preferences file and the
// desktop entry.
const AppID = "io.reelay.app"

// Options say what the window opens on and how it reaches the network and
// the engine.
type Options struct {
	// Link opens the player on a shared recording at start.
	Link string
	// Folder opens the player on a recording folder on this machine at
	// start. With neither Link nor Folder the window opens on Home.
	Folder string
	// Demo says Link is the built-in demo's, shared by this process: it
	// dies with it, so it is not added to the links watched lately, and
	// Home's "Watch the demo" watches it again.
	Demo bool
	// StartDemo shares the built-in demo recording from this process and
	// returns its link, and stop, which ends that sharing; Home's "Watch
	// the demo" dials the link with Dial and calls stop when the player
	// closes. It runs off the UI goroutine. Nil (and Demo false) leaves
	// the demo off Home.
	StartDemo func() (link string, stop func(), err error)
	// Dial connects to the sharer of a link and asks for its recording.
	// It runs off the UI goroutine; nil means links cannot be watched.
	Dial func(ctx context.Context, link string) (Remote, error)
	// Share starts sharing a folder; nil hides sharing on Home.
	Share func(dir string) (Sharing, error)
	// OpenFolder opens a recording folder on this machine. It defaults to
	// the folder reader the sharer uses, played locally.
	OpenFolder func(dir string) (avsync.Source, error)
	// OpenPlayer starts the engine on a source. It defaults to
	// avsync.Open; tests give a fake.
	OpenPlayer func(ctx context.Context, src avsync.Source, o avsync.Options) (Player, error)
	// For closes the window after this much playback (or at the end of the
	// recording, if sooner); 0 keeps it open. For measuring.
	For time.Duration
	// Report, when set, measures the run (frame rates, UI delays, memory)
	// and receives the figures as JSON when the window closes.
	Report io.Writer
	// ScreenshotDir is where the s key saves screenshots. It defaults to
	// Reelay in the user's pictures folder.
	ScreenshotDir string
	// Debug, when set, receives one JSON line per view, layout, status
	// change, key and error, so a test can drive the window from outside.
	Debug io.Writer
}

func (o Options) withDefaults() Options {
	if o.OpenFolder == nil {
		o.OpenFolder = openFolder
	}
	if o.OpenPlayer == nil {
		o.OpenPlayer = openEngine
	}
	return o
}

// CheckDisplay says whether a window can be opened: on X11 systems
// DISPLAY must be set and its server reachable.
func CheckDisplay() error {
	switch runtime.GOOS {
	case "windows", "darwin", "android", "ios", "js":
		return nil
	}
	d := os.Getenv("DISPLAY")
	if d == "" {
		return errors.New("no display to open a window on: DISPLAY is not set")
	}
	network, addr, ok := xServerAddr(d)
	if !ok {
		return nil // a form we do not know; let the toolkit try
	}
	c, err := net.DialTimeout(network, addr, 2*time.Second)
	if err != nil {
		return fmt.Errorf("no display to open a window on: the X server of DISPLAY=%s is unreachable: %w", d, err)
	}
	c.Close()
	return nil
}

// xServerAddr is where the X server of a DISPLAY value listens:
// ":N" → /tmp/.X11-unix/XN, "host:N" → host:6000+N.
func xServerAddr(display string) (network, addr string, ok bool) {
	host, rest, found := strings.Cut(display, ":")
	if !found || strings.HasPrefix(display, "/") {
		return "", "", false
	}
	num, _, _ := strings.Cut(rest, ".")
	var n int
	if _, err := fmt.Sscanf(num, "%d", &n); err != nil {
		return "", "", false
	}
	if host == "" || host == "unix" {
		return "unix", fmt.Sprintf("/tmp/.X11-unix/X%d", n), true
	}
	return "tcp", net.JoinHostPort(host, fmt.Sprint(6000+n)), true
}

// Run opens the window and returns when it is closed (or ctx ends). It
// must be called on the main goroutine, as every GUI toolkit requires.
func Run(ctx context.Context, o Options) error {
	if err := CheckDisplay(); err != nil {
		return err
	}
	if os.Getenv("GOGC") == "" {
		// Most of the heap is long-lived (picture buffers, fonts) and
		// playing allocates little per second, so collecting once the heap
		// grew by a tenth of what is live costs a short collection every
		// few seconds and keeps the heap's peak close to what is live.
		debug.SetGCPercent(10)
	}
	a := fyneapp.NewWithID(AppID)
	a.SetIcon(iconResource)
	w := a.NewWindow("Reelay")
	w.SetMaster()
	u := newUI(ctx, a, w, o, fyne.Do)
	u.quit = a.Quit
	if o.Report != nil {
		u.measure = newMeasure(fyne.Do)
		u.measure.watch.Start()
	}
	u.watchScreen()
	if o.Link != "" || o.Folder != "" {
		// The player's size from the start, so the window does not jump
		// when the recording opens.
		u.resize(playerWindowSize)
	}
	u.start()
	stop := context.AfterFunc(ctx, func() { fyne.Do(u.quitNow) })
	defer stop()
	w.ShowAndRun()
	return u.shutdown()
}

// ui is the window's state: which view is shown and what runs behind it.
// Its fields are owned by the UI goroutine unless said otherwise.
type ui struct {
	// ctx ends everything the window started.
	ctx context.Context
	o   Options
	a   fyne.App
	w   fyne.Window
	// do runs a function on the UI goroutine (fyne.Do; tests queue).
	do func(func())
	// screen is the most of the screen a window may take, in Fyne units;
	// zero until the driver said (watchScreen).
	screen fyne.Size
	// quit ends the app.
	quit func()
	// debug writes Options.Debug's lines; safe for concurrent use.
	debug *debugLog
	// measure is the run's figures, nil unless Options.Report is set.
	measure *measure

	// player and share are the player and Share views when shown.
	player *playerView
	share  *shareView
	// connecting cancels the dial under way, if any.
	connecting context.CancelFunc
	// background counts goroutines that must finish before Run returns
	// (closing players and sharings).
	background gosync.WaitGroup
	// view names the view shown.
	view string
	// dialog is the error dialog shown, nil when none is.
	dialog dialog.Dialog
	// controlsIdle is how long the player's controls stay in fullscreen
	// without a mouse move or a key; tests shorten it.
	controlsIdle time.Duration
	// quitting says the window is closing.
	quitting bool
}

func newUI(ctx context.Context, a fyne.App, w fyne.Window, o Options, do func(func())) *ui {
	u := &ui{ctx: ctx, o: o.withDefaults(), a: a, w: w, do: do, quit: func() {}, debug: newDebugLog(o.Debug), controlsIdle: controlsIdle}
	w.Canvas().SetOnTypedKey(u.typedKey)
	w.SetCloseIntercept(u.quitNow)
	return u
}

// start shows the first view.
func (u *ui) start() {
	switch {
	case u.o.Link != "":
		u.watch(u.o.Link)
	case u.o.Folder != "":
		u.playFolder(u.o.Folder)
	default:
		u.showHome()
	}
}

// quitNow closes the window; UI goroutine.
func (u *ui) quitNow() {
	if u.quitting {
		return
	}
	u.quitting = true
	u.debug.emit("quit", nil)
	u.leave()
	u.quit()
}

// shutdown waits for what the window started and writes the report.
func (u *ui) shutdown() error {
	u.leave()
	u.background.Wait()
	if u.measure != nil {
		u.measure.watch.Stop()
		if err := u.measure.write(u.o.Report); err != nil {
			return err
		}
	}
	return nil
}

// leave closes the current view's player, sharing or dial; UI goroutine
// (or after the app stopped).
func (u *ui) leave() {
	if u.connecting != nil {
		u.connecting()
		u.connecting = nil
	}
	if u.player != nil {
		u.player.close()
		u.player = nil
	}
	if u.share != nil {
		u.share.close()
		u.share = nil
	}
	if u.w.FullScreen() {
		u.w.SetFullScreen(false)
	}
}

func (u *ui) setContent(view string, c fyne.CanvasObject, padded bool) {
	u.w.SetPadded(padded)
	u.w.SetContent(c)
	u.view = view
	u.debug.emit("view", map[string]any{"view": view})
}

func (u *ui) typedKey(e *fyne.KeyEvent) {
	if u.player != nil {
		// Any key brings back the controls hidden in fullscreen.
		u.player.activity()
	}
	if d := u.dialog; d != nil {
		// The dialog has the keys: Esc and Enter close it, and nothing
		// reaches the player behind it.
		switch e.Name {
		case fyne.KeyEscape, fyne.KeyReturn, fyne.KeyEnter:
			d.Hide()
		}
		return
	}
	if u.player != nil {
		u.player.typedKey(e)
	}
}

func (u *ui) toggleFullScreen() { u.setFullScreen(!u.w.FullScreen()) }

func (u *ui) setFullScreen(on bool) {
	if u.w.FullScreen() == on {
		return
	}
	u.w.SetFullScreen(on)
	u.debug.emit("fullscreen", map[string]any{"fullscreen": on})
	if u.player != nil {
		u.player.checkControls()
	}
}
