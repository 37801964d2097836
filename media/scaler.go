package media

// libswscale is called directly because go-astiav v0.16.0 can only scale into
// an AVFrame, and copying that into an image.RGBA allocates a new pixel slice
// per frame; here swscale writes straight into the caller's buffer.

/*
#cgo pkg-config: libavutil libswscale
#include <libavutil/frame.h>
#include <libavutil/pixdesc.h>
#include <libswscale/swscale.h>

static struct SwsContext *reelay_sws_get(struct SwsContext *c, const AVFrame *src, int dstW, int dstH, int flags) {
	return sws_getCachedContext(c, src->width, src->height, src->format, dstW, dstH, AV_PIX_FMT_RGBA, flags, NULL, NULL, NULL);
}

static int reelay_sws_colorspace(struct SwsContext *c, int colorspace, int fullRange) {
	return sws_setColorspaceDetails(c, sws_getCoefficients(colorspace), fullRange,
		sws_getCoefficients(SWS_CS_DEFAULT), 0, 0, 1 << 16, 1 << 16);
}

static int reelay_sws_scale(struct SwsContext *c, const AVFrame *src, uint8_t *dst, int stride) {
	uint8_t *dsts[4] = {dst, NULL, NULL, NULL};
	int strides[4] = {stride, 0, 0, 0};
	return sws_scale(c, (const uint8_t *const *)src->data, src->linesize, 0, src->height, dsts, strides);
}

static int reelay_frame_colorspace(const AVFrame *f) { return f->colorspace; }
static int reelay_frame_full_range(const AVFrame *f) {
	if (f->color_range == AVCOL_RANGE_JPEG) return 1;
	switch (f->format) {
	case AV_PIX_FMT_YUVJ420P: case AV_PIX_FMT_YUVJ422P: case AV_PIX_FMT_YUVJ444P: case AV_PIX_FMT_YUVJ440P: case AV_PIX_FMT_YUVJ411P:
		return 1;
	}
	return 0;
}
static int reelay_frame_is_yuv(const AVFrame *f) {
	const AVPixFmtDescriptor *d = av_pix_fmt_desc_get(f->format);
	return d && !(d->flags & AV_PIX_FMT_FLAG_RGB) && d->nb_components >= 3;
}
*/
import "C"

import (
	"errors"
	"fmt"
	"image"
	"unsafe"

	"github.com/asticode/go-astiav"
)

// scaler converts decoded frames to RGBA at a requested size. The swscale
// context is kept while the source and destination geometry stay the same.
type scaler struct {
	// c is the cached swscale context; nil until the first frame.
	c *C.struct_SwsContext
	// key is the geometry and colour description c was configured for; any
	// change rebuilds it (a freed and reallocated context can reuse the same
	// address, so the pointer alone cannot tell).
	key scalerKey
}

type scalerKey struct {
	srcW, srcH, srcFormat, dstW, dstH int
	colorspace, fullRange             C.int
}

func (s *scaler) scale(f *astiav.Frame, dst *image.RGBA) error {
	if dst == nil {
		return errors.New("media: converting frame failed: destination image is nil")
	}
	size := dst.Rect.Size()
	if size.X <= 0 || size.Y <= 0 {
		return fmt.Errorf("media: converting frame failed: destination size %dx%d is empty", size.X, size.Y)
	}
	if f == nil || f.Width() <= 0 || f.Height() <= 0 {
		return errors.New("media: converting frame failed: frame is no longer valid (use it only inside the decode callback)")
	}
	src := cframe(f)
	key := scalerKey{srcW: f.Width(), srcH: f.Height(), srcFormat: int(f.PixelFormat()), dstW: size.X, dstH: size.Y}
	isYUV := C.reelay_frame_is_yuv(src) != 0
	if isYUV {
		key.colorspace = C.reelay_frame_colorspace(src)
		if key.colorspace == C.AVCOL_SPC_UNSPECIFIED || key.colorspace == C.AVCOL_SPC_RESERVED {
			// Untagged video: HD material is almost always BT.709, SD BT.601,
			// which is the guess mpv and browsers make too.
			key.colorspace = C.SWS_CS_ITU601
			if f.Height() >= 720 {
				key.colorspace = C.SWS_CS_ITU709
			}
		}
		key.fullRange = C.reelay_frame_full_range(src)
	}
	if s.c == nil || key != s.key {
		c := C.reelay_sws_get(s.c, src, C.int(size.X), C.int(size.Y), C.SWS_BILINEAR)
		if c == nil {
			s.c = nil
			return fmt.Errorf("media: converting frame failed: no conversion from %s %dx%d to rgba %dx%d",
				f.PixelFormat().Name(), f.Width(), f.Height(), size.X, size.Y)
		}
		if isYUV {
			C.reelay_sws_colorspace(c, key.colorspace, key.fullRange)
		}
		s.c, s.key = c, key
	}
	c := s.c
	last := dst.PixOffset(dst.Rect.Max.X-1, dst.Rect.Max.Y-1) + 3
	if last >= len(dst.Pix) {
		return fmt.Errorf("media: converting frame failed: destination pixels too short for %dx%d", size.X, size.Y)
	}
	off := dst.PixOffset(dst.Rect.Min.X, dst.Rect.Min.Y)
	h := C.reelay_sws_scale(c, src, (*C.uint8_t)(unsafe.Pointer(&dst.Pix[off])), C.int(dst.Stride))
	if int(h) != size.Y {
		return fmt.Errorf("media: converting frame failed: swscale wrote %d of %d rows", int(h), size.Y)
	}
	return nil
}

func (s *scaler) free() {
	if s.c != nil {
		C.sws_freeContext(s.c)
		s.c = nil
	}
}
