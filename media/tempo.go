package media

import (
	"errors"
	"fmt"
	"strconv"
	"unsafe"

	"github.com/asticode/go-astiav"
)

// MinTempo and MaxTempo bound the speeds Tempo plays at.
const (
	MinTempo = 0.5
	MaxTempo = 2.0
)

// Tempo plays audio faster or slower without changing its pitch: it
// stretches interleaved float32 stereo at OutputSampleRate through
// libavfilter's atempo, the filter the ffmpeg CLI and mpv use. Output
// sample k is input sample k×rate: the first sample out is the first in,
// however much the filter holds back while it gathers its window. It is
// not safe for concurrent use.
type Tempo struct {
	// rate is the speed: 2 plays twice as fast.
	rate float64
	// filter runs the graph abuffer → atempo → aformat → abuffersink.
	filter *audioFilter
	// in is the frame each block is copied into; fed counts the sample
	// frames fed, the next block's timestamp.
	in  *astiav.Frame
	fed int64
}

// NewTempo returns a stretcher for rate, from MinTempo to MaxTempo.
func NewTempo(rate float64) (*Tempo, error) {
	if !(rate >= MinTempo && rate <= MaxTempo) {
		return nil, fmt.Errorf("media: speed %g is outside %g to %g", rate, MinTempo, MaxTempo)
	}
	spec := "atempo=" + strconv.FormatFloat(rate, 'f', -1, 64) +
		",aformat=sample_fmts=flt:sample_rates=" + strconv.Itoa(OutputSampleRate) + ":channel_layouts=stereo"
	f, err := newAudioFilter(audioFormat{rate: OutputSampleRate, format: astiav.SampleFormatFlt, layout: "stereo"}, spec)
	if err != nil {
		return nil, err
	}
	in := astiav.AllocFrame()
	if in == nil {
		f.free()
		return nil, errors.New("media: allocating an audio frame failed")
	}
	return &Tempo{rate: rate, filter: f, in: in}, nil
}

// Rate is the speed the stretcher plays at.
func (t *Tempo) Rate() float64 { return t.rate }

// Process feeds in (whole sample frames) and appends to out what the filter
// gives back, about len(in)/rate samples over time.
func (t *Tempo) Process(out, in []float32) ([]float32, error) {
	n := len(in) / OutputChannels
	if n == 0 {
		return out, nil
	}
	f := t.in
	f.Unref()
	f.SetNbSamples(n)
	f.SetSampleFormat(astiav.SampleFormatFlt)
	f.SetChannelLayout(astiav.ChannelLayoutStereo)
	f.SetSampleRate(OutputSampleRate)
	f.SetPts(t.fed)
	if err := f.AllocBuffer(0); err != nil {
		return out, fmt.Errorf("media: allocating audio samples failed: %w", err)
	}
	copy(unsafe.Slice((*float32)(frameData0(f)), n*OutputChannels), in[:n*OutputChannels])
	t.fed += int64(n)
	if err := t.filter.push(f); err != nil {
		return out, err
	}
	err := t.filter.pull(func(of *astiav.Frame) error {
		if m := of.NbSamples(); m > 0 {
			out = append(out, unsafe.Slice((*float32)(frameData0(of)), m*OutputChannels)...)
		}
		return nil
	})
	return out, err
}

// Close releases the filter.
func (t *Tempo) Close() {
	if t.filter != nil {
		t.filter.free()
		t.filter = nil
	}
	if t.in != nil {
		t.in.Free()
		t.in = nil
	}
}
