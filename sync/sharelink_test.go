package sync

import (
	"os"
	gosync "sync"
	"testing"
	"time"
)

// aheadSource wraps a Source: each track's reader records the readahead
// the player asks of it (SetByteRate), and the reads of the track named
// held wait while hold says so.
type aheadSource struct {
	Source
	held string
	// mu guards hold and aheads.
	mu gosync.Mutex
	// hold, while not nil, is what the held track's reads wait to close.
	hold chan struct{}
	// aheads are the readaheads asked, by track, in order.
	aheads map[string][]time.Duration
}

// aheadReader is a TrackReader that reports the readahead asked of it.
type aheadReader struct {
	TrackReader
	name string
	src  *aheadSource
	done chan struct{}
	once *gosync.Once
}

func (s *aheadSource) OpenTrack(name string) (TrackReader, error) {
	r, err := s.Source.OpenTrack(name)
	if err != nil {
		return nil, err
	}
	return aheadReader{TrackReader: r, name: name, src: s, done: make(chan struct{}), once: new(gosync.Once)}, nil
}

func (r aheadReader) SetByteRate(_ int64, ahead time.Duration) {
	r.src.mu.Lock()
	defer r.src.mu.Unlock()
	r.src.aheads[r.name] = append(r.src.aheads[r.name], ahead)
}

func (r aheadReader) Read(p []byte) (int, error) {
	if r.name == r.src.held {
		r.src.mu.Lock()
		hold := r.src.hold
		r.src.mu.Unlock()
		if hold != nil {
			select {
			case <-hold:
			case <-r.done:
				return 0, os.ErrClosed
			}
		}
	}
	return r.TrackReader.Read(p)
}

func (r aheadReader) Close() error {
	r.once.Do(func() { close(r.done) })
	return r.TrackReader.Close()
}

// setHold makes the held track's reads wait, or lets them go.
func (s *aheadSource) setHold(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case on && s.hold == nil:
		s.hold = make(chan struct{})
	case !on && s.hold != nil:
		close(s.hold)
		s.hold = nil
	}
}

// ahead is the readahead last asked of the track, 0 before any.
func (s *aheadSource) ahead(name string) time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a := s.aheads[name]; len(a) > 0 {
		return a[len(a)-1]
	}
	return 0
}

// TestACameraReadsLessAheadWhileTheScreenRefills: a camera beside a
// screen buffers and reads a whole buffer ahead, but only twice
// ResumeLevel while the screen has less than half a buffer at a seek, so the link's bytes go to
// the picture the clock waits for; once the screen refills, the camera
// reads a whole buffer ahead again. The screen's own readahead is never
// held.
func TestACameraReadsLessAheadWhileTheScreenRefills(t *testing.T) {
	src := &aheadSource{Source: FolderSource(fixtureFolder(t, "camera.mp4", "screen.mp4", "mic.m4a")), held: "screen", aheads: map[string][]time.Duration{}}
	p, _, _ := openTest(t, src, Options{})
	waitState(t, p, StatePaused, 10*time.Second)
	waitFor(t, 10*time.Second, "the camera and the screen to read a whole buffer ahead", func() bool {
		return src.ahead("camera") == DefaultBufferTarget && src.ahead("screen") == DefaultBufferTarget
	})

	src.setHold(true)
	p.Seek(6 * time.Second)
	waitFor(t, 10*time.Second, "the camera to read twice ResumeLevel ahead", func() bool { return src.ahead("camera") == 2*DefaultResumeLevel })
	if a := src.ahead("screen"); a != DefaultBufferTarget {
		t.Errorf("the screen reads %v ahead while it refills, want the whole buffer target", a)
	}
	// The camera's own buffer stops at the same mark: it demuxes no
	// further ahead than it reads (a packet's worth over).
	time.Sleep(300 * time.Millisecond)
	for _, tr := range p.Tracks() {
		if tr.Name == "camera" && tr.Stats.BufferedAhead > 2*DefaultResumeLevel+200*time.Millisecond {
			t.Errorf("the camera buffered %v ahead while held to %v", tr.Stats.BufferedAhead, 2*DefaultResumeLevel)
		}
	}

	src.setHold(false)
	waitFor(t, 10*time.Second, "the camera to read a whole buffer ahead again", func() bool { return src.ahead("camera") == DefaultBufferTarget })
	if a := src.ahead("screen"); a != DefaultBufferTarget {
		t.Errorf("the screen reads %v ahead, want the whole buffer target", a)
	}
}
