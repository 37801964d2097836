package sync

import "time"

// Frame stepping, as mpv's . and , do: the player pauses and shows the
// next or the previous picture of the main picture (the largest), every
// other track at that time. Both are exact seeks: forward to the picture
// decoded after the one shown (or the one shown plus its duration), back
// to just before the one shown (its sample before), whose frame is then
// the one before it (and the position within it). A step back decodes
// from the keyframe before it, as any seek does, and keeps the main
// picture's pictures it decodes on the way: the next steps back, and
// forward again up to the picture first stepped from, show them at once,
// with no seek of the main picture; the other tracks follow by a seek of
// their own (stepcache.go).

// StepFrame pauses and steps one picture forward (dir > 0) or back (dir <
// 0) in the main picture; without a picture it does nothing. Steps within
// what a step back decoded show the main picture at once; the other
// tracks follow to its time.
func (p *Player) StepFrame(dir int) { p.send(stepRequest{dir}) }

// stepRequest is StepFrame.
type stepRequest struct{ dir int }

func (r stepRequest) handle(p *Player) {
	var main *trackSlot
	area := 0
	for _, s := range p.slots {
		if s.video == nil || !s.on || s.err != nil || s.video.shownAt < 0 {
			continue
		}
		if a := pictureArea(s); a > area {
			main, area = s, a
		}
	}
	if main == nil {
		return
	}
	p.wantPlay = false
	p.setActive(false)
	if p.stepFromCache(main, r.dir) {
		return
	}
	v := main.video
	var t time.Duration
	switch {
	case r.dir > 0 && v.head != nil && v.head.pts > v.shownAt && main != p.steps.parked:
		// A parked picture's next frame is that of its last seek, maybe
		// further on.
		t = v.head.pts
	case r.dir > 0:
		t = v.shownAt + max(v.shownDur, time.Millisecond)
	case v.shownAt <= 0:
		return
	default:
		t = stepBackTarget(v.shownAt)
	}
	p.stepBySeek(main, t, r.dir)
}

// stepBackTarget is where a step back from the picture at pts places the
// clock: the last audio sample before it, in the picture before. A
// nanosecond before it would not do: the audio clock goes on from the
// nearest sample, which may be pts itself, and the picture stepped from
// would show again.
func stepBackTarget(pts time.Duration) time.Duration {
	return sampleTime(sampleAt(pts) - 1)
}
