package sync

// audioBlock is decoded audio placed on the timeline, or the end of a
// stream.
type audioBlock struct {
	// epoch is the seek generation the block belongs to; blocks of an older
	// one are dropped.
	epoch uint64
	// start is the timeline sample index of the block's first frame.
	start int64
	// samples are interleaved stereo float32.
	samples []float32
	// end marks the end of the stream in this epoch; it carries no samples.
	end bool
	// trips is how many round trips the track's reads had waited for in
	// sequence, since opening or the seek, by the time its packets were
	// all read.
	trips int
}

// frames is the number of stereo frames in the block.
func (b *audioBlock) frames() int64 { return int64(len(b.samples) / channels) }

// mixInput is one audio stream feeding the mix.
type mixInput struct {
	// track names the track the stream belongs to.
	track string
	// blocks delivers the decoder's output.
	blocks <-chan audioBlock
	// queue holds blocks received and not yet mixed, in order; off frames of
	// queue[0] are already mixed or skipped.
	queue []audioBlock
	off   int64
	// started says the stream delivered audio at or after the cursor in
	// this epoch: from then on the mix waits for it rather than play a gap.
	started bool
	// ended says the end of the stream arrived in this epoch; after its
	// queued audio it is silent.
	ended bool
	// joining says the stream was switched on during playback: until it
	// starts, the mix goes on without it instead of waiting.
	joining bool
	// tail is the timeline sample index just after the last audio received
	// in this epoch.
	tail int64
	// mixed counts the frames of this stream written to the mix.
	mixed int64
}

// maxQueuedBlocks bounds the blocks an input pulls ahead of the cursor; the
// rest stay in the decoder's channel, which is what holds the decoder back.
const maxQueuedBlocks = 8

// mixer sums every audio stream onto the one output, sample by sample on the
// timeline (48 kHz stereo), so a stream that starts late, ends early or
// has small gaps stays in place. It is owned by the player's goroutine.
type mixer struct {
	// epoch is the current seek generation.
	epoch uint64
	// cursor is the timeline sample index of the next frame to write.
	cursor int64
	// inputs are the streams being mixed.
	inputs []*mixInput
	// buf is the output of the last fill, reused.
	buf []float32
}

// reset starts a new epoch at sample at: everything queued is dropped.
func (m *mixer) reset(epoch uint64, at int64) {
	m.epoch, m.cursor = epoch, at
	for _, in := range m.inputs {
		in.queue, in.off = in.queue[:0], 0
		in.started, in.ended, in.joining = false, false, false
		in.tail = at
	}
}

func (m *mixer) add(in *mixInput) {
	in.tail = m.cursor
	m.inputs = append(m.inputs, in)
}

func (m *mixer) remove(in *mixInput) {
	for i, x := range m.inputs {
		if x == in {
			m.inputs = append(m.inputs[:i], m.inputs[i+1:]...)
			return
		}
	}
}

// active says some input takes part in the mix (not still joining).
func (m *mixer) active() bool {
	for _, in := range m.inputs {
		if !in.joining {
			return true
		}
	}
	return false
}

// pull receives what the decoders have ready, without blocking, and drops
// audio before the cursor.
func (m *mixer) pull() {
	for _, in := range m.inputs {
		m.pullInput(in)
	}
}

func (m *mixer) pullInput(in *mixInput) {
	for !in.ended && len(in.queue) < maxQueuedBlocks {
		var b audioBlock
		select {
		case b = <-in.blocks:
		default:
			m.trim(in)
			return
		}
		switch {
		case b.epoch != m.epoch:
		case b.end:
			in.ended = true
		default:
			in.queue = append(in.queue, b)
			in.tail = max(in.tail, b.start+b.frames())
		}
	}
	m.trim(in)
}

// trim drops queued audio before the cursor; audio at or after it starts
// the input.
func (m *mixer) trim(in *mixInput) {
	for len(in.queue) > 0 {
		b := &in.queue[0]
		from := b.start + in.off
		if end := b.start + b.frames(); end <= m.cursor {
			in.queue, in.off = in.queue[1:], 0
			continue
		} else if from < m.cursor {
			in.off += m.cursor - from
		}
		in.started, in.joining = true, false
		return
	}
}

// available is how many frames from the cursor the input can account for:
// its queued audio and the gaps before it; -1 when it does not limit the
// mix (ended, or joining and not started).
func (m *mixer) available(in *mixInput) int64 {
	if in.ended || (in.joining && !in.started) {
		return -1
	}
	if len(in.queue) == 0 {
		return 0
	}
	last := &in.queue[len(in.queue)-1]
	return max(last.start+last.frames()-m.cursor, 0)
}

// ready says every input that must take part has delivered audio at the
// cursor (or ended): the mix can start after a seek.
func (m *mixer) ready() bool {
	for _, in := range m.inputs {
		if !in.joining && !in.started && !in.ended {
			return false
		}
	}
	return true
}

// ended says every input ended and nothing of theirs is left to mix.
func (m *mixer) ended() bool {
	for _, in := range m.inputs {
		if !in.ended || len(in.queue) > 0 {
			return false
		}
	}
	return true
}

// tail is the timeline sample just after the last audio of every input.
func (m *mixer) tail() int64 {
	t := m.cursor
	for _, in := range m.inputs {
		t = max(t, in.tail)
	}
	return t
}

// fill mixes up to frames frames from the cursor and advances it. It stops
// where an input that takes part has no audio yet (the mix waits rather
// than skip it), and at limit (a timeline sample index; -1 for none), up to
// which silence is written once every input ended. The result is valid
// until the next call.
func (m *mixer) fill(frames int64, limit int64) []float32 {
	m.pull()
	n := frames
	allEnded := true
	for _, in := range m.inputs {
		a := m.available(in)
		if a >= 0 {
			n = min(n, a)
		}
		if !in.ended {
			allEnded = false
		}
	}
	if allEnded {
		end := m.tail()
		if limit >= 0 {
			end = max(end, limit)
		} else if len(m.inputs) == 0 {
			end = m.cursor
		} else {
			end = m.cursor + frames
		}
		n = min(n, end-m.cursor)
	}
	if n <= 0 {
		return nil
	}
	if cap(m.buf) < int(n)*channels {
		m.buf = make([]float32, n*channels)
	}
	out := m.buf[:n*channels]
	clear(out)
	for _, in := range m.inputs {
		m.mixInput(in, out)
	}
	for i, v := range out {
		// Two full-scale streams can sum past full scale; clip rather than
		// wrap.
		out[i] = min(max(v, -1), 1)
	}
	m.cursor += n
	return out
}

// mixInput adds the input's audio for [cursor, cursor+len(out)/channels)
// into out and consumes it.
func (m *mixer) mixInput(in *mixInput, out []float32) {
	end := m.cursor + int64(len(out)/channels)
	pos := m.cursor
	for len(in.queue) > 0 && pos < end {
		b := &in.queue[0]
		from := b.start + in.off
		if from < pos {
			// Overlaps what was mixed already: the newer block wins
			// nothing, the timeline is kept.
			in.off += pos - from
			from = pos
		}
		if in.off >= b.frames() {
			in.queue, in.off = in.queue[1:], 0
			continue
		}
		if from >= end {
			break
		}
		k := min(b.frames()-in.off, end-from)
		src := b.samples[in.off*channels : (in.off+k)*channels]
		dst := out[(from-m.cursor)*channels:]
		for i, v := range src {
			dst[i] += v
		}
		in.off += k
		in.mixed += k
		pos = from + k
		if in.off >= b.frames() {
			in.queue, in.off = in.queue[1:], 0
		}
	}
}

// advance moves the cursor to at without mixing, dropping audio before it:
// what keeps the decoders flowing while nothing is played (no device).
func (m *mixer) advance(at int64) {
	if at <= m.cursor {
		return
	}
	m.cursor = at
	m.pull()
}
