package sync

import (
	gosync "sync"
	"testing"
	"time"
)

// urgencyReader is a TrackReader that logs its reads with the urgency the
// player last told it.
type urgencyReader struct {
	TrackReader
	mu     gosync.Mutex
	urgent bool
	pos    int64
	// reads are the offsets read, each with the urgency then.
	reads []urgentRead
}

type urgentRead struct {
	off    int64
	urgent bool
}

func (r *urgencyReader) SetUrgent(on bool) {
	r.mu.Lock()
	r.urgent = on
	r.mu.Unlock()
}

func (r *urgencyReader) Read(p []byte) (int, error) {
	n, err := r.TrackReader.Read(p)
	r.mu.Lock()
	r.reads = append(r.reads, urgentRead{r.pos, r.urgent})
	r.pos += int64(n)
	r.mu.Unlock()
	return n, err
}

func (r *urgencyReader) Seek(off int64, whence int) (int64, error) {
	n, err := r.TrackReader.Seek(off, whence)
	if err == nil {
		r.mu.Lock()
		r.pos = n
		r.mu.Unlock()
	}
	return n, err
}

func (r *urgencyReader) log() []urgentRead {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]urgentRead(nil), r.reads...)
}

// urgencySource opens every track through an urgencyReader, starting
// urgent as a network reader does.
type urgencySource struct {
	Source
	mu      gosync.Mutex
	readers map[string]*urgencyReader
}

func (s *urgencySource) OpenTrack(name string) (TrackReader, error) {
	r, err := s.Source.OpenTrack(name)
	if err != nil {
		return nil, err
	}
	ur := &urgencyReader{TrackReader: r, urgent: true}
	s.mu.Lock()
	s.readers[name] = ur
	s.mu.Unlock()
	return ur, nil
}

// TestATrackReadsUrgentlyUntilItHasItsFrameAndALittleMore: a track's
// reader is told its reads are urgent while the track has less than
// ResumeLevel past the clock, not once it has filled its buffer, and
// urgent again for a seek's reads, before the first of them.
func TestATrackReadsUrgentlyUntilItHasItsFrameAndALittleMore(t *testing.T) {
	src := &urgencySource{Source: FolderSource(fixtureFolder(t, "camera.mp4")), readers: map[string]*urgencyReader{}}
	p, _, recs := openTest(t, src, Options{})
	waitState(t, p, StatePaused, 10*time.Second)
	time.Sleep(500 * time.Millisecond)
	src.mu.Lock()
	r := src.readers["camera"]
	src.mu.Unlock()
	before := r.log()
	if len(before) == 0 || !before[0].urgent {
		t.Fatalf("the first read was not urgent: %v", before)
	}
	if last := before[len(before)-1]; last.urgent {
		t.Fatalf("the track still reads urgently with its buffer full (%d reads)", len(before))
	}
	var reached int64
	for _, rd := range before {
		reached = max(reached, rd.off)
	}

	n := recs["camera"].count()
	p.Seek(8 * time.Second)
	waitFor(t, 10*time.Second, "the seek's frame", func() bool { return recs["camera"].count() > n })
	for _, rd := range r.log()[len(before):] {
		if rd.off > reached {
			if !rd.urgent {
				t.Errorf("the seek's first read, at %d, was not urgent", rd.off)
			}
			return
		}
	}
	t.Fatalf("no read past %d after seeking to 8 s", reached)
}
