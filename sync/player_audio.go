package sync

import (
	"errors"
	"math"
	"time"

	"reelay/media"
)

// feedAudio keeps audioLead of mixed audio written ahead of what is heard.
// Without an audio clock the mix is only advanced with the position, so the
// decoders keep flowing.
func (p *Player) feedAudio(pos time.Duration) {
	if p.clock.kind != ClockAudio || p.sink == nil {
		p.mix.advance(sampleAt(pos))
		return
	}
	if len(p.out) > 0 {
		n := p.sink.Write(p.out)
		p.out = p.out[:copy(p.out, p.out[n:])]
		if len(p.out) > 0 {
			return
		}
	}
	pending := p.sink.Pending()
	if pending >= audioLead {
		return
	}
	frames := min(int64(p.sink.Free()/channels), sampleAt(audioLead-pending), maxFeedFrames)
	if frames <= 0 {
		return
	}
	// At a speed other than 1 the device plays that much of the timeline
	// in the same time.
	frames = int64(math.Ceil(float64(frames) * p.speed))
	start, buf := p.nextAudio(frames)
	if len(buf) == 0 {
		return
	}
	if !p.clock.anchored {
		p.clock.setAnchor(sampleTime(start))
		if p.clock.running {
			p.audioStartAt = p.opts.Now()
		}
	}
	buf = p.stretch(buf)
	n := p.sink.Write(buf)
	if n < len(buf) {
		p.out = append(p.out, buf[n:]...)
	}
}

// silenceLimit is the timeline sample up to which silence is written once
// every audio stream ended: as far as the pictures received go, so the
// audio clock runs on while there is video and stops at its end.
func (p *Player) silenceLimit() int64 {
	var end time.Duration
	for _, s := range p.slots {
		if v := s.video; v != nil && s.on && s.err == nil {
			end = max(end, v.tail)
		}
	}
	return sampleAt(end)
}

// openAudio opens the device the first time an audio track opens.
func (p *Player) openAudio() {
	if p.sink != nil || p.audioTried {
		return
	}
	p.audioTried = true
	sink, err := p.opts.OpenAudio()
	if err != nil {
		// The words are for the viewer; the device's own error goes with
		// the event, as the detail.
		if errors.Is(err, media.ErrNoAudioDevice) {
			p.audioNotice = "No sound: this computer has no audio output"
		} else {
			p.audioNotice = "No sound: the audio output could not be opened"
		}
		p.audioErr = err
		p.events.push(Event{Kind: EventNotice, Err: err, Notice: p.audioNotice})
		return
	}
	p.sink, p.sinkPaused = sink, false
	p.applyVolume()
}

// checkAudioDevice goes on the wall clock when the device failed.
func (p *Player) checkAudioDevice() {
	f, ok := p.sink.(audioFailer)
	if !ok {
		return
	}
	err := f.Err()
	if err == nil {
		return
	}
	p.audioNotice, p.audioErr = "The sound stopped: the audio output failed", err
	p.events.push(Event{Kind: EventNotice, Err: err, Notice: p.audioNotice})
	p.sink.Close()
	p.sink = nil
	p.selectClock()
}

// selectClock makes the audio device the master while an audio track takes
// part in the mix and a device exists, the wall clock otherwise.
func (p *Player) selectClock() {
	wantAudio := p.sink != nil && p.mix.active()
	switch {
	case wantAudio && p.clock.kind != ClockAudio:
		p.sink.Clear()
		p.out = p.out[:0]
		at := p.clock.position()
		if p.clock.running {
			// The wall clock goes on until the device is heard; the audio
			// starts that much later on the timeline, so the picture
			// neither freezes nor jumps when the audio clock takes over.
			at += time.Duration(float64(p.latencyEstimate()) * p.speed)
		}
		p.mix.advance(sampleAt(at))
		p.forgetAudio()
		p.clock.useAudio(p.sink)
	case !wantAudio && p.clock.kind == ClockAudio:
		p.clock.useWall()
		if p.sink != nil {
			p.sink.Clear()
		}
		p.out = p.out[:0]
	}
}

// latencyEstimate is how long the device takes to be heard: as measured,
// or before any measurement what the sink reports (media.AudioOutput's
// Latency), or nothing.
func (p *Player) latencyEstimate() time.Duration {
	if p.audioLatency > 0 {
		return p.audioLatency
	}
	if l, ok := p.sink.(interface{ Latency() time.Duration }); ok {
		return l.Latency()
	}
	return 0
}

// measureLatency times the device from its start to the first sample heard.
func (p *Player) measureLatency() {
	if p.audioStartAt.IsZero() || p.sink == nil {
		return
	}
	if !p.clock.running || p.clock.kind != ClockAudio {
		p.audioStartAt = time.Time{}
		return
	}
	if played := p.sink.Played(); played > 0 {
		p.audioLatency = max(p.opts.Now().Sub(p.audioStartAt)-played, time.Millisecond)
		p.audioStartAt = time.Time{}
	}
}

func (p *Player) applyVolume() {
	if p.sink == nil {
		return
	}
	v := p.volume
	if p.muted {
		v = 0
	}
	p.sink.SetVolume(v)
}
