package live

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// An Ogg file's duration is in its last page, which starts within the
// largest page's reach of the end.
func TestTrailingIndexOfOgg(t *testing.T) {
	needFFmpeg(t)
	path := filepath.Join(t.TempDir(), "mic.ogg")
	if out, err := exec.Command("ffmpeg", ffmpegArgs(audioIn+" -t 20 -c:a libopus -b:a 64k", path)...).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, out)
	}
	b := readFile(t, path)
	off, n, ok := TrailingIndex(bytes.NewReader(b), int64(len(b)))
	if !ok || off+n != int64(len(b)) || n != maxOggPage {
		t.Fatalf("Ogg's tail at %d+%d (%v), want the last %d of %d bytes", off, n, ok, maxOggPage, len(b))
	}
	if last := bytes.LastIndex(b, []byte("OggS")); int64(last) < off {
		t.Errorf("the last page starts at %d, before the tail at %d", last, off)
	}
	// A file smaller than a page is read whole by its first read.
	if _, _, ok := TrailingIndex(bytes.NewReader(b[:maxOggPage]), maxOggPage); ok {
		t.Error("a tail for an Ogg file no larger than a page")
	}
}

// A plain MP4 written without faststart has its moov after the mdat, and
// TrailingIndex finds exactly that box; with faststart, or fragmented, or
// in another container, there is nothing to fetch beside the start.
func TestTrailingIndex(t *testing.T) {
	path := fixturePath(t, "plain.mp4")
	b := readFile(t, path)
	off, n, ok := TrailingIndex(bytes.NewReader(b), int64(len(b)))
	if !ok {
		t.Fatal("no trailing index in an MP4 written without faststart")
	}
	if string(b[off+4:off+8]) != "moov" || int64(binary.BigEndian.Uint32(b[off:])) != n {
		t.Fatalf("index at %d+%d is not the moov box", off, n)
	}
	if mdat := bytes.Index(b, []byte("mdat")); mdat < 0 || int64(mdat) > off {
		t.Fatalf("the moov at %d does not follow the mdat at %d", off, mdat)
	}
	if off+n != int64(len(b)) {
		t.Errorf("the moov ends at %d, the file at %d", off+n, len(b))
	}
	// Cut short inside the moov, the file has no whole index to fetch.
	if _, _, ok := TrailingIndex(bytes.NewReader(b), off+n-1); ok {
		t.Error("a moov cut short taken as the index")
	}

	fast := filepath.Join(t.TempDir(), "fast.mp4")
	if out, err := exec.Command("ffmpeg", ffmpegArgs("-i "+path+" -c copy -movflags +faststart", fast)...).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, out)
	}
	for _, name := range []string{fast, fixturePath(t, "frag.mp4"), fixturePath(t, "av.mkv"), fixturePath(t, "av.ts")} {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if off, n, ok := TrailingIndex(bytes.NewReader(b), int64(len(b))); ok {
			t.Errorf("%s: a trailing index at %d+%d", filepath.Base(name), off, n)
		}
	}
	if _, _, ok := TrailingIndex(bytes.NewReader(nil), 0); ok {
		t.Error("an empty file has a trailing index")
	}
}

// firstPacketEnds is where each stream's first packet that shows ends, by
// ffprobe: the first with a time at or after the start (an AAC encoder's
// priming packet comes before it, at a negative time).
func firstPacketEnds(t *testing.T, path string) map[int]int64 {
	t.Helper()
	out, err := exec.Command("ffprobe", "-v", "error", "-show_entries", "packet=stream_index,pts,pos,size", "-of", "csv=p=0", path).Output()
	if err != nil {
		t.Fatalf("ffprobe: %v", err)
	}
	first := map[int]int64{}
	for _, line := range strings.Split(string(out), "\n") {
		if line = strings.TrimSpace(line); line == "" {
			continue
		}
		var stream int
		var pts, pos, size int64
		if _, err := fmt.Sscanf(strings.ReplaceAll(line, ",", " "), "%d %d %d %d", &stream, &pts, &pos, &size); err != nil {
			t.Fatalf("ffprobe line %q: %v", line, err)
		}
		if _, ok := first[stream]; !ok && pts >= 0 {
			first[stream] = pos + size
		}
	}
	return first
}

// FirstSamples ends where the last of the streams' first packets that
// show ends (the sound's after its encoder's priming), whether the moov
// comes first or last; other files have none.
func TestFirstSamples(t *testing.T) {
	plain := fixturePath(t, "plain.mp4")
	fast := filepath.Join(t.TempDir(), "fast.mp4")
	if out, err := exec.Command("ffmpeg", ffmpegArgs("-i "+plain+" -c copy -movflags +faststart", fast)...).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, out)
	}
	for _, path := range []string{plain, fast} {
		b := readFile(t, path)
		end, ok := FirstSamples(bytes.NewReader(b), int64(len(b)))
		first := firstPacketEnds(t, path)
		want := int64(0)
		for _, e := range first {
			want = max(want, e)
		}
		if !ok || len(first) != 2 || end != want {
			t.Errorf("%s: first samples end at %d (%v), want %d, where the last of %d streams' first packets ends", filepath.Base(path), end, ok, want, len(first))
		}
		// Cut inside the moov, the samples cannot be located.
		if off, n, ok := TrailingIndex(bytes.NewReader(b), int64(len(b))); ok {
			if _, ok := FirstSamples(bytes.NewReader(b), off+n/2); ok {
				t.Errorf("%s: first samples of a file whose moov is cut short", filepath.Base(path))
			}
		}
	}
	for _, name := range []string{"frag.mp4", "av.mkv", "av.ts"} {
		b := readFile(t, fixturePath(t, name))
		if end, ok := FirstSamples(bytes.NewReader(b), int64(len(b))); ok {
			t.Errorf("%s: first samples end at %d", name, end)
		}
	}
}
