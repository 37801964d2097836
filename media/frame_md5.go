package media

import (
	"bufio"
	"crypto/md5"
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"
	"sort"
	"unsafe"

	"github.com/asticode/go-astiav"
)

// md5AudioFilter is what the ffmpeg CLI puts in front of the pcm_s16le
// encoder framemd5 uses for audio; libavfilter inserts aresample with its
// default options to reach it, exactly as in the CLI.
const md5AudioFilter = "aformat=sample_fmts=s16"

// WriteFrameMD5 decodes r and writes what `ffmpeg -i FILE -f framemd5 -`
// (FFmpeg 5.1) prints for it: the header, including the #software line of
// the libavformat linked, then one line per frame with its timestamps and
// the MD5 of the raw picture (in the decoded pixel format) or of the audio
// as interleaved signed 16-bit PCM, in the order FFmpeg's muxer interleaves
// them.
//
// streams lists the input stream indices to write, in output order, like
// ffmpeg's -map. nil selects as ffmpeg does without -map: the video stream
// with the most pixels, then the audio stream with the most channels (first
// one on ties). Timestamps follow the CLI: the file's start time is removed,
// video is renumbered in 1/frame-rate units with frames whose times collide
// dropped (-vsync vfr), audio is in 1/sample-rate units made sample exact.
//
// Where it departs from ffmpeg: it stops with an error at a damaged packet,
// where ffmpeg logs and goes on, so a checksum is never quietly made of
// partial data; stream selection ignores the "default" disposition and
// attached pictures, which go-astiav v0.16.0 does not expose; a picture
// size or audio format change mid-stream is written as decoded, where
// ffmpeg would convert to the first one; and packets more than 10 s apart
// across streams are not flushed early as libavformat's interleaver does.
func WriteFrameMD5(w io.Writer, r io.ReadSeeker, streams []int) error {
	// FFmpeg's own probing limits, so stream parameters (the guessed frame
	// rate above all) come out as they do for the CLI.
	d, err := OpenDemuxer(r, DemuxerOptions{ProbeSize: -1, AnalyzeDuration: -1})
	if err != nil {
		return err
	}
	defer d.Close()

	if streams == nil {
		streams = ffmpegDefaultStreams(d.streams)
	}
	if len(streams) == 0 {
		return errors.New("media: writing framemd5 failed: no audio or video stream")
	}
	// The CLI shifts every packet by minus the container's start time.
	var offsetUS int64
	if st := d.fc.StartTime(); st != astiav.NoPtsValue {
		offsetUS = -st
	}
	outs := make([]*md5Stream, len(streams))
	byInput := map[int]*md5Stream{}
	defer func() {
		for _, o := range outs {
			if o != nil {
				o.close()
			}
		}
	}()
	for i, idx := range streams {
		if byInput[idx] != nil {
			return fmt.Errorf("media: writing framemd5 failed: stream %d listed twice", idx)
		}
		o, err := newMD5Stream(d, idx, i, offsetUS)
		if err != nil {
			return fmt.Errorf("media: writing framemd5 failed: %w", err)
		}
		outs[i], byInput[idx] = o, o
	}

	p := NewPacket()
	defer p.Free()
	for {
		err := d.ReadPacket(p)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("media: writing framemd5 failed: %w", err)
		}
		if o := byInput[p.StreamIndex()]; o != nil {
			err = o.decode(p.pkt)
		}
		p.Unref()
		if err != nil {
			return fmt.Errorf("media: writing framemd5 failed: %w", err)
		}
	}
	var recs []md5Record
	for _, o := range outs {
		if err := o.decode(nil); err != nil {
			return fmt.Errorf("media: writing framemd5 failed: %w", err)
		}
		recs = append(recs, o.recs...)
	}
	// libavformat's interleaver: by dts across time bases, then by stream.
	sort.SliceStable(recs, func(i, j int) bool {
		a, b := recs[i], recs[j]
		if c := compareTS(a.dts, outs[a.out].muxTB(), b.dts, outs[b.out].muxTB()); c != 0 {
			return c < 0
		}
		return a.out < b.out
	})

	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "#format: frame checksums\n#version: 2\n#hash: MD5\n#software: %s\n", lavfIdent())
	for _, o := range outs {
		o.writeHeader(bw)
	}
	fmt.Fprintf(bw, "#stream#, dts,        pts, duration,     size, hash\n")
	for _, r := range recs {
		fmt.Fprintf(bw, "%d, %10d, %10d, %8d, %8d, %x\n", r.out, r.dts, r.pts, r.duration, r.size, r.sum)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("media: writing framemd5 failed: %w", err)
	}
	return nil
}

// ffmpegDefaultStreams is ffmpeg's stream selection without -map (for an
// output that takes audio and video): the largest video, then the audio with
// the most channels.
func ffmpegDefaultStreams(infos []StreamInfo) []int {
	video, audio := -1, -1
	bestPixels, bestChannels := 0, 0
	for _, s := range infos {
		switch {
		case s.Kind == KindVideo && s.Width*s.Height > bestPixels:
			video, bestPixels = s.Index, s.Width*s.Height
		case s.Kind == KindAudio && s.Channels > bestChannels:
			audio, bestChannels = s.Index, s.Channels
		}
	}
	var out []int
	if video >= 0 {
		out = append(out, video)
	}
	if audio >= 0 {
		out = append(out, audio)
	}
	return out
}

// md5Record is one framemd5 line.
type md5Record struct {
	out                int
	dts, pts, duration int64
	size               int
	sum                [md5.Size]byte
}

// md5Stream reproduces, for one output stream, the path a frame takes in
// the ffmpeg 5.1 CLI from decoder to the framemd5 muxer.
type md5Stream struct {
	// out is the output stream number printed on each line.
	out int
	// kind is video or audio.
	kind StreamKind
	// dec decodes the input stream.
	dec *decoder
	// offset is the CLI's input timestamp offset in the stream's time base.
	offset int64
	// recs are the lines produced so far.
	recs []md5Record
	// lastMuxDTS is the CLI muxer's last dts, to keep dts monotonic.
	lastMuxDTS int64
	// started is set once the first frame fixed the output parameters.
	started bool

	// Video: sinkRate is the frame rate the CLI's filter graph reports,
	// encTB the encoder time base (1/frame rate), syncOpts the next output
	// frame number, width, height and sar what the header prints, and buf
	// the reused raw picture.
	sinkRate      astiav.Rational
	encTB         astiav.Rational
	syncOpts      int64
	width, height int
	sar           astiav.Rational
	streamSAR     astiav.Rational
	buf           []byte

	// Audio: filter converts to s16, last is rescaleDelta's state,
	// prevPktPTS the previous packet's pts (a jump resets last), nextUS the
	// fallback time of a frame without timestamps, sampleRate and layout
	// what the header prints.
	filter     *audioFilter
	last       int64
	prevPktPTS int64
	nextUS     int64
	sampleRate int
	layout     string
}

func newMD5Stream(d *Demuxer, idx, out int, offsetUS int64) (*md5Stream, error) {
	if idx < 0 || idx >= len(d.streams) {
		return nil, fmt.Errorf("no stream %d", idx)
	}
	o := &md5Stream{out: out, kind: d.streams[idx].Kind, lastMuxDTS: astiav.NoPtsValue,
		last: astiav.NoPtsValue, prevPktPTS: astiav.NoPtsValue, nextUS: astiav.NoPtsValue}
	var err error
	switch o.kind {
	case KindVideo:
		o.dec, err = newDecoder(d, idx, astiav.MediaTypeVideo)
		if err != nil {
			return nil, err
		}
		s := d.avStreams[idx]
		o.streamSAR = s.SampleAspectRatio()
		o.sinkRate = d.fc.GuessFrameRate(s, nil)
		rate := o.sinkRate
		if rate.Num() == 0 {
			rate = s.RFrameRate()
		}
		if rate.Num() == 0 || rate.Den() == 0 {
			rate = astiav.NewRational(25, 1)
		}
		o.encTB = reduce(rate.Den(), rate.Num())
	case KindAudio:
		o.dec, err = newDecoder(d, idx, astiav.MediaTypeAudio)
		if err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("stream %d is neither audio nor video", idx)
	}
	o.offset = astiav.RescaleQ(offsetUS, microsecondQ, o.dec.tb)
	return o, nil
}

func (o *md5Stream) muxTB() astiav.Rational {
	if o.kind == KindVideo {
		return o.encTB
	}
	return astiav.NewRational(1, o.sampleRate)
}

// decode sends pkt (nil at the end) and turns the frames into records.
func (o *md5Stream) decode(pkt *astiav.Packet) error {
	first := true
	err := o.dec.decode(pkt, func(f *astiav.Frame) error {
		// The CLI hands the packet only to the first frame decoded from it.
		var fp *astiav.Packet
		if first {
			fp, first = pkt, false
		}
		if o.kind == KindVideo {
			return o.videoFrame(f)
		}
		return o.audioFrame(f, fp, pkt == nil)
	})
	if err != nil || pkt != nil || o.filter == nil {
		return err
	}
	if err := o.filter.push(nil); err != nil {
		return err
	}
	return o.filter.pull(o.audioOut)
}

func (o *md5Stream) shift(ts int64) int64 {
	if ts == astiav.NoPtsValue {
		return ts
	}
	return ts + o.offset
}

// videoFrame is the CLI's decode_video and do_video_out for -vsync vfr.
func (o *md5Stream) videoFrame(f *astiav.Frame) error {
	pts := o.shift(frameBestEffort(f))
	if pts == astiav.NoPtsValue {
		pts = o.shift(f.Pts())
	}
	if !o.started {
		o.started = true
		o.width, o.height = f.Width(), f.Height()
		o.sar = o.streamSAR
		if o.sar.Num() == 0 {
			o.sar = f.SampleAspectRatio()
		}
	}
	if pts == astiav.NoPtsValue {
		return nil // the CLI's sync code drops it
	}
	tb := o.dec.tb
	syncIPTS := encoderFloatPTS(pts, tb, o.encTB)
	duration := 0.0
	if o.sinkRate.Num() > 0 && o.sinkRate.Den() > 0 {
		duration = 1 / (o.sinkRate.Float64() * o.encTB.Float64())
	}
	if d := lrintf(float64(framePktDuration(f)) * tb.Float64() / o.encTB.Float64()); d > 0 {
		duration = float64(d)
	}
	delta0 := syncIPTS - float64(o.syncOpts)
	delta := delta0 + duration
	if delta0 < 0 && delta > 0 {
		syncIPTS = float64(o.syncOpts)
	}
	switch {
	case delta <= -0.6:
		return nil
	case delta > 0.6:
		o.syncOpts = int64(math.RoundToEven(syncIPTS))
	}
	n, err := f.ImageBufferSize(1)
	if err != nil {
		return fmt.Errorf("media: sizing %s picture failed: %w", f.PixelFormat().Name(), err)
	}
	if cap(o.buf) < n {
		o.buf = make([]byte, n)
	}
	o.buf = o.buf[:n]
	if _, err := f.ImageCopyToBuffer(o.buf, 1); err != nil {
		return fmt.Errorf("media: copying %s picture failed: %w", f.PixelFormat().Name(), err)
	}
	o.mux(o.syncOpts, 1, o.buf)
	o.syncOpts++
	return nil
}

// audioFrame is the CLI's decode_audio: timestamps made sample exact, then
// the conversion to s16.
func (o *md5Stream) audioFrame(f *astiav.Frame, pkt *astiav.Packet, flushing bool) error {
	in := audioFormatOf(f)
	if o.filter == nil || o.filter.in != in {
		if o.filter != nil {
			if err := o.filter.push(nil); err != nil {
				return err
			}
			if err := o.filter.pull(o.audioOut); err != nil {
				return err
			}
			o.filter.free()
			o.filter = nil
		}
		filter, err := newAudioFilter(in, md5AudioFilter)
		if err != nil {
			return err
		}
		o.filter = filter
	}
	rate := f.SampleRate()
	rateTB := astiav.NewRational(1, rate)
	pts, tb := o.shift(f.Pts()), o.dec.tb
	switch {
	case pts != astiav.NoPtsValue:
	case pkt != nil && pkt.Pts() != astiav.NoPtsValue:
		pts = o.shift(pkt.Pts())
	default:
		pts, tb = o.nextUS, microsecondQ
	}
	if pkt != nil && !flushing {
		pp := o.shift(pkt.Pts())
		if pkt.Duration() != 0 && o.prevPktPTS != astiav.NoPtsValue && pp != astiav.NoPtsValue && pp-o.prevPktPTS > pkt.Duration() {
			o.last = astiav.NoPtsValue
		}
		o.prevPktPTS = pp
	} else if pkt == nil && flushing {
		o.prevPktPTS = astiav.NoPtsValue
	}
	if pts != astiav.NoPtsValue {
		o.nextUS = astiav.RescaleQ(pts, tb, microsecondQ) + int64(f.NbSamples())*int64(astiav.TimeBase)/int64(rate)
		pts = rescaleDelta(tb, pts, rateTB, f.NbSamples(), &o.last, rateTB)
	}
	f.SetPts(pts)
	if err := o.filter.push(f); err != nil {
		return err
	}
	return o.filter.pull(o.audioOut)
}

// audioOut is the CLI's do_audio_out and the pcm_s16le encoder.
func (o *md5Stream) audioOut(of *astiav.Frame) error {
	n := of.NbSamples()
	if n <= 0 {
		return nil
	}
	if !o.started {
		o.started = true
		o.sampleRate = of.SampleRate()
		o.layout = frameLayoutName(of)
	}
	encTB := astiav.NewRational(1, o.sampleRate)
	pts := of.Pts()
	if pts != astiav.NoPtsValue {
		pts = astiav.RescaleQ(pts, o.filter.outTB, encTB)
	} else {
		pts = o.syncOpts
	}
	o.syncOpts = pts + int64(n)
	data := unsafe.Slice((*byte)(frameData0(of)), n*frameChannels(of)*2)
	o.mux(pts, int64(n), data)
	return nil
}

// mux records a packet the way the CLI's muxing step fixes up timestamps.
func (o *md5Stream) mux(pts, duration int64, data []byte) {
	dts := pts
	if o.lastMuxDTS != astiav.NoPtsValue && dts < o.lastMuxDTS {
		pts = max(pts, o.lastMuxDTS)
		dts = o.lastMuxDTS
	}
	o.lastMuxDTS = dts
	o.recs = append(o.recs, md5Record{out: o.out, dts: dts, pts: pts, duration: duration, size: len(data), sum: md5.Sum(data)})
}

func (o *md5Stream) writeHeader(w io.Writer) {
	i := o.out
	switch o.kind {
	case KindVideo:
		fmt.Fprintf(w, "#tb %d: %d/%d\n#media_type %d: video\n#codec_id %d: rawvideo\n", i, o.encTB.Num(), o.encTB.Den(), i, i)
		sar := o.sar
		if sar.Den() == 0 {
			sar = astiav.NewRational(0, 1)
		}
		fmt.Fprintf(w, "#dimensions %d: %dx%d\n#sar %d: %d/%d\n", i, o.width, o.height, i, sar.Num(), sar.Den())
	case KindAudio:
		fmt.Fprintf(w, "#tb %d: 1/%d\n#media_type %d: audio\n#codec_id %d: pcm_s16le\n", i, o.sampleRate, i, i)
		fmt.Fprintf(w, "#sample_rate %d: %d\n#channel_layout_name %d: %s\n", i, o.sampleRate, i, o.layout)
	}
}

func (o *md5Stream) close() {
	if o.filter != nil {
		o.filter.free()
		o.filter = nil
	}
	if o.dec != nil {
		o.dec.close()
	}
}

// encoderFloatPTS is the CLI's adjust_frame_pts_to_encoder_tb: the frame
// time in encoder units with extra precision, nudged off exact midpoints.
func encoderFloatPTS(pts int64, filterTB, encTB astiav.Rational) float64 {
	extra := min(max(29-(bits.Len(uint(encTB.Den()))-1), 0), 16)
	tb := astiav.NewRational(encTB.Num(), encTB.Den()<<extra)
	f := float64(astiav.RescaleQ(pts, filterTB, tb))
	f /= float64(int64(1) << extra)
	if f > 0 {
		f += 1.0 / (1 << 17)
	} else {
		f -= 1.0 / (1 << 17)
	}
	return f
}

// lrintf is C's lrintf: the value is narrowed to float, then rounded to
// the nearest integer, ties to even.
func lrintf(x float64) int64 {
	return int64(math.RoundToEven(float64(float32(x))))
}

func reduce(num, den int) astiav.Rational {
	a, b := num, den
	for b != 0 {
		a, b = b, a%b
	}
	if a < 0 {
		a = -a
	}
	if a == 0 {
		return astiav.NewRational(num, den)
	}
	return astiav.NewRational(num/a, den/a)
}
