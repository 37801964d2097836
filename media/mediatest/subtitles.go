package mediatest

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Cue is one subtitle of the subtitle fixtures, as a player shows it:
// plain text, lines joined by "\n".
type Cue struct {
	Start, End time.Duration
	Text       string
}

// Cues are the subtitles of every subtitle fixture, in order; no edge
// falls on a picture's time, so a player shows them on time only if it
// wakes for them.
var Cues = []Cue{
	{Start: 1230 * time.Millisecond, End: 2470 * time.Millisecond, Text: "Hello from Reelay"},
	{Start: 3050 * time.Millisecond, End: 4520 * time.Millisecond, Text: "Two lines,\nthe second one"},
	{Start: 6310 * time.Millisecond, End: 7940 * time.Millisecond, Text: "Fish & chips <3"},
}

// SRT is Cues as a SubRip file, with the markup such files carry.
const SRT = "1\r\n00:00:01,230 --> 00:00:02,470\r\n<i>Hello</i> from Reelay\r\n\r\n" +
	"2\r\n00:00:03,050 --> 00:00:04,520\r\n{\\an8}Two lines,\r\nthe <b>second</b> one\r\n\r\n" +
	"3\r\n00:00:06,310 --> 00:00:07,940\r\n<font color=\"#ffff00\">Fish & chips <3</font>\r\n\r\n"

// VTT is Cues as a WebVTT file.
const VTT = "WEBVTT\n\nNOTE made for Reelay's tests\n\n" +
	"00:01.230 --> 00:02.470\n<v Narrator>Hello</v> from Reelay\n\n" +
	"intro\n00:03.050 --> 00:04.520 line:10%\nTwo lines,\n<c.yellow>the second</c> one\n\n" +
	"00:06.310 --> 00:07.940\nFish &amp; chips &lt;3\n"

// Chapters are the chapters of the subtitled fixtures: start and title.
var Chapters = []struct {
	Start time.Duration
	Title string
}{
	{Start: 0, Title: "Opening"},
	{Start: 4 * time.Second, Title: "The middle"},
	{Start: 7 * time.Second, Title: "Last words"},
}

// Subtitled returns the path of a 10 s picture with Cues as a subtitle
// stream and Chapters as its chapters: "subtitled.mp4" (MP4 timed text)
// or "subtitled.mkv" (ASS in Matroska). Made and cached as Fixture does.
func Subtitled(tb testing.TB, name string) string {
	tb.Helper()
	codec := map[string]string{"subtitled.mp4": "mov_text", "subtitled.mkv": "ass"}[name]
	if codec == "" {
		tb.Fatalf("mediatest: no subtitled fixture %q", name)
	}
	dir := filepath.Join(os.TempDir(), "reelay-mediatest")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		tb.Fatal(err)
	}
	var m strings.Builder
	m.WriteString(";FFMETADATA1\n")
	for i, c := range Chapters {
		end := FixtureDuration
		if i+1 < len(Chapters) {
			end = Chapters[i+1].Start
		}
		fmt.Fprintf(&m, "[CHAPTER]\nTIMEBASE=1/1000\nSTART=%d\nEND=%d\ntitle=%s\n", c.Start.Milliseconds(), end.Milliseconds(), c.Title)
	}
	srt, err := inputFile(dir, "cues.srt", SRT)
	if err != nil {
		tb.Fatal(err)
	}
	meta, err := inputFile(dir, "chapters.txt", m.String())
	if err != nil {
		tb.Fatal(err)
	}
	args := []string{
		"-f", "lavfi", "-i", "testsrc2=size=320x180:rate=25:duration=10",
		"-i", srt, "-i", meta, "-map", "0:v", "-map", "1:s", "-map_metadata", "2", "-map_chapters", "2",
		"-c:v", "libx264", "-preset", "veryfast", "-crf", "30", "-g", "25", "-pix_fmt", "yuv420p",
		"-c:s", codec, "-metadata:s:s:0", "language=eng",
	}
	return made(tb, name, args)
}

// inputFile writes text to a file in dir named after name and its
// content's hash, so a recipe naming it names the content (and the
// fixture cache follows it), and a file of that name is never rewritten.
func inputFile(dir, name, text string) (string, error) {
	sum := sha256.Sum256([]byte(text))
	ext := filepath.Ext(name)
	path := filepath.Join(dir, strings.TrimSuffix(name, ext)+"-"+hex.EncodeToString(sum[:6])+ext)
	if _, err := os.Stat(path); err == nil {
		return path, nil
	}
	tmp, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return "", err
	}
	_, err = tmp.WriteString(text)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return "", err
	}
	return path, nil
}
