package sync

import (
	"bytes"
	"os"
	gosync "sync"
	"sync/atomic"
	"testing"
	"time"

	"reelay/media"
	"reelay/media/mediatest"
	"reelay/net/track"
)

// heldSource serves a folder's tracks through readers that hold every read
// at or past from, within the media data, until release is closed: the
// bytes of a file whose first from have arrived and the rest have not.
// It records what its readers were asked to prefetch, and the Info it
// lists may be given (a sharer's Index and Head).
type heldSource struct {
	Source
	from, to int64
	release  chan struct{}
	info     func(track.Info) track.Info
	// urgent is what the player last told a reader (SetUrgent).
	urgent atomic.Bool

	mu gosync.Mutex
	// log is the prefetches and reads asked, in order: "prefetch" or
	// "read" with the offset and length.
	log []logged
}

type logged struct {
	what   string
	off, n int64
}

func (s *heldSource) Tracks() []track.Info {
	var out []track.Info
	for _, t := range s.Source.Tracks() {
		if s.info != nil {
			t = s.info(t)
		}
		out = append(out, t)
	}
	return out
}

func (s *heldSource) OpenTrack(name string) (TrackReader, error) {
	r, err := s.Source.OpenTrack(name)
	if err != nil {
		return nil, err
	}
	return &heldReader{TrackReader: r, s: s, done: make(chan struct{})}, nil
}

func (s *heldSource) note(what string, off, n int64) {
	s.mu.Lock()
	s.log = append(s.log, logged{what, off, n})
	s.mu.Unlock()
}

func (s *heldSource) logged() []logged {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]logged(nil), s.log...)
}

type heldReader struct {
	TrackReader
	s    *heldSource
	pos  int64
	done chan struct{}
	once gosync.Once
}

// SetUrgent keeps what the player last said, for every reader of the
// source.
func (r *heldReader) SetUrgent(on bool) { r.s.urgent.Store(on) }

func (r *heldReader) Prefetch(off, n int64)      { r.s.note("prefetch", off, n) }
func (r *heldReader) PrefetchAhead(off, n int64) { r.s.note("ahead", off, n) }

func (r *heldReader) Read(p []byte) (int, error) {
	r.s.note("read", r.pos, int64(len(p)))
	if r.pos >= r.s.from && r.pos < r.s.to {
		select {
		case <-r.s.release:
		case <-r.done:
			return 0, os.ErrClosed
		}
	} else if r.pos < r.s.from && r.pos+int64(len(p)) > r.s.from {
		p = p[:r.s.from-r.pos]
	}
	n, err := r.TrackReader.Read(p)
	r.pos += int64(n)
	return n, err
}

func (r *heldReader) Seek(off int64, whence int) (int64, error) {
	pos, err := r.TrackReader.Seek(off, whence)
	if err == nil {
		r.pos = pos
	}
	return pos, err
}

func (r *heldReader) Close() error {
	r.once.Do(func() { close(r.done) })
	return r.TrackReader.Close()
}

// firstPacket is where the first video packet of path lies, and where its
// media data ends.
func firstPacket(t *testing.T, path string) (off, end, mediaEnd int64) {
	t.Helper()
	d := mediatest.OpenDemuxer(t, path)
	idx := d.Index(mediatest.FirstStream(d, media.KindVideo))
	if len(idx) == 0 || !idx[0].Key {
		t.Fatalf("%s: no keyframe first in the index", path)
	}
	last := idx[len(idx)-1]
	return idx[0].Pos, idx[0].Pos + idx[0].Size, last.Pos + last.Size
}

// The first picture shows as soon as its keyframe is decoded: it does not
// wait for the pictures its decoder reorders it with (an H.264 stream
// with B-frames holds the first picture back until two or three packets
// more went in), whose bytes come after the keyframe's across a link.
func TestTheFirstPictureNeedsOnlyItsKeyframe(t *testing.T) {
	path := mediatest.Fixture(t, "camera.mp4")
	_, keyEnd, mediaEnd := firstPacket(t, path)
	src := &heldSource{Source: FolderSource(fixtureFolder(t, "camera.mp4")), from: keyEnd, to: mediaEnd, release: make(chan struct{})}
	p, _, recs := openTest(t, src, Options{})
	waitFor(t, 10*time.Second, "the first picture with only its keyframe's bytes", func() bool { return recs["camera"].count() > 0 })
	// A sink attached now is shown the picture on screen at once.
	kept := &frameRecorder{keep: true}
	p.SetVideoSink("camera", kept)
	waitFor(t, 10*time.Second, "the picture on screen, shown to a sink attached after it", func() bool { return kept.count() > 0 })
	got := kept.all()[0]
	ref := decodeVideoRef(t, path, got.img.Rect.Dx(), got.img.Rect.Dy(), true)
	if got.pts != ref[0].pts || !bytes.Equal(got.img.Pix, ref[0].img.Pix) {
		t.Errorf("the first picture shown is at %v, not the file's first at %v, or differs from it", got.pts, ref[0].pts)
	}
	close(src.release)
	p.Play()
	waitFor(t, 10*time.Second, "playing on once the rest arrives", func() bool { return kept.count() > 30 })
	// The keyframe's picture, decoded again for those after it, is not
	// shown twice.
	frames := kept.all()
	for i := 1; i < len(frames); i++ {
		if frames[i].pts <= frames[i-1].pts {
			t.Fatalf("picture %d at %v after one at %v", i, frames[i].pts, frames[i-1].pts)
		}
	}
}

// A track whose sharer located what its demuxer reads as it opens (an MP4
// index after the media, the bytes up to every stream's first sample) asks
// for all of it before the demuxer's first read, in one request each,
// rather than a round trip after the bytes before.
func TestOpeningAsksForTheIndexAndTheFirstSamplesAtOnce(t *testing.T) {
	index := track.ByteRange{Start: 100, End: 900} // any range the sharer says
	const head = 300 << 10
	src := &heldSource{Source: FolderSource(fixtureFolder(t, "camera.mp4")), from: -1, to: -1, release: make(chan struct{}),
		info: func(ti track.Info) track.Info { ti.Index, ti.Head = index, head; return ti }}
	_, _, recs := openTest(t, src, Options{})
	waitFor(t, 10*time.Second, "the first picture", func() bool { return recs["camera"].count() > 0 })
	log := src.logged()
	want := []logged{{"prefetch", 0, head}, {"prefetch", index.Start, index.End - index.Start}}
	if len(log) < 3 || log[0] != want[0] || log[1] != want[1] || log[2].what != "read" {
		t.Errorf("opening asked %v, want %v before the first read", log[:min(len(log), 4)], want)
	}
}

// A seek asks for the packets from the keyframe showing at or before its
// target: in a stream with B-frames a keyframe shows a frame or two after
// it decodes, and a target in between belongs to the keyframe before,
// though the index, read as the track opened, holds decoding times. Then,
// less urgently, for those of the buffer playing resumes with.
func TestASeekJustBeforeAKeyframeAsksFromTheOneBefore(t *testing.T) {
	path := mediatest.Fixture(t, "camera.mp4")
	d := mediatest.OpenDemuxer(t, path)
	i := mediatest.FirstStream(d, media.KindVideo)
	pkt := media.NewPacket()
	defer pkt.Free()
	if err := d.ReadPacket(pkt); err != nil {
		t.Fatal(err)
	}
	delay := d.KeyDelay(i)
	keys := d.Keyframes(i)
	if delay < 20*time.Millisecond || len(keys) < 4 {
		t.Fatalf("the fixture's keyframes show %v after they decode (%d keyframes): want B-frames", delay, len(keys))
	}
	before, key := keys[2], keys[3]
	target := key.PTS - 10*time.Millisecond

	src := &heldSource{Source: FolderSource(fixtureFolder(t, "camera.mp4")), from: -1, to: -1, release: make(chan struct{})}
	p, _, recs := openTest(t, src, Options{})
	waitState(t, p, StatePaused, 10*time.Second)
	n := len(src.logged())
	shown := recs["camera"].count()
	p.Seek(target)
	waitFor(t, 10*time.Second, "the seek's picture", func() bool { return recs["camera"].count() > shown })
	log := src.logged()[n:]
	for i, l := range log {
		if l.what != "prefetch" {
			continue
		}
		if l.off != before.Pos {
			t.Errorf("a seek to %v asked from %d, want the keyframe at %v (%d), not the one at %v (%d)", target, l.off, before.PTS, before.Pos, key.PTS, key.Pos)
		}
		if i+1 >= len(log) || log[i+1].what != "ahead" || log[i+1].off != l.off+l.n {
			t.Errorf("after %+v the seek asked %+v, want the buffer past the target from %d", l, log[i+1:min(i+2, len(log))], l.off+l.n)
		}
		return
	}
	t.Error("the seek asked for nothing ahead")
}

// A track whose read waits while the clock runs its buffer down below
// ResumeLevel reads urgently again, before it stalls: the pipeline, whose
// demuxer waits on that read, cannot say so, and a read asked as
// read-ahead would wait at the sharer behind every other track's.
func TestATrackRunningDownWhileItsReadWaitsReadsUrgently(t *testing.T) {
	path := mediatest.Fixture(t, "camera.mp4")
	d := mediatest.OpenDemuxer(t, path)
	idx := d.Index(mediatest.FirstStream(d, media.KindVideo))
	from := int64(-1)
	for _, e := range idx {
		if e.PTS >= 2*time.Second {
			from = e.Pos
			break
		}
	}
	last := idx[len(idx)-1]
	src := &heldSource{Source: FolderSource(fixtureFolder(t, "camera.mp4")), from: from, to: last.Pos + last.Size, release: make(chan struct{})}
	defer close(src.release)
	p, _, _ := openTest(t, src, Options{})
	waitState(t, p, StatePaused, 10*time.Second)
	waitFor(t, 10*time.Second, "the track relaxed with its buffer full", func() bool { return !src.urgent.Load() })
	p.Play()
	waitFor(t, 10*time.Second, "the track urgent again as its buffer runs down", func() bool { return src.urgent.Load() })
}
