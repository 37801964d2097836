// Package syncclip measures audio/video sync, apart from the player it
// measures: a sync clip flashes its picture white and starts a beep at the
// same instant, once every SyncPeriod; the detectors find both in what is
// decoded or played, and a Meter standing between a player and its audio
// device and video sinks gives the offset a viewer meets. The test
// fixtures and the built-in demo are sync clips; `reelay play --report`
// and the A/V sync tests measure with a Meter.
package syncclip

import (
	"image"
	"time"
)

// SyncPeriod is the time between two flashes (and two beeps) of a sync clip.
const SyncPeriod = time.Second

// FlashLuma is the mean luma (0–255) above which a picture of a sync clip
// is its white flash; the rest of the clip is darkened to well below it.
const FlashLuma = 128

// lumaSamples bounds the pixels MeanLuma reads along each axis: a flash
// fills the whole picture, so a grid of about 64×36 points tells it apart
// at any size, cheaply enough to run on every frame shown.
const (
	lumaSamplesX = 64
	lumaSamplesY = 36
)

// MeanLuma is the average BT.601 luma (0–255) of img's pixels, read on a
// grid of at most 64×36 evenly spread points.
func MeanLuma(img *image.RGBA) float64 {
	b := img.Bounds()
	if b.Empty() {
		return 0
	}
	stepX, stepY := max(b.Dx()/lumaSamplesX, 1), max(b.Dy()/lumaSamplesY, 1)
	var sum, n uint64
	for y := b.Min.Y; y < b.Max.Y; y += stepY {
		for x := b.Min.X; x < b.Max.X; x += stepX {
			i := img.PixOffset(x, y)
			px := img.Pix[i : i+3 : i+3]
			sum += 299*uint64(px[0]) + 587*uint64(px[1]) + 114*uint64(px[2])
			n++
		}
	}
	return float64(sum) / 1000 / float64(n)
}

// IsFlash reports whether img is a flash frame of a sync clip.
func IsFlash(img *image.RGBA) bool { return MeanLuma(img) > FlashLuma }

// BeepLevel is the absolute sample value at which a beep counts as started:
// well under a beep's amplitude, which its 1 kHz tone reaches within 0.1 ms,
// and far above lossy codecs' pre-echo before the onset.
const BeepLevel = 0.25

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
		// A beep lasts well under half a period; anything loud within half
		// a period is the same one.
		d.quietUntil = t + SyncPeriod/2
	}
	return onsets
}
