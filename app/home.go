package app

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/storage"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	p2pnet "reelay/net"
	avsync "reelay/sync"
)

// Preferences keys.
const (
	// prefRecentLinks is the plain list of links watched lately that
	// older versions kept; see prefWatched.
	prefRecentLinks = "recentLinks"
	prefVolume      = "volume"
	// prefLastFolder is the folder last shared or played, offered again.
	prefLastFolder = "lastFolder"
)

// maxRecentLinks bounds the recordings Home remembers.
const maxRecentLinks = 8

// homeSize is the window's size on the Share view, and Home's at most
// (Home is only as tall as what it holds, homeMinHeight at least).
var homeSize = fyne.NewSize(720, 600)

// homeMinHeight is the least height of Home, in Fyne units.
const homeMinHeight = 320

// showHome shows Home: paste a link and Watch, the recordings watched
// lately, the built-in demo, and a folder to share or play.
func (u *ui) showHome() { u.showHomeWith("") }

// showHomeWith shows Home with text in the link box: the link whose Watch
// failed, so that a typo can be mended.
func (u *ui) showHomeWith(text string) {
	u.leave()
	u.w.SetTitle(windowTitle(""))
	link := widget.NewEntry()
	link.SetPlaceHolder("reelay://… paste the link you were sent")
	watch := widget.NewButtonWithIcon("Watch", theme.MediaPlayIcon(), func() { u.watch(link.Text) })
	watch.Importance = widget.HighImportance
	watch.Disable()
	link.OnChanged = func(s string) {
		if strings.TrimSpace(s) == "" {
			watch.Disable()
		} else {
			watch.Enable()
		}
	}
	link.OnSubmitted = func(s string) {
		if strings.TrimSpace(s) != "" {
			u.watch(s)
		}
	}
	if text != "" {
		link.SetText(text)
	}
	if u.o.Dial == nil {
		link.Disable()
	}

	title := widget.NewRichText(&widget.TextSegment{Text: "Reelay", Style: widget.RichTextStyleHeading})
	intro := widget.NewLabel("Watch a friend's recording straight from their computer, or share yours. " +
		"Sharing a folder gives you a link to send; whoever opens it watches from your computer " +
		"while you share, and nothing is uploaded anywhere.")
	intro.Wrapping = fyne.TextWrapWord

	rows := []fyne.CanvasObject{
		title, intro,
		widget.NewSeparator(),
		heading("Watch a recording you were sent"),
		container.NewBorder(nil, nil, nil, watch, link),
	}
	if watched := loadWatched(u.a.Preferences()); len(watched) > 0 {
		rows = append(rows, widget.NewLabel("Watched lately:"))
		now := time.Now()
		for _, e := range watched {
			forget := widget.NewButtonWithIcon("", theme.DeleteIcon(), func() {
				forgetWatched(u.a.Preferences(), e.Link)
				u.showHomeWith(link.Text)
			})
			forget.Importance = widget.LowImportance
			rows = append(rows, container.NewBorder(nil, nil, nil, forget, newWatchedRow(e, now, func() { u.watch(e.Link) })))
		}
	}
	if u.canWatchDemo() {
		demo := widget.NewButtonWithIcon("Watch the demo", theme.MediaPlayIcon(), u.watchDemo)
		about := widget.NewLabel("No link yet? A one-minute recording with a screen, a camera and a microphone, shared from this computer.")
		about.Wrapping = fyne.TextWrapWord
		rows = append(rows, widget.NewSeparator(), container.NewBorder(nil, nil, container.NewCenter(demo), nil, about))
	}
	content := container.NewVBox()
	// fit makes the window as tall as what Home holds, laid out at its
	// width: no empty half for a first-time user, a scroll bar only for
	// a long list.
	fit := func() {
		h := content.MinSize().Height + 2*theme.Padding()
		u.resize(fyne.NewSize(homeSize.Width, min(max(h, homeMinHeight), homeSize.Height)))
	}
	rows = append(rows, widget.NewSeparator())
	rows = append(rows, u.folderRows(fit)...)
	content.Objects = rows

	u.resize(homeSize)
	u.setContent("home", container.NewVScroll(content), true)
	fit()
	u.w.Canvas().Focus(link)
}

// windowTitle is the window's title while it shows what: what comes
// first, as in any player, so a taskbar too narrow for the whole title
// still tells windows apart; the app's name alone when it shows nothing
// in particular.
func windowTitle(what string) string {
	if what == "" {
		return "Reelay"
	}
	return what + " — Reelay"
}

// heading is a section's title on Home.
func heading(text string) *widget.Label {
	return widget.NewLabelWithStyle(text, fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
}

// folderRows are Home's folder section: a box to type or paste a
// recording folder's path in (Fyne's folder dialog takes many clicks and
// no typing), a button for that dialog, Play and Share, and the reason a
// path cannot be played or shared; fit makes room for that reason.
func (u *ui) folderRows(fit func()) []fyne.CanvasObject {
	what := "Play a recording folder on this computer"
	if u.o.Share != nil {
		what = "Share a recording folder, or play it on this computer"
	}
	path := widget.NewEntry()
	path.SetPlaceHolder("Type or paste a folder's path, or choose it with the folder button")
	problem := widget.NewLabel("")
	problem.Importance = widget.DangerImportance
	problem.Wrapping = fyne.TextWrapWord
	problem.Hide()
	var buttons []*widget.Button
	// use checks the path and hands the folder to then, or says what is
	// wrong with it.
	use := func(then func(dir string)) {
		dir, err := folderPath(path.Text)
		if err != nil {
			problem.SetText(err.Error())
			problem.Show()
			fit()
			u.debug.emit("folder-problem", map[string]any{"message": err.Error()})
			return
		}
		u.a.Preferences().SetString(prefLastFolder, dir)
		then(dir)
	}
	play := widget.NewButtonWithIcon("Play", theme.MediaPlayIcon(), func() { use(u.playFolder) })
	buttons = append(buttons, play)
	right := container.NewHBox()
	browse := widget.NewButtonWithIcon("", theme.FolderOpenIcon(), func() {
		u.chooseFolder(path.Text, func(dir string) {
			path.SetText(dir)
			u.w.Canvas().Focus(path)
		})
	})
	right.Add(browse)
	right.Add(play)
	if u.o.Share != nil {
		share := widget.NewButtonWithIcon("Share", theme.UploadIcon(), func() { use(u.shareFolder) })
		buttons = append(buttons, share)
		right.Add(share)
	}
	path.OnChanged = func(s string) {
		problem.Hide()
		for _, b := range buttons {
			if strings.TrimSpace(s) == "" {
				b.Disable()
			} else {
				b.Enable()
			}
		}
	}
	path.OnSubmitted = func(string) { use(u.playFolder) }
	path.SetText(u.a.Preferences().String(prefLastFolder))
	path.OnChanged(path.Text)
	return []fyne.CanvasObject{heading(what), container.NewBorder(nil, nil, nil, right, path), problem}
}

// folderPath reads a folder's path as typed or pasted: around it quotes a
// file manager may add, a file:// URL, or ~ for the home folder. It says
// in plain words why it is not a folder that can be opened.
func folderPath(text string) (string, error) {
	p := strings.TrimSpace(text)
	if len(p) >= 2 && (p[0] == '"' || p[0] == '\'') && p[len(p)-1] == p[0] {
		p = p[1 : len(p)-1]
	}
	if strings.HasPrefix(p, "file://") {
		if u, err := url.Parse(p); err == nil && u.Path != "" {
			p = u.Path
		}
	}
	if p == "" {
		return "", errors.New("Type or paste the path of the folder that holds the recording.")
	}
	if p == "~" || strings.HasPrefix(p, "~/") {
		if home, err := os.UserHomeDir(); err == nil {
			p = filepath.Join(home, p[1:])
		}
	}
	if abs, err := filepath.Abs(p); err == nil {
		p = abs
	}
	fi, err := os.Stat(p)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "", fmt.Errorf("There is no folder at %s. Check the path, or choose the folder with the folder button.", p)
	case errors.Is(err, fs.ErrPermission):
		return "", fmt.Errorf("You are not allowed to open %s.", p)
	case err != nil:
		return "", fmt.Errorf("Reelay cannot open %s: %v.", p, err)
	case !fi.IsDir():
		return "", fmt.Errorf("%s is a file, not a folder. Give the folder that holds the recording's files.", p)
	}
	return p, nil
}

// chooseFolder opens Fyne's folder dialog, at the folder typed (if it is
// one), and hands the folder chosen to then.
func (u *ui) chooseFolder(typed string, then func(dir string)) {
	d := dialog.NewFolderOpen(func(dir fyne.ListableURI, err error) {
		if err != nil {
			u.showError("Could not open the folder", err)
			return
		}
		if dir != nil {
			then(dir.Path())
		}
	}, u.w)
	if dir, err := folderPath(typed); err == nil && strings.TrimSpace(typed) != "" {
		if l, err := storage.ListerForURI(storage.NewFileURI(dir)); err == nil {
			d.SetLocation(l)
		}
	}
	d.Resize(fyne.NewSize(680, 440))
	d.Show()
}

// rememberLink puts a recording first among those watched lately.
func (u *ui) rememberLink(link, name string) {
	rememberWatched(u.a.Preferences(), link, name, time.Now())
}

// canWatchDemo says Home can offer the built-in demo: the window was
// opened on it, or can share it.
func (u *ui) canWatchDemo() bool {
	return (u.o.Demo && u.o.Link != "") || (u.o.StartDemo != nil && u.o.Dial != nil)
}

// watchDemo watches the built-in demo: the one this window was opened on,
// which this process still shares, or one Options.StartDemo shares now,
// through the same path a friend's recording takes.
func (u *ui) watchDemo() {
	if u.o.Demo && u.o.Link != "" {
		u.watch(u.o.Link)
		return
	}
	if !u.canWatchDemo() {
		return
	}
	start, dial := u.o.StartDemo, u.o.Dial
	u.connect("Starting the demo…", func(ctx context.Context) (Remote, string, error) {
		return startDemo(ctx, start, dial)
	}, func(err error) {
		u.showHome()
		u.showError("Could not start the demo", err)
	}, func(rem Remote, link string) { u.openPlayer(rem, link, "") })
}

// connect shows message while open reaches a recording in the
// background, then opens the player on it with opened, or tells failed
// why not; UI goroutine. A recording that arrives after Cancel, or after
// another view took over, is closed.
func (u *ui) connect(message string, open func(context.Context) (Remote, string, error), failed func(error), opened func(Remote, string)) {
	u.leave()
	u.showBusy("connecting", message)
	ctx, cancel := context.WithCancel(u.ctx)
	u.connecting = cancel
	u.background.Go(func() {
		rem, link, err := open(ctx)
		u.do(func() {
			if ctx.Err() != nil {
				if rem != nil {
					u.closeLater(rem.Close)
				}
				return
			}
			cancel()
			u.connecting = nil
			if err != nil {
				failed(err)
				return
			}
			opened(rem, link)
		})
	})
}

// startDemo shares the demo and dials its link; off the UI goroutine.
func startDemo(ctx context.Context, start func() (string, func(), error), dial func(context.Context, string) (Remote, error)) (Remote, string, error) {
	link, stop, err := start()
	if err != nil {
		return nil, "", err
	}
	rem, err := dial(ctx, link)
	if err != nil {
		stop()
		return nil, "", err
	}
	return &demoRemote{Remote: rem, stop: stop}, link, nil
}

// demoRemote is the demo started from Home: when the player closes it,
// sharing it stops too.
type demoRemote struct {
	Remote
	// stop ends the demo's sharing.
	stop func()
}

func (r *demoRemote) Close() error {
	err := r.Remote.Close()
	r.stop()
	return err
}

// showBusy shows a message with a spinner and a Cancel button that goes
// back Home.
func (u *ui) showBusy(view, message string) {
	msg := widget.NewLabel(message)
	msg.Wrapping = fyne.TextWrapWord
	msg.Alignment = fyne.TextAlignCenter
	cancel := widget.NewButtonWithIcon("Cancel", theme.CancelIcon(), u.showHome)
	u.setContent(view, container.NewVBox(layout.NewSpacer(), msg, widget.NewProgressBarInfinite(), container.NewCenter(cancel), layout.NewSpacer()), true)
}

// watch dials a link in the background and opens the player on it.
func (u *ui) watch(link string) {
	link = strings.TrimSpace(link)
	if _, err := p2pnet.ParseLink(link); err != nil {
		if u.view != "home" {
			u.showHomeWith(link)
		}
		u.showError("Cannot open that link", err)
		return
	}
	if u.o.Dial == nil {
		u.showError("Cannot watch links", errors.New("this window was opened without a network"))
		return
	}
	dial := u.o.Dial
	u.connect("Connecting to the sharer…", func(ctx context.Context) (Remote, string, error) {
		rem, err := dial(ctx, link)
		return rem, link, err
	}, func(err error) {
		u.showHomeWith(link)
		u.showError("Could not reach the sharer", err)
	}, func(rem Remote, link string) {
		// The demo this window was opened on dies with it.
		if !u.o.Demo || link != u.o.Link {
			u.rememberLink(link, rem.Name())
		}
		u.openPlayer(rem, link, "")
	})
}

// playFolder opens a local recording folder in the background and plays
// it.
func (u *ui) playFolder(dir string) {
	u.leave()
	u.showBusy("opening", "Opening "+dir+"…")
	ctx, cancel := context.WithCancel(u.ctx)
	u.connecting = cancel
	open := u.o.OpenFolder
	go func() {
		src, err := open(dir)
		u.do(func() {
			if ctx.Err() != nil {
				return
			}
			cancel()
			u.connecting = nil
			if err != nil {
				u.showHome()
				u.showError("Could not play the folder", err)
				return
			}
			// The folder is remembered by its whole path (resume.go).
			abs, err := filepath.Abs(dir)
			if err != nil {
				abs = dir
			}
			u.openPlayer(src, "", abs)
		})
	}()
}

// openPlayer shows the player on src; UI goroutine.
func (u *ui) openPlayer(src avsync.Source, link, folder string) {
	u.leave()
	u.player = newPlayerView(u, src, link, folder)
	u.player.show()
}

// closeLater runs a closer off the UI goroutine and makes Run wait for it.
func (u *ui) closeLater(close func() error) {
	u.background.Go(func() { close() })
}
