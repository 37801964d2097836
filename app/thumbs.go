package app

import (
	"context"
	"errors"
	gosync "sync"
	"time"

	"fyne.io/fyne/v2"

	avsync "reelay/sync"
)

// thumbWidth is the seek bar pictures' width in Fyne units.
const thumbWidth = 160

// thumbRequest is a picture the seek bar wants: the main picture's track
// at a time, width pixels wide.
type thumbRequest struct {
	track string
	at    time.Duration
	width int
}

// thumbnailer fetches the seek bar's pictures on a goroutine of its own,
// the newest request first (older ones the pointer left are dropped), as
// avsync.Thumbnails makes them: a keyframe's bytes each, cached.
type thumbnailer struct {
	pv *playerView
	// want holds the newest request not yet taken.
	want chan thumbRequest
	// ctx ends the goroutine; done is closed when it returned.
	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}
}

func newThumbnailer(pv *playerView) *thumbnailer {
	ctx, cancel := context.WithCancel(pv.ctx)
	t := &thumbnailer{pv: pv, want: make(chan thumbRequest, 1), ctx: ctx, cancel: cancel, done: make(chan struct{})}
	go t.run()
	return t
}

// ask replaces any request not yet taken with r.
func (t *thumbnailer) ask(r thumbRequest) {
	select {
	case <-t.want:
	default:
	}
	t.want <- r
}

// close stops the goroutine, unblocking a fetch under way, and waits.
func (t *thumbnailer) close() {
	t.cancel()
	<-t.done
}

func (t *thumbnailer) run() {
	defer close(t.done)
	var th *avsync.Thumbnails
	var open thumbRequest // what th was opened for
	failed := false
	// A fetch blocked on the network ends when the view closes: closing
	// the pictures' reader unblocks it (Thumbnails.Close may run while At
	// does). mu guards th for that.
	var mu gosync.Mutex
	stop := context.AfterFunc(t.ctx, func() {
		mu.Lock()
		if th != nil {
			th.Close()
		}
		mu.Unlock()
	})
	defer func() {
		stop()
		if th != nil {
			th.Close()
		}
	}()
	setTh := func(n *avsync.Thumbnails) {
		mu.Lock()
		th = n
		mu.Unlock()
	}
	for {
		var r thumbRequest
		select {
		case <-t.ctx.Done():
			return
		case r = <-t.want:
		}
		if (th != nil || failed) && (r.track != open.track || r.width != open.width) {
			if th != nil {
				th.Close()
			}
			setTh(nil)
			failed = false
		}
		if th == nil && !failed {
			open = r
			n, err := avsync.OpenThumbnails(t.pv.src, r.track, r.width)
			if err != nil {
				// A container without an index of keyframes, say: the
				// tooltip keeps to the time.
				failed = true
				if !errors.Is(err, avsync.ErrNoThumbnails) && t.ctx.Err() == nil {
					t.pv.u.debug.emit("thumbnails", map[string]any{"error": err.Error()})
				}
				continue
			}
			setTh(n)
			if t.ctx.Err() != nil {
				return
			}
		}
		if th == nil {
			continue
		}
		pic, err := th.At(r.at)
		if err != nil {
			continue
		}
		w, h := th.Size()
		t.pv.u.do(func() {
			if t.pv.closed.Load() || !t.pv.seek.tipShown {
				return
			}
			s := t.pv.u.w.Canvas().Scale()
			t.pv.seek.setThumb(pic.Image, fyne.NewSize(float32(w)/s, float32(h)/s))
			t.pv.u.debug.emit("thumbnail", map[string]any{"at_ms": r.at.Milliseconds(), "pts_ms": pic.PTS.Milliseconds(), "size": [2]int{w, h}})
		})
	}
}

// hover asks for the main picture at t while the seek bar's tooltip
// shows, and takes the picture away when it hides; UI goroutine.
func (pv *playerView) hover(t time.Duration, hovering bool) {
	if !hovering {
		if pv.seek.thumb != nil {
			pv.seek.setThumb(nil, fyne.Size{})
		}
		return
	}
	track := pv.mainPicture()
	if track == "" {
		return
	}
	if pv.thumbs == nil {
		pv.thumbs = newThumbnailer(pv)
	}
	pv.thumbs.ask(thumbRequest{track: track, at: t, width: int(thumbWidth * pv.u.w.Canvas().Scale())})
}

// mainPicture names the track of the main picture on screen, "" with
// none.
func (pv *playerView) mainPicture() string {
	vis := pv.area.visible()
	if len(vis) == 0 {
		return ""
	}
	return pv.area.main(vis).track
}
