package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"reelay/assets"
	"reelay/media"
	"reelay/media/mediatest"
	p2pnet "reelay/net"
)

// shareLoopback shares dir from a sharer on loopback in this process and
// returns its link.
func shareLoopback(t *testing.T, dir string) string {
	t.Helper()
	h, err := p2pnet.NewHost(p2pnet.HostOptions{ListenAddrs: p2pnet.LoopbackListenAddrs})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	s := p2pnet.NewSharer(h, p2pnet.SharerOptions{})
	t.Cleanup(func() { s.Close() })
	link, err := s.Share(dir)
	if err != nil {
		t.Fatal(err)
	}
	return link.String()
}

// audioDevice says whether a sound device can be opened here.
func audioDevice(t *testing.T) bool {
	out, err := media.OpenAudioOutput(media.AudioOutputOptions{})
	if errors.Is(err, media.ErrNoAudioDevice) {
		return false
	}
	if err != nil {
		t.Fatal(err)
	}
	out.Close()
	return true
}

// TestPlayHeadlessReportsOverLoopback plays the sync clip from a sharer on
// loopback for 3 s with a seek, and reads the JSON report.
func TestPlayHeadlessReportsOverLoopback(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"sync-camera.mp4", "sync-screen.mp4", "sync-mic.m4a"} {
		copyFile(t, mediatest.Fixture(t, f), filepath.Join(dir, f))
	}
	link := shareLoopback(t, dir)
	withAudio := audioDevice(t)

	var stdout, stderr bytes.Buffer
	e := &env{stdout: &stdout, stderr: &stderr}
	if code := run(t.Context(), e, []string{"play", link, "--headless", "--for", "3s", "--seek", "6.5", "--report", "json"}); code != 0 {
		t.Fatalf("play exited %d: %s", code, stderr.String())
	}
	var rep playReport
	dec := json.NewDecoder(bytes.NewReader(stdout.Bytes()))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&rep); err != nil {
		t.Fatalf("the report does not parse: %v\n%s", err, stdout.String())
	}
	if err := dec.Decode(new(any)); err != io.EOF {
		t.Errorf("more than one report on stdout (%v)", err)
	}
	t.Logf("stderr: %s\nreport: %s", stderr.String(), stdout.String())

	if rep.Source != "link" || len(rep.Tracks) != 3 {
		t.Fatalf("report of %s with %d tracks", rep.Source, len(rep.Tracks))
	}
	if rep.FirstFrame.FromOpen == nil || rep.FirstFrame.FromConnect == nil || *rep.FirstFrame.FromConnect < *rep.FirstFrame.FromOpen {
		t.Errorf("time to first frame: %v from open, %v from connect", deref(rep.FirstFrame.FromOpen), deref(rep.FirstFrame.FromConnect))
	}
	for _, tr := range rep.Tracks {
		if tr.BytesFetched == nil || *tr.BytesFetched == 0 || tr.Requests == nil {
			t.Errorf("%s: nothing fetched over the network", tr.Name)
		}
		if tr.Video && tr.FramesPresented == 0 {
			t.Errorf("%s: no frame presented", tr.Name)
		}
		if tr.Name == "sync-mic" && (!tr.Audio || (withAudio && tr.SamplesMixed == 0)) {
			t.Errorf("%s: audio %v, %d samples mixed", tr.Name, tr.Audio, tr.SamplesMixed)
		}
	}
	if len(rep.Seeks) != 1 || rep.Seeks[0].Target != 6.5 || rep.Seeks[0].Latency == nil {
		t.Errorf("seeks: %+v", rep.Seeks)
	}
	// Opening asks at once for what the demuxers read first (the header,
	// the index, the first pictures), so the first frame waits for a few
	// round trips, not one per read; a seek asks from the index for the
	// way to its target in one.
	if rt := rep.FirstFrame.RoundTrips; rt == nil || *rt < 1 || *rt > 3 {
		t.Errorf("the first frame waited for %v round trips in sequence, want 1 to 3", deref(rep.FirstFrame.RoundTrips))
	}
	for _, s := range rep.Seeks {
		if s.Latency != nil && (s.RoundTrips == nil || *s.RoundTrips > 2) {
			t.Errorf("the seek to %v s waited for %v round trips in sequence, want at most 2", s.Target, deref(s.RoundTrips))
		}
	}
	if rep.PlayedFor < 3 || rep.PlayedFor > 4 {
		t.Errorf("played for %v s with --for 3s", rep.PlayedFor)
	}
	if withAudio {
		if rep.Clock != "audio" {
			t.Errorf("clock %s with an audio device", rep.Clock)
		}
		// Flashes at 1 s, then 7 and 8 s after the seek, on both videos.
		if rep.AVOffset.Flashes < 4 || rep.AVOffset.P50 == nil || rep.AVOffset.P95 == nil || rep.AVOffset.Max == nil {
			t.Errorf("A/V offset not measured: %+v", rep.AVOffset)
		}
	} else {
		if rep.Clock != "wall" || rep.AudioNotice == "" || !strings.Contains(stderr.String(), "No sound: this computer has no audio output (media: no audio device") {
			t.Errorf("without a device: clock %s, notice %q, stderr %q", rep.Clock, rep.AudioNotice, stderr.String())
		}
		if rep.AVOffset.Flashes != 0 || rep.AVOffset.Note == "" {
			t.Errorf("A/V offset without sound: %+v", rep.AVOffset)
		}
	}
}

func deref[T any](f *T) any {
	if f == nil {
		return nil
	}
	return *f
}

// TestPlayHeadlessFolderToTheEnd plays a local folder holding one short
// track to its end with no --for.
func TestPlayHeadlessFolderToTheEnd(t *testing.T) {
	dir := t.TempDir()
	// A 10 s clip, seeked to 9.5 s halfway through its run: the run lasts
	// about 5 s plus the last half second.
	copyFile(t, mediatest.Fixture(t, "camera.mp4"), filepath.Join(dir, "camera.mp4"))
	var stdout, stderr bytes.Buffer
	e := &env{stdout: &stdout, stderr: &stderr}
	if code := run(t.Context(), e, []string{"play", dir, "--headless", "--seek", "9.5s"}); code != 0 {
		t.Fatalf("play exited %d: %s", code, stderr.String())
	}
	var rep playReport
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatal(err)
	}
	t.Logf("played for %v s, ended at %v s in state %s; seeks %+v", rep.PlayedFor, rep.Position, rep.State, rep.Seeks)
	if rep.Source != "folder" || rep.FirstFrame.FromConnect != nil || rep.Tracks[0].BytesFetched != nil {
		t.Errorf("a folder reported as %s, from connect %v, fetched %v", rep.Source, rep.FirstFrame.FromConnect, rep.Tracks[0].BytesFetched)
	}
	if rep.State != "ended" || rep.Position != 10 || rep.PlayedFor < 5.4 || rep.PlayedFor > 7 {
		t.Errorf("state %s at %v s after %v s", rep.State, rep.Position, rep.PlayedFor)
	}
	if len(rep.Seeks) != 1 || rep.Seeks[0].Latency == nil || rep.Seeks[0].At < 4.5 || rep.Seeks[0].At > 5.5 {
		t.Errorf("seeks %+v, want one at 5 s of the run", rep.Seeks)
	}
}

func TestPlayUsageErrors(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{
		{"play", dir},
		{"play", "--headless"},
		{"play", dir, "--headless", "--report", "text"},
		{"play", dir, "--headless", "--seek", "soon"},
		{"play", dir, "--headless", "--seek", "-3"},
	} {
		var stderr bytes.Buffer
		e := &env{stdout: io.Discard, stderr: &stderr}
		if code := run(t.Context(), e, args); code != 2 {
			t.Errorf("%v: exit %d, want 2 (%s)", args, code, stderr.String())
		}
	}
	var stderr bytes.Buffer
	if code := run(t.Context(), &env{stdout: io.Discard, stderr: &stderr}, []string{"play", "--help"}); code != 0 || !strings.Contains(stderr.String(), "i*D/(N+1)") {
		t.Errorf("play --help: exit %d, %q", code, stderr.String())
	}
}

// TestPlayReportsALiveRecording: a recording written while it is shared
// (the demo's flashing screen and beeping sound remuxed in real time into
// one MPEG-TS) plays headless from its live edge, its report saying it is
// live and how far behind the edge it played; with a sound device, the
// pictures and the sound stay on one clock as they do for a finished
// recording.
func TestPlayReportsALiveRecording(t *testing.T) {
	if testing.Short() {
		t.Skip("records in real time")
	}
	demo, dir := t.TempDir(), t.TempDir()
	if err := assets.CopyDemo(demo); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	rec := exec.CommandContext(ctx, "ffmpeg", "-loglevel", "error",
		"-re", "-i", filepath.Join(demo, "screen.mp4"), "-re", "-i", filepath.Join(demo, "mic.m4a"),
		"-map", "0:v", "-map", "1:a", "-c", "copy", "-flush_packets", "1", "-f", "mpegts", filepath.Join(dir, "screen.ts"))
	if err := rec.Start(); err != nil {
		t.Skipf("no ffmpeg: %v", err)
	}
	defer rec.Wait()
	defer cancel()
	time.Sleep(4 * time.Second)
	link := shareLoopback(t, dir)
	time.Sleep(1500 * time.Millisecond)
	withAudio := audioDevice(t)
	var stdout, stderr bytes.Buffer
	e := &env{stdout: &stdout, stderr: &stderr}
	if code := run(t.Context(), e, []string{"play", link, "--headless", "--for", "6s", "--report", "json"}); code != 0 {
		t.Fatalf("play exited %d: %s", code, stderr.String())
	}
	var rep playReport
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("the report does not parse: %v\n%s", err, stdout.String())
	}
	if rep.Live == nil || !slices.Equal(rep.Live.Tracks, []string{"screen"}) || rep.Live.Samples == 0 {
		t.Fatalf("the report says nothing of playing live: %+v", rep.Live)
	}
	t.Logf("live %+v, stalls %d, A/V offset over %d flashes: p50 %v p95 %v max %v ms",
		*rep.Live, rep.Stalls.Count, rep.AVOffset.Flashes, deref(rep.AVOffset.P50), deref(rep.AVOffset.P95), deref(rep.AVOffset.Max))

	if rep.Live.BehindP50 < 500 || rep.Live.BehindP50 > 3000 {
		t.Errorf("played %.0f ms behind the edge (p50), want a second or two", rep.Live.BehindP50)
	}
	if rep.Stalls.Count != 0 {
		t.Errorf("%d stalls playing live: %+v", rep.Stalls.Count, rep.Stalls.List)
	}
	if withAudio {
		if rep.AVOffset.Flashes < 4 || rep.AVOffset.P95 == nil || *rep.AVOffset.P95 > 15 {
			t.Errorf("A/V offset playing live: %+v", rep.AVOffset)
		}
	}
}
