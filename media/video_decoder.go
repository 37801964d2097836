package media

import (
	"errors"
	"fmt"
	"image"
	"time"

	"github.com/asticode/go-astiav"
)

// VideoFrame is one decoded picture. It is valid only inside the callback
// it was passed to; the decoder reuses it.
type VideoFrame struct {
	// PTS is the presentation time on the file's own timeline.
	PTS time.Duration
	// Duration is how long the frame is shown (from the container, else one
	// frame at the stream's frame rate; 0 if neither is known).
	Duration time.Duration
	// Width and Height are the decoded picture size.
	Width, Height int

	// frame is the decoded FFmpeg frame, nil outside the callback.
	frame *astiav.Frame
}

// VideoDecoder decodes one video stream of a Demuxer and converts its
// pictures to RGBA. It is not safe for concurrent use.
type VideoDecoder struct {
	// dec does the decoding.
	dec *decoder
	// frameDur is one frame at the stream's frame rate, the fallback
	// duration.
	frameDur time.Duration
	// next is where the next frame would start, used when a frame carries no
	// timestamp at all.
	next time.Duration
	// vf is handed to callbacks, reused to avoid an allocation per frame.
	vf VideoFrame
	// sws converts to RGBA, kept while the geometry stays the same.
	sws scaler
	// flushErr is a failure to reopen the decoder in Flush, reported by
	// the next Decode since Flush returns nothing.
	flushErr error
	// skipping says SkipHidden is on.
	skipping bool
}

// NewVideoDecoder opens a decoder for video stream streamIndex of d. The
// demuxer must stay open while the decoder is used.
func NewVideoDecoder(d *Demuxer, streamIndex int) (*VideoDecoder, error) {
	dec, err := newDecoder(d, streamIndex, astiav.MediaTypeVideo)
	if err != nil {
		return nil, fmt.Errorf("media: opening video decoder failed: %w", err)
	}
	v := &VideoDecoder{dec: dec}
	if fr := d.streams[streamIndex].FrameRate; fr > 0 {
		v.frameDur = time.Duration(float64(time.Second) / fr)
	}
	return v, nil
}

// Decode sends p to the decoder (nil drains it at the end of the stream)
// and calls fn for every frame produced, in presentation order. The frame
// is valid only during fn; an error from fn stops decoding and is returned.
// An error about the packet itself (damaged data) leaves the decoder usable:
// the caller may go on with the next packet.
func (v *VideoDecoder) Decode(p *Packet, fn func(*VideoFrame) error) error {
	if v.flushErr != nil {
		return v.flushErr
	}
	if p != nil && p.pkt == nil {
		return errors.New("media: decoding failed: packet was freed")
	}
	return v.dec.decode(packetOf(p), func(f *astiav.Frame) error {
		err := fn(v.fill(f))
		// A frame kept past the callback must not reach freed memory.
		v.vf.frame = nil
		return err
	})
}

func (v *VideoDecoder) fill(f *astiav.Frame) *VideoFrame {
	tb := v.dec.tb
	dur := v.frameDur
	if d := framePktDuration(f); d > 0 {
		dur = toDuration(d, tb)
	}
	pts := v.next
	if ts := frameBestEffort(f); ts != astiav.NoPtsValue {
		pts = toDuration(ts, tb)
	}
	v.next = pts + dur
	v.vf = VideoFrame{PTS: pts, Duration: dur, Width: f.Width(), Height: f.Height(), frame: f}
	return &v.vf
}

// Convert scales and converts f to RGBA at dst's size (the display size,
// not the source size) and writes it into dst, which the caller owns and
// should reuse. The conversion context is kept while the sizes and pixel
// format stay the same, so converting allocates nothing.
func (v *VideoDecoder) Convert(f *VideoFrame, dst *image.RGBA) error {
	if f == nil {
		return v.sws.scale(nil, dst)
	}
	return v.sws.scale(f.frame, dst)
}

// SkipHidden says the packets sent next are decoded only to reach later
// pictures, their own never shown (before a seek's target): pictures no
// other refers to are then skipped, not decoded. On H.264 with B-frames
// that is about half the pictures of a group.
func (v *VideoDecoder) SkipHidden(on bool) {
	if v.dec.cc != nil && on != v.skipping {
		v.skipping = on
		codecSkipNonRef(v.dec.cc, on)
	}
}

// Flush drops the decoder's state after a seek; frames of packets sent
// before it are never returned.
func (v *VideoDecoder) Flush() {
	v.next = 0
	v.skipping = false
	v.flushErr = v.dec.flush()
}

// Close releases the decoder.
func (v *VideoDecoder) Close() error {
	v.dec.close()
	v.sws.free()
	return nil
}

func packetOf(p *Packet) *astiav.Packet {
	if p == nil {
		return nil
	}
	return p.pkt
}
