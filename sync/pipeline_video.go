package sync

import (
	"context"
	"image"
	"math"
	"time"

	"reelay/media"
)

// videoQueueSize is how many converted frames wait for the player: one,
// since RGBA frames are big (3.7 MB at 720p); the packet queue holds the
// stream's buffer, and decoding a frame takes a fraction of its duration.
const videoQueueSize = 1

// videoPoolSize is the number of RGBA buffers per video track: the queued
// ones, the one the player holds as next, the two it showed last (the
// window may still be uploading them), and the one being converted. The
// decoder so blocks on the queue, never on the pool.
const videoPoolSize = videoQueueSize + 4

// fallbackFrameDuration is used for a frame whose duration neither the
// container nor the frame rate tells.
const fallbackFrameDuration = 40 * time.Millisecond

// videoFrame is a converted picture on the timeline, or the end of the
// stream.
type videoFrame struct {
	// epoch is the seek generation; frames of an older one are not shown.
	epoch uint64
	// img is the picture, a buffer of the track's pool.
	img *image.RGBA
	// pts is when it is shown on the timeline; dur is how long.
	pts, dur time.Duration
	// src is the decoded size img was converted from.
	src image.Point
	// before are the pictures a step's decoder kept before this one, its
	// first (stepcache.go); their buffers are no pool's.
	before []cachedPicture
	// end marks the end of the stream in this epoch; img is nil.
	end bool
	// trips is how many round trips the track's reads had waited for in
	// sequence, since opening or the seek, by the time its packets were
	// all read.
	trips int
}

// videoOutput is what the player holds of a video stream.
type videoOutput struct {
	// frames delivers converted frames in presentation order.
	frames <-chan *videoFrame
	// pool takes buffers back once the player is done with them.
	pool chan<- *image.RGBA
}

// videoStream is a video stream in the pipeline.
type videoStream struct {
	stream
	// dec decodes and converts the stream.
	dec *media.VideoDecoder
	// frames carries converted frames to the player.
	frames chan *videoFrame
	// pool holds the free RGBA buffers; a nil entry is a buffer not
	// allocated yet.
	pool chan *image.RGBA
}

func newVideoStream(s stream, dec *media.VideoDecoder) *videoStream {
	v := &videoStream{stream: s, dec: dec, frames: make(chan *videoFrame, videoQueueSize), pool: make(chan *image.RGBA, videoPoolSize)}
	for range videoPoolSize {
		v.pool <- nil
	}
	return v
}

// drain returns the frames the player has not taken to the pool.
func (v *videoStream) drain() {
	for {
		select {
		case f := <-v.frames:
			if f.img != nil {
				v.pool <- f.img
			}
		default:
			return
		}
	}
}

// decodeVideo decodes packets until the end of the stream or ctx, and
// delivers converted frames from the seek target on: the first is the frame
// showing at target (the latest starting at or before it, the last frame
// for a target past the stream's end); earlier frames
// are decoded and discarded, and only the last two before target are
// converted, in case they turn out to be that frame. A step's seek keeps
// more of them (keep): they go to the player with the first frame.
func (pl *pipeline) decodeVideo(ctx context.Context, v *videoStream, epoch uint64, target time.Duration, keep stepKeep) {
	defer pl.decodeWG.Done()
	if v.end > 0 && target >= v.end {
		// Past the stream's end the picture showing is its last.
		target = v.end - 1
	}
	// run holds the pictures kept before the target, nil when none are.
	run := keep.run(pl.opts.VideoSize(pl.name, v.info.Width, v.info.Height))
	var cand *videoFrame // the latest frame at or before target, converted
	defer func() {
		if cand != nil {
			v.pool <- cand.img
		}
	}()
	passed := false
	// last is the latest picture delivered: a keyframe decoded again
	// after its picture went out alone comes out again, and is not shown
	// twice.
	last := time.Duration(math.MinInt64)
	// trips is the most round trips any packet decoded so far took.
	trips := 0
	emit := func(f *videoFrame) error {
		if !f.end {
			last = f.pts
		}
		f.trips = trips
		select {
		case v.frames <- f:
			pl.wake()
			pl.delivered()
			return nil
		case <-ctx.Done():
			if f.img != nil {
				v.pool <- f.img
			}
			return ctx.Err()
		}
	}
	// emitCand delivers the frame at the target, with the pictures kept
	// before it.
	emitCand := func() error {
		c := cand
		cand = nil
		if run != nil {
			c.before, run = run.pics, nil
		}
		return emit(c)
	}
	take := func() (*image.RGBA, error) {
		select {
		case img := <-v.pool:
			return img, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	// alone says the packet decoding is a keyframe read by itself: its
	// picture is the one at the target however far before it.
	alone := false
	onFrame := func(vf *media.VideoFrame) error {
		pl.framesDecoded.Add(1)
		pts := vf.PTS + pl.offset
		dur := vf.Duration
		if dur <= 0 {
			dur = fallbackFrameDuration
		}
		src := image.Pt(vf.Width, vf.Height)
		if !passed {
			if pts <= target {
				if alone {
					// Keyframes read by themselves are no run of
					// consecutive pictures to step through.
					run = nil
				}
				if pts+2*dur <= target && !alone && !run.reaches(pts, dur, target) {
					return nil
				}
				switch {
				case cand == nil:
					img, err := take()
					if err != nil {
						return err
					}
					cand = &videoFrame{epoch: epoch, img: img}
				case run != nil:
					// The picture before this one is kept; this one is
					// converted into a buffer the run let go (never
					// shown), or a new one, in its place in the pool.
					img := run.push(cachedPicture{img: cand.img, pts: cand.pts, dur: cand.dur, src: cand.src})
					cand = &videoFrame{epoch: epoch, img: img}
				}
				img, err := pl.convert(v, vf, cand.img)
				if err != nil {
					v.pool <- img
					cand, run = nil, nil
					return err
				}
				cand.img, cand.pts, cand.dur, cand.src = img, pts, dur, src
				return nil
			}
			passed = true
			if cand != nil {
				if err := emitCand(); err != nil {
					return err
				}
			}
		}
		if pts <= last {
			return nil
		}
		img, err := take()
		if err != nil {
			return err
		}
		img, err = pl.convert(v, vf, img)
		if err != nil {
			v.pool <- img
			return err
		}
		return emit(&videoFrame{epoch: epoch, img: img, pts: pts, dur: dur, src: src})
	}
	if !pl.decodePackets(ctx, &v.stream, "video", func(e queuedPacket) (produced bool, err error) {
		alone = e.alone
		trips = max(trips, e.trips)
		// A picture well before the target is decoded only for those
		// after it: one nothing refers to need not be decoded at all,
		// unless a step keeps it.
		if !passed && !alone && e.pkt != nil && e.pkt.HasPTS() {
			pts, dur := e.pkt.PTS()+pl.offset, frameDur(e.pkt)
			v.dec.SkipHidden(pts+2*dur <= target && !run.reaches(pts, dur, target))
		} else {
			v.dec.SkipHidden(false)
		}
		frame := func(vf *media.VideoFrame) error {
			produced = true
			return onFrame(vf)
		}
		// A keyframe at or after the target, reached first: its picture
		// is the target's (a track opened at its start, a seek to a
		// keyframe's time), so it goes out as soon as it is decoded,
		// not once the pictures the decoder reorders it with push it
		// out (two or three packets more with B-frames, most of a
		// first picture's bytes after the keyframe's own).
		first := !passed && !alone && cand == nil && e.pkt != nil && e.pkt.IsKey() && e.pkt.HasPTS() && e.pkt.PTS()+pl.offset >= target
		err = v.dec.Decode(e.pkt, frame)
		if (alone || first) && err == nil {
			// Drain its picture now, not when the next packet pushes it
			// out, and start afresh.
			err = v.dec.Decode(nil, frame)
			v.dec.Flush()
			if err == nil && !passed && cand != nil {
				// The seek's picture is the keyframe at or before it.
				passed = true
				err = emitCand()
			}
			if first && err == nil {
				// The pictures after it decode from it: it goes in again,
				// and its picture, out again, is not shown twice.
				err = v.dec.Decode(e.pkt, frame)
			}
		}
		if err != nil {
			// A picture may be missing: what is kept would skip it.
			run = nil
		}
		return produced, err
	}) {
		return
	}
	if cand != nil {
		if emitCand() != nil {
			return
		}
	}
	emit(&videoFrame{epoch: epoch, end: true})
}

// frameDur is how long p's picture shows, fallbackFrameDuration when
// the container does not say.
func frameDur(p *media.Packet) time.Duration {
	if d := p.Duration(); d > 0 {
		return d
	}
	return fallbackFrameDuration
}

// convert writes vf into img at the display size, replacing img when the
// size changed.
func (pl *pipeline) convert(v *videoStream, vf *media.VideoFrame, img *image.RGBA) (*image.RGBA, error) {
	w, h := pl.opts.VideoSize(pl.name, vf.Width, vf.Height)
	if w <= 0 || h <= 0 {
		w, h = vf.Width, vf.Height
	}
	if img == nil || img.Rect.Dx() != w || img.Rect.Dy() != h {
		img = image.NewRGBA(image.Rect(0, 0, w, h))
	}
	return img, v.dec.Convert(vf, img)
}
