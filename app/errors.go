package app

import (
	"context"
	"errors"
	"log"
	"strings"
	"unicode"
	"unicode/utf8"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"reelay/media"
	p2pnet "reelay/net"
)

// showError tells the user what went wrong in a dialog: plain words
// first, the technical detail behind a Details toggle and in the log; UI
// goroutine.
func (u *ui) showError(title string, err error) {
	msg, detail := explain(err)
	u.debug.emit("error", map[string]any{"title": title, "message": msg, "detail": detail})
	if err != nil {
		log.Printf("reelay: %s: %v", title, err)
	}
	if u.measure != nil {
		u.measure.errors = append(u.measure.errors, title+": "+msg)
	}
	label := widget.NewLabel(msg)
	label.Wrapping = fyne.TextWrapWord
	body := container.NewVBox(label)
	if detail != "" {
		text := widget.NewLabel(detail)
		text.Wrapping = fyne.TextWrapBreak
		text.Selectable = true
		text.TextStyle = fyne.TextStyle{Monospace: true}
		body.Add(widget.NewAccordion(widget.NewAccordionItem("Details", text)))
	}
	content := container.NewBorder(nil, nil, container.NewVBox(widget.NewIcon(theme.ErrorIcon())), nil, body)
	d := dialog.NewCustom(title, "OK", content, u.w)
	d.Resize(fyne.NewSize(min(560, max(u.w.Canvas().Size().Width-40, 200)), 0))
	d.SetOnClosed(func() {
		if u.dialog == d {
			u.dialog = nil
		}
	})
	u.dialog = d
	d.Show()
}

// explain says err in words a person can act on, and the technical
// detail behind them ("" when the words are all there is).
func explain(err error) (plain, detail string) {
	if err == nil {
		return "", ""
	}
	detail = err.Error()
	switch {
	case errors.Is(err, p2pnet.ErrBadLink):
		plain = "This is not a whole Reelay link. Copy the whole link the sharer sent you (it starts with reelay://) and paste it again."
	case errors.Is(err, p2pnet.ErrNotFound):
		plain = "The sharer does not share this recording any more, or the link is incomplete. Ask them for a fresh link."
	case errors.Is(err, p2pnet.ErrBusy):
		plain = "The sharer is too busy right now. Try again in a moment."
	case errors.Is(err, p2pnet.ErrChanged):
		plain = "The recording changed on the sharer's machine while you watched. Open the link again to watch it as it is now."
	case errors.Is(err, p2pnet.ErrUnreachable), errors.Is(err, context.DeadlineExceeded):
		plain = "Reelay could not reach the sharer. Check that they are still sharing and that you are both online."
	case errors.Is(err, media.ErrNotMedia):
		plain = "This file is not a video or audio recording Reelay can read."
	default:
		plain, detail = capitalize(truncate(stripPrefixes(detail), 400)), ""
	}
	return plain, detail
}

// stripPrefixes drops the package names errors start with.
func stripPrefixes(s string) string {
	for {
		t := s
		for _, p := range []string{"net: ", "sync: ", "media: ", "link: "} {
			t = strings.TrimPrefix(t, p)
		}
		if t == s {
			return s
		}
		s = t
	}
}

func capitalize(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	if n == 0 {
		return s
	}
	return string(unicode.ToUpper(r)) + s[n:]
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
