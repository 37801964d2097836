package app

import (
	"context"
	"errors"
	"strings"
	"unicode"
	"unicode/utf8"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	p2pnet "reelay/net"
)

// showError tells the user what went wrong in a dialog; UI goroutine.
func (u *ui) showError(title string, err error) {
	msg := plainError(err)
	u.debug.emit("error", map[string]any{"title": title, "message": msg})
	if u.measure != nil {
		u.measure.errors = append(u.measure.errors, title+": "+msg)
	}
	label := widget.NewLabel(msg)
	label.Wrapping = fyne.TextWrapWord
	content := container.NewBorder(nil, nil, container.NewVBox(widget.NewIcon(theme.ErrorIcon())), nil, label)
	d := dialog.NewCustom(title, "OK", content, u.w)
	d.Resize(fyne.NewSize(min(520, max(u.w.Canvas().Size().Width-40, 200)), 0))
	d.SetOnClosed(func() {
		if u.dialog == d {
			u.dialog = nil
		}
	})
	u.dialog = d
	d.Show()
}

// plainError says an error in words a person can act on: what happened
// first, the technical detail after.
func plainError(err error) string {
	switch {
	case err == nil:
		return ""
	case errors.Is(err, p2pnet.ErrNotFound):
		return "The sharer does not share this recording any more (or the link is incomplete). Ask them for a fresh link."
	case errors.Is(err, p2pnet.ErrBusy):
		return "The sharer is too busy right now. Try again in a moment."
	case errors.Is(err, context.DeadlineExceeded):
		return "The sharer did not answer in time. Check that they are still sharing and that you are both online."
	}
	s := err.Error()
	if i := strings.Index(s, "is unreachable"); i >= 0 {
		head := stripPrefixes(s[:i+len("is unreachable")])
		detail := strings.TrimLeft(s[i+len("is unreachable"):], ": ")
		return capitalize(head) + ". Check that they are still sharing and that you are both online.\n\n" + truncate(detail, 240)
	}
	return capitalize(truncate(stripPrefixes(s), 400))
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
