package sync

import (
	"image"
	"time"
)

// videoPlayout holds what the player has of a track's pictures.
type videoPlayout struct {
	videoOutput
	// head is the next frame to show, taken from frames.
	head *videoFrame
	// shown are the pool's buffers shown last and before (nil for none, or
	// for a picture of the step cache, which is no pool's); the window may
	// still be reading them, so they go back to the pool only once two
	// newer frames were shown.
	shown [2]*image.RGBA
	// ended says the end of the stream arrived in this epoch.
	ended bool
	// joining says the track was switched on during playback and has shown
	// nothing yet: late frames are skipped without counting as drops.
	joining bool
	// tail is where the last frame received in this epoch ends.
	tail time.Duration
	// shownAt and shownDur are the time and duration of the picture on
	// screen (shownAt -1 before the first), for frame stepping; shownSrc
	// is the decoded size it was converted from, for the step cache.
	shownAt, shownDur time.Duration
	shownSrc          image.Point
}

// release gives a frame's buffer back to the track's pool.
func (v *videoPlayout) release(f *videoFrame) {
	if f.img != nil {
		v.pool <- f.img
		f.img = nil
	}
}

// receiveVideo takes the next frame of the current epoch as head, dropping
// older epochs' frames and noting the end of the stream.
func (p *Player) receiveVideo(s *trackSlot) {
	v := s.video
	for v.head == nil {
		var f *videoFrame
		select {
		case f = <-v.frames:
		default:
			return
		}
		switch {
		case f.epoch != p.epoch:
			v.release(f)
		case f.end:
			v.ended = true
		default:
			v.head = f
			v.tail = max(v.tail, f.pts+f.dur)
		}
	}
}

// presentVideo shows the frames that are due. A frame later than its own
// duration is dropped when a newer one is ready to take its place; an
// early one waits.
func (p *Player) presentVideo(s *trackSlot, pos time.Duration) {
	v := s.video
	for {
		p.receiveVideo(s)
		f := v.head
		if f == nil || f.pts > pos {
			return
		}
		if pos-f.pts > f.dur && len(v.frames) > 0 {
			if !v.joining {
				s.stats.FramesDropped++
			}
			v.release(f)
			v.head = nil
			continue
		}
		p.show(s, f)
	}
}

// show hands f to the track's sink and keeps it, and the frame before it,
// out of the pool.
func (p *Player) show(s *trackSlot, f *videoFrame) {
	s.video.head = nil
	p.showPicture(s, f.img, f.pts, f.dur, f.src, true)
	f.img = nil
	p.stepShown(s, f)
}

// showPicture hands img to the track's sink; pooled says it is a buffer of
// the track's pool, kept out of it until two newer pictures were shown (a
// picture of the step cache is no pool's, and never goes in one).
func (p *Player) showPicture(s *trackSlot, img *image.RGBA, pts, dur time.Duration, src image.Point, pooled bool) {
	v := s.video
	if s.sink != nil {
		s.sink.Show(img, pts)
	}
	if old := v.shown[1]; old != nil {
		v.pool <- old
	}
	if !pooled {
		img = nil
	}
	v.shown[1], v.shown[0] = v.shown[0], img
	v.shownAt, v.shownDur, v.shownSrc = pts, dur, src
	v.joining = false
	s.stats.FramesPresented++
	if p.stats.FirstFrame == 0 {
		p.stats.FirstFrame = max(p.opts.Now().Sub(p.openedAt), 1)
	}
}
