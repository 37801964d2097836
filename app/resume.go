package app

import (
	"encoding/json"
	"maps"
	"slices"
	"time"

	p2pnet "reelay/net"
)

// Resume where you left off: the position each recording was left at is
// kept in the preferences, a shared one by its sharer and token (the
// addresses in a link change, the recording does not), a folder on this
// machine by its path, and the player opens there the next time. A recording watched to its end, or left in its first or
// last seconds, starts from the beginning.

// prefResume is the preferences key of the positions.
const prefResume = "resume"

// maxResume bounds the recordings remembered; the oldest go first.
const maxResume = 50

// resumeMargin is how far from either end a position must be to be worth
// coming back to.
const resumeMargin = 10 * time.Second

// resumePoint is where a recording was left.
type resumePoint struct {
	// Pos is the position, in seconds; At when it was left (Unix seconds).
	Pos float64 `json:"pos"`
	At  int64   `json:"at"`
}

// resumeKey names the recording the player shows, "" for none to keep
// (the built-in demo, whose link lives as long as the window).
func (pv *playerView) resumeKey() string {
	if pv.folder != "" {
		return "folder:" + pv.folder
	}
	if _, demo := pv.remote.(*demoRemote); demo || (pv.u.o.Demo && pv.link == pv.u.o.Link) {
		return ""
	}
	l, err := p2pnet.ParseLink(pv.link)
	if err != nil {
		return ""
	}
	return l.Peer.String() + "/" + l.Token
}

// loadResume reads the remembered positions.
func (u *ui) loadResume() map[string]resumePoint {
	points := map[string]resumePoint{}
	if s := u.a.Preferences().String(prefResume); s != "" {
		// A damaged entry only loses the positions.
		_ = json.Unmarshal([]byte(s), &points)
	}
	return points
}

// resumeAt is where the recording named key was left, 0 for its start.
func (u *ui) resumeAt(key string) time.Duration {
	if key == "" {
		return 0
	}
	p, ok := u.loadResume()[key]
	if !ok {
		return 0
	}
	return time.Duration(p.Pos * float64(time.Second))
}

// rememberPosition keeps where the recording named key was left, or
// forgets it when pos is within resumeMargin of either end.
func (u *ui) rememberPosition(key string, pos, duration time.Duration) {
	if key == "" {
		return
	}
	points := u.loadResume()
	if pos < resumeMargin || duration <= 0 || pos > duration-resumeMargin {
		if _, ok := points[key]; !ok {
			return
		}
		delete(points, key)
	} else {
		points[key] = resumePoint{Pos: pos.Seconds(), At: time.Now().Unix()}
	}
	if len(points) > maxResume {
		keys := slices.SortedFunc(maps.Keys(points), func(a, b string) int { return int(points[a].At - points[b].At) })
		for _, k := range keys[:len(points)-maxResume] {
			delete(points, k)
		}
	}
	b, err := json.Marshal(points)
	if err != nil {
		return
	}
	u.a.Preferences().SetString(prefResume, string(b))
}
