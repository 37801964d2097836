package sync

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"reelay/media/mediatest"
)

// TestPlayARemoteRecording plays a folder shared by a real libp2p host and
// dialled by another, both on loopback: the whole data path of a viewer.
func TestPlayARemoteRecording(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{"camera.mp4", "mic.m4a"} {
		if err := os.Link(mediatest.Fixture(t, n), filepath.Join(dir, n)); err != nil {
			t.Fatal(err)
		}
	}
	rec := shareLoopback(t, dir)

	p, _, recs := openTest(t, RemoteSource(rec), Options{})
	waitState(t, p, StatePaused, 10*time.Second)
	p.Play()
	time.Sleep(1500 * time.Millisecond)
	p.Pause()
	tracks := p.Tracks()
	for _, tr := range tracks {
		t.Logf("%s: %v %+v reader %+v", tr.Name, tr.State, tr.Stats, tr.Stats.Reader)
		if tr.Stats.Reader == nil || tr.Stats.Reader.BytesFetched == 0 {
			t.Errorf("%s: no network figures", tr.Name)
		}
	}
	if n := recs["camera"].count(); n < 40 {
		t.Errorf("camera showed %d frames in 1.5 s over the network", n)
	}
	// Off: the track's fetches stop with its reader.
	if err := p.Subscribe("camera", false); err != nil {
		t.Fatal(err)
	}
	if got := p.Tracks()[0]; got.State != StateOff || got.Stats.Reader != nil {
		t.Errorf("camera after Subscribe(off): %v, reader %+v", got.State, got.Stats.Reader)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
}
