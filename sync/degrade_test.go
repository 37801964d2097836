package sync

import (
	"math"
	"os"
	"slices"
	gosync "sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"reelay/media/mediatest"
	p2pnet "reelay/net"
	"reelay/net/track"
)

// slowLink is one link shared by every track of a pacedSource: each byte
// read waits its turn at rate bytes per second (0: no limit).
type slowLink struct {
	rate atomic.Int64
	mu   gosync.Mutex
	// next is when the link is free again.
	next time.Time
	// read counts the bytes read through it.
	read atomic.Int64
	// fast makes its readers report a fast link, as when a busy machine,
	// not the link, is slow.
	fast bool
	// dead makes it carry nothing, as a sharer that vanished without
	// closing, and its readers measure nothing arriving.
	dead atomic.Bool
	// lanes, when set, is the connections to the sharer its readers
	// report, as a network reader on a lossy link does.
	lanes atomic.Int32
	// readsAt are the offsets of the ReadAt calls asked while logAt is
	// set, in the order they were asked (under mu).
	logAt   atomic.Bool
	readsAt []int64
}

// loggedReadsAt returns the offsets ReadAt was asked for since logAt was
// set.
func (l *slowLink) loggedReadsAt() []int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]int64(nil), l.readsAt...)
}

// pass waits until n bytes have crossed the link, or done is closed.
func (l *slowLink) pass(n int, done <-chan struct{}) error {
	for l.dead.Load() {
		select {
		case <-time.After(100 * time.Millisecond):
		case <-done:
			return os.ErrClosed
		}
	}
	l.read.Add(int64(n))
	r := l.rate.Load()
	if r <= 0 || n <= 0 {
		return nil
	}
	l.mu.Lock()
	now := time.Now()
	if l.next.Before(now) {
		l.next = now
	}
	l.next = l.next.Add(time.Duration(float64(n) / float64(r) * float64(time.Second)))
	wait := l.next.Sub(now)
	l.mu.Unlock()
	select {
	case <-time.After(wait):
		return nil
	case <-done:
		return os.ErrClosed
	}
}

// pacedSource is a folder read across a slowLink.
type pacedSource struct {
	Source
	link *slowLink
}

func (s pacedSource) OpenTrack(name string) (TrackReader, error) {
	r, err := s.Source.OpenTrack(name)
	if err != nil {
		return nil, err
	}
	return &pacedReader{f: r.(*os.File), link: s.link, done: make(chan struct{})}, nil
}

// pacedReader reads a file across the link; Close unblocks a read waiting
// for it.
type pacedReader struct {
	f    *os.File
	link *slowLink
	done chan struct{}
	once gosync.Once
}

// pacedChunk is the most a Read returns: a network reader returns what
// has arrived, not all that was asked for.
const pacedChunk = 8 << 10

func (r *pacedReader) Read(p []byte) (int, error) {
	n, err := r.f.Read(p[:min(len(p), pacedChunk)])
	if perr := r.link.pass(n, r.done); perr != nil {
		return 0, perr
	}
	return n, err
}

func (r *pacedReader) ReadAt(p []byte, off int64) (int, error) {
	if r.link.logAt.Load() {
		r.link.mu.Lock()
		r.link.readsAt = append(r.link.readsAt, off)
		r.link.mu.Unlock()
	}
	n, err := r.f.ReadAt(p, off)
	if perr := r.link.pass(n, r.done); perr != nil {
		return 0, perr
	}
	return n, err
}

func (r *pacedReader) Seek(off int64, whence int) (int64, error) { return r.f.Seek(off, whence) }

// Connection reports a connection with the link's lanes once they are
// set, and none before.
func (r *pacedReader) Connection() track.Connection {
	if n := r.link.lanes.Load(); n > 0 {
		return track.Connection{State: track.ConnConnected, Lanes: int(n)}
	}
	return track.Connection{}
}

// Stats reports what a network reader would measure of the link: its
// rate shared by the two tracks of these tests, always asking, and
// always receiving at that rate.
func (r *pacedReader) Stats() p2pnet.RangeReaderStats {
	bw := float64(1 << 30)
	if rate := r.link.rate.Load(); rate > 0 && !r.link.fast {
		bw = float64(rate) / 2
	}
	if r.link.dead.Load() {
		// Nothing arrived over the last 2 s; the bandwidth, measured over
		// the time requests were in flight, still remembers a few bytes
		// from before, far short of what the tracks play.
		return p2pnet.RangeReaderStats{InFlight: 1, Bandwidth: 1000, BytesFetched: r.link.read.Load()}
	}
	return p2pnet.RangeReaderStats{InFlight: 1, Bandwidth: bw, Throughput: bw, BytesFetched: r.link.read.Load()}
}

// TestALinkThatCarriesNothingIsWaitedOut: when the link stops carrying
// anything at all (a sharer gone without closing, not yet noticed), the
// player stalls and waits; it thins nothing, which would only add
// requests to a link that answers none.
func TestALinkThatCarriesNothingIsWaitedOut(t *testing.T) {
	folder := fixtureFolder(t, "camera.mp4", "mic.m4a")
	synctest.Test(t, func(t *testing.T) {
		link := &slowLink{}
		p, _, _ := openTest(t, pacedSource{FolderSource(folder), link}, Options{})
		waitState(t, p, StatePaused, 30*time.Second)
		p.Play()
		time.Sleep(time.Second)
		link.dead.Store(true)
		waitState(t, p, StateBuffering, 30*time.Second)
		time.Sleep(5 * time.Second)
		for _, tr := range p.Tracks() {
			if tr.Thinned {
				t.Errorf("%s was thinned across a link that carries nothing", tr.Name)
			}
		}
		if st := p.State(); st != StateBuffering {
			t.Errorf("state %v across a link that carries nothing, want buffering", st)
		}
		link.dead.Store(false)
	})
}

// TestAThinLinkStartsWithMoreBuffered: across a link that carries the
// tracks only a little faster than they play (1.1 times), the clock
// starts, here after a seek, once more than ResumeLevel is buffered,
// enough to ride out the link's dips, not at ResumeLevel as across a fast
// one.
func TestAThinLinkStartsWithMoreBuffered(t *testing.T) {
	folder := fixtureFolder(t, "camera.mp4", "mic.m4a")
	synctest.Test(t, func(t *testing.T) {
		link := &slowLink{}
		p, _, _ := openTest(t, pacedSource{FolderSource(folder), link}, Options{})
		waitState(t, p, StatePaused, 30*time.Second)
		var rate int64
		for _, s := range p.slots {
			rate += s.pl.mediaRate.Load()
		}
		if rate <= 0 {
			t.Fatal("the tracks' media rate is not known")
		}
		// What opening buffered is left behind: from 4 s on, everything
		// crosses the link.
		link.rate.Store(rate * 11 / 10)
		const from = 4 * time.Second
		p.Seek(from)
		p.Play()
		waitState(t, p, StatePlaying, 60*time.Second)
		ahead := time.Duration(math.MaxInt64)
		for _, tr := range p.Tracks() {
			ahead = min(ahead, tr.Stats.BufferedAhead)
		}
		demuxed := ahead + p.Position() - from
		t.Logf("playing with %v demuxed from %v", demuxed, from)
		// ResumeLevel is 750 ms; the link leaves a tenth of the rate
		// spare, so playing waits for about 1.2 s.
		if demuxed < DefaultResumeLevel+300*time.Millisecond {
			t.Errorf("playing started with %v buffered across a link 1.1 times the tracks' rate, want more than %v", demuxed, DefaultResumeLevel)
		}
	})
}

func (r *pacedReader) Close() error {
	r.once.Do(func() { close(r.done) })
	return r.f.Close()
}

// keyframeTimes are the times of a fixture's video keyframes.
func keyframeTimes(t *testing.T, name string) []time.Duration {
	t.Helper()
	keys, start := keyframesOf(t, mediatest.Fixture(t, name))
	var out []time.Duration
	for _, k := range keys {
		out = append(out, k.PTS-start)
	}
	if len(out) < 5 {
		t.Fatalf("%s has %d keyframes", name, len(out))
	}
	return out
}

func trackNamed(tracks []Track, name string) Track {
	for _, tr := range tracks {
		if tr.Name == name {
			return tr
		}
	}
	return Track{}
}

// playThinned plays folder's camera and mic across a link that carries
// the sound and the camera's keyframes but not the whole camera (47 kB/s,
// its keyframes 6.5 kB/s, the mic 8 kB/s), until the camera is thinned.
// Its readers report lanes connections to the sharer, none when 0.
func playThinned(t *testing.T, folder Files, lanes int32) (*Player, *fakeSink, map[string]*frameRecorder, *slowLink) {
	t.Helper()
	link := &slowLink{}
	link.lanes.Store(lanes)
	link.rate.Store(22_000)
	p, sink, recs := openTest(t, pacedSource{FolderSource(folder), link}, Options{})
	waitState(t, p, StatePaused, 30*time.Second)
	p.Play()
	waitFor(t, 30*time.Second, "the camera thinned", func() bool {
		return trackNamed(p.Tracks(), "camera").Thinned
	})
	return p, sink, recs, link
}

// TestASlowLinkThinsThePictureAndTheSoundPlaysOn: across a link that
// carries the sound and the camera's keyframes but not the whole camera,
// the camera is thinned instead of the clock stopping: it shows only
// keyframes while the position runs on, the sound plays on, and once the
// link is fast again the camera plays whole by itself.
func TestASlowLinkThinsThePictureAndTheSoundPlaysOn(t *testing.T) {
	keys := keyframeTimes(t, "camera.mp4")
	folder := fixtureFolder(t, "camera.mp4", "mic.m4a")
	synctest.Test(t, func(t *testing.T) {
		p, sink, recs, link := playThinned(t, folder, 0)
		thinnedAt := p.Position()
		shownBefore := recs["camera"].count()
		stallsBefore := p.Stats().Stalls
		waitFor(t, 30*time.Second, "the position 3 s on", func() bool { return p.Position() >= thinnedAt+3*time.Second })
		st := p.Stats()
		if st.Stalls != stallsBefore {
			t.Errorf("the clock stopped %d times while the camera was thinned: %+v", st.Stalls-stallsBefore, st.StallLog)
		}
		thin := recs["camera"].since(shownBefore)
		if len(thin) == 0 {
			t.Fatal("the thinned camera showed no picture in 3 s")
		}
		// What was queued before plays out; from the first keyframe on,
		// only keyframes show.
		first := slices.IndexFunc(thin, func(f shown) bool { return slices.Contains(keys, f.pts) })
		if first < 0 {
			t.Fatalf("the thinned camera showed no keyframe: %v", thin)
		}
		for _, f := range thin[first:] {
			if !slices.Contains(keys, f.pts) {
				t.Errorf("the thinned camera showed a picture at %v, not a keyframe (%v)", f.pts, keys)
			}
		}
		if tr := trackNamed(p.Tracks(), "mic"); tr.State != StatePlaying || tr.Thinned {
			t.Errorf("the mic while the camera was thinned: %v, thinned %v", tr.State, tr.Thinned)
		}
		heard := sink.Played()

		// The link is fast again: the camera plays whole by itself, after
		// its wait. The clip is 10 s long, so watch it again meanwhile.
		link.rate.Store(0)
		waitFor(t, 30*time.Second, "the position near the end", func() bool { return p.Position() >= 7*time.Second })
		if sink.Played() <= heard {
			t.Error("no sound was played after the camera was thinned")
		}
		p.Seek(0)
		waitFor(t, 30*time.Second, "the camera whole again", func() bool {
			return !trackNamed(p.Tracks(), "camera").Thinned
		})
		// Watched again whole (the clip may have ended meanwhile).
		whole := recs["camera"].count()
		p.Seek(time.Second)
		p.Play()
		waitFor(t, 30*time.Second, "pictures between keyframes", func() bool {
			return slices.ContainsFunc(recs["camera"].since(whole), func(f shown) bool { return !slices.Contains(keys, f.pts) })
		})
		if d := trackNamed(p.Tracks(), "camera").Stats.ThinnedTime; d < 3*time.Second {
			t.Errorf("ThinnedTime = %v, want the 3 s and more it was thinned", d)
		}
	})
}

// TestMoreConnectionsLetAThinnedTrackTryWhole: a thinned camera whose
// link is still measured too slow stays thinned past its retry; once the
// network has opened more connections to the sharer than it had when the
// camera was thinned, the camera tries to play whole at once, before its
// next retry, the old measure notwithstanding.
func TestMoreConnectionsLetAThinnedTrackTryWhole(t *testing.T) {
	folder := fixtureFolder(t, "camera.mp4", "mic.m4a")
	synctest.Test(t, func(t *testing.T) {
		p, _, _, link := playThinned(t, folder, 1)
		// Past the first retry, on the same connections: still thinned.
		// The clip is 10 s long, so watch it again meanwhile.
		time.Sleep(firstRetry / 2)
		p.Seek(0)
		time.Sleep(firstRetry/2 + time.Second)
		if !trackNamed(p.Tracks(), "camera").Thinned {
			t.Fatal("the camera played whole on a link measured too slow, with no new connection")
		}
		p.Seek(0)
		time.Sleep(time.Second)
		link.lanes.Store(4)
		waitFor(t, firstRetry/2, "the camera trying whole", func() bool {
			return !trackNamed(p.Tracks(), "camera").Thinned
		})
	})
}

// TestAThinnedTrackSeeksToTheKeyframeBeforeTheTarget: a seek while the
// camera is thinned shows the keyframe at or before the target at once.
func TestAThinnedTrackSeeksToTheKeyframeBeforeTheTarget(t *testing.T) {
	keys := keyframeTimes(t, "camera.mp4")
	folder := fixtureFolder(t, "camera.mp4", "mic.m4a")
	synctest.Test(t, func(t *testing.T) {
		p, _, recs, _ := playThinned(t, folder, 0)
		n := recs["camera"].count()
		target := 6500 * time.Millisecond
		p.Seek(target)
		waitFor(t, 30*time.Second, "a picture after the seek", func() bool { return recs["camera"].count() > n })
		want := keys[0]
		for _, k := range keys {
			if k <= target {
				want = k
			}
		}
		if got := recs["camera"].since(n)[0].pts; got != want {
			t.Errorf("the thinned camera's first picture after seeking to %v is at %v, want the keyframe at %v", target, got, want)
		}
		if !trackNamed(p.Tracks(), "camera").Thinned {
			t.Error("the camera played whole after a seek, on a link still too slow")
		}
	})
}

// TestAThinnedSeekAsksForItsKeyframeFirst: a seek in a thinned track
// that has sound asks for the keyframe its picture shows first, and then
// for sound (its first batch no more than one round of parallel reads),
// so that the seek's picture and sound wait two round trips across a
// link, not the seconds of sound its buffer wants first, asked a round
// of reads at a time.
func TestAThinnedSeekAsksForItsKeyframeFirst(t *testing.T) {
	keys, _ := keyframesOf(t, mediatest.Fixture(t, "av.mp4"))
	folder := fixtureFolder(t, "av.mp4")
	synctest.Test(t, func(t *testing.T) {
		link := &slowLink{}
		link.rate.Store(22_000)
		p, _, recs := openTest(t, pacedSource{FolderSource(folder), link}, Options{})
		waitState(t, p, StatePaused, 30*time.Second)
		p.Play()
		waitFor(t, 30*time.Second, "the picture thinned", func() bool { return trackNamed(p.Tracks(), "av").Thinned })
		target := 6500 * time.Millisecond
		key := keys[0]
		for _, k := range keys {
			if k.PTS <= target {
				key = k
			}
		}
		synctest.Wait()
		n := recs["av"].count()
		link.logAt.Store(true)
		p.Seek(target)
		waitFor(t, 30*time.Second, "a picture after the seek", func() bool { return recs["av"].count() > n })
		reads := link.loggedReadsAt()
		if len(reads) == 0 || reads[0] != key.Pos {
			t.Fatalf("after the seek to %v the thinned track read first at %v, want its keyframe's %d", target, reads[:min(len(reads), 3)], key.Pos)
		}
	})
}

// TestAStallTheLinkIsNotToBlameForThinsNothing: when the tracks run out
// while the link is measured fast enough (a busy machine), the player
// stalls as before and thins nothing.
func TestAStallTheLinkIsNotToBlameForThinsNothing(t *testing.T) {
	folder := fixtureFolder(t, "camera.mp4", "mic.m4a")
	synctest.Test(t, func(t *testing.T) {
		link := &slowLink{fast: true}
		link.rate.Store(22_000)
		p, _, _ := openTest(t, pacedSource{FolderSource(folder), link}, Options{})
		waitState(t, p, StatePaused, 30*time.Second)
		p.Play()
		waitFor(t, 30*time.Second, "a stall", func() bool { return p.Stats().Stalls > 0 })
		time.Sleep(5 * time.Second)
		if tr := trackNamed(p.Tracks(), "camera"); tr.Thinned || tr.Stats.ThinnedTime > 0 {
			t.Errorf("the camera was thinned (for %v) on a link measured fast enough", tr.Stats.ThinnedTime)
		}
	})
}
