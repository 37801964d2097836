package media

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"sync"
	"time"

	"github.com/ebitengine/oto/v3"
)

// ErrNoAudioDevice is returned (wrapped, with the reason) by OpenAudioOutput
// when there is no audio device to play on.
var ErrNoAudioDevice = errors.New("media: no audio device")

const (
	// defaultAudioBuffer is AudioOutputOptions.Buffer's default.
	defaultAudioBuffer = 100 * time.Millisecond
	// defaultAudioQueue is AudioOutputOptions.Queue's default.
	defaultAudioQueue = 500 * time.Millisecond
	// audioDeviceTimeout bounds the wait for the device to open.
	audioDeviceTimeout = 10 * time.Second
	// audioReadWait is how long oto's reader waits for audio when the queue is
	// empty before it returns nothing, while the device still plays from the
	// player: long enough not to spin, short enough not to hold up oto's
	// mixer (shared by every player) nor to blur the moment the clock sees
	// the device run dry.
	audioReadWait = 3 * time.Millisecond
	// audioIdleWait replaces audioReadWait when nothing can change before
	// the next Write, Pause, Resume, Clear or Close (which wake the reader):
	// paused, or the player is empty.
	audioIdleWait = 20 * time.Millisecond
	// audioBytesPerFrame is one interleaved float32 frame.
	audioBytesPerFrame = OutputChannels * 4
)

// AudioSink is the audio device as a player uses it; *AudioOutput
// is one, and tests use a fake without a sound card. Samples are
// interleaved float32 stereo at OutputSampleRate.
type AudioSink interface {
	// Write queues samples without blocking and returns how many float32
	// values it took.
	Write(samples []float32) int
	// Free is how many float32 values Write would take now.
	Free() int
	// Played is how much of the audio written since the last Clear has been
	// heard; it never goes back and stops while paused or starved. It is
	// the master clock.
	Played() time.Duration
	// Pending is how much written audio has not been heard yet.
	Pending() time.Duration
	// Pause stops playing at once; Resume plays on.
	Pause()
	Resume()
	// Clear drops everything written and not heard; Played restarts at 0.
	Clear()
	// SetVolume sets the gain from 0 to 1.
	SetVolume(v float64)
	// Close releases the device.
	Close() error
}

// AudioOutputOptions configures OpenAudioOutput.
type AudioOutputOptions struct {
	// Buffer is the audio held on the device side: the device's own buffer
	// and oto's player buffer each hold about this much. Smaller means lower
	// latency and a higher risk of glitches. oto allows one device per
	// process, so the device buffer is set by the first output opened; later
	// ones only size their player buffer. It defaults to 100 ms.
	Buffer time.Duration
	// Queue is how much audio Write accepts ahead of the device side. It
	// defaults to 500 ms.
	Queue time.Duration
}

// audioPlayer is the part of *oto.Player an AudioOutput uses.
type audioPlayer interface {
	Play()
	Pause()
	BufferedSize() int
	SetBufferSize(bufferSize int)
	SetVolume(volume float64)
}

// theAudioContext is the process's one oto context, created on first use.
var theAudioContext struct {
	once sync.Once
	// ctx is the context, nil if it could not be created.
	ctx *oto.Context
	// buffer is the device buffer the context was created with.
	buffer time.Duration
	// err is why there is no context.
	err error
}

// audioContext returns the process's oto context, creating it with a device
// buffer of buffer on first use.
func audioContext(buffer time.Duration) (*oto.Context, time.Duration, error) {
	c := &theAudioContext
	c.once.Do(func() {
		quietALSA()
		ctx, ready, err := oto.NewContext(&oto.NewContextOptions{
			SampleRate:   OutputSampleRate,
			ChannelCount: OutputChannels,
			Format:       oto.FormatFloat32LE,
			BufferSize:   buffer,
		})
		if err != nil {
			c.err = err
			return
		}
		// oto opens the device in the background and reports failure
		// through Err once ready is closed.
		select {
		case <-ready:
		case <-time.After(audioDeviceTimeout):
			c.err = fmt.Errorf("the device did not open within %v", audioDeviceTimeout)
			return
		}
		if err := ctx.Err(); err != nil {
			c.err = err
			return
		}
		c.ctx, c.buffer = ctx, buffer
	})
	return c.ctx, c.buffer, c.err
}

// AudioOutput plays interleaved float32 stereo at OutputSampleRate through
// oto, and tells how much of it has been heard: the audio clock.
//
// Write never blocks: it queues what fits. oto pulls from the queue on its own
// goroutine; when the queue runs dry the device plays silence that is not
// counted, so the clock stops at the end of the written audio (a stall) and
// goes on once more is written.
//
// Played is what was written minus what is still queued, in oto's player
// buffer (BufferedSize) and in the device (Latency, an estimate), moving
// smoothly between the device's steps. All methods are safe for concurrent
// use.
type AudioOutput struct {
	// newPlayer makes an oto player reading r (a seam for tests).
	newPlayer func(r io.Reader) audioPlayer
	// deviceErr reports a device failure after the output opened.
	deviceErr func() error
	// bufferFrames is the most audio a player holds, and what oto's Play
	// wants it to hold before it mixes it.
	bufferFrames int
	// now is the monotonic clock the position is measured with.
	now func() time.Time

	// mu guards everything below; oto's reader takes it too.
	mu sync.Mutex
	// wake nudges a reader waiting for audio (Write, Pause, Resume, Clear,
	// Close).
	wake chan struct{}
	// ring queues written audio not yet handed to oto, as frames.
	ring []float32
	// ringStart is the frame index of the oldest queued frame in ring.
	ringStart int
	// ringLen is how many frames are queued.
	ringLen int
	// written counts the frames accepted since the last Clear.
	written int64
	// src feeds the current player; nil when there is none (paused after a
	// Clear, or closed).
	src *audioSource
	// paused is set between Pause and Resume.
	paused bool
	// closed is set by Close.
	closed bool
	// volume is applied to every player made.
	volume float64
	// clock turns what the device took into the position heard.
	clock audioClock
}

// audioSource is the io.Reader one oto player pulls from. A player is
// replaced (and its source retired) when its buffer must be dropped (Clear)
// or when oto's Play would otherwise have to read to resume it.
type audioSource struct {
	// out is the output whose queue this source reads.
	out *AudioOutput
	// player reads from this source; nil once retired.
	player audioPlayer
	// primed is set once oto's Play made its first read. Until then the
	// player is not mixed, so Play is the only reader; it reads until the
	// player holds its buffer size, which is set to what can be given at once.
	primed bool
	// restoreBuffer says the player's buffer size was lowered for Play and
	// must go back to bufferFrames on the next read (by oto's mixer, so after
	// Play is done).
	restoreBuffer bool
	// stale is set when the source is retired; it then reads io.EOF.
	stale bool
	// gave counts the frames given to the player, silence included.
	gave int64
	// lead counts the silent frames given first (when Play found nothing).
	lead int64
	// base is the audio (frames) consumed by earlier players since the last
	// Clear; this player's audio comes after it.
	base int64
	// inFlight says the last read gave audio that oto may not have appended
	// to the player's buffer yet; the next read proves it has.
	inFlight bool
}

// OpenAudioOutput opens an output on the default audio device. The error
// wraps ErrNoAudioDevice, with the reason, when there is no device.
func OpenAudioOutput(o AudioOutputOptions) (*AudioOutput, error) {
	if o.Buffer <= 0 {
		o.Buffer = defaultAudioBuffer
	}
	if o.Queue <= 0 {
		o.Queue = defaultAudioQueue
	}
	ctx, deviceBuffer, err := audioContext(o.Buffer)
	if err == nil {
		// The device may have failed since the context was made.
		err = ctx.Err()
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNoAudioDevice, err)
	}
	newPlayer := func(r io.Reader) audioPlayer { return ctx.NewPlayer(r) }
	return newAudioOutput(o, newPlayer, ctx.Err, deviceBuffer, time.Now), nil
}

// newAudioOutput makes an output playing through players from newPlayer, on
// a device that takes latency to play what it was given.
func newAudioOutput(o AudioOutputOptions, newPlayer func(io.Reader) audioPlayer,
	deviceErr func() error, latency time.Duration, now func() time.Time,
) *AudioOutput {
	a := &AudioOutput{
		newPlayer:    newPlayer,
		deviceErr:    deviceErr,
		bufferFrames: max(durationToFrames(o.Buffer), 1),
		now:          now,
		wake:         make(chan struct{}, 1),
		ring:         make([]float32, max(durationToFrames(o.Queue), 1)*OutputChannels),
		volume:       1,
	}
	a.clock.latency = latency
	a.mu.Lock()
	a.clock.reset(a.now(), false)
	a.startLocked(0)
	a.mu.Unlock()
	return a
}

// Write queues interleaved stereo samples and returns how many it took (a
// multiple of OutputChannels), never blocking; see Free.
func (a *AudioOutput) Write(samples []float32) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return 0
	}
	capFrames := len(a.ring) / OutputChannels
	n := min(len(samples)/OutputChannels, capFrames-a.ringLen)
	for done := 0; done < n; {
		at := (a.ringStart + a.ringLen) % capFrames
		k := min(n-done, capFrames-at)
		copy(a.ring[at*OutputChannels:(at+k)*OutputChannels], samples[done*OutputChannels:])
		a.ringLen += k
		done += k
	}
	a.written += int64(n)
	if n > 0 {
		a.notifyLocked()
	}
	return n * OutputChannels
}

// Free returns how many float32 values Write would take now.
func (a *AudioOutput) Free() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return 0
	}
	return len(a.ring) - a.ringLen*OutputChannels
}

// Played returns how much of the audio written since the last Clear has been
// heard. It never goes back, runs smoothly with the device, stops while
// paused and when the written audio runs out.
func (a *AudioOutput) Played() time.Duration {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.clock.position(a.now())
}

// Pending returns how much of the audio written since the last Clear has not
// been heard yet.
func (a *AudioOutput) Pending() time.Duration {
	a.mu.Lock()
	defer a.mu.Unlock()
	return max(framesToDuration(a.written)-a.clock.position(a.now()), 0)
}

// Latency returns the estimate of how long the device takes to play audio
// once oto has handed it over: the device buffer, which oto cannot query.
func (a *AudioOutput) Latency() time.Duration {
	return a.clock.latency
}

// Pause stops playing at once; the clock stops where it is.
func (a *AudioOutput) Pause() {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed || a.paused {
		return
	}
	a.clock.pause(a.now())
	a.paused = true
	if a.src != nil {
		a.src.player.Pause()
	}
	a.notifyLocked()
}

// Resume plays on from where Pause stopped.
func (a *AudioOutput) Resume() {
	for {
		if a.tryResume() {
			return
		}
		// oto is appending the last audio it read to the paused player;
		// what to do depends on it, so let it finish.
		time.Sleep(100 * time.Microsecond)
	}
}

// tryResume resumes, or returns false when it cannot tell yet how.
func (a *AudioOutput) tryResume() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed || !a.paused {
		return true
	}
	s := a.src
	var buffered int
	if s != nil {
		buffered = s.player.BufferedSize() / audioBytesPerFrame
	}
	switch {
	case s == nil:
		a.startLocked(0)
	case buffered > 0:
		// oto's Play reads until the player holds its buffer size. Asking for
		// no more than it holds (it only grows while paused) keeps Play from
		// reading, so Play never races the mixer's reads of this source.
		s.player.SetBufferSize(buffered * audioBytesPerFrame)
		s.restoreBuffer = true
		s.player.Play()
	case !s.inFlight:
		// Nothing buffered and nothing on its way: everything given was
		// consumed. A fresh player starts where this one ended.
		a.retireLocked()
		a.startLocked(s.base + s.gave - s.lead)
	default:
		return false
	}
	a.paused = false
	a.clock.resume(a.now())
	a.notifyLocked()
	return true
}

// Clear drops all audio written and not yet heard (for a seek); Played
// restarts at zero. Audio the device already holds (up to Buffer) still
// plays: oto cannot flush the device.
func (a *AudioOutput) Clear() {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return
	}
	a.retireLocked()
	a.ringStart, a.ringLen, a.written = 0, 0, 0
	a.clock.reset(a.now(), a.paused)
	if !a.paused {
		a.startLocked(0)
	}
}

// SetVolume sets the volume, from 0 (silent) to 1 (as written).
func (a *AudioOutput) SetVolume(v float64) {
	if math.IsNaN(v) {
		v = 0
	}
	v = min(max(v, 0), 1)
	a.mu.Lock()
	defer a.mu.Unlock()
	a.volume = v
	if a.src != nil {
		a.src.player.SetVolume(v)
	}
}

// Err reports a device failure since the output opened (the clock then
// stops), or nil.
func (a *AudioOutput) Err() error {
	if err := a.deviceErr(); err != nil {
		return fmt.Errorf("media: audio device failed: %w", err)
	}
	return nil
}

// Close stops playing and releases the output. It starts no goroutine and
// leaves none behind; oto's own mixer and device goroutines live as long as
// the process, as oto's one context does.
func (a *AudioOutput) Close() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return nil
	}
	a.closed = true
	a.retireLocked()
	return nil
}

// startLocked makes a player whose audio follows base frames of consumed
// audio, and plays it.
func (a *AudioOutput) startLocked(base int64) {
	s := &audioSource{out: a, base: base, restoreBuffer: true}
	s.player = a.newPlayer(s)
	// Play reads before the player is mixed, until it holds its buffer size:
	// make that what can be given right now (one silent frame if nothing).
	s.player.SetBufferSize(min(max(a.ringLen, 1), a.bufferFrames) * audioBytesPerFrame)
	s.player.SetVolume(a.volume)
	a.src = s
	// Play hands the player to a goroutine of oto's that reads from s, which
	// waits for a.mu: it does not read before we return.
	s.player.Play()
}

// retireLocked stops the current player for good; its source reads io.EOF.
func (a *AudioOutput) retireLocked() {
	if a.src == nil {
		return
	}
	a.src.stale = true
	a.src.player.Pause()
	// oto's mixer holds the source until the player is garbage: the source
	// must not hold the player, or it never is.
	a.src.player = nil
	a.src = nil
	a.notifyLocked()
}

// notifyLocked wakes a reader waiting for audio.
func (a *AudioOutput) notifyLocked() {
	select {
	case a.wake <- struct{}{}:
	default:
	}
}

// Read gives oto the queued audio as little-endian float32 bytes. oto calls it
// from its mixer goroutine (and once from Play), and it must not block long:
// the mixer serves every player.
func (s *audioSource) Read(p []byte) (int, error) {
	a := s.out
	a.mu.Lock()
	defer a.mu.Unlock()
	if s.stale {
		return 0, io.EOF
	}
	maxFrames := len(p) / audioBytesPerFrame
	if !s.primed {
		s.primed = true
		n := a.giveLocked(s, p[:maxFrames*audioBytesPerFrame])
		if n == 0 && maxFrames > 0 {
			clear(p[:audioBytesPerFrame])
			s.gave, s.lead, n = 1, 1, 1
		}
		s.inFlight = n > 0
		return n * audioBytesPerFrame, nil
	}
	// oto appends what a read gave before it reads again.
	s.inFlight = false
	if s.restoreBuffer {
		s.restoreBuffer = false
		s.player.SetBufferSize(a.bufferFrames * audioBytesPerFrame)
	}
	var deadline time.Time
	for {
		buffered := s.player.BufferedSize() / audioBytesPerFrame
		consumed := s.base + max(s.gave-int64(buffered)-s.lead, 0)
		a.clock.observe(a.now(), framesToDuration(consumed), buffered > 0 && !a.paused,
			buffered == 0 && a.ringLen == 0 && !a.paused)
		if room := min(a.bufferFrames-buffered, maxFrames); room > 0 && a.ringLen > 0 {
			n := a.giveLocked(s, p[:room*audioBytesPerFrame])
			s.inFlight = true
			return n * audioBytesPerFrame, nil
		}
		if deadline.IsZero() {
			wait := audioReadWait
			if a.paused || buffered == 0 {
				wait = audioIdleWait
			}
			deadline = time.Now().Add(wait)
		}
		wait := time.Until(deadline)
		if wait <= 0 {
			return 0, nil
		}
		t := time.NewTimer(wait)
		a.mu.Unlock()
		select {
		case <-a.wake:
		case <-t.C:
		}
		t.Stop()
		a.mu.Lock()
		if s.stale {
			return 0, io.EOF
		}
	}
}

// giveLocked moves up to len(p) bytes of queued frames into p for s and
// returns how many frames it moved.
func (a *AudioOutput) giveLocked(s *audioSource, p []byte) int {
	capFrames := len(a.ring) / OutputChannels
	n := min(len(p)/audioBytesPerFrame, a.ringLen)
	for i := range n * OutputChannels {
		v := a.ring[(a.ringStart*OutputChannels+i)%len(a.ring)]
		binary.LittleEndian.PutUint32(p[i*4:], math.Float32bits(v))
	}
	a.ringStart = (a.ringStart + n) % capFrames
	a.ringLen -= n
	s.gave += int64(n)
	return n
}

// durationToFrames converts a duration to whole frames at OutputSampleRate.
func durationToFrames(d time.Duration) int {
	return int(int64(d) * OutputSampleRate / int64(time.Second))
}

// framesToDuration converts frames at OutputSampleRate to a duration.
func framesToDuration(frames int64) time.Duration {
	return time.Duration(frames * int64(time.Second) / OutputSampleRate)
}
