package sync

import (
	"errors"
	gosync "sync"
	"testing"
	"testing/synctest"
	"time"

	p2pnet "reelay/net"
	"reelay/net/leakcheck"
)

// connSource is a Source whose connection the test sets, as a remote
// recording's would change.
type connSource struct {
	Source
	// mu guards conn.
	mu   gosync.Mutex
	conn p2pnet.Connection
}

func (s *connSource) Connection() p2pnet.Connection {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conn
}

func (s *connSource) set(c p2pnet.Connection) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.conn = c
}

// TestConnectionChangesBecomeEvents: each change of a remote recording's
// connection is one EventConnection with a sentence for the user, and
// Stats carries the connection's figures.
func TestConnectionChangesBecomeEvents(t *testing.T) {
	leakcheck.Check(t)
	src := &connSource{Source: FolderSource(fixtureFolder(t, "camera.mp4")), conn: p2pnet.Connection{State: p2pnet.ConnConnected}}
	synctest.Test(t, func(t *testing.T) {
		var log eventLog
		p, _, _ := openTest(t, src, Options{OnEvent: log.add})
		waitState(t, p, StatePaused, 5*time.Second)
		p.Play()
		lost := errors.New("the connection closed")
		for _, c := range []p2pnet.Connection{
			{State: p2pnet.ConnReconnecting, Err: lost, Attempts: 3},
			{State: p2pnet.ConnConnected, Reconnects: 1, Downtime: 4 * time.Second},
			{State: p2pnet.ConnUnshared, Reconnects: 1},
		} {
			src.set(c)
			time.Sleep(time.Second)
			if got := p.Stats().Connection; got.State != c.State || got.Reconnects != c.Reconnects {
				t.Errorf("Stats().Connection %+v, want %+v", got, c)
			}
		}
		p.Close()
		var got []Event
		for _, e := range log.all() {
			if e.Kind == EventConnection {
				got = append(got, e)
			}
		}
		want := []Event{
			{Kind: EventConnection, Connection: p2pnet.ConnConnected},
			{Kind: EventConnection, Connection: p2pnet.ConnReconnecting, Err: lost, Notice: "Reconnecting to the sharer…"},
			{Kind: EventConnection, Connection: p2pnet.ConnConnected, Notice: "Reconnected to the sharer"},
			{Kind: EventConnection, Connection: p2pnet.ConnUnshared, Notice: "The sharer stopped sharing this recording"},
		}
		if len(got) != len(want) {
			t.Fatalf("connection events %+v, want %+v", got, want)
		}
		for i := range want {
			if got[i] != want[i] {
				t.Errorf("event %d: %+v, want %+v", i, got[i], want[i])
			}
		}
	})
}

// readerConnSource hides its connection from the player; only its
// readers tell it, as readers of a wrapped remote recording do.
type readerConnSource struct{ c *connSource }

func (s readerConnSource) Name() string               { return s.c.Name() }
func (s readerConnSource) Tracks() []p2pnet.TrackInfo { return s.c.Tracks() }
func (s readerConnSource) OpenTrack(name string) (TrackReader, error) {
	r, err := s.c.OpenTrack(name)
	if err != nil {
		return nil, err
	}
	return connReader{r, s.c}, nil
}

type connReader struct {
	TrackReader
	c *connSource
}

func (r connReader) Connection() p2pnet.Connection { return r.c.Connection() }

// TestConnectionFromTheReaders: a source that wraps a remote recording
// without saying its connection still gets it reported, from its readers.
func TestConnectionFromTheReaders(t *testing.T) {
	leakcheck.Check(t)
	src := &connSource{Source: FolderSource(fixtureFolder(t, "camera.mp4")), conn: p2pnet.Connection{State: p2pnet.ConnConnected}}
	synctest.Test(t, func(t *testing.T) {
		var log eventLog
		p, _, _ := openTest(t, readerConnSource{src}, Options{OnEvent: log.add})
		waitState(t, p, StatePaused, 5*time.Second)
		src.set(p2pnet.Connection{State: p2pnet.ConnReconnecting})
		time.Sleep(time.Second)
		if got := p.Stats().Connection.State; got != p2pnet.ConnReconnecting {
			t.Errorf("Stats().Connection.State %v, want %v", got, p2pnet.ConnReconnecting)
		}
		p.Close()
		var got []p2pnet.ConnState
		for _, e := range log.all() {
			if e.Kind == EventConnection {
				got = append(got, e.Connection)
			}
		}
		if len(got) != 2 || got[0] != p2pnet.ConnConnected || got[1] != p2pnet.ConnReconnecting {
			t.Errorf("connection events %v, want [connected reconnecting]", got)
		}
	})
}

// TestLocalRecordingHasNoConnection: a folder reports no connection.
func TestLocalRecordingHasNoConnection(t *testing.T) {
	leakcheck.Check(t)
	synctest.Test(t, func(t *testing.T) {
		var log eventLog
		p, _, _ := openTest(t, FolderSource(fixtureFolder(t, "camera.mp4")), Options{OnEvent: log.add})
		waitState(t, p, StatePaused, 5*time.Second)
		if c := p.Stats().Connection; c.State != p2pnet.ConnUnknown {
			t.Errorf("a folder's connection: %+v", c)
		}
		p.Close()
		for _, e := range log.all() {
			if e.Kind == EventConnection {
				t.Errorf("a folder sent %+v", e)
			}
		}
	})
}

// trickleSource serves its tracks slowly: each read waits 50 ms and
// returns at most 4 KiB, about 1.7 times the camera fixture's rate.
type trickleSource struct{ Source }

func (s trickleSource) OpenTrack(name string) (TrackReader, error) {
	r, err := s.Source.OpenTrack(name)
	if err != nil {
		return nil, err
	}
	return trickleReader{r}, nil
}

type trickleReader struct{ TrackReader }

func (r trickleReader) Read(p []byte) (int, error) {
	time.Sleep(50 * time.Millisecond)
	return r.TrackReader.Read(p[:min(len(p), 4<<10)])
}

// TestPlaybackStartsOnResumeLevel: the open's first frame is shown as soon
// as it is decoded, but the clock starts only once the track has
// ResumeLevel, as after a stall, and that wait is not counted as a stall.
func TestPlaybackStartsOnResumeLevel(t *testing.T) {
	leakcheck.Check(t)
	src := trickleSource{FolderSource(fixtureFolder(t, "camera.mp4"))}
	synctest.Test(t, func(t *testing.T) {
		p, _, recs := openTest(t, src, Options{})
		p.Play()
		var held bool
		waitFor(t, 30*time.Second, "playing", func() bool {
			if recs["camera"].count() > 0 && p.State() == StateBuffering {
				held = true
			}
			return p.State() == StatePlaying
		})
		// The clock may have moved since it started: what is demuxed is
		// measured from where it started, 0.
		ahead := p.Tracks()[0].Stats.BufferedAhead
		demuxed := ahead + p.Position()
		t.Logf("playing with %v demuxed from 0; held after the first frame: %v", demuxed, held)
		if demuxed < DefaultResumeLevel {
			t.Errorf("playback started with %v buffered, want at least %v", demuxed, DefaultResumeLevel)
		}
		if !held {
			t.Error("the first frame was not shown while the clock waited for the buffer")
		}
		if st := p.Stats(); st.Stalls != 0 || st.FirstFrame <= 0 {
			t.Errorf("stats %+v: want no stall and a first frame", st)
		}
		p.Close()
	})
}

// TestSeekShowsItsFrameBeforePlayingResumes: over a reader slower than
// the buffer needs, a seek while playing shows the picture at its target
// as soon as it is decoded, while the clock still waits at the target for
// the buffer to hold, and the seek's latency is taken at that picture.
func TestSeekShowsItsFrameBeforePlayingResumes(t *testing.T) {
	leakcheck.Check(t)
	src := trickleSource{FolderSource(fixtureFolder(t, "camera.mp4"))}
	synctest.Test(t, func(t *testing.T) {
		p, _, recs := openTest(t, src, Options{})
		p.Play()
		waitState(t, p, StatePlaying, 30*time.Second)
		target := 6 * time.Second
		before := recs["camera"].count()
		p.Seek(target)
		var early bool
		var ahead time.Duration
		waitFor(t, 30*time.Second, "the frame at the target", func() bool {
			if recs["camera"].count() > before {
				// The frame is up: the clock must still hold at the target.
				early = p.State() == StateBuffering && p.Position() == target
				ahead = p.Tracks()[0].Stats.BufferedAhead
				return true
			}
			return false
		})
		t.Logf("the frame at %v shown with %v buffered ahead", target, ahead)
		if !early {
			t.Errorf("the frame at %v was shown only once playing resumed (state %v, position %v)", target, p.State(), p.Position())
		}
		if ahead >= DefaultLowWater {
			t.Errorf("the frame at %v waited for %v of buffer, want it shown as soon as decoded", target, ahead)
		}
		if got := recs["camera"].since(before); got[0].pts > target || target-got[0].pts > 40*time.Millisecond {
			t.Errorf("first frame after the seek at %v, want the one showing at %v", got[0].pts, target)
		}
		if lat := p.Stats().SeekLatencies; len(lat) != 1 {
			t.Errorf("seek latencies %v, want one", lat)
		}
		waitState(t, p, StatePlaying, 30*time.Second)
		p.Close()
	})
}
