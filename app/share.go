package app

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	p2pnet "reelay/net"
	avsync "reelay/sync"
)

// viewersPeriod is how often the Share view reads who is watching.
const viewersPeriod = time.Second

// shareFolder starts sharing dir in the background and shows the Share
// view.
func (u *ui) shareFolder(dir string) {
	u.leave()
	u.showBusy("starting-share", "Starting to share "+dir+"…")
	ctx, cancel := context.WithCancel(u.ctx)
	u.connecting = cancel
	share := u.o.Share
	go func() {
		sh, err := share(dir)
		u.do(func() {
			if ctx.Err() != nil {
				if sh != nil {
					u.closeLater(sh.Stop)
				}
				return
			}
			cancel()
			u.connecting = nil
			if err != nil {
				u.showHome()
				u.showError("Could not share the folder", err)
				return
			}
			u.share = newShareView(u, sh)
			u.share.show()
		})
	}()
}

// shareView shows a folder being shared: the link to send, the tracks,
// who is watching now and how fast, and Stop sharing.
type shareView struct {
	u  *ui
	sh Sharing
	// link shows the link; it follows the sharer's addresses as they
	// change (a relay reservation, a new network), the old link still
	// working.
	link *readOnlyEntry
	// viewers lists the peers watching now.
	viewers *widget.Label
	// tracks lists the tracks; trackLines is what it says.
	tracks     *fyne.Container
	trackLines []string
	// ctx ends the poller; stop cancels it.
	ctx  context.Context
	stop context.CancelFunc
	// sent remembers each peer's bytes at the last poll, for throughput;
	// owned by the poller.
	sent map[string]viewerSample
}

// viewerSample is a peer's byte count at a time.
type viewerSample struct {
	bytes int64
	at    time.Time
}

func newShareView(u *ui, sh Sharing) *shareView {
	ctx, cancel := context.WithCancel(u.ctx)
	return &shareView{u: u, sh: sh, ctx: ctx, stop: cancel, sent: map[string]viewerSample{}}
}

func (s *shareView) show() {
	u := s.u
	u.w.SetTitle(windowTitle("Sharing " + s.sh.Name()))
	s.link = newReadOnlyEntry(s.sh.Link())
	copyBtn := widget.NewButtonWithIcon("Copy", theme.ContentCopyIcon(), func() {
		u.a.Clipboard().SetContent(s.link.Text)
		u.debug.emit("copied", nil)
	})
	copyBtn.Importance = widget.HighImportance
	tracks := container.NewVBox()
	s.tracks = tracks
	s.showTracks(s.sh.Tracks())
	s.viewers = widget.NewLabel("Nobody is watching yet.")
	stop := widget.NewButtonWithIcon("Stop sharing", theme.MediaStopIcon(), u.showHome)
	stop.Importance = widget.DangerImportance
	content := container.NewVBox(
		widget.NewLabelWithStyle("Sharing “"+s.sh.Name()+"”", fyne.TextAlignLeading, fyne.TextStyle{Bold: true}),
		widget.NewLabel("Send this link to the people who should watch. Anyone with it can watch while you share."),
		container.NewBorder(nil, nil, nil, copyBtn, s.link),
		widget.NewSeparator(),
		widget.NewLabelWithStyle("Tracks", fyne.TextAlignLeading, fyne.TextStyle{Bold: true}),
		tracks,
		widget.NewSeparator(),
		widget.NewLabelWithStyle("Watching now", fyne.TextAlignLeading, fyne.TextStyle{Bold: true}),
		s.viewers,
		widget.NewSeparator(),
		container.NewHBox(stop),
	)
	u.resize(homeSize)
	u.setContent("share", container.NewVScroll(content), true)
	go s.poll()
}

// showTracks lists the tracks shared: their size, where they start, and
// which are being recorded now; a recording being written grows, and
// gains the tracks that appear in its folder. UI goroutine.
func (s *shareView) showTracks(tracks []p2pnet.TrackInfo) {
	var lines []string
	for _, t := range tracks {
		line := fmt.Sprintf("%s — %.1f MB", t.Name, float64(t.Size)/1e6)
		if t.Live {
			line = fmt.Sprintf("%s — recording, %.1f MB so far", t.Name, float64(t.Size)/1e6)
		}
		if t.Start > 0 {
			line += fmt.Sprintf(", starts at %s", formatTime(t.Start))
		}
		lines = append(lines, line)
	}
	if slices.Equal(lines, s.trackLines) {
		return
	}
	s.trackLines = lines
	s.tracks.RemoveAll()
	for i, t := range tracks {
		k := kindOf(avsync.Track{Name: t.Name})
		s.tracks.Add(container.NewHBox(widget.NewIcon(k.icon()), widget.NewLabel(lines[i])))
	}
}

// poll reads the viewers off the UI goroutine and shows them.
func (s *shareView) poll() {
	t := time.NewTicker(viewersPeriod)
	defer t.Stop()
	for {
		text := s.describeViewers(s.sh.Viewers(), time.Now())
		link := s.sh.Link()
		tracks := s.sh.Tracks()
		s.u.do(func() {
			if s.ctx.Err() != nil {
				return
			}
			s.showTracks(tracks)
			s.viewers.SetText(text)
			if link != s.link.Text {
				s.link.SetText(link)
			}
		})
		select {
		case <-s.ctx.Done():
			return
		case <-t.C:
		}
	}
}

// describeViewers says who is watching and how fast each pulls, from the
// bytes sent since the last poll.
func (s *shareView) describeViewers(vs []p2pnet.ViewerStats, now time.Time) string {
	if len(vs) == 0 {
		return "Nobody is watching yet."
	}
	slices.SortFunc(vs, func(a, b p2pnet.ViewerStats) int { return a.Since.Compare(b.Since) })
	var lines []string
	seen := map[string]viewerSample{}
	for _, v := range vs {
		id := v.Peer.String()
		rate := 0.0
		if prev, ok := s.sent[id]; ok && now.After(prev.at) {
			rate = float64(v.BytesSent-prev.bytes) / now.Sub(prev.at).Seconds()
		}
		seen[id] = viewerSample{bytes: v.BytesSent, at: now}
		now := formatBitrate(rate)
		if now == "" {
			now = "buffer full"
		}
		lines = append(lines, fmt.Sprintf("%s — for %s — %s — %.1f MB sent", shortPeer(id),
			time.Since(v.Since).Round(time.Second), now, float64(v.BytesSent)/1e6))
	}
	s.sent = seen
	return strings.Join(lines, "\n")
}

// close stops sharing, off the UI goroutine.
func (s *shareView) close() {
	s.stop()
	s.u.closeLater(s.sh.Stop)
}

// readOnlyEntry is a field whose text can be selected and copied but not
// changed.
type readOnlyEntry struct {
	widget.Entry
}

func newReadOnlyEntry(text string) *readOnlyEntry {
	e := &readOnlyEntry{}
	e.ExtendBaseWidget(e)
	e.SetText(text)
	return e
}

func (e *readOnlyEntry) TypedRune(rune) {}

func (e *readOnlyEntry) TypedKey(k *fyne.KeyEvent) {
	switch k.Name {
	case fyne.KeyBackspace, fyne.KeyDelete, fyne.KeyEnter, fyne.KeyReturn, fyne.KeyTab:
		return
	}
	e.Entry.TypedKey(k)
}

func (e *readOnlyEntry) TypedShortcut(s fyne.Shortcut) {
	switch s.(type) {
	case *fyne.ShortcutPaste, *fyne.ShortcutCut, *fyne.ShortcutUndo, *fyne.ShortcutRedo:
		return
	}
	e.Entry.TypedShortcut(s)
}
