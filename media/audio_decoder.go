package media

import (
	"errors"
	"fmt"
	"time"
	"unsafe"

	"github.com/asticode/go-astiav"
)

// The one format every AudioDecoder delivers, whatever the file holds.
const (
	OutputSampleRate = 48000
	OutputChannels   = 2
)

// outputFilter converts any rate and layout to interleaved float32 stereo at
// OutputSampleRate; mono is spread to both channels by libswresample's
// default matrix.
const outputFilter = "aresample=48000,aformat=sample_fmts=flt:sample_rates=48000:channel_layouts=stereo"

// AudioDecoder decodes one audio stream of a Demuxer to interleaved float32
// stereo at 48 kHz. It is not safe for concurrent use.
type AudioDecoder struct {
	// dec does the decoding.
	dec *decoder
	// filter resamples and remixes; rebuilt when the input format changes
	// and dropped by Flush.
	filter *audioFilter
	// last carries rescaleDelta's state between frames.
	last int64
	// nextIn is where the next decoded frame would start, in 1/rate, for
	// frames without a timestamp.
	nextIn int64
	// nextOut is where the next output block would start, for filtered
	// frames without a timestamp.
	nextOut time.Duration
	// flushErr is a failure to reopen the decoder in Flush, reported by the
	// next Decode since Flush returns nothing.
	flushErr error
}

// NewAudioDecoder opens a decoder for audio stream streamIndex of d. The
// demuxer must stay open while the decoder is used.
func NewAudioDecoder(d *Demuxer, streamIndex int) (*AudioDecoder, error) {
	dec, err := newDecoder(d, streamIndex, astiav.MediaTypeAudio)
	if err != nil {
		return nil, fmt.Errorf("media: opening audio decoder failed: %w", err)
	}
	return &AudioDecoder{dec: dec, last: astiav.NoPtsValue, nextIn: astiav.NoPtsValue}, nil
}

// Decode sends p to the decoder (nil drains it at the end of the stream,
// including the resampler's tail) and calls fn with each block of
// interleaved stereo samples and the presentation time of its first sample
// on the file's own timeline. samples is valid only during fn. An error
// about the packet itself (damaged data) leaves the decoder usable.
func (a *AudioDecoder) Decode(p *Packet, fn func(pts time.Duration, samples []float32) error) error {
	if a.flushErr != nil {
		return a.flushErr
	}
	if p != nil && p.pkt == nil {
		return errors.New("media: decoding failed: packet was freed")
	}
	err := a.dec.decode(packetOf(p), func(f *astiav.Frame) error {
		return a.filterFrame(f, fn)
	})
	if err != nil || p != nil || !a.dec.drained || a.filter == nil {
		return err
	}
	if err := a.filter.push(nil); err != nil {
		return err
	}
	return a.filter.pull(func(of *astiav.Frame) error { return a.emit(of, fn) })
}

func (a *AudioDecoder) filterFrame(f *astiav.Frame, fn func(time.Duration, []float32) error) error {
	in := audioFormatOf(f)
	if a.filter == nil || a.filter.in != in {
		if a.filter != nil {
			// Let the old graph finish before the new format starts.
			if err := a.filter.push(nil); err != nil {
				return err
			}
			if err := a.filter.pull(func(of *astiav.Frame) error { return a.emit(of, fn) }); err != nil {
				return err
			}
			a.filter.free()
			a.filter = nil
		}
		filter, err := newAudioFilter(in, outputFilter)
		if err != nil {
			return err
		}
		a.filter = filter
		a.last, a.nextIn = astiav.NoPtsValue, astiav.NoPtsValue
	}
	rateTB := astiav.NewRational(1, in.rate)
	ts, tb := f.Pts(), a.dec.tb
	if ts == astiav.NoPtsValue {
		ts, tb = a.nextIn, rateTB
	}
	if ts != astiav.NoPtsValue {
		ts = rescaleDelta(tb, ts, rateTB, f.NbSamples(), &a.last, rateTB)
		a.nextIn = ts + int64(f.NbSamples())
	}
	f.SetPts(ts)
	if err := a.filter.push(f); err != nil {
		return err
	}
	return a.filter.pull(func(of *astiav.Frame) error { return a.emit(of, fn) })
}

func (a *AudioDecoder) emit(of *astiav.Frame, fn func(time.Duration, []float32) error) error {
	n := of.NbSamples()
	if n <= 0 {
		return nil
	}
	pts := a.nextOut
	if ts := of.Pts(); ts != astiav.NoPtsValue {
		pts = toDuration(ts, a.filter.outTB)
	}
	a.nextOut = pts + time.Duration(n)*time.Second/OutputSampleRate
	samples := unsafe.Slice((*float32)(frameData0(of)), n*OutputChannels)
	return fn(pts, samples)
}

// Flush drops the decoder's and the resampler's state after a seek.
func (a *AudioDecoder) Flush() {
	if a.filter != nil {
		a.filter.free()
		a.filter = nil
	}
	a.last, a.nextIn, a.nextOut = astiav.NoPtsValue, astiav.NoPtsValue, 0
	a.flushErr = a.dec.flush()
}

// Close releases the decoder.
func (a *AudioDecoder) Close() error {
	if a.filter != nil {
		a.filter.free()
		a.filter = nil
	}
	a.dec.close()
	return nil
}
