package media

import (
	"encoding/binary"
	"io"
	"math"
	"sync"
	"testing"
	"time"
)

// fakeAudioPlayer stands for an oto player, keeping the parts of its
// behaviour the output relies on: Play fills the buffer up to the buffer size
// before the player is mixed (run by fill, outside the output's lock, as oto
// runs it on a goroutine), the mixer tops the buffer up (mix), and the device
// takes audio only while playing (take).
type fakeAudioPlayer struct {
	t   *testing.T
	src io.Reader

	mu         sync.Mutex
	buf        []byte
	bufferSize int
	playing    bool
	playAsked  bool
	mixed      bool
	eof        bool
	volume     float64
}

func (p *fakeAudioPlayer) Play() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.playAsked = true
}

func (p *fakeAudioPlayer) Pause() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.playing = false
}

func (p *fakeAudioPlayer) BufferedSize() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.buf)
}

func (p *fakeAudioPlayer) SetBufferSize(n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.bufferSize = n
}

func (p *fakeAudioPlayer) SetVolume(v float64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.volume = v
}

// fill runs what Play asked for, as oto's playImpl does, and returns how
// many reads it made.
func (p *fakeAudioPlayer) fill() (reads int) {
	p.mu.Lock()
	if !p.playAsked {
		p.mu.Unlock()
		return 0
	}
	p.playAsked, p.playing = false, true
	for !p.eof && len(p.buf) < p.bufferSize {
		tmp := make([]byte, p.bufferSize)
		p.mu.Unlock()
		n, err := p.src.Read(tmp)
		p.mu.Lock()
		reads++
		p.buf = append(p.buf, tmp[:n]...)
		if err == io.EOF {
			p.eof = true
		} else if n == 0 {
			p.mu.Unlock()
			p.t.Fatal("Play would spin: the source gave nothing")
		}
	}
	p.mixed = true
	p.mu.Unlock()
	return reads
}

// mix tops the buffer up, as oto's mixer loop does for a mixed player.
func (p *fakeAudioPlayer) mix() {
	p.mu.Lock()
	if !p.mixed || p.eof || len(p.buf) >= p.bufferSize {
		p.mu.Unlock()
		return
	}
	tmp := make([]byte, p.bufferSize)
	p.mu.Unlock()
	n, err := p.src.Read(tmp)
	p.mu.Lock()
	p.buf = append(p.buf, tmp[:n]...)
	if err == io.EOF {
		p.eof = true
	}
	p.mu.Unlock()
}

// take takes up to frames frames as the device would, returning them.
func (p *fakeAudioPlayer) take(frames int) []float32 {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.playing || !p.mixed {
		return nil
	}
	n := min(frames*audioBytesPerFrame, len(p.buf))
	out := make([]float32, n/4)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(p.buf[4*i:]))
	}
	p.buf = p.buf[n:]
	return out
}

// fakeAudioRig is an output on fake players with a fake clock.
type fakeAudioRig struct {
	t       *testing.T
	out     *AudioOutput
	players []*fakeAudioPlayer
	now     time.Time
	heard   []float32
}

func newFakeAudioRig(t *testing.T, o AudioOutputOptions) *fakeAudioRig {
	r := &fakeAudioRig{t: t, now: time.Unix(1000, 0)}
	newPlayer := func(src io.Reader) audioPlayer {
		p := &fakeAudioPlayer{t: t, src: src}
		r.players = append(r.players, p)
		return p
	}
	if o.Buffer <= 0 {
		o.Buffer = defaultAudioBuffer
	}
	if o.Queue <= 0 {
		o.Queue = defaultAudioQueue
	}
	r.out = newAudioOutput(o, newPlayer, func() error { return nil }, o.Buffer, func() time.Time { return r.now })
	t.Cleanup(func() { r.out.Close() })
	return r
}

// player is the newest player.
func (r *fakeAudioRig) player() *fakeAudioPlayer { return r.players[len(r.players)-1] }

// period runs one device period of d: pending Plays, the mixer, the device
// taking d of audio, the mixer again, and the clock moving on by d.
func (r *fakeAudioRig) period(d time.Duration) {
	for _, p := range r.players {
		p.fill()
		p.mix()
	}
	for _, p := range r.players {
		r.heard = append(r.heard, p.take(durationToFrames(d))...)
	}
	for _, p := range r.players {
		p.mix()
	}
	r.now = r.now.Add(d)
}

// ramp returns d of audio whose every value is distinct and non-zero,
// continuing from frame from, so a lost, repeated or silent frame shows.
func ramp(from int, d time.Duration) []float32 {
	s := make([]float32, durationToFrames(d)*OutputChannels)
	for i := range s {
		s[i] = float32(from*OutputChannels+i+1) / (1 << 22)
	}
	return s
}

// sameAudio fails unless got is want.
func sameAudio(t *testing.T, got, want []float32) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("the device took %d values, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("value %d is %v, want %v", i, got[i], want[i])
		}
	}
}

func TestAudioOutputGivesOtoTheSamplesInOrder(t *testing.T) {
	r := newFakeAudioRig(t, AudioOutputOptions{Buffer: 100 * time.Millisecond, Queue: 70 * time.Millisecond})
	want := ramp(0, time.Second)
	wrote := 0
	for range 60 {
		wrote += r.out.Write(want[wrote:])
		r.period(32 * time.Millisecond)
	}
	if wrote != len(want) {
		t.Fatalf("wrote %d of %d values", wrote, len(want))
	}
	sameAudio(t, r.heard, want)
	if p := r.out.Played(); p != time.Second {
		t.Errorf("Played is %v once everything was heard, want 1s", p)
	}
	if len(r.players) != 1 {
		t.Errorf("%d players made for one uninterrupted run", len(r.players))
	}
}

func TestAudioOutputResumesWithoutPlayReading(t *testing.T) {
	r := newFakeAudioRig(t, AudioOutputOptions{})
	want := ramp(0, 400*time.Millisecond)
	if n := r.out.Write(want); n != len(want) {
		t.Fatalf("Write took %d", n)
	}
	for range 5 {
		r.period(32 * time.Millisecond)
	}
	r.out.Pause()
	p := r.player()
	r.period(32 * time.Millisecond) // paused: the device takes nothing
	if p.BufferedSize() == 0 {
		t.Fatal("the paused player holds nothing; the test needs it to hold some")
	}

	// The player holds audio: it is played on, and Play reads nothing.
	r.out.Resume()
	if reads := p.fill(); reads != 0 {
		t.Errorf("Play read %d times to resume a player holding audio", reads)
	}
	if len(r.players) != 1 {
		t.Errorf("Resume made a new player although the old one held audio")
	}
	for range 20 {
		r.period(32 * time.Millisecond)
	}
	p.mu.Lock()
	size := p.bufferSize
	p.mu.Unlock()
	if size != durationToFrames(defaultAudioBuffer)*audioBytesPerFrame {
		t.Errorf("the player's buffer size is %d after resuming, want it restored", size)
	}

	// Starved and paused: the player holds nothing, so a new player starts
	// where the old one ended, and the old one's source ends.
	r.out.Pause()
	r.out.Resume()
	if len(r.players) != 2 {
		t.Fatalf("%d players after resuming an empty one, want a new one", len(r.players))
	}
	if n, err := p.src.Read(make([]byte, 64)); n != 0 || err != io.EOF {
		t.Errorf("the replaced player's source read %d, %v; want 0, io.EOF", n, err)
	}
	more := ramp(durationToFrames(400*time.Millisecond), 200*time.Millisecond)
	r.out.Write(more)
	for range 15 {
		r.period(32 * time.Millisecond)
	}
	sameAudio(t, r.heard, append(want, more...))
	if p := r.out.Played(); p != 600*time.Millisecond {
		t.Errorf("Played is %v once all 600ms were heard", p)
	}
}

func TestAudioOutputClearDropsQueuedAudio(t *testing.T) {
	r := newFakeAudioRig(t, AudioOutputOptions{})
	r.out.Write(ramp(0, 400*time.Millisecond))
	for range 5 {
		r.period(32 * time.Millisecond)
	}
	old := r.player()
	r.out.Clear()
	if p := r.out.Played(); p != 0 {
		t.Errorf("Played is %v after Clear", p)
	}
	if f := r.out.Free(); f != durationToFrames(defaultAudioQueue)*OutputChannels {
		t.Errorf("Free is %d after Clear, want the whole queue", f)
	}
	if n, err := old.src.Read(make([]byte, 64)); n != 0 || err != io.EOF {
		t.Errorf("the cleared player's source read %d, %v; want 0, io.EOF", n, err)
	}
	// Nothing is written yet when the new player starts: Play gets one
	// silent frame, which the clock does not count.
	r.heard = nil
	r.period(32 * time.Millisecond)
	after := ramp(0, 200*time.Millisecond)
	r.out.Write(after)
	for range 15 {
		r.period(32 * time.Millisecond)
	}
	sameAudio(t, r.heard, append(make([]float32, OutputChannels), after...))
	if p := r.out.Played(); p != 200*time.Millisecond {
		t.Errorf("Played is %v, want the 200ms written after Clear", p)
	}
}

func TestAudioOutputVolumeReachesEveryPlayer(t *testing.T) {
	r := newFakeAudioRig(t, AudioOutputOptions{})
	r.out.SetVolume(0.25)
	if v := r.player().volume; v != 0.25 {
		t.Errorf("volume %v, want 0.25", v)
	}
	r.out.Clear()
	if v := r.player().volume; v != 0.25 {
		t.Errorf("a new player has volume %v, want 0.25", v)
	}
	r.out.SetVolume(-1)
	if v := r.player().volume; v != 0 {
		t.Errorf("volume %v for -1, want 0", v)
	}
	r.out.SetVolume(3)
	if v := r.player().volume; v != 1 {
		t.Errorf("volume %v for 3, want 1", v)
	}
}
