package media_test

import (
	"os"
	"testing"

	"reelay/media/mediatest"
)

func TestFrameMD5MatchesFFmpeg(t *testing.T) {
	for _, name := range mediatest.Names() {
		t.Run(name, func(t *testing.T) {
			if name == "1080p.mp4" && testing.Short() {
				t.Skip("large; its decoding is covered by BenchmarkDecode1080p")
			}
			t.Parallel()
			path := mediatest.Fixture(t, name)
			f, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			mediatest.CompareFrameMD5(t, f, path)
		})
	}
}

func TestFrameMD5MappedStreamsMatchFFmpeg(t *testing.T) {
	t.Parallel()
	// Audio first, as `ffmpeg -map 0:1 -map 0:0` orders them.
	for _, name := range []string{"av.mp4", "vp9-opus.webm"} {
		path := mediatest.Fixture(t, name)
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		mediatest.CompareFrameMD5(t, f, path, 1, 0)
		f.Close()
	}
}
