package app

import (
	"context"
	"errors"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/layout"
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
)

// maxRecentLinks bounds the recordings Home remembers.
const maxRecentLinks = 8

// homeSize is the window's size on Home and the Share view.
var homeSize = fyne.NewSize(720, 480)

// showHome shows Home: paste a link and Watch, or choose a folder to
// share or play, and the links watched lately.
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
	intro := widget.NewLabel("Watch a friend's recording straight from their machine, or share yours.")
	intro.Wrapping = fyne.TextWrapWord

	rows := []fyne.CanvasObject{
		title, intro,
		widget.NewSeparator(),
		widget.NewLabelWithStyle("Watch", fyne.TextAlignLeading, fyne.TextStyle{Bold: true}),
		container.NewBorder(nil, nil, nil, watch, link),
	}
	if watched := loadWatched(u.a.Preferences()); len(watched) > 0 {
		rows = append(rows, widget.NewLabel("Watched lately:"))
		now := time.Now()
		for _, e := range watched {
			rows = append(rows, newWatchedRow(e, now, func() { u.watch(e.Link) }))
		}
	}
	rows = append(rows, widget.NewSeparator(),
		widget.NewLabelWithStyle("Share or play a recording folder", fyne.TextAlignLeading, fyne.TextStyle{Bold: true}))
	var folderButtons []fyne.CanvasObject
	if u.o.Share != nil {
		share := widget.NewButtonWithIcon("Share a folder…", theme.UploadIcon(), func() { u.chooseFolder(u.shareFolder) })
		folderButtons = append(folderButtons, share)
	}
	play := widget.NewButtonWithIcon("Play a folder…", theme.FolderOpenIcon(), func() { u.chooseFolder(u.playFolder) })
	folderButtons = append(folderButtons, play)
	rows = append(rows, container.NewHBox(folderButtons...))

	u.resize(homeSize)
	u.setContent("home", container.NewVScroll(container.NewVBox(rows...)), true)
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

func (u *ui) chooseFolder(then func(dir string)) {
	d := dialog.NewFolderOpen(func(dir fyne.ListableURI, err error) {
		if err != nil {
			u.showError("Could not open the folder", err)
			return
		}
		if dir != nil {
			then(dir.Path())
		}
	}, u.w)
	d.Resize(fyne.NewSize(680, 440))
	d.Show()
}

// rememberLink puts a recording first among those watched lately.
func (u *ui) rememberLink(link, name string) {
	rememberWatched(u.a.Preferences(), link, name, time.Now())
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
	u.leave()
	u.showBusy("connecting", "Connecting to the sharer…")
	ctx, cancel := context.WithCancel(u.ctx)
	u.connecting = cancel
	dial := u.o.Dial
	go func() {
		rem, err := dial(ctx, link)
		u.do(func() {
			if ctx.Err() != nil {
				// Cancelled, or another view took over meanwhile.
				if rem != nil {
					u.closeLater(rem.Close)
				}
				return
			}
			cancel()
			u.connecting = nil
			if err != nil {
				u.showHomeWith(link)
				u.showError("Could not reach the sharer", err)
				return
			}
			// The demo this window was opened on dies with it.
			if !u.o.Demo || link != u.o.Link {
				u.rememberLink(link, rem.Name())
			}
			u.openPlayer(rem, link)
		})
	}()
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
			u.openPlayer(src, "")
		})
	}()
}

// openPlayer shows the player on src; UI goroutine.
func (u *ui) openPlayer(src avsync.Source, link string) {
	u.leave()
	u.player = newPlayerView(u, src, link)
	u.player.show()
}

// closeLater runs a closer off the UI goroutine and makes Run wait for it.
func (u *ui) closeLater(close func() error) {
	u.background.Go(func() { close() })
}
