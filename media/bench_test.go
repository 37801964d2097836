package media_test

import (
	"context"
	"image"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"testing"
	"time"

	"reelay/media"
	"reelay/media/mediatest"
)

// decodeFile decodes every video frame of path, converting each to RGBA at
// size unless size is zero, and returns the number of frames.
func decodeFile(tb testing.TB, path string, size image.Point) int {
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	d, err := media.OpenDemuxer(f, media.DemuxerOptions{})
	if err != nil {
		tb.Fatal(err)
	}
	defer d.Close()
	idx := mediatest.FirstStream(d, media.KindVideo)
	v, err := media.NewVideoDecoder(d, idx)
	if err != nil {
		tb.Fatal(err)
	}
	defer v.Close()
	var img *image.RGBA
	if size != (image.Point{}) {
		img = image.NewRGBA(image.Rectangle{Max: size})
	}
	frames := 0
	onFrame := func(f *media.VideoFrame) error {
		frames++
		if img == nil {
			return nil
		}
		return v.Convert(f, img)
	}
	mediatest.EachPacket(tb, d, func(p *media.Packet) error {
		if p.StreamIndex() != idx {
			return nil
		}
		return v.Decode(p, onFrame)
	})
	if err := v.Decode(nil, onFrame); err != nil {
		tb.Fatal(err)
	}
	return frames
}

var ffmpegRTime = regexp.MustCompile(`rtime=([0-9.]+)s`)

// ffmpegTime is how long `ffmpeg -benchmark -i path [filter] -f null -`
// takes: its own rtime, which leaves out process start-up.
func ffmpegTime(tb testing.TB, path string, filter ...string) time.Duration {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	args := append([]string{"-nostdin", "-hide_banner", "-benchmark", "-i", path}, filter...)
	args = append(args, "-f", "null", "-")
	start := time.Now()
	out, err := exec.CommandContext(ctx, "ffmpeg", args...).CombinedOutput()
	wall := time.Since(start)
	if err != nil {
		tb.Fatalf("ffmpeg: %v\n%s", err, out)
	}
	if m := ffmpegRTime.FindSubmatch(out); m != nil {
		if s, err := strconv.ParseFloat(string(m[1]), 64); err == nil && s > 0 {
			return time.Duration(s * float64(time.Second))
		}
	}
	return wall
}

// BenchmarkDecode1080p decodes a 10 s 1080p30 H.264 file, alone and with
// conversion to RGBA at 1280x720 and at source size, and runs
// `ffmpeg -benchmark -i FILE -f null -` on the same file in the same loop.
// x-ffmpeg is our time over ffmpeg's (below 1 is faster). ffmpeg's null
// output decodes but converts nothing, so the decode sub-benchmark is the
// like-for-like ratio and the rgba ones show what conversion adds. For
// those, x-ffmpeg-same-work compares with ffmpeg doing the same conversion
// (-vf scale=W:H:flags=bilinear,format=rgba).
func BenchmarkDecode1080p(b *testing.B) {
	path := mediatest.Fixture(b, "1080p.mp4")
	for _, bc := range []struct {
		name string
		size image.Point
	}{
		{"decode", image.Point{}},
		{"rgba-1280x720", image.Pt(1280, 720)},
		{"rgba-1920x1080", image.Pt(1920, 1080)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			var ffmpeg, sameWork time.Duration
			frames := 0
			for i := 0; i < b.N; i++ {
				frames += decodeFile(b, path, bc.size)
				b.StopTimer()
				ffmpeg += ffmpegTime(b, path)
				if bc.size != (image.Point{}) {
					sameWork += ffmpegTime(b, path, "-vf", "scale="+strconv.Itoa(bc.size.X)+":"+strconv.Itoa(bc.size.Y)+":flags=bilinear,format=rgba")
				}
				b.StartTimer()
			}
			b.StopTimer()
			ours := b.Elapsed()
			b.ReportMetric(float64(frames)/ours.Seconds(), "frames/s")
			b.ReportMetric(float64(frames)/ffmpeg.Seconds(), "ffmpeg-frames/s")
			b.ReportMetric(ours.Seconds()/ffmpeg.Seconds(), "x-ffmpeg")
			if sameWork > 0 {
				b.ReportMetric(ours.Seconds()/sameWork.Seconds(), "x-ffmpeg-same-work")
			}
		})
	}
}
