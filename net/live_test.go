package net

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// liveShare shares dir with a short LiveQuiet and dials it.
func liveShare(t *testing.T, dir string) (*Sharer, *Recording) {
	t.Helper()
	sharer := NewSharer(newLoopbackHost(t), SharerOptions{LiveQuiet: 1500 * time.Millisecond})
	t.Cleanup(func() { sharer.Close() })
	l, err := sharer.Share(dir)
	if err != nil {
		t.Fatal(err)
	}
	rec, err := Dial(t.Context(), newLoopbackHost(t), l)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rec.Close() })
	return sharer, rec
}

// appendFile appends b to the file at path.
func appendFile(t *testing.T, path string, b []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(b); err != nil {
		t.Fatal(err)
	}
}

// waitTrack waits until the viewer's recording has a track that
// satisfies ok.
func waitTrack(t *testing.T, rec *Recording, name string, within time.Duration, ok func(TrackInfo) bool) TrackInfo {
	t.Helper()
	deadline := time.After(within)
	for {
		updated := rec.Updated()
		if tr, found := rec.Track(name); found && ok(tr) {
			return tr
		}
		select {
		case <-updated:
		case <-deadline:
			tr, _ := rec.Track(name)
			t.Fatalf("track %q after %v: %+v", name, within, tr)
		}
	}
}

// TestLiveTrackIsReadAsItGrows: a file written to while shared is a live
// track. A reader at its end waits for the next bytes rather than ending,
// reads every byte in order as the file grows (across the block the old
// end cut short), and meets io.EOF only once the file stopped growing
// and the track finished; the track keeps its version throughout.
func TestLiveTrackIsReadAsItGrows(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "screen.ts")
	all := writeRandomFile(t, filepath.Join(t.TempDir(), "src"), 3<<20+12345, 11)
	const first = 300<<10 + 7 // ends inside the second block
	if err := os.WriteFile(path, all[:first], 0o644); err != nil {
		t.Fatal(err)
	}
	_, rec := liveShare(t, dir)
	before, _ := rec.Track("screen")
	// A file is live once the sharer sees it grow.
	const first2 = first + 1000
	appendFile(t, path, all[first:first2])
	waitTrack(t, rec, "screen", 5*time.Second, func(tr TrackInfo) bool { return tr.Live })
	rr, err := rec.OpenTrack("screen", RangeReaderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer rr.Close()

	got := make(chan []byte, 1)
	readErr := make(chan error, 1)
	go func() {
		b, err := io.ReadAll(rr)
		got <- b
		readErr <- err
	}()
	// Written as a recorder writes: pieces of uneven size, a few a second.
	for off := first2; off < len(all); {
		n := min(len(all)-off, 150<<10+off%4093)
		time.Sleep(40 * time.Millisecond)
		appendFile(t, path, all[off:off+n])
		off += n
	}
	tr := waitTrack(t, rec, "screen", 5*time.Second, func(tr TrackInfo) bool { return tr.Size == int64(len(all)) })
	if !tr.Live || tr.Version != before.Version {
		t.Errorf("while growing: %+v, want live at version %s", tr, before.Version)
	}
	select {
	case b := <-got:
		t.Fatalf("the read ended after %d of %d bytes while the track was live: %v", len(b), len(all), <-readErr)
	case <-time.After(300 * time.Millisecond):
	}
	waitTrack(t, rec, "screen", 10*time.Second, func(tr TrackInfo) bool { return !tr.Live })
	select {
	case b := <-got:
		if err := <-readErr; err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(b, all) {
			t.Fatalf("read %d bytes, want the %d written, in order", len(b), len(all))
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the read did not end once the track finished")
	}
}

// TestTrackThatAppearsWhileShared: a media file put in the folder while it
// is shared joins the recording as a live track, without the viewer
// opening the link again.
func TestTrackThatAppearsWhileShared(t *testing.T) {
	dir := t.TempDir()
	screen := writeRandomFile(t, filepath.Join(dir, "screen.mkv"), 400<<10, 3)
	sharer, rec := liveShare(t, dir)
	cam := writeRandomFile(t, filepath.Join(dir, "camera.mkv"), 100<<10, 4)
	tr := waitTrack(t, rec, "camera", 5*time.Second, func(TrackInfo) bool { return true })
	if !tr.Live || tr.Size != int64(len(cam)) {
		t.Errorf("the new track: %+v, want live with %d bytes", tr, len(cam))
	}
	if names := len(rec.Tracks()); names != 2 {
		t.Errorf("%d tracks, want 2", names)
	}
	got := make([]byte, len(cam))
	if _, err := rec.ReadRange(t.Context(), "camera", 0, got); err != nil || !bytes.Equal(got, cam) {
		t.Errorf("reading the new track: %v", err)
	}
	if tr, _ := rec.Track("screen"); tr.Live || tr.Size != int64(len(screen)) {
		t.Errorf("the untouched track: %+v", tr)
	}
	// The sharer's own list, for its Share view, says the same.
	shared, ok := sharer.Tracks(rec.Link().Token)
	if !ok || len(shared) != 2 || shared[1].Name != "camera" || !shared[1].Live {
		t.Errorf("the sharer's tracks: %+v", shared)
	}
}

// TestRewriteOfAGrowingFileIsChanged: growth is served only when the bytes
// already there stayed as they were; a file rewritten and grown is
// changed, for the viewer's reads and its recording.
func TestRewriteOfAGrowingFileIsChanged(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "screen.mp4")
	writeRandomFile(t, path, 1<<20, 5)
	_, rec := liveShare(t, dir)
	rr, err := rec.OpenTrack("screen", RangeReaderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer rr.Close()
	time.Sleep(20 * time.Millisecond)
	writeRandomFile(t, path, 2<<20, 6) // the same file, other bytes, longer
	waitTrack(t, rec, "screen", 5*time.Second, func(TrackInfo) bool {
		_, err := rec.ReadRange(t.Context(), "screen", 0, make([]byte, 10))
		return errors.Is(err, ErrChanged)
	})
	if _, err := rr.ReadAt(make([]byte, 10), 1<<20+5); !errors.Is(err, ErrChanged) && !errors.Is(err, io.EOF) {
		t.Errorf("a read past the old end: %v, want changed or the end", err)
	}
}

// TestWatchAnswersAtOnceForAnOldRevision: stream.watch with a revision
// older than the sharer's answers at once; with the current one it waits
// until a change.
func TestWatchAnswersAtOnceForAnOldRevision(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "mic.ogg")
	writeRandomFile(t, path, 10<<10, 8)
	_, rec := liveShare(t, dir)
	watch := func(ctx context.Context, rev uint64) (*recordingInfo, error) {
		var resp response
		err := rec.exchange(ctx, request{Method: MethodWatch, Token: rec.link.Token, Rev: rev}, &resp, func(*bufio.Reader) error { return nil })
		return resp.Recording, err
	}
	ri, err := watch(t.Context(), 99)
	if err != nil || ri == nil {
		t.Fatalf("watch with a revision the sharer never had: %+v, %v", ri, err)
	}
	done := make(chan *recordingInfo, 1)
	go func() {
		ri, _ := watch(t.Context(), ri.Rev)
		done <- ri
	}()
	select {
	case ri := <-done:
		t.Fatalf("watch at the current revision answered with no change: %+v", ri)
	case <-time.After(500 * time.Millisecond):
	}
	appendFile(t, path, make([]byte, 1000))
	select {
	case ri := <-done:
		if ri == nil || len(ri.Tracks) != 1 || ri.Tracks[0].Size != 10<<10+1000 || !ri.Tracks[0].Live {
			t.Errorf("after growth: %+v", ri)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("watch did not answer the growth")
	}
}

// TestRecorderThatStopsMidWrite: a recorder killed while writing a
// fragment or a cluster leaves a piece of it at the end of the file. Once
// the track finishes it ends at the last whole one, marked cut: the
// viewer's reads stop there, and never hand a demuxer half a fragment.
func TestRecorderThatStopsMidWrite(t *testing.T) {
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		t.Skip("no ffmpeg")
	}
	for _, c := range []struct {
		file string
		args []string
		// unit is the bytes a fragment or cluster starts with, after
		// skip bytes of its size.
		unit []byte
		skip int
	}{
		{"screen.mp4", []string{"-movflags", "frag_keyframe+empty_moov+default_base_moof"}, []byte("moof"), 4},
		{"screen.mkv", []string{"-cluster_time_limit", "1000"}, []byte{0x1F, 0x43, 0xB6, 0x75}, 0},
	} {
		t.Run(c.file, func(t *testing.T) {
			src := filepath.Join(t.TempDir(), c.file)
			args := append([]string{"-loglevel", "error", "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=30",
				"-t", "4", "-c:v", "libx264", "-preset", "veryfast", "-g", "30", "-pix_fmt", "yuv420p"}, c.args...)
			if out, err := exec.Command("ffmpeg", append(args, src)...).CombinedOutput(); err != nil {
				t.Fatalf("ffmpeg: %v: %s", err, out)
			}
			all, err := os.ReadFile(src)
			if err != nil {
				t.Fatal(err)
			}
			// Up to the middle of the last fragment or cluster, without
			// what closes the file: what a recorder killed while writing
			// it leaves.
			units := bytes.Count(all, c.unit)
			last := bytes.LastIndex(all, c.unit) - c.skip
			if units < 3 || last <= 0 {
				t.Fatalf("%d fragments or clusters in the fixture", units)
			}
			end := last + (len(all)-last)/4
			dir := t.TempDir()
			path := filepath.Join(dir, c.file)
			if err := os.WriteFile(path, all[:last/2], 0o644); err != nil {
				t.Fatal(err)
			}
			_, rec := liveShare(t, dir)
			appendFile(t, path, all[last/2:last/2+1000])
			waitTrack(t, rec, "screen", 5*time.Second, func(tr TrackInfo) bool { return tr.Live })
			rr, err := rec.OpenTrack("screen", RangeReaderOptions{})
			if err != nil {
				t.Fatal(err)
			}
			defer rr.Close()
			appendFile(t, path, all[last/2+1000:end])
			tr := waitTrack(t, rec, "screen", 10*time.Second, func(tr TrackInfo) bool { return !tr.Live })
			if !tr.Cut || tr.Size != int64(last) {
				t.Fatalf("finished as %+v, want cut at the last whole one's end, %d (the file has %d bytes)", tr, last, end)
			}
			got, err := io.ReadAll(rr)
			if err != nil || !bytes.Equal(got, all[:last]) {
				t.Errorf("read %d bytes (%v), want the %d up to the last whole one", len(got), err, last)
			}
		})
	}
}

// mp4Box is an MP4 box of type typ holding payload.
func mp4Box(typ string, payload []byte) []byte {
	b := make([]byte, 8, 8+len(payload))
	binary.BigEndian.PutUint32(b, uint32(8+len(payload)))
	copy(b[4:], typ)
	return append(b, payload...)
}

// TestSharerLocatesAnIndexAfterTheMedia: an MP4 whose moov follows its
// media tells viewers where the moov lies, so they ask for it beside the
// first bytes; one recorded while shared tells it once finished, and a
// file with its index first, or none, tells nothing.
func TestSharerLocatesAnIndexAfterTheMedia(t *testing.T) {
	dir := t.TempDir()
	head := append(mp4Box("ftyp", []byte("isom\x00\x00\x02\x00isomiso2")), mp4Box("mdat", bytes.Repeat([]byte{7}, 300<<10))...)
	moov := mp4Box("moov", bytes.Repeat([]byte{9}, 40000))
	finished := append(bytes.Clone(head), moov...)
	if err := os.WriteFile(filepath.Join(dir, "screen.mp4"), finished, 0o644); err != nil {
		t.Fatal(err)
	}
	fast := append(append(mp4Box("ftyp", []byte("isom\x00\x00\x02\x00")), moov...), mp4Box("mdat", []byte{1, 2, 3})...)
	if err := os.WriteFile(filepath.Join(dir, "camera.mp4"), fast, 0o644); err != nil {
		t.Fatal(err)
	}
	recording := filepath.Join(dir, "mic.mp4")
	if err := os.WriteFile(recording, head[:100<<10], 0o644); err != nil {
		t.Fatal(err)
	}
	_, rec := liveShare(t, dir)
	want := ByteRange{Start: int64(len(head)), End: int64(len(finished))}
	if tr, _ := rec.Track("screen"); tr.Index != want {
		t.Errorf("screen's index %+v, want the moov at %+v", tr.Index, want)
	}
	if tr, _ := rec.Track("camera"); tr.Index != (ByteRange{}) {
		t.Errorf("an MP4 with its moov first has an index to fetch beside the start: %+v", tr.Index)
	}
	// Recorded while shared: the moov comes last, when the recorder stops.
	appendFile(t, recording, head[100<<10:])
	waitTrack(t, rec, "mic", 5*time.Second, func(tr TrackInfo) bool { return tr.Live })
	appendFile(t, recording, moov)
	tr := waitTrack(t, rec, "mic", 10*time.Second, func(tr TrackInfo) bool { return !tr.Live })
	if tr.Index != want {
		t.Errorf("finished while shared: index %+v, want %+v", tr.Index, want)
	}
}
