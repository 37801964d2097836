package app

// What the player view shows of the engine: the status it polls, the
// connection to the sharer, and the status line.

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	p2pnet "reelay/net"
	avsync "reelay/sync"
)

// applyStatus shows a snapshot polled from the engine.
func (pv *playerView) applyStatus(s status) {
	pv.lastTracks, pv.stats = s.tracks, s.stats
	if s.seekGen >= pv.seekGen {
		pv.position = s.position
	}
	if s.duration > 0 {
		pv.duration = s.duration
	}
	// The state comes from the engine's events, which are never older
	// than a poll.
	pv.rtt, pv.path = s.rtt, s.path
	pv.throughput = 0
	// The bar shows what every track playing has at hand.
	var buffered []avsync.TimeRange
	var thinned []string
	first := true
	for _, t := range s.tracks {
		tv := pv.byName[t.Name]
		if tv == nil {
			tv = pv.addTrack(t.Name)
		}
		if t.Stats.Reader != nil {
			pv.throughput += t.Stats.Reader.Throughput
			if pv.rtt == 0 {
				pv.rtt = max(pv.rtt, t.Stats.Reader.RTT)
			}
		}
		if t.On && t.State != avsync.StateError && len(t.Streams) > 0 {
			// Outside its own span a track needs nothing.
			has := avsync.UnionRanges(t.Buffered, []avsync.TimeRange{{Start: 0, End: t.Start}})
			if t.End > t.Start {
				has = avsync.UnionRanges(has, []avsync.TimeRange{{Start: t.End, End: max(pv.duration, t.End)}})
			}
			if first {
				buffered, first = has, false
			} else {
				buffered = avsync.IntersectRanges(buffered, has)
			}
		}
		tv.tile.setWaiting(t.On && len(t.Streams) > 0 && pv.position < t.Start)
		tv.tile.setNote(trackNote(t, pv.position, pv.duration))
		if t.On && t.Thinned {
			thinned = append(thinned, t.Name)
		}
		k := kindOf(t)
		opened := len(t.Streams) > 0
		changed := k != tv.kind || opened != tv.opened
		if t.On != tv.on && s.subscribed >= pv.subsAsked {
			// The engine switched it with every switch asked carried out:
			// one subtitle track at a time, or a track of a recording
			// being written that can play only once finished, and is.
			tv.on, changed = t.On, true
		}
		tv.kind, tv.opened = k, opened
		for _, st := range t.Streams {
			if st.Width > 0 && st.Height > 0 {
				tv.tile.aspect = float32(st.Width) / float32(st.Height)
			}
		}
		if changed {
			pv.updateTrack(tv)
		}
	}
	pv.thinned = thinned
	pv.chapters = s.chapters
	pv.updateLive(s)
	pv.seek.setChapters(s.chapters)
	pv.showConnection(s.stats.Connection)
	if now := time.Now(); now.Sub(pv.figuresAt) >= figuresPeriod {
		pv.figuresAt = now
		pv.figures = pv.networkFigures()
	}
	// A new slice: the seek bar keeps the one it was given.
	pv.buffered = make([]span, len(buffered))
	for i, r := range buffered {
		pv.buffered[i] = span{r.Start, r.End}
	}
	pv.updateTime()
	pv.updateStatus()
	pv.overlay.update(pv)
}

// trackFailed handles a track the engine could not play: while net
// reconnects to the sharer, the track waits to be opened again once the
// connection is back; anything else is told.
func (pv *playerView) trackFailed(tv *trackView, err error) {
	if tv.err != nil && tv.err.Error() == err.Error() {
		return
	}
	if tv.on && pv.conn.State == p2pnet.ConnReconnecting {
		tv.err = err
		pv.updateTrack(tv)
		return
	}
	tv.err = err
	pv.updateTrack(tv)
	pv.u.showError(fmt.Sprintf("The track “%s” cannot play", tv.name), err)
}

// showConnection shows the connection to the sharer as net reports it.
// net reconnects by itself, dialling afresh as the link says; the window
// only says so, and once the connection is back opens the tracks that
// failed meanwhile. A sharer that stopped sharing is told once.
func (pv *playerView) showConnection(c p2pnet.Connection) {
	prev := pv.conn
	pv.conn = c
	if c.State == prev.State {
		return
	}
	pv.u.debug.emit("connection", map[string]any{"state": c.State.String(), "reconnects": c.Reconnects})
	switch c.State {
	case p2pnet.ConnConnected:
		for _, tv := range pv.tracks {
			if tv.on && tv.err != nil {
				tv.err = nil
				pv.subsAsked = pv.ctl.Subscribe(tv.name, true)
				pv.updateTrack(tv)
			}
		}
	case p2pnet.ConnUnshared:
		pv.u.showError("The sharer stopped sharing this recording", c.Err)
	}
}

// reconnectingText is the status line's account of an outage.
func reconnectingText(c p2pnet.Connection) string {
	s := fmt.Sprintf("Reconnecting to the sharer… (%s)", time.Since(c.Since).Round(time.Second))
	if c.Attempts > 1 {
		s += fmt.Sprintf(", attempt %d", c.Attempts)
	}
	return s
}

func (pv *playerView) updateTime() {
	if t := formatTime(pv.position) + " / " + formatTime(pv.duration); t != pv.timeText.Text {
		pv.timeText.SetText(t)
	}
	pv.seek.set(pv.position, pv.duration, pv.buffered)
	pv.debugStatus()
}

// networkFigures says, in a viewer's words, how the recording reaches
// this machine, the sharer's round-trip time and how fast it arrives:
// "Direct connection on your network · 12 ms · 1.0 Mbit/s".
func (pv *playerView) networkFigures() string {
	if pv.remote == nil {
		return "From this computer"
	}
	var parts []string
	if p := pathText(pv.path); p != "" {
		parts = append(parts, p)
	}
	if pv.conn.Lanes > 1 {
		// Net spreads the requests over more connections once the
		// sharer reports packets lost.
		parts = append(parts, fmt.Sprintf("%d connections, packets are being lost", pv.conn.Lanes))
	}
	if pv.rtt > 0 {
		parts = append(parts, formatRTT(pv.rtt))
	}
	// Nothing arriving means the buffer is full, not that the link is
	// dead: "0 bit/s" would only worry.
	if r := formatBitrate(pv.throughput); r != "" {
		parts = append(parts, r)
	}
	return strings.Join(parts, " · ")
}

// pathText says in a viewer's words the path net names (p2pnet.Path's
// String, which Remote.Path passes on); "" while there is none.
func pathText(path string) string {
	switch path {
	case "":
		return ""
	case p2pnet.PathLAN.String():
		return "Direct connection on your network"
	case p2pnet.PathDirect.String():
		return "Direct connection over the internet"
	case p2pnet.PathHolePunched.String():
		// Both sides are behind routers, which let the connection through.
		return "Direct connection through both routers"
	case p2pnet.PathRelayed.String():
		return "Relayed through a server"
	case p2pnet.PathUnknown.String():
		return "Not connected"
	default:
		// A path net named after this was written: its own words.
		return capitalize(path)
	}
}

// statusLine says the state, the path to the sharer, its round-trip time
// and the throughput, and anything the user should know.
func (pv *playerView) statusLine() string {
	var parts []string
	if pv.conn.State == p2pnet.ConnReconnecting {
		parts = append(parts, reconnectingText(pv.conn))
	} else {
		parts = append(parts, stateText(pv.state))
	}
	if len(pv.thinned) > 0 {
		parts = append(parts, strings.Join(pv.thinned, ", ")+": keyframes only, the link is too slow")
	}
	if pv.figures != "" && pv.conn.State != p2pnet.ConnReconnecting {
		parts = append(parts, pv.figures)
	}
	if pv.speed != 1 {
		parts = append(parts, formatSpeed(pv.speed))
	}
	if pv.muted {
		parts = append(parts, "muted")
	} else {
		parts = append(parts, fmt.Sprintf("volume %d%%", int(pv.vol*100+0.5)))
	}
	if pv.notice != "" {
		parts = append(parts, pv.notice)
	}
	if pv.toast != "" && time.Now().Before(pv.toastUntil) {
		parts = append(parts, pv.toast)
	}
	return strings.Join(parts, " · ")
}

func (pv *playerView) updateStatus() {
	if s := pv.statusLine(); s != pv.statusText.Text {
		pv.statusText.SetText(s)
	}
	pv.debugStatus()
}

// debugStatus writes a debug status line when what the controls show
// changed.
func (pv *playerView) debugStatus() {
	if !pv.u.debug.enabled() {
		return
	}
	tracks := map[string]any{}
	sig := fmt.Sprint(pv.statusText.Text, "|", pv.timeText.Text, "|", liveText(pv), pv.state, pv.playing, pv.position)
	for _, tv := range pv.tracks {
		tracks[tv.name] = map[string]any{
			"on": tv.on, "kind": tv.kind.String(), "failed": tv.err != nil, "visible": tv.tile.visible,
			"painted": tv.tile.painted, "applied": tv.tile.applied, "frame": [2]int{tv.tile.frameW, tv.tile.frameH},
			"note": tv.tile.note,
		}
		sig += fmt.Sprint("|", tv.on, tv.err != nil, tv.tile.visible)
	}
	if sig == pv.lastStatus {
		return
	}
	pv.lastStatus = sig
	pv.u.debug.emit("status", map[string]any{
		"state": pv.state.String(), "playing": pv.playing, "pos_ms": pv.position.Milliseconds(),
		"time": pv.timeText.Text, "live": liveText(pv), "status": pv.statusText.Text, "volume": pv.vol, "muted": pv.muted, "tracks": tracks,
	})
}

func stateText(s avsync.State) string {
	switch s {
	case avsync.StateOpening:
		return "Opening…"
	case avsync.StatePlaying:
		return "Playing"
	case avsync.StatePaused:
		return "Paused"
	case avsync.StateBuffering:
		return "Buffering…"
	case avsync.StateEnded:
		return "Ended"
	case avsync.StateError:
		return "Cannot play"
	default:
		return ""
	}
}

// trackNote is what a track's picture carries over its corner at pos in
// a recording lasting duration: that it has not started yet, has ended
// while others play on, or shows keyframes only.
func trackNote(t avsync.Track, pos, duration time.Duration) string {
	switch {
	case !t.On || t.State == avsync.StateError || len(t.Streams) == 0:
		return ""
	case pos < t.Start:
		return "Starts at " + formatTime(t.Start)
	case t.End > t.Start && pos >= t.End && pos < duration:
		return "Ended at " + formatTime(t.End)
	case t.Thinned:
		return "Keyframes only · slow link"
	}
	return ""
}

// formatSpeed says a playback speed as players do: "1.5×", "0.75×".
func formatSpeed(r float64) string {
	return strconv.FormatFloat(r, 'f', -1, 64) + "×"
}

// formatTime says a position as m:ss, or h:mm:ss past an hour.
func formatTime(d time.Duration) string {
	d = max(d, 0)
	s := int(d / time.Second)
	if s >= 3600 {
		return fmt.Sprintf("%d:%02d:%02d", s/3600, s/60%60, s%60)
	}
	return fmt.Sprintf("%d:%02d", s/60, s%60)
}

// formatRTT says a round-trip time in whole milliseconds: what a viewer
// can tell apart.
func formatRTT(d time.Duration) string {
	if d < time.Millisecond {
		return "under 1 ms"
	}
	return fmt.Sprintf("%d ms", d.Round(time.Millisecond).Milliseconds())
}

// formatBitrate says a throughput given in bytes per second in bits per
// second, as connections are advertised; "" below 1 kbit/s.
func formatBitrate(bytesPerSecond float64) string {
	b := bytesPerSecond * 8
	switch {
	case b >= 1e9:
		return fmt.Sprintf("%.1f Gbit/s", b/1e9)
	case b >= 10e6:
		return fmt.Sprintf("%.0f Mbit/s", b/1e6)
	case b >= 1e6:
		return fmt.Sprintf("%.1f Mbit/s", b/1e6)
	case b >= 1e3:
		return fmt.Sprintf("%.0f kbit/s", b/1e3)
	default:
		return ""
	}
}
