package media_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"errors"
	"image"
	"io"
	"os/exec"
	"testing"
	"time"

	"reelay/media"
	"reelay/media/mediatest"
)

func TestVideoFramesComeInOrderWithTimes(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		frames int
		w, h   int
		fps    int
	}{
		{"camera.mp4", 300, 640, 360, 30},
		{"screen.mp4", 100, 1280, 720, 10},
		{"vp9-opus.webm", 300, 320, 180, 30},
		{"vp8-vorbis.mkv", 300, 320, 180, 30},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := openFixture(t, tc.name)
			idx := mediatest.FirstStream(d, media.KindVideo)
			v, err := media.NewVideoDecoder(d, idx)
			if err != nil {
				t.Fatal(err)
			}
			defer v.Close()
			start := d.Streams()[idx].Start
			frame := time.Second / time.Duration(tc.fps)
			var n int
			last := time.Duration(-1)
			check := func(f *media.VideoFrame) error {
				// Matroska stores milliseconds: allow that rounding.
				want := start + time.Duration(n)*time.Second/time.Duration(tc.fps)
				if diff := f.PTS - want; diff < -time.Millisecond || diff > time.Millisecond {
					t.Errorf("frame %d at %v, want %v", n, f.PTS, want)
				}
				if f.PTS <= last {
					t.Errorf("frame %d at %v, not after %v", n, f.PTS, last)
				}
				if diff := f.Duration - frame; diff < -time.Millisecond || diff > time.Millisecond {
					t.Errorf("frame %d lasts %v, want %v", n, f.Duration, frame)
				}
				if f.Width != tc.w || f.Height != tc.h {
					t.Errorf("frame %d is %dx%d", n, f.Width, f.Height)
				}
				last = f.PTS
				n++
				return nil
			}
			mediatest.EachPacket(t, d, func(p *media.Packet) error {
				if p.StreamIndex() != idx {
					return nil
				}
				return v.Decode(p, check)
			})
			if err := v.Decode(nil, check); err != nil {
				t.Fatal(err)
			}
			if n != tc.frames {
				t.Errorf("%d frames, want %d", n, tc.frames)
			}
		})
	}
}

// frameAt decodes stream idx from the demuxer's position until the first
// frame at or after at and returns its pts and RGBA pixels at size, and the
// pts of the first frame decoded.
func frameAt(t *testing.T, d *media.Demuxer, v *media.VideoDecoder, idx int, at time.Duration, size image.Point) (first, pts time.Duration, pix []byte) {
	t.Helper()
	img := image.NewRGBA(image.Rectangle{Max: size})
	first = -1
	p := media.NewPacket()
	defer p.Free()
	found := false
	onFrame := func(f *media.VideoFrame) error {
		if first < 0 {
			first = f.PTS
		}
		if found || f.PTS < at {
			return nil
		}
		found, pts = true, f.PTS
		return v.Convert(f, img)
	}
	for !found {
		err := d.ReadPacket(p)
		if errors.Is(err, io.EOF) {
			// The last frames come out when the decoder is drained.
			if err := v.Decode(nil, onFrame); err != nil || !found {
				t.Fatalf("no frame at %v (%v)", at, err)
			}
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if p.StreamIndex() == idx {
			err = v.Decode(p, onFrame)
		}
		p.Unref()
		if err != nil {
			t.Fatal(err)
		}
	}
	return first, pts, img.Pix
}

func TestSeekThenDecodeToExactFrame(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		at   time.Duration
	}{
		{"camera.mp4", 3500 * time.Millisecond},
		{"camera.mp4", 2990 * time.Millisecond},
		{"av-tail.mov", 500 * time.Millisecond},
		{"screen.mp4", 7050 * time.Millisecond},
		{"vp9-opus.webm", 6020 * time.Millisecond},
		{"vp8-vorbis.mkv", 8 * time.Second},
		{"sync-av.mp4", 9900 * time.Millisecond},
	} {
		t.Run(tc.name+"@"+tc.at.String(), func(t *testing.T) {
			d := openFixture(t, tc.name)
			idx := mediatest.FirstStream(d, media.KindVideo)
			v, err := media.NewVideoDecoder(d, idx)
			if err != nil {
				t.Fatal(err)
			}
			defer v.Close()
			size := image.Pt(320, 180)
			_, wantPTS, want := frameAt(t, d, v, idx, tc.at, size)

			if err := d.SeekTo(tc.at); err != nil {
				t.Fatal(err)
			}
			v.Flush()
			first, gotPTS, got := frameAt(t, d, v, idx, tc.at, size)
			if first > tc.at {
				t.Errorf("decoding after the seek started at %v, after the target %v", first, tc.at)
			}
			if gotPTS != wantPTS {
				t.Errorf("after seeking to %v the frame is at %v, decoding from the start found %v", tc.at, gotPTS, wantPTS)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("frame at %v differs from the one decoded from the start", gotPTS)
			}
			t.Logf("seek to %v: decoded from %v, target frame %v", tc.at, first, gotPTS)
		})
	}
}

// ffmpegRGBA returns the first picture of path as RGBA at its own size, as
// the ffmpeg CLI converts it.
func ffmpegRGBA(t *testing.T, path string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "ffmpeg", "-nostdin", "-v", "error", "-i", path,
		"-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "rgba", "-").Output()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestConvertToDisplaySize(t *testing.T) {
	t.Parallel()
	path := mediatest.Fixture(t, "camera.mp4")
	d := openFixture(t, "camera.mp4")
	v, err := media.NewVideoDecoder(d, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()

	source := image.NewRGBA(image.Rect(0, 0, 640, 360))
	small := image.NewRGBA(image.Rect(0, 0, 320, 180))
	odd := image.NewRGBA(image.Rect(0, 0, 333, 187))
	// A sub-image: only its rectangle may be written.
	canvas := image.NewRGBA(image.Rect(0, 0, 400, 300))
	inset := canvas.SubImage(image.Rect(40, 30, 360, 210)).(*image.RGBA)
	frames := 0
	mediatest.EachPacket(t, d, func(p *media.Packet) error {
		if frames > 0 {
			return nil
		}
		return v.Decode(p, func(f *media.VideoFrame) error {
			if frames++; frames > 1 {
				return nil
			}
			for _, img := range []*image.RGBA{source, small, odd, inset, small} {
				if err := v.Convert(f, img); err != nil {
					return err
				}
			}
			return nil
		})
	})
	if frames == 0 {
		t.Fatal("no frame")
	}
	for _, img := range []*image.RGBA{source, small, odd, inset} {
		b := img.Bounds()
		if c := img.RGBAAt(b.Min.X+b.Dx()/2, b.Min.Y+b.Dy()/2); c.A != 255 || c.R+c.G+c.B == 0 {
			t.Errorf("%v: centre pixel %v", b, c)
		}
	}
	if c := canvas.RGBAAt(10, 10); c.A != 0 {
		t.Errorf("pixel outside the sub-image was written: %v", c)
	}
	if c := canvas.RGBAAt(380, 250); c.A != 0 {
		t.Errorf("pixel outside the sub-image was written: %v", c)
	}
	// Scaled conversions agree with the source-size one; the source-size
	// one agrees with ffmpeg's own conversion to RGBA.
	want := ffmpegRGBA(t, path)
	if len(want) != len(source.Pix) {
		t.Fatalf("ffmpeg gave %d bytes, want %d", len(want), len(source.Pix))
	}
	var sum, worst int
	for i := range want {
		diff := int(want[i]) - int(source.Pix[i])
		sum += max(diff, -diff)
		worst = max(worst, diff, -diff)
	}
	mean := float64(sum) / float64(len(want))
	t.Logf("against ffmpeg -pix_fmt rgba: mean abs difference %.3f, worst %d", mean, worst)
	if mean > 1 {
		t.Errorf("source-size RGBA differs from ffmpeg's by %.2f on average", mean)
	}
}

// Not parallel: testing.AllocsPerRun refuses to run in parallel tests.
func TestConvertDoesNotAllocate(t *testing.T) {
	d := openFixture(t, "camera.mp4")
	v, err := media.NewVideoDecoder(d, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	small := image.NewRGBA(image.Rect(0, 0, 320, 180))
	checked := false
	mediatest.EachPacket(t, d, func(p *media.Packet) error {
		if checked || p.StreamIndex() != 0 {
			return nil
		}
		return v.Decode(p, func(f *media.VideoFrame) error {
			if checked {
				return nil
			}
			checked = true
			// Frames go to the caller's reused buffer, through a cached
			// conversion context.
			if n := testing.AllocsPerRun(50, func() {
				if err := v.Convert(f, small); err != nil {
					t.Error(err)
				}
			}); n != 0 {
				t.Errorf("Convert allocates %v times per frame", n)
			}
			return nil
		})
	})
	if !checked {
		t.Fatal("no frame")
	}
}

// TestSkipHiddenDecodesLessAndTheSamePicturesAfter: pictures sent while
// SkipHidden is on that nothing refers to are not decoded, and every
// picture after it is turned off is the same as decoding all gives.
func TestSkipHiddenDecodesLessAndTheSamePicturesAfter(t *testing.T) {
	const from = 5 * time.Second
	decodeAll := func(skip bool) (before int, after map[time.Duration][16]byte) {
		d := mediatest.OpenDemuxer(t, mediatest.Fixture(t, "av.mp4"))
		v := mediatest.FirstStream(d, media.KindVideo)
		dec, err := media.NewVideoDecoder(d, v)
		if err != nil {
			t.Fatal(err)
		}
		defer dec.Close()
		after = map[time.Duration][16]byte{}
		img := image.NewRGBA(image.Rect(0, 0, 64, 36))
		fn := func(f *media.VideoFrame) error {
			if f.PTS < from {
				before++
				return nil
			}
			if err := dec.Convert(f, img); err != nil {
				return err
			}
			after[f.PTS] = md5.Sum(img.Pix)
			return nil
		}
		mediatest.EachPacket(t, d, func(p *media.Packet) error {
			if p.StreamIndex() != v {
				return nil
			}
			dec.SkipHidden(skip && p.PTS() < from-100*time.Millisecond)
			return dec.Decode(p, fn)
		})
		if err := dec.Decode(nil, fn); err != nil {
			t.Fatal(err)
		}
		return before, after
	}
	allBefore, want := decodeAll(false)
	skipBefore, got := decodeAll(true)
	if skipBefore >= allBefore*3/4 {
		t.Errorf("skipping decoded %d of the %d pictures before %v, want far fewer", skipBefore, allBefore, from)
	}
	if len(got) != len(want) || len(want) < 100 {
		t.Fatalf("%d pictures after %v with skipping, %d without", len(got), from, len(want))
	}
	for pts, sum := range want {
		if got[pts] != sum {
			t.Errorf("the picture at %v differs after skipping", pts)
		}
	}
}
