package mediatest

import (
	"image"
	"time"
)

// FlashLuma is the mean luma (0–255) above which a picture of the sync clip
// is its white flash; the rest of the clip is darkened to well below it.
const FlashLuma = 128

// MeanLuma is the average BT.601 luma of img's pixels, 0–255.
func MeanLuma(img *image.RGBA) float64 {
	b := img.Bounds()
	if b.Empty() {
		return 0
	}
	var sum uint64
	for y := b.Min.Y; y < b.Max.Y; y++ {
		row := img.Pix[img.PixOffset(b.Min.X, y):img.PixOffset(b.Max.X, y)]
		for i := 0; i+3 < len(row); i += 4 {
			sum += 299*uint64(row[i]) + 587*uint64(row[i+1]) + 114*uint64(row[i+2])
		}
	}
	return float64(sum) / 1000 / float64(b.Dx()*b.Dy())
}

// IsFlash reports whether img is a flash frame of the sync clip.
func IsFlash(img *image.RGBA) bool { return MeanLuma(img) > FlashLuma }

// BeepLevel is the absolute sample value at which a beep counts as started:
// half the beep's amplitude, which its 1 kHz tone reaches within 0.1 ms and
// which lossy codecs' pre-echo before the onset stays far below.
const BeepLevel = 0.25

// IsBeep reports whether samples contain any part of a beep.
func IsBeep(samples []float32) bool {
	for _, s := range samples {
		if s >= BeepLevel || s <= -BeepLevel {
			return true
		}
	}
	return false
}

// BeepOnset returns the index of the first sample frame (of channels
// interleaved samples) in samples at or above BeepLevel, or -1.
func BeepOnset(samples []float32, channels int) int {
	if channels <= 0 {
		channels = 1
	}
	for i, s := range samples {
		if s >= BeepLevel || s <= -BeepLevel {
			return i / channels
		}
	}
	return -1
}

// BeepDetector finds beep onsets in a stream of audio blocks, across block
// boundaries. The zero value is not usable; use NewBeepDetector.
type BeepDetector struct {
	// rate and channels describe the blocks fed.
	rate, channels int
	// quietUntil is the time before which a loud sample belongs to the beep
	// already found.
	quietUntil time.Duration
	// found says an onset has been seen, so quietUntil applies.
	found bool
}

// NewBeepDetector returns a detector for blocks of interleaved samples.
func NewBeepDetector(sampleRate, channels int) *BeepDetector {
	return &BeepDetector{rate: sampleRate, channels: max(channels, 1)}
}

// Feed looks at a block starting at pts and returns the onsets in it.
func (d *BeepDetector) Feed(pts time.Duration, samples []float32) []time.Duration {
	var onsets []time.Duration
	for i := 0; i < len(samples); i += d.channels {
		loud := false
		for c := 0; c < d.channels && i+c < len(samples); c++ {
			if s := samples[i+c]; s >= BeepLevel || s <= -BeepLevel {
				loud = true
			}
		}
		if !loud {
			continue
		}
		t := pts + time.Duration(i/d.channels)*time.Second/time.Duration(d.rate)
		if d.found && t < d.quietUntil {
			continue
		}
		onsets = append(onsets, t)
		d.found = true
		// A beep is 50 ms; anything loud within half a period is the same one.
		d.quietUntil = t + SyncPeriod/2
	}
	return onsets
}
