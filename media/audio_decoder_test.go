package media_test

import (
	"context"
	"encoding/binary"
	"math"
	"os/exec"
	"testing"
	"time"

	"reelay/media"
	"reelay/media/mediatest"
)

// sampleTime is the duration of n output sample frames.
func sampleTime(n int) time.Duration {
	return time.Duration(n) * time.Second / media.OutputSampleRate
}

func TestAudioOfEveryFixtureIsStereo48k(t *testing.T) {
	t.Parallel()
	for _, name := range mediatest.Names() {
		t.Run(name, func(t *testing.T) {
			d := openFixture(t, name)
			idx := mediatest.FirstStream(d, media.KindAudio)
			if idx < 0 {
				return
			}
			t.Parallel()
			var (
				frames, biggest int
				first, next     time.Duration
				maxJitter       time.Duration
				sumSquares      float64
			)
			decodeAudio(t, d, idx, func(pts time.Duration, s []float32) error {
				if len(s)%media.OutputChannels != 0 {
					t.Fatalf("block of %d samples is not whole stereo frames", len(s))
				}
				n := len(s) / media.OutputChannels
				if frames == 0 {
					first = pts
				} else {
					// time.Duration rounding makes 1 ns from nothing.
					maxJitter = max(maxJitter, pts-next-time.Nanosecond, next-pts-time.Nanosecond)
				}
				for _, v := range s {
					if math.IsNaN(float64(v)) || v > 1.5 || v < -1.5 {
						t.Fatalf("sample %v", v)
					}
					sumSquares += float64(v) * float64(v)
				}
				frames += n
				biggest = max(biggest, n)
				next = pts + sampleTime(n)
				return nil
			})
			got := sampleTime(frames)
			tolerance := sampleTime(biggest)
			t.Logf("%v of audio from %v, blocks up to %v, timestamps within %v of the sample count", got, first, tolerance, maxJitter)
			// Within one codec frame of the length the fixture was made with.
			if diff := got - mediatest.FixtureDuration; diff < -tolerance || diff > tolerance {
				t.Errorf("decoded %v of audio, want %v within %v", got, mediatest.FixtureDuration, tolerance)
			}
			// Blocks follow each other without gaps or overlaps (Matroska's
			// millisecond timestamps are made sample exact).
			if maxJitter > 0 {
				t.Errorf("block timestamps stray up to %v from the samples delivered", maxJitter)
			}
			if start := d.Streams()[idx].Start; first < start || first-start > 30*time.Millisecond {
				t.Errorf("first samples at %v, stream starts at %v", first, start)
			}
			if rms := math.Sqrt(sumSquares / float64(2*frames)); rms < 0.02 {
				t.Errorf("RMS %v: silent", rms)
			}
		})
	}
}

func TestMonoIsSpreadToBothChannels(t *testing.T) {
	t.Parallel()
	d := openFixture(t, "wav.wav")
	peak := float32(0)
	decodeAudio(t, d, 0, func(_ time.Duration, s []float32) error {
		for i := 0; i < len(s); i += 2 {
			if s[i] != s[i+1] {
				t.Fatalf("left %v, right %v", s[i], s[i+1])
			}
			peak = max(peak, s[i])
		}
		return nil
	})
	// FFmpeg's sine source has amplitude 1/8; a centre channel goes to left
	// and right at -3 dB.
	if want := float32(0.125 * math.Sqrt2 / 2); math.Abs(float64(peak-want)) > 0.005 {
		t.Errorf("peak %v, want %v", peak, want)
	}
}

// ffmpegFloatStereo is what the ffmpeg CLI makes of path's audio with the
// same conversion the AudioDecoder applies.
func ffmpegFloatStereo(t *testing.T, path string) []float32 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "ffmpeg", "-nostdin", "-v", "error", "-i", path, "-vn",
		"-af", "aresample=48000,aformat=sample_fmts=flt:sample_rates=48000:channel_layouts=stereo",
		"-f", "f32le", "-").Output()
	if err != nil {
		t.Fatal(err)
	}
	s := make([]float32, len(out)/4)
	for i := range s {
		s[i] = math.Float32frombits(binary.LittleEndian.Uint32(out[4*i:]))
	}
	return s
}

func TestAudioSamplesMatchFFmpeg(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"wav.wav", "flac.flac", "mp3.mp3", "mic.m4a", "opus.ogg", "vorbis.ogg"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			want := ffmpegFloatStereo(t, mediatest.Fixture(t, name))
			var got []float32
			d := openFixture(t, name)
			decodeAudio(t, d, 0, func(_ time.Duration, s []float32) error {
				got = append(got, s...)
				return nil
			})
			if len(got) != len(want) {
				t.Fatalf("%d samples, ffmpeg %d", len(got), len(want))
			}
			for i := range got {
				if got[i] != want[i] {
					t.Fatalf("sample %d is %v, ffmpeg %v", i, got[i], want[i])
				}
			}
		})
	}
}

func TestAudioSeekAndFlush(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		// grid: the container's timestamps are sample exact and no
		// resampling happens, so blocks after a seek fall on the same
		// samples as from the start.
		grid bool
	}{
		{"mic.m4a", true},
		{"opus.ogg", true},
		{"av.mp4", true},
		{"wav.wav", false},
		{"vp9-opus.webm", false},
	} {
		name := tc.name
		t.Run(name, func(t *testing.T) {
			d := openFixture(t, name)
			idx := mediatest.FirstStream(d, media.KindAudio)
			// Everything from the start, by sample position.
			full := map[time.Duration][]float32{}
			decodeAudio(t, d, idx, func(pts time.Duration, s []float32) error {
				full[pts] = append([]float32(nil), s...)
				return nil
			})

			a, err := media.NewAudioDecoder(d, idx)
			if err != nil {
				t.Fatal(err)
			}
			defer a.Close()
			at := 4250 * time.Millisecond
			if err := d.SeekTo(at); err != nil {
				t.Fatal(err)
			}
			a.Flush()
			first := time.Duration(-1)
			blocks, same := 0, 0
			p := media.NewPacket()
			defer p.Free()
			for blocks < 20 {
				if err := d.ReadPacket(p); err != nil {
					t.Fatal(err)
				}
				if p.StreamIndex() == idx {
					err = a.Decode(p, func(pts time.Duration, s []float32) error {
						if first < 0 {
							first = pts
						}
						blocks++
						if w, ok := full[pts]; ok && len(w) == len(s) {
							same++
						}
						return nil
					})
				}
				p.Unref()
				if err != nil {
					t.Fatal(err)
				}
			}
			if first > at || at-first > time.Second {
				t.Errorf("audio after seeking to %v starts at %v", at, first)
			}
			// After the seek, blocks sit on the same sample grid as when
			// decoding from the start.
			if tc.grid && same < blocks-1 {
				t.Errorf("only %d of %d blocks after the seek line up with decoding from the start", same, blocks)
			}
			t.Logf("seek to %v: audio from %v", at, first)
		})
	}
}
