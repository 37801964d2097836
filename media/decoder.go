package media

import (
	"errors"
	"fmt"

	"github.com/asticode/go-astiav"
)

// decoder is what video and audio decoding share: a codec context opened
// from one stream's parameters and driven with send/receive.
type decoder struct {
	// kind names the media type in errors ("video", "audio").
	kind string
	// index is the stream this decoder accepts packets of.
	index int
	// tb is the stream's time base, the unit of frame timestamps.
	tb astiav.Rational
	// par are the stream's codec parameters, owned by the demuxer.
	par *astiav.CodecParameters
	// codec is FFmpeg's decoder for the stream.
	codec *astiav.Codec
	// cc is the open codec context; it is replaced to flush, since go-astiav
	// v0.16.0 has no avcodec_flush_buffers.
	cc *astiav.CodecContext
	// frame receives decoded frames; it is unreferenced after each callback.
	frame *astiav.Frame
	// drained is set once the end-of-stream frames have been returned.
	drained bool
}

func newDecoder(d *Demuxer, index int, want astiav.MediaType) (*decoder, error) {
	if d == nil {
		return nil, errors.New("demuxer is nil")
	}
	s, err := d.codecStream(index)
	if err != nil {
		return nil, err
	}
	par := s.CodecParameters()
	if par.MediaType() != want {
		return nil, fmt.Errorf("stream %d is %s, not %s", index, par.MediaType(), want)
	}
	c := &decoder{kind: want.String(), index: index, tb: s.TimeBase(), par: par}
	if c.codec = astiav.FindDecoder(par.CodecID()); c.codec == nil {
		return nil, fmt.Errorf("no decoder for codec %q", par.CodecID().Name())
	}
	if err := c.open(); err != nil {
		return nil, err
	}
	c.frame = astiav.AllocFrame()
	return c, nil
}

func (c *decoder) open() error {
	cc := astiav.AllocCodecContext(c.codec)
	if cc == nil {
		return errors.New("allocating codec context failed")
	}
	if err := c.par.ToCodecContext(cc); err != nil {
		cc.Free()
		return fmt.Errorf("copying codec parameters failed: %w", err)
	}
	opts := astiav.NewDictionary()
	defer opts.Free()
	// pkt_timebase lets the decoder move timestamps when it drops encoder
	// priming samples (Opus pre-skip, MP3 delay), as ffmpeg and ffprobe do.
	_ = opts.Set("threads", decoderThreads(c.par), 0)
	_ = opts.Set("pkt_timebase", c.tb.String(), 0)
	if err := cc.Open(c.codec, opts); err != nil {
		cc.Free()
		return fmt.Errorf("opening %s decoder failed: %w", c.codec.Name(), err)
	}
	c.cc = cc
	c.drained = false
	return nil
}

// singleThreadPixels is the largest picture (1280x720) decoded on one
// thread. Frame threading keeps a codec context and the frames in flight
// per thread, and "auto" is one thread per core plus one: resident memory
// that grows with the core count, for pictures one core decodes faster
// than real time.
const singleThreadPixels = 1280 * 720

// decoderThreads is the decoder's thread count: one for video up to
// singleThreadPixels; otherwise "auto", as the ffmpeg CLI uses, since
// 1080p and larger gain the most from every core, in playback and when
// decoding up to a seek target.
func decoderThreads(par *astiav.CodecParameters) string {
	if par.MediaType() == astiav.MediaTypeVideo && par.Width() > 0 && par.Height() > 0 &&
		par.Width()*par.Height() <= singleThreadPixels {
		return "1"
	}
	return "auto"
}

// decode sends pkt (nil to drain) and calls fn for each frame produced. The
// frame is unreferenced after fn returns.
func (c *decoder) decode(pkt *astiav.Packet, fn func(*astiav.Frame) error) error {
	if c.cc == nil {
		return fmt.Errorf("media: decoding %s failed: decoder is closed", c.kind)
	}
	if pkt != nil && pkt.StreamIndex() != c.index {
		return fmt.Errorf("media: decoding %s failed: packet of stream %d given to the decoder of stream %d", c.kind, pkt.StreamIndex(), c.index)
	}
	if c.drained {
		if pkt == nil {
			return nil
		}
		return fmt.Errorf("media: decoding %s failed: decoder was drained; Flush it before sending more packets", c.kind)
	}
	err := c.cc.SendPacket(pkt)
	if errors.Is(err, astiav.ErrEagain) {
		// Not expected since every send is followed by receiving all
		// frames, but the API allows it: make room and send again.
		if err := c.receive(fn); err != nil {
			return err
		}
		err = c.cc.SendPacket(pkt)
	}
	if err != nil && !errors.Is(err, astiav.ErrEof) {
		return fmt.Errorf("media: decoding %s packet failed: %w", c.kind, err)
	}
	return c.receive(fn)
}

func (c *decoder) receive(fn func(*astiav.Frame) error) error {
	for {
		err := c.cc.ReceiveFrame(c.frame)
		switch {
		case errors.Is(err, astiav.ErrEagain):
			return nil
		case errors.Is(err, astiav.ErrEof):
			c.drained = true
			return nil
		case err != nil:
			return fmt.Errorf("media: decoding %s frame failed: %w", c.kind, err)
		}
		err = fn(c.frame)
		c.frame.Unref()
		if err != nil {
			return err
		}
	}
}

// flush drops all decoder state by opening a fresh codec context.
func (c *decoder) flush() error {
	if c.cc == nil {
		return nil
	}
	c.cc.Free()
	c.cc = nil
	if err := c.open(); err != nil {
		return fmt.Errorf("media: flushing %s decoder failed: %w", c.kind, err)
	}
	return nil
}

func (c *decoder) close() {
	if c.cc != nil {
		c.cc.Free()
		c.cc = nil
	}
	if c.frame != nil {
		c.frame.Free()
		c.frame = nil
	}
}
