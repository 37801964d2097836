package syncclip

import (
	"image"
	"image/color"
	"slices"
	"testing"
	"time"
)

func TestBeepDetectorAcrossBlocks(t *testing.T) {
	// A beep starting in the last sample of one block and going on in the
	// next is one onset, at that last sample.
	d := NewBeepDetector(1000, 1)
	got := d.Feed(0, []float32{0, 0, 0, 0.3})
	got = append(got, d.Feed(4*time.Millisecond, []float32{0.5, -0.5, 0.5, 0})...)
	got = append(got, d.Feed(time.Second, []float32{0, 0.4})...)
	want := []time.Duration{3 * time.Millisecond, time.Second + time.Millisecond}
	if !slices.Equal(got, want) {
		t.Fatalf("onsets %v, want %v", got, want)
	}
	d = NewBeepDetector(1000, 2)
	if got := d.Feed(0, []float32{0, 0, 0.1, -0.1, 0, -0.3}); !slices.Equal(got, []time.Duration{2 * time.Millisecond}) {
		t.Fatalf("stereo onsets %v, want the frame at 2ms", got)
	}
}

func TestIsFlashOnAGrid(t *testing.T) {
	// A picture with one odd size, dark but for a white frame in the
	// middle third, then all white.
	img := image.NewRGBA(image.Rect(0, 0, 1283, 721))
	for y := 240; y < 480; y++ {
		for x := 0; x < 1283; x++ {
			img.Set(x, y, color.White)
		}
	}
	if IsFlash(img) {
		t.Errorf("a third white is a flash (mean luma %.0f)", MeanLuma(img))
	}
	for i := range img.Pix {
		img.Pix[i] = 255
	}
	if l := MeanLuma(img); l < 254 {
		t.Errorf("mean luma of white is %.1f", l)
	}
}
