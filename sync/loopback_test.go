package sync

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	gosync "sync"
	"testing"
	"time"

	"reelay/assets"
	p2pnet "reelay/net"
)

// These tests play a recording shared by a real libp2p host and dialled by
// another, both on loopback, in real time.

// demoDir is a copy of the built-in demo recording: a camera (30 fps), a
// screen (15 fps) and a mic, 60 s each, long enough that a seek lands
// outside what a track has fetched.
func demoDir(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	if err := assets.CopyDemo(dir); err != nil {
		t.Fatal(err)
	}
	return dir
}

// shareLoopback shares dir from one host and dials it from another.
func shareLoopback(t testing.TB, dir string) *p2pnet.Recording {
	t.Helper()
	sh, err := p2pnet.NewHost(p2pnet.HostOptions{ListenAddrs: p2pnet.LoopbackListenAddrs})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sh.Close() })
	vh, err := p2pnet.NewHost(p2pnet.HostOptions{ListenAddrs: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { vh.Close() })
	sharer := p2pnet.NewSharer(sh, p2pnet.SharerOptions{})
	t.Cleanup(func() { sharer.Close() })
	link, err := sharer.Share(dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	rec, err := p2pnet.Dial(ctx, vh, link)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rec.Close() })
	return rec
}

// TestFiftyRandomSeeksOverLoopbackLandOnTheRightFrame: after each of 50
// seeks to random times, the first picture each video track shows is the
// frame with the largest pts at or before the target, as decoding the
// local file from the start finds it.
func TestFiftyRandomSeeksOverLoopbackLandOnTheRightFrame(t *testing.T) {
	dir := demoDir(t)
	refs := map[string][]refFrame{
		"camera": decodeVideoRef(t, filepath.Join(dir, "camera.mp4"), 0, 0, false),
		"screen": decodeVideoRef(t, filepath.Join(dir, "screen.mp4"), 0, 0, false),
	}
	p, _, recs := openTest(t, shareLoopback(t, dir).Source(), Options{})
	waitState(t, p, StatePaused, 10*time.Second)
	dur := p.Duration()
	rng := rand.New(rand.NewPCG(50, 1))
	var latencies []time.Duration
	for i := range 50 {
		target := time.Duration(rng.Int64N(int64(dur)))
		before := map[string]int{}
		for name := range refs {
			before[name] = recs[name].count()
		}
		done := len(p.Stats().SeekLatencies)
		p.Seek(target)
		waitFor(t, 10*time.Second, fmt.Sprintf("seek %d to %v", i+1, target), func() bool {
			return len(p.Stats().SeekLatencies) > done
		})
		for name, ref := range refs {
			got := recs[name].since(before[name])
			if want := frameAt(ref, target).pts; len(got) == 0 || got[0].pts != want {
				t.Errorf("seek %d to %v: %s first showed %v, want the frame at %v", i+1, target, name, got, want)
			}
		}
		latencies = append(latencies, p.Stats().SeekLatencies[done])
	}
	slices.Sort(latencies)
	t.Logf("50 seeks over loopback, first frame after p50 %v, p95 %v, max %v",
		latencies[len(latencies)/2], latencies[len(latencies)*95/100], latencies[len(latencies)-1])
	for _, tr := range p.Tracks() {
		t.Logf("%s: %+v reader %+v", tr.Name, tr.Stats, tr.Stats.Reader)
	}
}

// smallBlockSource reads a remote recording through RangeReaders with
// 16 KiB blocks and a 64 KiB window until the engine sets it from the bit
// rate, so a playing track sends a request every few hundred milliseconds
// and a track that goes on requesting would show at once; it keeps every
// reader it opened.
type smallBlockSource struct {
	// rec is the dialled recording.
	rec *p2pnet.Recording
	// mu guards readers.
	mu gosync.Mutex
	// readers are the readers opened, by track, oldest first.
	readers map[string][]*p2pnet.RangeReader
}

func (s *smallBlockSource) Name() string               { return s.rec.Name() }
func (s *smallBlockSource) Tracks() []p2pnet.TrackInfo { return s.rec.Tracks() }

func (s *smallBlockSource) OpenTrack(name string) (TrackReader, error) {
	r, err := s.rec.OpenTrack(name, p2pnet.RangeReaderOptions{BlockSize: 16 << 10, Readahead: 64 << 10})
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.readers[name] = append(s.readers[name], r)
	s.mu.Unlock()
	return r, nil
}

func (s *smallBlockSource) opened(name string) []*p2pnet.RangeReader {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.readers[name])
}

// clockSample is the player's position read at a moment.
type clockSample struct {
	at  time.Time
	pos time.Duration
}

// clockAt is the position at t, from the latest sample before it: the
// clock runs at the wall's pace while playing.
func clockAt(samples []clockSample, t time.Time) (time.Duration, bool) {
	i := slices.IndexFunc(samples, func(s clockSample) bool { return s.at.After(t) })
	if i == 0 {
		return 0, false
	}
	if i < 0 {
		i = len(samples)
	}
	s := samples[i-1]
	return s.pos + t.Sub(s.at), true
}

// TestTrackSwitchedOffStopsFetchingAndRejoinsInSync reads the remote
// readers' stats: while the camera plays its reader sends requests; once it
// is switched off, its reader sends none for a second and no new one is
// opened; switched on again, a new reader fetches, and within a second the
// camera is on screen with the frame the clock is at.
func TestTrackSwitchedOffStopsFetchingAndRejoinsInSync(t *testing.T) {
	src := &smallBlockSource{rec: shareLoopback(t, demoDir(t)), readers: map[string][]*p2pnet.RangeReader{}}
	p, _, recs := openTest(t, src, Options{})
	waitState(t, p, StatePaused, 10*time.Second)
	p.Play()
	camera := func() Track {
		i := slices.IndexFunc(p.Tracks(), func(tr Track) bool { return tr.Name == "camera" })
		return p.Tracks()[i]
	}
	time.Sleep(time.Second)

	// On: the reader goes on requesting as the camera plays. It refills
	// its window in bursts, coalesced, so a quiet second is no proof.
	on, sampled := camera().Stats.Reader, time.Now()
	waitFor(t, 5*time.Second, "a request from the playing camera", func() bool {
		return camera().Stats.Reader.Requests > on.Requests
	})
	t.Logf("camera on: %d requests, more within %v", on.Requests, time.Since(sampled).Round(time.Millisecond))

	// Off: no request from its reader in the next second, no new reader.
	offAt := time.Now()
	if err := p.Subscribe("camera", false); err != nil {
		t.Fatal(err)
	}
	readers := src.opened("camera")
	r := readers[len(readers)-1]
	atOff := r.Stats()
	if tr := camera(); tr.State != StateOff || tr.Stats.Reader != nil {
		t.Errorf("camera after Subscribe(off): %v, reader %+v", tr.State, tr.Stats.Reader)
	}
	screen0 := recs["screen"].count()
	time.Sleep(time.Second)
	afterOff := r.Stats()
	t.Logf("camera off for %v: requests %d → %d, in flight %d, cancelled %d", time.Since(offAt), atOff.Requests, afterOff.Requests, afterOff.InFlight, afterOff.Cancelled)
	if afterOff.Requests != atOff.Requests || afterOff.InFlight != 0 {
		t.Errorf("the switched-off camera's reader went from %d to %d requests, %d in flight", atOff.Requests, afterOff.Requests, afterOff.InFlight)
	}
	if n := len(src.opened("camera")); n != len(readers) {
		t.Errorf("%d readers opened for the camera while it was off", n-len(readers))
	}
	if n := recs["screen"].count() - screen0; n < 12 {
		t.Errorf("the screen showed %d frames in the second the camera was off", n)
	}

	// On again: watch the clock while it rejoins.
	var mu gosync.Mutex
	var samples []clockSample
	stop := make(chan struct{})
	var wg gosync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			before := time.Now()
			pos := p.Position()
			s := clockSample{at: before.Add(time.Since(before) / 2), pos: pos}
			mu.Lock()
			samples = append(samples, s)
			mu.Unlock()
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	})
	n0 := recs["camera"].count()
	onAt := time.Now()
	if err := p.Subscribe("camera", true); err != nil {
		t.Fatal(err)
	}
	waitFor(t, time.Second, "the camera's first frame after Subscribe(on)", func() bool { return recs["camera"].count() > n0 })
	joined := time.Since(onAt)
	time.Sleep(500 * time.Millisecond)
	close(stop)
	wg.Wait()

	tr := camera()
	t.Logf("camera on again: first frame after %v; %+v reader %+v", joined, tr.Stats, tr.Stats.Reader)
	if n := len(src.opened("camera")); n != len(readers)+1 {
		t.Errorf("%d readers opened for the camera on Subscribe(on), want 1", n-len(readers))
	}
	if tr.Stats.Reader == nil || tr.Stats.Reader.Requests == 0 || tr.Stats.Reader.BytesFetched == 0 {
		t.Errorf("the camera's new reader fetched nothing: %+v", tr.Stats.Reader)
	}
	// In sync within a second: from some frame shown less than a second
	// after Subscribe(on), every frame is the one the clock is at, within
	// one frame (30 fps). The first may be late by the time the track took
	// to open, while its decoder catches up.
	const frame = 33334 * time.Microsecond
	mu.Lock()
	defer mu.Unlock()
	shown := recs["camera"].since(n0)
	lags := make([]time.Duration, len(shown))
	for i, f := range shown {
		pos, ok := clockAt(samples, f.at)
		if !ok {
			t.Fatalf("no clock sample before frame %v", f.pts)
		}
		lags[i] = pos - f.pts
	}
	inSync := len(shown)
	for inSync > 0 && lags[inSync-1].Abs() <= frame {
		inSync--
	}
	t.Logf("first frame %v shown %v after the clock; %d of %d frames shown before the camera was in sync", shown[0].pts, lags[0], inSync, len(shown))
	if inSync == len(shown) || len(shown)-inSync < 10 {
		t.Fatalf("the camera was not in sync in the 0.5 s after it appeared: lags %v", lags)
	}
	if at := shown[inSync].at.Sub(onAt); at > time.Second {
		t.Errorf("the camera was in sync only %v after Subscribe(on); lags %v", at, lags)
	}
	var worst time.Duration
	for _, l := range lags[inSync:] {
		if l.Abs() > worst.Abs() {
			worst = l
		}
	}
	t.Logf("in sync %v after Subscribe(on); then within %v of the clock", shown[inSync].at.Sub(onAt), worst)
}
