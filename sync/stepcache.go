package sync

import (
	"image"
	"time"
)

// Stepping from a cache of decoded pictures. A step's seek decodes the
// main picture from the keyframe before its target anyway; a step back
// asks its decoder to keep, converted at the display size, the pictures
// it decodes on the way (pictureRun), and the player keeps them, with the
// step's own picture and the one stepped from, as one run of consecutive
// pictures (stepCache). The next step back, or forward, within the run
// shows its picture at once and places the clock where the seek would
// have: no seek, read or decoding in the main picture's pipeline, which
// stays where its last seek left it (parked) until a seek moves it again.
// The other tracks follow by a seek of their own: they are smaller, and
// a camera a step behind the screen would show another moment.
//
// The run is dropped on whatever may make it stale or the pipeline's place
// matter: Play (which first seeks the parked picture back to the
// position), a seek, a change of the tracks subscribed, of the speed, a
// track's failure, and, found when stepping, a display size other than
// the one its pictures were converted at.
//
// Its pictures are never a pool's: the decoder allocates them (reusing
// only those it did not keep), a picture shown from a pool that the run
// adopts is replaced in the pool by a buffer to allocate, and a dropped
// picture is left to the garbage collector, still on screen or not. So
// the engine never writes into a picture it kept or showed from the run.

// Bounds of the step cache.
const (
	// stepCacheBytes bounds the pictures kept: one at the display size is
	// large (3.7 MB at 720p, 8.3 MB at 1080p), and the player already
	// holds up to maxQueuedBytes of packets per track; 96 MiB keeps 27
	// pictures at 720p, a second of steps back at 25 fps.
	stepCacheBytes = 96 << 20
	// stepCacheFrames bounds their number: at a small display size the
	// bytes would allow hundreds, each one more conversion before the
	// first step back shows, for steps nobody takes one by one; 120 is
	// 4 s at 30 fps, longer than most recorders' keyframe interval.
	stepCacheFrames = 120
)

// cachedPicture is a picture kept for stepping. Its buffer belongs to the
// cache: it is never put in a pool and never written again.
type cachedPicture struct {
	// img is the picture at the display size it was converted at.
	img *image.RGBA
	// pts and dur place it on the timeline.
	pts, dur time.Duration
	// src is the decoded size it was converted from, to tell when the
	// display size asked for changed.
	src image.Point
}

// stepKeep asks a step's decoder to keep the pictures before its target:
// up to frames of them, bytes in all. The zero value keeps none.
type stepKeep struct {
	frames int
	bytes  int64
}

// run is the decoder's keeping of pictures of w×h, nil when it keeps none.
func (k stepKeep) run(w, h int) *pictureRun {
	n := k.frames
	if w > 0 && h > 0 {
		n = min(n, int(k.bytes/int64(4*w*h)))
	}
	if n <= 0 {
		return nil
	}
	return &pictureRun{n: n}
}

// pictureRun is what a step's decoder keeps of the pictures before its
// target: the latest n decoded, oldest first. It is the decode goroutine's
// until it goes to the player with the target's picture.
type pictureRun struct {
	// n is how many it keeps.
	n int
	// pics are the pictures kept.
	pics []cachedPicture
}

// reaches says a picture at pts lasting dur may be among the n before
// target: worth decoding and converting. Nil keeps nothing.
func (r *pictureRun) reaches(pts, dur, target time.Duration) bool {
	return r != nil && pts+time.Duration(r.n+2)*dur > target
}

// push keeps pic, the latest before the target so far, and returns the
// buffer of the oldest it no longer keeps (nil when it keeps them all),
// for the decoder's next conversion: that one was never shown.
func (r *pictureRun) push(pic cachedPicture) *image.RGBA {
	r.pics = append(r.pics, pic)
	if len(r.pics) <= r.n {
		return nil
	}
	old := r.pics[0].img
	r.pics = r.pics[:copy(r.pics, r.pics[1:])]
	return old
}

// stepCache is the run of the main picture's pictures kept for stepping,
// owned by the player's goroutine.
type stepCache struct {
	// slot is the track the pictures are of, nil when there are none.
	slot *trackSlot
	// run are consecutive pictures of slot, in order, bytes in all.
	run   []cachedPicture
	bytes int64
	// at is the index in run of the picture on screen, -1 when the screen
	// shows none of them.
	at int
	// parked is the track showing a picture of the run while its pipeline
	// is where its last seek left it: the other tracks' seeks leave it
	// out, until the next seek of every track (Play seeks first).
	parked *trackSlot
	// joinSlot, joinEpoch and joinDir are a step's seek under way: its
	// first picture of joinSlot in joinEpoch joins the run, with what the
	// decoder kept before it, before the run when stepping back (joinDir
	// < 0), after it when stepping forward.
	joinSlot  *trackSlot
	joinEpoch uint64
	joinDir   int
}

// drop forgets the pictures and any step under way. A parked track stays
// parked: its pipeline is still elsewhere until the next seek.
func (c *stepCache) drop() {
	clear(c.run)
	c.slot, c.run, c.bytes, c.at = nil, c.run[:0], 0, -1
	c.joinSlot = nil
}

// showing is the picture of the run on s's screen, if any.
func (c *stepCache) showing(s *trackSlot) (int, bool) {
	if c.slot != s || c.at < 0 || c.at >= len(c.run) {
		return 0, false
	}
	return c.at, true
}

// set makes run the cache of s with run[at] on screen, within the
// bounds.
func (c *stepCache) set(s *trackSlot, run []cachedPicture, at int) {
	c.slot, c.run, c.at = s, run, at
	c.bytes = 0
	for _, pic := range run {
		c.bytes += pictureBytes(pic.img)
	}
	c.trim(stepCacheFrames, stepCacheBytes)
}

// trim drops the pictures furthest from the one on screen until at most
// frames of them and bytes are left (one at least).
func (c *stepCache) trim(frames int, bytes int64) {
	for len(c.run) > 1 && (len(c.run) > frames || c.bytes > bytes) {
		if c.at >= len(c.run)-1-c.at {
			c.bytes -= pictureBytes(c.run[0].img)
			c.run[0] = cachedPicture{}
			c.run = c.run[1:]
			c.at--
		} else {
			last := len(c.run) - 1
			c.bytes -= pictureBytes(c.run[last].img)
			c.run[last] = cachedPicture{}
			c.run = c.run[:last]
		}
	}
}

func pictureBytes(img *image.RGBA) int64 {
	if img == nil {
		return 0
	}
	return int64(len(img.Pix))
}

// keepFor is what a step's seek in direction dir asks the main picture's
// decoder to keep before its target. Stepping back, a quarter of the
// cache is left to the pictures after the one on screen, for stepping
// forward again, and the rest to those the seek decodes, so the run and
// what the decoder keeps never hold more than the bounds together.
// Stepping forward, none: the run already has the pictures before.
func (c *stepCache) keepFor(dir int) stepKeep {
	if dir >= 0 {
		return stepKeep{}
	}
	c.trim(stepCacheFrames/4, stepCacheBytes/4)
	return stepKeep{frames: stepCacheFrames - 1 - len(c.run), bytes: stepCacheBytes - c.bytes}
}

// stepFromCache shows the picture dir from the one on main's screen when
// the run has it at the display size asked for now, and moves the other
// tracks there; it says whether it did. The clock goes where the step's
// seek would have put it: back, just before the picture stepped from;
// forward, at the picture shown.
func (p *Player) stepFromCache(main *trackSlot, dir int) bool {
	c := &p.steps
	at, ok := c.showing(main)
	if !ok || main.thin.on {
		return false
	}
	next := at + 1
	if dir < 0 {
		next = at - 1
	}
	if next < 0 || next >= len(c.run) {
		return false
	}
	pic := c.run[next]
	if !p.displaySizeOf(main, pic) {
		c.drop()
		return false
	}
	t := pic.pts
	if dir < 0 {
		t = stepBackTarget(c.run[at].pts)
	}
	c.at = next
	p.showPicture(main, pic.img, pic.pts, pic.dur, pic.src, false)
	p.seekTracks(t, p.opts.Now(), stepSeek{main: main, cached: true})
	return true
}

// displaySizeOf says pic is at the size s's pictures are converted at now.
func (p *Player) displaySizeOf(s *trackSlot, pic cachedPicture) bool {
	w, h := p.opts.VideoSize(s.info.Name, pic.src.X, pic.src.Y)
	if w <= 0 || h <= 0 {
		w, h = pic.src.X, pic.src.Y
	}
	return pic.img != nil && pic.img.Rect.Dx() == w && pic.img.Rect.Dy() == h
}

// stepBySeek seeks main and every other track to t for a step in
// direction dir, the picture on main's screen kept as the run (when it is
// not one of it already) for the step's picture to join.
func (p *Player) stepBySeek(main *trackSlot, t time.Duration, dir int) {
	c := &p.steps
	if _, ok := c.showing(main); !ok {
		c.drop()
		if pic, ok := p.adoptShown(main); ok {
			c.set(main, append(c.run, pic), 0)
		}
	}
	keep := stepKeep{}
	if !main.thin.on {
		keep = c.keepFor(dir)
	}
	p.seekTracks(t, p.opts.Now(), stepSeek{main: main, keep: keep})
	if !main.thin.on {
		c.joinSlot, c.joinEpoch, c.joinDir = main, p.epoch, dir
	}
}

// adoptShown takes the picture on s's screen from its pool into the
// cache: the pool gets a buffer to allocate in its place. It fails when
// the picture is no pool's.
func (p *Player) adoptShown(s *trackSlot) (cachedPicture, bool) {
	v := s.video
	if v == nil || v.shown[0] == nil || v.shownAt < 0 {
		return cachedPicture{}, false
	}
	pic := cachedPicture{img: v.shown[0], pts: v.shownAt, dur: v.shownDur, src: v.shownSrc}
	v.shown[0] = nil
	v.pool <- nil
	return pic, true
}

// stepShown is told of every picture shown from a pool. The first of a
// step's seek joins the run, with what its decoder kept before it, and is
// adopted; any other picture of the run's track ends the run, which no
// longer has the picture on screen.
func (p *Player) stepShown(s *trackSlot, f *videoFrame) {
	c := &p.steps
	if c.joinSlot == s && c.joinEpoch == f.epoch {
		c.joinSlot = nil
		pic, ok := p.adoptShown(s)
		if !ok {
			c.drop()
			return
		}
		var run []cachedPicture
		at := 0
		switch {
		case c.joinDir < 0:
			run = append(f.before, pic)
			at = len(run) - 1
			if c.slot == s && c.at == 0 && len(c.run) > 0 && pic.pts < c.run[0].pts {
				run = append(run, c.run...)
			}
		case c.slot == s && c.at == len(c.run)-1 && len(c.run) > 0 && pic.pts > c.run[c.at].pts:
			run = append(c.run, pic)
			at = len(run) - 1
		default:
			run = []cachedPicture{pic}
		}
		c.set(s, run, at)
		return
	}
	if c.slot == s {
		c.drop()
	}
}
