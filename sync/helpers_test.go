package sync

import (
	"image"
	"os"
	"path/filepath"
	gosync "sync"
	"sync/atomic"
	"testing"
	"time"

	"reelay/media"
	"reelay/media/mediatest"
	p2pnet "reelay/net"
)

// fakeSink is an audio device that plays in (possibly fake) real time: what
// is written is heard at 48 kHz while not paused, with no latency. It
// records everything written since the last Clear.
type fakeSink struct {
	// mu guards everything below.
	mu gosync.Mutex
	// capFrames is the most audio it queues.
	capFrames int64
	// written holds every sample written since the last Clear.
	written []float32
	// played counts frames heard since the last Clear.
	played int64
	// paused says the clock is stopped.
	paused bool
	// at is when played was last brought up to date.
	at time.Time
	// clears counts Clear calls; closed is set by Close.
	clears int
	closed bool
	// volume is the last SetVolume.
	volume float64
}

func newFakeSink() *fakeSink {
	return &fakeSink{capFrames: sampleRate, at: time.Now(), volume: 1}
}

func (s *fakeSink) advanceLocked() {
	now := time.Now()
	if s.paused {
		s.at = now
		return
	}
	n := int64(now.Sub(s.at)) * sampleRate / int64(time.Second)
	pending := int64(len(s.written)/channels) - s.played
	if n >= pending {
		s.played += pending
		s.at = now // starved: the device plays silence that is not counted
		return
	}
	s.played += n
	s.at = s.at.Add(sampleTime(n))
}

func (s *fakeSink) Write(samples []float32) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advanceLocked()
	free := (s.capFrames - (int64(len(s.written)/channels) - s.played)) * channels
	n := min(int64(len(samples)), free) / channels * channels
	s.written = append(s.written, samples[:n]...)
	return int(n)
}

func (s *fakeSink) Free() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advanceLocked()
	return int((s.capFrames - (int64(len(s.written)/channels) - s.played)) * channels)
}

func (s *fakeSink) Played() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advanceLocked()
	return sampleTime(s.played)
}

func (s *fakeSink) Pending() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advanceLocked()
	return sampleTime(int64(len(s.written)/channels) - s.played)
}

func (s *fakeSink) Pause() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advanceLocked()
	s.paused = true
}

func (s *fakeSink) Resume() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advanceLocked()
	s.paused = false
}

func (s *fakeSink) Clear() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advanceLocked()
	s.written, s.played = nil, 0
	s.clears++
}

func (s *fakeSink) SetVolume(v float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.volume = v
}

func (s *fakeSink) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	return nil
}

// samples returns a copy of what was written since the last Clear.
func (s *fakeSink) samples() []float32 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]float32(nil), s.written...)
}

// shown is one frame handed to a video sink.
type shown struct {
	// pts is the frame's timeline time; at is when it was shown.
	pts time.Duration
	at  time.Time
	// img is a copy of the picture, when the recorder keeps pictures.
	img *image.RGBA
	// seq is the frame's index among those the recorder was shown.
	seq int
}

// frameRecorder is a VideoSink that logs what it is shown.
type frameRecorder struct {
	// mu guards keep and frames.
	mu gosync.Mutex
	// keep says pictures are copied.
	keep bool
	// frames are the frames shown, in order.
	frames []shown
}

func (r *frameRecorder) Show(img *image.RGBA, pts time.Duration) {
	f := shown{pts: pts, at: time.Now()}
	r.mu.Lock()
	if r.keep {
		f.img = &image.RGBA{Pix: append([]byte(nil), img.Pix...), Stride: img.Stride, Rect: img.Rect}
	}
	f.seq = len(r.frames)
	r.frames = append(r.frames, f)
	r.mu.Unlock()
}

// keepPictures makes the recorder copy every picture shown from now on.
func (r *frameRecorder) keepPictures() {
	r.mu.Lock()
	r.keep = true
	r.mu.Unlock()
}

func (r *frameRecorder) all() []shown {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]shown(nil), r.frames...)
}

func (r *frameRecorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.frames)
}

func (r *frameRecorder) since(n int) []shown {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]shown(nil), r.frames[n:]...)
}

// folderOf makes a recording folder holding the given files, as
// name → source path; a manifest is written when manifest is not "".
func folderOf(t testing.TB, files map[string]string, manifest string) *p2pnet.Folder {
	t.Helper()
	dir := t.TempDir()
	for name, src := range files {
		dst := filepath.Join(dir, name)
		if err := os.Link(src, dst); err != nil {
			b, err := os.ReadFile(src)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(dst, b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	if manifest != "" {
		if err := os.WriteFile(filepath.Join(dir, p2pnet.ManifestName), []byte(manifest), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	f, err := p2pnet.OpenFolder(dir)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// fixtureFolder is a folder of mediatest fixtures, each track named by the
// fixture's stem.
// keyframesOf is path's video keyframes by its index, at the times they
// show (the index holds decoding times until the demuxer has read a
// packet and learnt how much later keyframes show), and the file's start
// time.
func keyframesOf(t testing.TB, path string) ([]media.IndexEntry, time.Duration) {
	t.Helper()
	d := mediatest.OpenDemuxer(t, path)
	p := media.NewPacket()
	defer p.Free()
	if err := d.ReadPacket(p); err != nil {
		t.Fatal(err)
	}
	return d.Keyframes(mediatest.FirstStream(d, media.KindVideo)), d.StartTime()
}

func fixtureFolder(t testing.TB, names ...string) *p2pnet.Folder {
	t.Helper()
	files := map[string]string{}
	for _, n := range names {
		files[n] = mediatest.Fixture(t, n)
	}
	return folderOf(t, files, "")
}

// countingSource wraps a Source and counts each track's reads.
type countingSource struct {
	Source
	// mu guards readers.
	mu gosync.Mutex
	// readers are every reader opened, by track.
	readers map[string][]*countedReader
	// gate, when set, is waited on by every read of the track named gated.
	gate  chan struct{}
	gated string
}

// countedReader is a TrackReader that counts its reads and its closing.
type countedReader struct {
	TrackReader
	// reads counts Read calls; closed says Close was called.
	reads  atomic.Int64
	closed atomic.Bool
	// gate, if not nil, blocks each Read until it can receive (or is
	// closed).
	gate chan struct{}
	// done unblocks a gated Read when the reader is closed.
	done chan struct{}
	once gosync.Once
}

func (c *countedReader) Read(p []byte) (int, error) {
	if c.closed.Load() {
		return 0, os.ErrClosed
	}
	c.reads.Add(1)
	if c.gate != nil {
		select {
		case <-c.gate:
		case <-c.done:
			return 0, os.ErrClosed
		}
	}
	return c.TrackReader.Read(p)
}

func (c *countedReader) Close() error {
	c.closed.Store(true)
	c.once.Do(func() { close(c.done) })
	return c.TrackReader.Close()
}

func newCountingSource(src Source) *countingSource {
	return &countingSource{Source: src, readers: map[string][]*countedReader{}}
}

func (s *countingSource) OpenTrack(name string) (TrackReader, error) {
	r, err := s.Source.OpenTrack(name)
	if err != nil {
		return nil, err
	}
	c := &countedReader{TrackReader: r, done: make(chan struct{})}
	s.mu.Lock()
	if name == s.gated {
		c.gate = s.gate
	}
	s.readers[name] = append(s.readers[name], c)
	s.mu.Unlock()
	return c, nil
}

// reads is the number of reads of every reader of the track.
func (s *countingSource) reads(name string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	var n int64
	for _, r := range s.readers[name] {
		n += r.reads.Load()
	}
	return n
}

func (s *countingSource) allClosed(name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range s.readers[name] {
		if !r.closed.Load() {
			return false
		}
	}
	return true
}

// refFrame is a frame decoded straight from a file, for comparison.
type refFrame struct {
	pts time.Duration
	img *image.RGBA
}

// decodeVideoRef decodes every frame of the first video stream of path from
// the start, converted to w×h (pictures only when keep).
func decodeVideoRef(t testing.TB, path string, w, h int, keep bool) []refFrame {
	t.Helper()
	d := mediatest.OpenDemuxer(t, path)
	idx := mediatest.FirstStream(d, media.KindVideo)
	dec, err := media.NewVideoDecoder(d, idx)
	if err != nil {
		t.Fatal(err)
	}
	defer dec.Close()
	var out []refFrame
	fn := func(vf *media.VideoFrame) error {
		r := refFrame{pts: vf.PTS - d.StartTime()}
		if keep {
			r.img = image.NewRGBA(image.Rect(0, 0, w, h))
			if err := dec.Convert(vf, r.img); err != nil {
				return err
			}
		}
		out = append(out, r)
		return nil
	}
	mediatest.EachPacket(t, d, func(p *media.Packet) error {
		if p.StreamIndex() != idx {
			return nil
		}
		return dec.Decode(p, fn)
	})
	if err := dec.Decode(nil, fn); err != nil {
		t.Fatal(err)
	}
	return out
}

// decodeAudioRef decodes the first audio stream of path from the start
// into one sample slice indexed by timeline sample.
func decodeAudioRef(t testing.TB, path string) []float32 {
	t.Helper()
	d := mediatest.OpenDemuxer(t, path)
	idx := mediatest.FirstStream(d, media.KindAudio)
	dec, err := media.NewAudioDecoder(d, idx)
	if err != nil {
		t.Fatal(err)
	}
	defer dec.Close()
	var out []float32
	fn := func(pts time.Duration, s []float32) error {
		at := sampleAt(pts-d.StartTime()) * channels
		if at < 0 {
			s = s[min(-at, int64(len(s))):]
			at = 0
		}
		if need := at + int64(len(s)); int64(len(out)) < need {
			out = append(out, make([]float32, need-int64(len(out)))...)
		}
		copy(out[at:], s)
		return nil
	}
	mediatest.EachPacket(t, d, func(p *media.Packet) error {
		if p.StreamIndex() != idx {
			return nil
		}
		return dec.Decode(p, fn)
	})
	if err := dec.Decode(nil, fn); err != nil {
		t.Fatal(err)
	}
	return out
}

// frameAt is the frame showing at t: the latest whose pts is at or before.
func frameAt(frames []refFrame, t time.Duration) refFrame {
	best := frames[0]
	for _, f := range frames {
		if f.pts <= t && f.pts >= best.pts {
			best = f
		}
	}
	return best
}

// smallVideo converts every track's frames to a quarter of their size, to
// keep tests quick under the race detector.
func smallVideo(_ string, w, h int) (int, int) { return w / 4, h / 4 }

// waitFor polls cond every 10 ms (of the bubble's fake time inside
// synctest) until it holds or d has passed.
func waitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// eventLog collects events.
type eventLog struct {
	// mu guards events.
	mu     gosync.Mutex
	events []Event
}

func (l *eventLog) add(e Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, e)
}

func (l *eventLog) all() []Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]Event(nil), l.events...)
}
