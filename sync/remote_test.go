package sync

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"reelay/media"
	"reelay/media/mediatest"
	p2pnet "reelay/net"
	"reelay/net/live"
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

	p, _, recs := openTest(t, rec.Source(), Options{})
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

// TestBufferedRangesFollowTheCacheAndTheSeeks: a remote track's buffered
// ranges hold what it fetched (from the start, and around a seek target
// far ahead) and not what it skipped; a local track is buffered whole.
// Blocks of 16 KiB are a fraction of a second of each demo track (256 KiB,
// the default, is up to 30 s of its small mic track).
func TestBufferedRangesFollowTheCacheAndTheSeeks(t *testing.T) {
	dir := demoDir(t)
	src := &smallBlockSource{rec: shareLoopback(t, dir), readers: map[string][]*p2pnet.RangeReader{}}
	p, _, _ := openTest(t, src, Options{})
	waitState(t, p, StatePaused, 10*time.Second)
	p.Play()
	time.Sleep(time.Second)
	const target = 40 * time.Second
	p.Seek(target)
	waitFor(t, 10*time.Second, "playing past the seek target", func() bool {
		return p.State() == StatePlaying && p.Position() > target+500*time.Millisecond
	})
	p.Pause()
	covers := func(rs []TimeRange, at time.Duration) bool {
		for _, r := range rs {
			if r.Start <= at && at < r.End {
				return true
			}
		}
		return false
	}
	for _, tr := range p.Tracks() {
		t.Logf("%s: %v", tr.Name, tr.Buffered)
		if tr.HasSubtitles() && !tr.HasVideo() && !tr.HasAudio() {
			// Read whole at open.
			if want := []TimeRange{{0, p.Duration()}}; !slices.Equal(tr.Buffered, want) {
				t.Errorf("%s: buffered %v, want %v", tr.Name, tr.Buffered, want)
			}
			continue
		}
		if !covers(tr.Buffered, 500*time.Millisecond) || !covers(tr.Buffered, p.Position()) {
			t.Errorf("%s: buffered %v misses the start or the position %v", tr.Name, tr.Buffered, p.Position())
		}
		if covers(tr.Buffered, 20*time.Second) {
			t.Errorf("%s: buffered %v holds 20 s, which was never fetched", tr.Name, tr.Buffered)
		}
	}

	folder, err := p2pnet.OpenFolder(dir)
	if err != nil {
		t.Fatal(err)
	}
	local, _, _ := openTest(t, FolderSource(folder), Options{})
	waitState(t, local, StatePaused, 10*time.Second)
	for _, tr := range local.Tracks() {
		if tr.HasSubtitles() && !tr.HasVideo() && !tr.HasAudio() {
			continue
		}
		if want := []TimeRange{{tr.Start, tr.End}}; !slices.Equal(tr.Buffered, want) || tr.End <= tr.Start {
			t.Errorf("local %s: buffered %v, want %v", tr.Name, tr.Buffered, want)
		}
	}
}

// TestAFirstPictureIsAskedForInOneRequest: opening a remote MP4 whose
// first keyframe is large, the pipeline asks at once for what the sharer
// says the demuxer reads as it opens the file (the bytes up to every
// stream's first sample, the index at the end), then for the rest of the
// packets its first picture and sound need in one request, from the
// file's index, and the demuxer's reads within them wait for those
// answers, rather than one round trip after another for each piece the
// demuxer reads.
func TestAFirstPictureIsAskedForInOneRequest(t *testing.T) {
	dir := t.TempDir()
	path := mediatest.Fixture(t, "noisy-tail.mp4")
	if err := os.Link(path, filepath.Join(dir, "screen.mp4")); err != nil {
		t.Fatal(err)
	}
	d := mediatest.OpenDemuxer(t, path)
	i := mediatest.FirstStream(d, media.KindVideo)
	v := d.Index(i)
	if v[0].Size < 2*media.ReadSize {
		t.Fatalf("the fixture's first keyframe is %d bytes, want one the demuxer reads in several pieces", v[0].Size)
	}
	// The picture's packets from the keyframe and the decoder's lead.
	lead := d.Streams()[i].Delay
	if lead == 0 {
		t.Fatal("the fixture has no B-frames: its first picture would need its keyframe alone")
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	_, index, ok := live.TrailingIndex(bytes.NewReader(b), int64(len(b)))
	if !ok {
		t.Fatal("the fixture's index is not at its end")
	}
	want := v[lead].Pos + v[lead].Size + index

	rec := shareLoopback(t, dir)
	p, _, _ := openTest(t, rec.Source(), Options{})
	waitState(t, p, StatePaused, 10*time.Second)
	st := p.Tracks()[0].Stats.Reader
	if st == nil {
		t.Fatal("no network figures")
	}
	t.Logf("reader %+v", st)
	// The file up to the picture's last packet, the sound's first packets
	// beside it, and the index.
	if got := st.Prefetched; got < want || got > want+media.ReadSize {
		t.Errorf("prefetched %d bytes, want about the first picture's and the index's %d", got, want)
	}
}
