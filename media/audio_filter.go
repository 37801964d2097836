package media

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/asticode/go-astiav"
)

// audioFormat is what an audio filter graph's input is configured for; a
// frame in any other format needs a new graph.
type audioFormat struct {
	rate   int
	format astiav.SampleFormat
	layout string
}

// audioFormatOf reads f's format, first giving an unspecified channel order
// FFmpeg's default layout so that it can be mixed.
func audioFormatOf(f *astiav.Frame) audioFormat {
	frameDefaultLayout(f)
	return audioFormat{rate: f.SampleRate(), format: f.SampleFormat(), layout: frameLayoutName(f)}
}

// audioFilter runs decoded audio through a libavfilter graph
// (abuffer → spec → abuffersink). go-astiav v0.16.0 has no binding for
// libswresample, and the graph reaches it the way the ffmpeg CLI does: the
// format negotiation inserts aresample with its default options.
type audioFilter struct {
	// in is the input format the graph was built for.
	in audioFormat
	// graph owns src and sink.
	graph     *astiav.FilterGraph
	src, sink *astiav.FilterContext
	// out receives filtered frames.
	out *astiav.Frame
	// outTB is the time base of the filtered frames' timestamps.
	outTB astiav.Rational
	// ended is set once the input has been closed.
	ended bool
}

func newAudioFilter(in audioFormat, spec string) (a *audioFilter, err error) {
	if in.rate <= 0 || in.layout == "" {
		return nil, fmt.Errorf("media: audio format %d Hz %q is not usable", in.rate, in.layout)
	}
	a = &audioFilter{in: in, graph: astiav.AllocFilterGraph()}
	defer func() {
		if err != nil {
			a.free()
			a = nil
		}
	}()
	if a.graph == nil {
		return nil, errors.New("media: allocating filter graph failed")
	}
	// Audio filters here do not slice-thread; worker threads would only cost.
	a.graph.SetThreadCount(1)

	abuffer, abuffersink := astiav.FindFilterByName("abuffer"), astiav.FindFilterByName("abuffersink")
	if abuffer == nil || abuffersink == nil {
		return nil, errors.New("media: libavfilter lacks abuffer or abuffersink")
	}
	if a.src, err = a.graph.NewFilterContext(abuffer, "in", astiav.FilterArgs{
		"time_base":      "1/" + strconv.Itoa(in.rate),
		"sample_rate":    strconv.Itoa(in.rate),
		"sample_fmt":     in.format.Name(),
		"channel_layout": in.layout,
	}); err != nil {
		return nil, fmt.Errorf("media: creating audio source for %d Hz %s %s failed: %w", in.rate, in.format.Name(), in.layout, err)
	}
	if a.sink, err = a.graph.NewFilterContext(abuffersink, "out", nil); err != nil {
		return nil, fmt.Errorf("media: creating audio sink failed: %w", err)
	}

	outputs, inputs := astiav.AllocFilterInOut(), astiav.AllocFilterInOut()
	defer outputs.Free()
	defer inputs.Free()
	outputs.SetName("in")
	outputs.SetFilterContext(a.src)
	outputs.SetPadIdx(0)
	outputs.SetNext(nil)
	inputs.SetName("out")
	inputs.SetFilterContext(a.sink)
	inputs.SetPadIdx(0)
	inputs.SetNext(nil)
	if err = a.graph.Parse(spec, inputs, outputs); err != nil {
		return nil, fmt.Errorf("media: parsing audio filter %q failed: %w", spec, err)
	}
	if err = a.graph.Configure(); err != nil {
		return nil, fmt.Errorf("media: configuring audio filter %q failed: %w", spec, err)
	}
	links := a.sink.Inputs()
	if len(links) == 0 {
		return nil, errors.New("media: audio sink has no input")
	}
	a.outTB = links[0].TimeBase()
	a.out = astiav.AllocFrame()
	return a, nil
}

// push feeds one frame (its timestamp in 1/rate), or nil to end the input.
func (a *audioFilter) push(f *astiav.Frame) error {
	if a.ended {
		return nil
	}
	if f == nil {
		a.ended = true
	}
	if err := a.src.BuffersrcAddFrame(f, astiav.NewBuffersrcFlags(astiav.BuffersrcFlagKeepRef)); err != nil {
		return fmt.Errorf("media: filtering audio failed: %w", err)
	}
	return nil
}

// pull calls fn for every filtered frame available; the frame is
// unreferenced after fn returns.
func (a *audioFilter) pull(fn func(*astiav.Frame) error) error {
	for {
		err := a.sink.BuffersinkGetFrame(a.out, astiav.NewBuffersinkFlags())
		if errors.Is(err, astiav.ErrEagain) || errors.Is(err, astiav.ErrEof) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("media: filtering audio failed: %w", err)
		}
		err = fn(a.out)
		a.out.Unref()
		if err != nil {
			return err
		}
	}
}

func (a *audioFilter) free() {
	if a.graph != nil {
		a.graph.Free()
		a.graph = nil
	}
	if a.out != nil {
		a.out.Free()
		a.out = nil
	}
}
