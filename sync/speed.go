package sync

import (
	"math"
	"time"

	"reelay/media"
)

// Playback speed. The clock runs speed times as fast (clock.rate), the
// pictures follow it as at normal speed, every track keeps BufferTarget of
// playing time buffered (speed times that of media) and weighs the
// network against speed times its media rate, and the mixed sound goes through
// a media.Tempo on its way to the device, so it keeps its pitch. A change
// takes effect at once: the device is cleared and the mixed audio not yet
// heard is written again, stretched at the new speed, from the history of
// what was written.

// MinSpeed and MaxSpeed bound SetSpeed.
const (
	MinSpeed = media.MinTempo
	MaxSpeed = media.MaxTempo
)

// audioHistory is how much mixed audio (timeline time) is kept after it
// was written, to be written again at a new speed: more than the device
// holds ahead (audioLead) at the highest speed.
const audioHistory = time.Duration(float64(audioLead)*MaxSpeed) + 200*time.Millisecond

// SetSpeed plays at speed r (clamped to MinSpeed–MaxSpeed, to hundredths):
// 2 twice as fast, 0.5 at half speed, the sound at its own pitch.
func (p *Player) SetSpeed(r float64) { p.send(speedRequest{r}) }

// speedRequest is SetSpeed.
type speedRequest struct{ r float64 }

func (q speedRequest) handle(p *Player) {
	r := math.Round(min(max(q.r, MinSpeed), MaxSpeed)*100) / 100
	if r == p.speed {
		return
	}
	p.speed = r
	p.steps.drop()
	for _, s := range p.slots {
		if s.pl != nil {
			s.pl.setSpeed(r)
		}
	}
	if p.clock.kind != ClockAudio || p.sink == nil || !p.clock.anchored {
		p.clock.setRate(r)
		p.resetTempo()
		return
	}
	// What is playing now, plus what the device will play before it is
	// heard again, is where the audio starts over at the new speed.
	at := p.clock.position()
	if p.clock.running {
		at += time.Duration(float64(p.latencyEstimate()) * r)
	}
	p.clock.setRate(r)
	p.sink.Clear()
	p.out = p.out[:0]
	p.rewindAudio(sampleAt(at))
	p.resetTempo()
}

// resetTempo starts the stretcher afresh at the current speed (none at
// normal speed): after a seek, a change of clock or speed.
func (p *Player) resetTempo() {
	if p.tempo != nil {
		p.tempo.Close()
		p.tempo = nil
	}
	if p.speed == 1 {
		return
	}
	t, err := media.NewTempo(p.speed)
	if err != nil {
		// The speed is within media's bounds; a filter that cannot be
		// built leaves the sound unstretched, the clock at speed.
		p.events.push(Event{Kind: EventNotice, Err: err, Notice: "The sound cannot play at this speed"})
		return
	}
	p.tempo = t
}

// rewindAudio makes the next audio written start at timeline sample at,
// taken from the history while it holds it; the audio history then ends
// there. Beyond the history the mix goes on from where it is.
func (p *Player) rewindAudio(at int64) {
	n := int64(len(p.history) / channels)
	from := at - p.historyStart
	if from < 0 || from > n {
		p.history, p.replay = p.history[:0], p.replay[:0]
		return
	}
	p.replay = append(p.replay[:0], p.history[from*channels:]...)
	p.replayStart = at
	p.history = p.history[:from*channels]
}

// forgetAudio drops the history and anything to write again: the mix
// jumps (a seek, a change of clock).
func (p *Player) forgetAudio() {
	p.history, p.replay = p.history[:0], p.replay[:0]
	p.resetTempo()
}

// nextAudio returns up to frames of timeline audio to write and the
// timeline sample it starts at: what is to be written again first, then
// the mix. The history keeps it.
func (p *Player) nextAudio(frames int64) (int64, []float32) {
	var start int64
	var buf []float32
	if len(p.replay) > 0 {
		n := min(frames*channels, int64(len(p.replay)))
		start, buf = p.replayStart, p.replay[:n]
		p.replay = p.replay[n:]
		p.replayStart += n / channels
	} else {
		start = p.mix.cursor
		buf = p.mix.fill(frames, p.silenceLimit())
	}
	if len(buf) == 0 {
		return start, nil
	}
	if len(p.history) == 0 || p.historyStart+int64(len(p.history)/channels) != start {
		p.history, p.historyStart = p.history[:0], start
	}
	p.history = append(p.history, buf...)
	if keep := sampleAt(audioHistory) * channels; int64(len(p.history)) > 2*keep {
		drop := int64(len(p.history)) - keep
		p.history = p.history[:copy(p.history, p.history[drop:])]
		p.historyStart += drop / channels
	}
	return start, buf
}

// stretch is buf as the device plays it at the current speed.
func (p *Player) stretch(buf []float32) []float32 {
	if p.tempo == nil {
		return buf
	}
	out, err := p.tempo.Process(p.stretched[:0], buf)
	p.stretched = out[:0]
	if err != nil {
		p.events.push(Event{Kind: EventNotice, Err: err, Notice: "The sound cannot play at this speed"})
		p.tempo.Close()
		p.tempo = nil
		return buf
	}
	return out
}
