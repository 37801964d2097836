package mediatest

import (
	"bytes"
	"context"
	"io"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"reelay/media"
)

// FFmpegFrameMD5 returns what `ffmpeg -i path -f framemd5 -` prints; with
// streams, each is mapped in order (-map 0:i), as media.WriteFrameMD5 takes
// them.
func FFmpegFrameMD5(tb testing.TB, path string, streams ...int) string {
	tb.Helper()
	args := []string{"-nostdin", "-hide_banner", "-loglevel", "error", "-i", path}
	for _, s := range streams {
		args = append(args, "-map", "0:"+strconv.Itoa(s))
	}
	args = append(args, "-f", "framemd5", "-")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "ffmpeg", args...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		tb.Fatalf("mediatest: ffmpeg %s: %v\n%s", strings.Join(args, " "), err, stderr.Bytes())
	}
	return string(out)
}

// CompareFrameMD5 checks that media.WriteFrameMD5 over r prints exactly what
// `ffmpeg -i path -f framemd5 -` prints for the same file: the header
// (including the #software line, as the CLI and the app link the same
// libavformat) and every frame's timestamps, size and MD5. r can be a file
// or a reader over the network; it must hold path's bytes.
func CompareFrameMD5(tb testing.TB, r io.ReadSeeker, path string, streams ...int) {
	tb.Helper()
	want := FFmpegFrameMD5(tb, path, streams...)
	var got strings.Builder
	var sel []int
	if len(streams) > 0 {
		sel = streams
	}
	if err := media.WriteFrameMD5(&got, r, sel); err != nil {
		tb.Fatalf("WriteFrameMD5(%s): %v", path, err)
	}
	if got.String() == want {
		return
	}
	gl, wl := strings.Split(got.String(), "\n"), strings.Split(want, "\n")
	var diff strings.Builder
	shown := 0
	for i := 0; i < max(len(gl), len(wl)) && shown < 10; i++ {
		g, w := "(none)", "(none)"
		if i < len(gl) {
			g = gl[i]
		}
		if i < len(wl) {
			w = wl[i]
		}
		if g != w {
			diff.WriteString("line " + strconv.Itoa(i+1) + ":\n  got:    " + g + "\n  ffmpeg: " + w + "\n")
			shown++
		}
	}
	tb.Fatalf("framemd5 of %s differs from ffmpeg's (%d lines, ffmpeg %d):\n%s", path, len(gl), len(wl), diff.String())
}
