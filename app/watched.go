package app

// The recordings watched lately, as Home lists them: kept in Fyne's
// preferences, each with its link, its name and when it was watched.

import (
	"cmp"
	"encoding/json"
	"fmt"
	"image/color"
	"slices"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	p2pnet "reelay/net"
)

// prefWatched holds the recordings watched lately as JSON, newest
// first. prefRecentLinks, the plain list of links older versions kept,
// is still read (a link only there is listed without a name) and
// written, so going back to an older version loses nothing either.
const prefWatched = "watchedLately"

// watchedEntry is a recording watched lately.
type watchedEntry struct {
	// Link opens it again.
	Link string `json:"link"`
	// Name is the recording's name when it was last opened; "" for a
	// link from before names were kept.
	Name string `json:"name,omitempty"`
	// At is when it was last opened, in Unix seconds; 0 if not known.
	At int64 `json:"at,omitempty"`
}

// watchedKey is what makes two links the same recording: the sharer and
// the token. The addresses a link carries change with the sharer's
// network.
func watchedKey(link string) string {
	l, err := p2pnet.ParseLink(link)
	if err != nil {
		return link
	}
	return l.Peer.String() + "/" + l.Token
}

// loadWatched reads the recordings watched lately, newest first; those
// without a time (from the old plain list) last, in their old order.
func loadWatched(p fyne.Preferences) []watchedEntry {
	var list []watchedEntry
	if s := p.String(prefWatched); s != "" {
		if err := json.Unmarshal([]byte(s), &list); err != nil {
			list = nil
		}
	}
	seen := map[string]bool{}
	list = slices.DeleteFunc(list, func(e watchedEntry) bool {
		k := watchedKey(e.Link)
		drop := e.Link == "" || seen[k]
		seen[k] = true
		return drop
	})
	for _, l := range p.StringList(prefRecentLinks) {
		if k := watchedKey(l); l != "" && !seen[k] {
			seen[k] = true
			list = append(list, watchedEntry{Link: l})
		}
	}
	slices.SortStableFunc(list, func(a, b watchedEntry) int {
		switch {
		case a.At == 0 && b.At == 0:
			return 0
		case a.At == 0:
			return 1
		case b.At == 0:
			return -1
		}
		return cmp.Compare(b.At, a.At)
	})
	if len(list) > maxRecentLinks {
		list = list[:maxRecentLinks]
	}
	return list
}

// rememberWatched puts a recording first in the ones watched lately.
func rememberWatched(p fyne.Preferences, link, name string, at time.Time) {
	k := watchedKey(link)
	list := slices.DeleteFunc(loadWatched(p), func(e watchedEntry) bool { return watchedKey(e.Link) == k })
	list = append([]watchedEntry{{Link: link, Name: name, At: at.Unix()}}, list...)
	if len(list) > maxRecentLinks {
		list = list[:maxRecentLinks]
	}
	saveWatched(p, list)
}

// forgetWatched takes a recording off the ones watched lately.
func forgetWatched(p fyne.Preferences, link string) {
	k := watchedKey(link)
	saveWatched(p, slices.DeleteFunc(loadWatched(p), func(e watchedEntry) bool { return watchedKey(e.Link) == k }))
}

// saveWatched keeps list as the recordings watched lately, also as the
// plain list of links earlier versions read.
func saveWatched(p fyne.Preferences, list []watchedEntry) {
	b, err := json.Marshal(list)
	if err != nil {
		return
	}
	links := make([]string, len(list))
	for i, e := range list {
		links[i] = e.Link
	}
	p.SetString(prefWatched, string(b))
	p.SetStringList(prefRecentLinks, links)
}

// sharerOf names a link's sharer by the end of its peer ID (shortPeer).
func sharerOf(link string) string {
	l, err := p2pnet.ParseLink(link)
	if err != nil {
		return ""
	}
	return shortPeer(l.Peer.String())
}

// shortPeer is the end of a peer ID, enough to tell friends apart:
// "…a1b2c3".
func shortPeer(id string) string {
	return "…" + id[max(len(id)-6, 0):]
}

// watchedAgo says when something was watched, as people say it:
// "just now", "2 hours ago", "yesterday", "3 days ago", "12 March".
func watchedAgo(at, now time.Time) string {
	d := now.Sub(at)
	day := func(t time.Time) time.Time {
		y, m, dd := t.Date()
		return time.Date(y, m, dd, 0, 0, 0, 0, t.Location())
	}
	days := int(day(now).Sub(day(at)).Hours()/24 + 0.5)
	switch {
	case d < time.Minute:
		return "just now"
	case d < 2*time.Minute:
		return "a minute ago"
	case d < time.Hour:
		return fmt.Sprintf("%d minutes ago", int(d/time.Minute))
	case d < 2*time.Hour:
		return "an hour ago"
	case days == 0 || d < 6*time.Hour:
		return fmt.Sprintf("%d hours ago", int(d/time.Hour))
	case days == 1:
		return "yesterday"
	case days < 7:
		return fmt.Sprintf("%d days ago", days)
	case at.Year() == now.Year():
		return at.Format("2 January")
	default:
		return at.Format("2 January 2006")
	}
}

// describeWatched is what Home's row says of a recording: its name, and
// who shared it and when it was watched.
func describeWatched(e watchedEntry, now time.Time) (name, detail string) {
	name = e.Name
	if name == "" {
		name = "A recording"
	}
	if by := sharerOf(e.Link); by != "" {
		detail = "shared by " + by
	}
	if e.At != 0 {
		ago := watchedAgo(time.Unix(e.At, 0), now)
		if detail == "" {
			detail = "watched " + ago
		} else {
			detail += " · " + ago
		}
	}
	return name, detail
}

// watchedRow is one recording watched lately on Home: its name, who
// shared it and when, the whole row a button that watches it again.
type watchedRow struct {
	widget.BaseWidget
	// link is what it watches; name and detail what it says.
	link         string
	name, detail string
	// onTap watches it.
	onTap func()
	// hovered says the pointer is on it, focused that the keyboard is:
	// either lights it up.
	hovered, focused bool
}

func newWatchedRow(e watchedEntry, now time.Time, onTap func()) *watchedRow {
	r := &watchedRow{link: e.Link, onTap: onTap}
	r.name, r.detail = describeWatched(e, now)
	r.ExtendBaseWidget(r)
	return r
}

func (r *watchedRow) Tapped(*fyne.PointEvent) { r.onTap() }

// FocusGained and FocusLost light the row up while Tab has it.
func (r *watchedRow) FocusGained() {
	r.focused = true
	r.Refresh()
}

func (r *watchedRow) FocusLost() {
	r.focused = false
	r.Refresh()
}

// TypedKey watches it on Enter or Space, as a button does.
func (r *watchedRow) TypedKey(e *fyne.KeyEvent) {
	switch e.Name {
	case fyne.KeyReturn, fyne.KeyEnter, fyne.KeySpace:
		r.onTap()
	}
}

func (r *watchedRow) TypedRune(rune) {}

func (r *watchedRow) MouseIn(*desktop.MouseEvent) {
	r.hovered = true
	r.Refresh()
}

func (r *watchedRow) MouseMoved(*desktop.MouseEvent) {}

func (r *watchedRow) MouseOut() {
	r.hovered = false
	r.Refresh()
}

// Cursor is the hand, as over a link.
func (r *watchedRow) Cursor() desktop.Cursor { return desktop.PointerCursor }

func (r *watchedRow) CreateRenderer() fyne.WidgetRenderer {
	bg := canvas.NewRectangle(color.Transparent)
	bg.CornerRadius = theme.InputRadiusSize()
	name := widget.NewLabelWithStyle(r.name, fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	name.Truncation = fyne.TextTruncateEllipsis
	detail := widget.NewLabel(r.detail)
	detail.Importance = widget.LowImportance
	content := container.NewBorder(nil, nil, widget.NewIcon(theme.MediaPlayIcon()), detail, name)
	return &watchedRowRenderer{r: r, bg: bg, WidgetRenderer: widget.NewSimpleRenderer(container.NewStack(bg, content))}
}

// watchedRowRenderer lights the row up under the pointer.
type watchedRowRenderer struct {
	fyne.WidgetRenderer
	r  *watchedRow
	bg *canvas.Rectangle
}

func (w *watchedRowRenderer) Refresh() {
	if w.r.hovered || w.r.focused {
		w.bg.FillColor = theme.Color(theme.ColorNameHover)
	} else {
		w.bg.FillColor = color.Transparent
	}
	w.bg.Refresh()
	w.WidgetRenderer.Refresh()
}

var (
	_ fyne.Tappable      = (*watchedRow)(nil)
	_ fyne.Focusable     = (*watchedRow)(nil)
	_ desktop.Hoverable  = (*watchedRow)(nil)
	_ desktop.Cursorable = (*watchedRow)(nil)
)
