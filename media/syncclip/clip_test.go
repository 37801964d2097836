package syncclip_test

import (
	"image"
	"os"
	"slices"
	"testing"
	"time"

	"reelay/media"
	"reelay/media/mediatest"
	"reelay/media/syncclip"
)

// syncEvents decodes a sync clip and returns the times of its flashes and
// beep onsets.
func syncEvents(t *testing.T, path string) (flashes, beeps []time.Duration, darkest, brightest float64) {
	t.Helper()
	d := mediatest.OpenDemuxer(t, path)
	var vdec *media.VideoDecoder
	var adec *media.AudioDecoder
	var err error
	for _, s := range d.Streams() {
		switch s.Kind {
		case media.KindVideo:
			if vdec, err = media.NewVideoDecoder(d, s.Index); err != nil {
				t.Fatal(err)
			}
			defer vdec.Close()
		case media.KindAudio:
			if adec, err = media.NewAudioDecoder(d, s.Index); err != nil {
				t.Fatal(err)
			}
			defer adec.Close()
		}
	}
	img := image.NewRGBA(image.Rect(0, 0, 64, 36))
	darkest = 255
	beep := syncclip.NewBeepDetector(media.OutputSampleRate, media.OutputChannels)
	onFrame := func(f *media.VideoFrame) error {
		if err := vdec.Convert(f, img); err != nil {
			return err
		}
		l := syncclip.MeanLuma(img)
		if syncclip.IsFlash(img) {
			flashes = append(flashes, f.PTS)
			darkest = min(darkest, l)
		} else {
			brightest = max(brightest, l)
		}
		return nil
	}
	onAudio := func(pts time.Duration, s []float32) error {
		beeps = append(beeps, beep.Feed(pts, s)...)
		return nil
	}
	mediatest.EachPacket(t, d, func(p *media.Packet) error {
		switch {
		case vdec != nil && d.Streams()[p.StreamIndex()].Kind == media.KindVideo:
			return vdec.Decode(p, onFrame)
		case adec != nil && d.Streams()[p.StreamIndex()].Kind == media.KindAudio:
			return adec.Decode(p, onAudio)
		}
		return nil
	})
	if vdec != nil {
		if err := vdec.Decode(nil, onFrame); err != nil {
			t.Fatal(err)
		}
	}
	if adec != nil {
		if err := adec.Decode(nil, onAudio); err != nil {
			t.Fatal(err)
		}
	}
	return flashes, beeps, darkest, brightest
}

func TestSyncClipsFlashAndBeepOnEverySecond(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name         string
		video, audio bool
	}{
		{"sync-camera.mp4", true, false},
		{"sync-screen.mp4", true, false},
		{"sync-mic.m4a", false, true},
		{"sync-av.mp4", true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			flashes, beeps, darkest, brightest := syncEvents(t, mediatest.Fixture(t, tc.name))
			var want []time.Duration
			for s := time.Duration(0); s < mediatest.FixtureDuration; s += mediatest.SyncPeriod {
				want = append(want, s)
			}
			if tc.video {
				// One flash frame per second, exactly on the second.
				if !slices.Equal(flashes, want) {
					t.Errorf("flash frames at %v, want %v", flashes, want)
				}
				t.Logf("mean luma: flashes >= %.0f, other frames <= %.0f (threshold %d)", darkest, brightest, syncclip.FlashLuma)
			} else if len(flashes) > 0 {
				t.Errorf("flashes %v in a clip without video", flashes)
			}
			if tc.audio {
				// The tone needs a few samples to reach BeepLevel; the AAC
				// round trip must not move the onset by more than that.
				if len(beeps) != len(want) {
					t.Fatalf("beeps at %v, want one on each of %v", beeps, want)
				}
				for i, b := range beeps {
					if off := b - want[i]; off < 0 || off > time.Millisecond {
						t.Errorf("beep %d at %v, want within 1ms after %v", i, b, want[i])
					}
				}
			} else if len(beeps) > 0 {
				t.Errorf("beeps %v in a clip without audio", beeps)
			}
		})
	}
}

func TestFixturesAreGenerated(t *testing.T) {
	t.Parallel()
	for _, name := range mediatest.Names() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			p := mediatest.Fixture(t, name)
			if again := mediatest.Fixture(t, name); again != p {
				t.Fatalf("second call gave %s, first %s", again, p)
			}
			st, err := os.Stat(p)
			if err != nil {
				t.Fatal(err)
			}
			if st.Size() == 0 || st.Size() > 8<<20 {
				t.Fatalf("%s is %d bytes", p, st.Size())
			}
		})
	}
}
