package media

// go-astiav v0.16.0 (the last release for FFmpeg 5.1) does not expose a few
// AVFrame fields and libavformat's version; this file reads them through the
// frame pointer go-astiav hands out, so the rest of the package stays on
// go-astiav's API.

/*
#cgo pkg-config: libavutil libavcodec libavformat
#include <libavutil/frame.h>
#include <libavcodec/avcodec.h>
#include <libavutil/channel_layout.h>
#include <libavformat/avformat.h>

static int64_t reelay_frame_best_effort(const AVFrame *f) { return f->best_effort_timestamp; }
static int64_t reelay_frame_pkt_duration(const AVFrame *f) { return f->pkt_duration; }
static uint8_t *reelay_frame_data0(const AVFrame *f) { return f->data[0]; }
static int reelay_frame_channels(const AVFrame *f) { return f->ch_layout.nb_channels; }

// An unspecified channel order (e.g. a WAVEFORMATEX file) gets FFmpeg's
// default layout for its channel count, as the ffmpeg CLI does, so that
// filters can mix it.
static void reelay_frame_default_layout(AVFrame *f) {
	if (f->ch_layout.order == AV_CHANNEL_ORDER_UNSPEC && f->ch_layout.nb_channels > 0) {
		int n = f->ch_layout.nb_channels;
		av_channel_layout_uninit(&f->ch_layout);
		av_channel_layout_default(&f->ch_layout, n);
	}
}

static int reelay_frame_layout_name(const AVFrame *f, char *buf, size_t size) {
	return av_channel_layout_describe(&f->ch_layout, buf, size);
}

static unsigned reelay_lavf_version(void) { return avformat_version(); }

static void reelay_skip_nonref(AVCodecContext *c, int on) {
	c->skip_frame = on ? AVDISCARD_NONREF : AVDISCARD_DEFAULT;
}
*/
import "C"

import (
	"fmt"
	"unsafe"

	"github.com/asticode/go-astiav"
)

func init() {
	// FFmpeg prints a line to stderr for every damaged packet, every file
	// it cannot read and every parser that trips; a player reports errors
	// through return values instead, in words for its user.
	astiav.SetLogLevel(astiav.LogLevelFatal)
}

// LogFFmpeg has FFmpeg print its own warnings and errors to stderr (on),
// or only what is fatal (off, the default): for finding out what a file
// holds that Reelay's errors do not say.
func LogFFmpeg(on bool) {
	if on {
		astiav.SetLogLevel(astiav.LogLevelWarning)
	} else {
		astiav.SetLogLevel(astiav.LogLevelFatal)
	}
}

func cframe(f *astiav.Frame) *C.AVFrame { return (*C.AVFrame)(f.UnsafePointer()) }

func frameBestEffort(f *astiav.Frame) int64 {
	return int64(C.reelay_frame_best_effort(cframe(f)))
}

func framePktDuration(f *astiav.Frame) int64 {
	return int64(C.reelay_frame_pkt_duration(cframe(f)))
}

func frameData0(f *astiav.Frame) unsafe.Pointer {
	return unsafe.Pointer(C.reelay_frame_data0(cframe(f)))
}

// codecSkipNonRef makes the decoder skip (on) or decode (off) the
// pictures no other picture refers to. astiav.CodecContext starts with
// its C pointer; go-astiav v0.16.0 has no accessor for it.
func codecSkipNonRef(cc *astiav.CodecContext, on bool) {
	v := C.int(0)
	if on {
		v = 1
	}
	C.reelay_skip_nonref(*(**C.AVCodecContext)(unsafe.Pointer(cc)), v)
}

func frameChannels(f *astiav.Frame) int { return int(C.reelay_frame_channels(cframe(f))) }

func frameDefaultLayout(f *astiav.Frame) { C.reelay_frame_default_layout(cframe(f)) }

func frameLayoutName(f *astiav.Frame) string {
	var buf [128]C.char
	n := C.reelay_frame_layout_name(cframe(f), &buf[0], C.size_t(len(buf)))
	if n <= 0 {
		return ""
	}
	return C.GoString(&buf[0])
}

// lavfIdent is libavformat's LIBAVFORMAT_IDENT of the library actually
// linked, which framemd5 prints as its #software line.
func lavfIdent() string {
	v := uint(C.reelay_lavf_version())
	return fmt.Sprintf("Lavf%d.%d.%d", v>>16, (v>>8)&0xff, v&0xff)
}
