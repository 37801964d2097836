package media

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/asticode/go-astiav"
)

// DemuxerOptions bound the work done while opening a file. Over the network
// every probed byte is a round trip away, so the defaults are smaller than
// FFmpeg's own (5 MB, 5 s).
type DemuxerOptions struct {
	// ProbeSize is the most bytes read to identify the format and streams.
	// It defaults to 1 MiB; a negative value keeps FFmpeg's default.
	ProbeSize int64
	// AnalyzeDuration is the most media time read to learn the streams'
	// parameters. It defaults to 1 s; a negative value keeps FFmpeg's default.
	AnalyzeDuration time.Duration
	// TrustHeader opens an MP4 or QuickTime file on its header alone, when
	// the header gives every stream's parameters, instead of reading and
	// decoding its first packets as FFmpeg's probing does: over a network
	// those packets are the first keyframe and, before the first sound, a
	// chunk of pictures, a few hundred kB and round trips before the first
	// picture. What only decoding tells (a picture's pixel format, a
	// sound's sample format) the decoders learn as they start.
	TrustHeader bool
	// FromJoinPoint reads the file as a stream from where its reader
	// starts (a join point of a recording being written): the demuxer
	// neither reads nor builds an index of the whole file (FFmpeg's
	// ignidx), which for a fragmented MP4 means reading every fragment's
	// header to the end before the first packet, and for a live one
	// waiting for an end that is not written yet.
	FromJoinPoint bool
}

// Default probing limits; see DemuxerOptions.
const (
	DefaultProbeSize       = 1 << 20
	DefaultAnalyzeDuration = time.Second
)

// ReadSize is the AVIOContext buffer, and so the usual read size asked
// of the reader: big enough that a remote reader sees few calls.
const ReadSize = 64 << 10

// OpenStats is the I/O a Demuxer did while opening (probing) its input.
type OpenStats struct {
	// Reads is the number of Read calls made on the reader.
	Reads int
	// Seeks is the number of Seek calls that moved the position (size
	// queries excluded).
	Seeks int
	// Bytes is the number of bytes read.
	Bytes int64
	// Elapsed is the wall time the open took.
	Elapsed time.Duration
}

// Demuxer splits a media file read from any io.ReadSeeker into packets. It
// is not safe for concurrent use: one goroutine owns it.
type Demuxer struct {
	// rd adapts the caller's reader to FFmpeg and keeps its errors.
	rd *avioReader
	// ioc is the custom AVIOContext reading through rd.
	ioc *astiav.IOContext
	// fc is the input; opened says avformat_open_input succeeded on it,
	// which decides how it must be closed.
	fc     *astiav.FormatContext
	opened bool
	// streams describes every stream, by index.
	streams []StreamInfo
	// avStreams are FFmpeg's streams, by index, for decoders and time bases.
	avStreams []*astiav.Stream
	// stats is the I/O done by OpenDemuxer.
	stats OpenStats
	// lastEnd is the latest end (pts + duration) of any packet read, to
	// tell a file cut short from one that ended.
	lastEnd time.Duration
	// pending holds packets read while checking where a seek landed; they
	// are handed out by ReadPacket before reading on.
	pending []*astiav.Packet
	// byteSeek says SeekTo places a seek by a byte estimate (byteseek.go);
	// dataStart is the byte of the first packet (-1 until one is read).
	byteSeek  bool
	dataStart int64
	// stamping says packets are stamped after a byte seek to stampFrom,
	// stampNext being the next one's time in its stream's time base
	// (NoPtsValue before the first), with the mean frame length measured
	// there (0 if not) and the time of one frame.
	stamping             bool
	stampFrom, stampNext int64
	bytesPerFrame        float64
	frameTime            time.Duration
	// duration, when set, replaces FFmpeg's guess of the duration.
	duration time.Duration
	// keyShifts is, by stream, how much later than they decode its
	// keyframes show (index.go).
	keyShifts []int64
}

// OpenDemuxer probes r and returns a demuxer positioned at the first packet.
// r must support seeking; its size is found with Seek(0, io.SeekEnd), or a
// Size() int64 method if it has one. The demuxer calls r only from the
// goroutine using it, and cannot interrupt a Read: a reader over the network
// must itself give up (return an error) when cancelled or timed out.
func OpenDemuxer(r io.ReadSeeker, o DemuxerOptions) (_ *Demuxer, err error) {
	if r == nil {
		return nil, errors.New("media: opening demuxer failed: reader is nil")
	}
	start := time.Now()
	d := &Demuxer{rd: newAVIOReader(r), dataStart: -1}
	defer func() {
		if err != nil {
			d.Close()
		}
	}()

	if d.fc = astiav.AllocFormatContext(); d.fc == nil {
		return nil, errors.New("media: opening demuxer failed: allocating format context failed")
	}
	if d.ioc, err = astiav.AllocIOContext(ReadSize, false, d.rd.read, d.rd.seek, nil); err != nil {
		return nil, fmt.Errorf("media: opening demuxer failed: %w", err)
	}
	d.fc.SetPb(d.ioc)

	opts := astiav.NewDictionary()
	defer opts.Free()
	probe, analyze := o.ProbeSize, o.AnalyzeDuration
	if probe == 0 {
		probe = DefaultProbeSize
	}
	if analyze == 0 {
		analyze = DefaultAnalyzeDuration
	}
	if probe > 0 {
		if err = opts.Set("probesize", strconv.FormatInt(max(probe, 32), 10), 0); err != nil {
			return nil, fmt.Errorf("media: opening demuxer failed: %w", err)
		}
	}
	if analyze > 0 {
		if err = opts.Set("analyzeduration", strconv.FormatInt(analyze.Microseconds(), 10), 0); err != nil {
			return nil, fmt.Errorf("media: opening demuxer failed: %w", err)
		}
	}

	if o.FromJoinPoint {
		if err = opts.Set("fflags", "+ignidx", 0); err != nil {
			return nil, fmt.Errorf("media: opening demuxer failed: %w", err)
		}
	}
	if err = d.fc.OpenInput("", nil, opts); err != nil {
		// avformat_open_input frees the context on failure.
		d.fc = nil
		return nil, d.wrapErr("opening demuxer", err)
	}
	d.opened = true
	if !(o.TrustHeader && d.headerComplete()) {
		if err = d.fc.FindStreamInfo(nil); err != nil {
			return nil, d.wrapErr("opening demuxer", err)
		}
	}
	if d.rd.err != nil {
		return nil, fmt.Errorf("media: opening demuxer failed: %w", d.rd.err)
	}
	d.loadStreams()
	d.estimateSeeking()
	if !slices.ContainsFunc(d.streams, func(s StreamInfo) bool { return s.Kind != KindUnknown }) {
		// Data alone, or subtitles made of pictures, are not a track.
		return nil, fmt.Errorf("media: opening demuxer failed: no audio, video or text subtitle stream (format %s)", d.fc.InputFormat().Name())
	}
	d.stats = OpenStats{Reads: d.rd.reads, Seeks: d.rd.seeks, Bytes: d.rd.bytes, Elapsed: time.Since(start)}
	return d, nil
}

// headerComplete says the input is MP4 or QuickTime and its header gave
// every stream what playing it needs: a picture's size and frame rate, a
// sound's rate and channels, and the container's duration.
func (d *Demuxer) headerComplete() bool {
	if f := d.fc.InputFormat(); f == nil || !strings.HasPrefix(f.Name(), "mov,") {
		return false
	}
	if d.fc.Duration() == astiav.NoPtsValue || d.fc.Duration() <= 0 {
		return false
	}
	for _, s := range d.fc.Streams() {
		cp := s.CodecParameters()
		switch cp.MediaType() {
		case astiav.MediaTypeVideo:
			if cp.Width() <= 0 || cp.Height() <= 0 || s.AvgFrameRate().Num() <= 0 {
				return false
			}
		case astiav.MediaTypeAudio:
			if cp.SampleRate() <= 0 || cp.ChannelLayout().NbChannels() <= 0 {
				return false
			}
		}
	}
	return true
}

// ErrNotMedia is what opening or reading a file FFmpeg finds no audio or
// video in (a text file, a damaged header) fails with.
var ErrNotMedia = errors.New("not media FFmpeg can read")

// wrapErr names the reader's own error when it caused FFmpeg's failure
// (FFmpeg only sees EIO), else FFmpeg's.
func (d *Demuxer) wrapErr(what string, err error) error {
	switch {
	case d.rd.err != nil:
		return fmt.Errorf("media: %s failed: %w", what, d.rd.err)
	case errors.Is(err, astiav.ErrInvaliddata):
		return fmt.Errorf("media: %s failed: %w: %w", what, ErrNotMedia, err)
	}
	return fmt.Errorf("media: %s failed: %w", what, err)
}

func (d *Demuxer) loadStreams() {
	d.avStreams = d.fc.Streams()
	d.streams = make([]StreamInfo, len(d.avStreams))
	for i, s := range d.avStreams {
		cp := s.CodecParameters()
		info := StreamInfo{
			Index:    s.Index(),
			Codec:    cp.CodecID().Name(),
			Start:    toDuration(s.StartTime(), s.TimeBase()),
			Duration: toDuration(s.Duration(), s.TimeBase()),
			BitRate:  cp.BitRate(),
		}
		switch cp.MediaType() {
		case astiav.MediaTypeVideo:
			info.Kind = KindVideo
			info.Width, info.Height = cp.Width(), cp.Height()
			info.Delay = videoDelay(s)
			if fr := s.AvgFrameRate(); fr.Num() > 0 && fr.Den() > 0 {
				info.FrameRate = fr.Float64()
			} else if fr := d.fc.GuessFrameRate(s, nil); fr.Num() > 0 && fr.Den() > 0 {
				info.FrameRate = fr.Float64()
			}
		case astiav.MediaTypeAudio:
			info.Kind = KindAudio
			info.SampleRate = cp.SampleRate()
			info.Channels = cp.ChannelLayout().NbChannels()
		case astiav.MediaTypeSubtitle:
			if textSubtitle(info.Codec) {
				info.Kind = KindSubtitle
			}
		}
		if md := s.Metadata(); md != nil {
			info.Language = dictValue(md, "language")
			info.Title = dictValue(md, "title")
		}
		d.streams[i] = info
	}
}

// Streams describes the file's streams, indexed by stream index.
func (d *Demuxer) Streams() []StreamInfo {
	return append([]StreamInfo(nil), d.streams...)
}

// StartTime is the container's start time on its own timeline (0 if unknown).
func (d *Demuxer) StartTime() time.Duration {
	if d.fc == nil {
		return 0
	}
	if st := d.fc.StartTime(); st != astiav.NoPtsValue {
		return toDuration(st, microsecondQ)
	}
	// Opened on its header alone (TrustHeader): the earliest stream's.
	var start time.Duration
	for i, s := range d.streams {
		if i == 0 || s.Start < start {
			start = s.Start
		}
	}
	return start
}

// Duration is the container's duration (0 if unknown).
func (d *Demuxer) Duration() time.Duration {
	if d.fc == nil {
		return 0
	}
	if d.duration > 0 {
		return d.duration
	}
	return toDuration(d.fc.Duration(), microsecondQ)
}

// BitRate is the container's total bit rate in bits per second (0 if unknown).
func (d *Demuxer) BitRate() int64 {
	if d.fc == nil {
		return 0
	}
	if br := d.fc.BitRate(); br > 0 {
		return br
	}
	// Opened on its header alone (TrustHeader): the streams' together.
	var br int64
	for _, s := range d.streams {
		br += s.BitRate
	}
	return br
}

// OpenStats is the I/O done while opening.
func (d *Demuxer) OpenStats() OpenStats { return d.stats }

// stream returns FFmpeg's stream i, refreshing the list if the demuxer has
// found new streams since opening (as MPEG-TS can).
func (d *Demuxer) stream(i int) *astiav.Stream {
	if i >= len(d.avStreams) && i < d.fc.NbStreams() {
		d.loadStreams()
	}
	if i < 0 || i >= len(d.avStreams) {
		return nil
	}
	return d.avStreams[i]
}

// ReadPacket fills p with the next packet of any stream; it returns io.EOF
// at the end of the file. The caller must Unref p after use (ReadPacket
// also drops whatever p still holds).
func (d *Demuxer) ReadPacket(p *Packet) error {
	if d.fc == nil {
		return errors.New("media: reading packet failed: demuxer is closed")
	}
	if p == nil || p.pkt == nil {
		return errors.New("media: reading packet failed: packet is nil or freed")
	}
	p.pkt.Unref()
	if len(d.pending) > 0 {
		q := d.pending[0]
		d.pending[0] = nil
		d.pending = d.pending[1:]
		p.pkt.MoveRef(q)
		q.Free()
	} else if err := d.readFrame(p.pkt); err != nil {
		if d.rd.err != nil {
			return fmt.Errorf("media: reading packet failed: %w", d.rd.err)
		}
		if errors.Is(err, astiav.ErrEof) {
			if end, ok := d.cutShort(); ok {
				return fmt.Errorf("media: reading packet failed: the file ends at %v but its index runs to %v: %w", d.lastEnd, end, io.ErrUnexpectedEOF)
			}
			return io.EOF
		}
		return fmt.Errorf("media: reading packet failed: %w", err)
	}
	if s := d.stream(p.pkt.StreamIndex()); s != nil {
		p.tb = s.TimeBase()
		if p.HasPTS() {
			d.lastEnd = max(d.lastEnd, p.PTS()+p.Duration())
		}
	}
	return nil
}

// truncationSlack is how much earlier than its index says a file may end
// without being reported as cut short: packet durations are not always
// stored, so the last packet's end is approximate.
const truncationSlack = 250 * time.Millisecond

// cutShort reports whether the file ended before the time its container
// index promises. Only MP4/QuickTime and Matroska/WebM are judged: their
// demuxers stop at the last indexed packet or know the exact duration, so
// reaching the reader's end early means bytes are missing. Other formats
// (Ogg, MP3, WAV, FLAC) simply end where the data ends.
func (d *Demuxer) cutShort() (end time.Duration, ok bool) {
	if !d.rd.sawEOF || d.fc.Duration() == astiav.NoPtsValue || d.fc.Duration() <= 0 {
		return 0, false
	}
	f := d.fc.InputFormat()
	if f == nil {
		return 0, false
	}
	switch name := f.Name(); {
	case strings.HasPrefix(name, "mov,"), strings.HasPrefix(name, "matroska"):
	default:
		return 0, false
	}
	end = d.StartTime() + d.Duration()
	return end, d.lastEnd < end-truncationSlack
}

// seekCheckPackets bounds how far SeekTo reads to check where it landed.
const seekCheckPackets = 512

// SeekTo positions every stream at the keyframe at or before t, where t is
// on the file's own timeline (the domain of Packet.PTS; the start time is
// not removed). Decoders must be flushed afterwards; decoding then discarding
// frames before t gives an exact seek.
//
// Demuxers place a seek by their index, which for H.264 with B-frames holds
// decoding times, and Matroska seeks by its video cues only; so SeekTo reads
// ahead to check that each audio and video stream starts at or before t and,
// if one does not, seeks further back, down to the start of the file. The
// packets read are returned by ReadPacket as usual.
func (d *Demuxer) SeekTo(t time.Duration) error {
	if d.fc == nil {
		return errors.New("media: seeking failed: demuxer is closed")
	}
	target, back := t, time.Second
	for attempt := 0; attempt < 8 && target > d.StartTime(); attempt++ {
		if err := d.seek(target); err != nil {
			return err
		}
		late, err := d.checkSeek(t)
		if err != nil || late <= 0 {
			return err
		}
		// Step back past the late stream's first packet, further each time.
		target -= late + back
		back *= 2
	}
	if err := d.rewind(); err != nil {
		return err
	}
	_, err := d.checkSeek(t)
	return err
}

// readFrame reads the next packet from FFmpeg, noting where the data
// starts and stamping it after a byte seek.
func (d *Demuxer) readFrame(q *astiav.Packet) error {
	if err := d.fc.ReadFrame(q); err != nil {
		return err
	}
	if d.dataStart < 0 && q.Pos() >= 0 {
		d.dataStart = q.Pos()
	}
	d.stamp(q)
	d.noteKeyShift(q)
	return nil
}

func (d *Demuxer) seek(t time.Duration) error {
	d.dropPending()
	d.stamping = false
	if d.byteSeek {
		if err := d.seekByBytes(t); err != nil {
			return d.wrapErr(fmt.Sprintf("seeking to %v", t), err)
		}
		return nil
	}
	ts := astiav.RescaleQ(int64(t), nanosecondQ, microsecondQ)
	err := d.fc.SeekFrame(-1, ts, astiav.NewSeekFlags(astiav.SeekFlagBackward))
	if err != nil && d.rd.err == nil {
		// Nothing indexed at or before t: take the first keyframe after.
		err = d.fc.SeekFrame(-1, ts, astiav.NewSeekFlags())
	}
	if err != nil {
		return d.wrapErr(fmt.Sprintf("seeking to %v", t), err)
	}
	return nil
}

// rewind goes back to the first packet. Seeking the stream that starts
// first to its own start time does it for every format here; seeking the
// default stream may not (Matroska skips audio before the first video
// keyframe).
func (d *Demuxer) rewind() error {
	d.dropPending()
	d.stamping = false
	first := -1
	var firstTS int64
	var firstTB astiav.Rational
	for _, info := range d.streams {
		s := d.avStreams[info.Index]
		if info.Kind == KindUnknown || s.StartTime() == astiav.NoPtsValue {
			continue
		}
		if first < 0 || compareTS(s.StartTime(), s.TimeBase(), firstTS, firstTB) < 0 {
			first, firstTS, firstTB = info.Index, s.StartTime(), s.TimeBase()
		}
	}
	err := errors.New("no stream with a start time")
	if first >= 0 {
		err = d.fc.SeekFrame(first, firstTS, astiav.NewSeekFlags(astiav.SeekFlagBackward))
	}
	if err != nil && d.rd.err == nil {
		err = d.fc.SeekFrame(-1, max(d.fc.StartTime(), 0), astiav.NewSeekFlags())
	}
	if err != nil {
		return d.wrapErr("seeking to the start", err)
	}
	return nil
}

// checkSeek reads ahead until every audio and video stream has shown its
// first packet, buffering them, and returns by how much the latest of those
// starts after t (0 or less if all are in time).
func (d *Demuxer) checkSeek(t time.Duration) (late time.Duration, err error) {
	want := 0
	seen := make([]bool, len(d.streams))
	for _, s := range d.streams {
		if s.Kind != KindUnknown {
			want++
		}
	}
	for n := 0; want > 0 && n < seekCheckPackets; n++ {
		q := astiav.AllocPacket()
		if err := d.readFrame(q); err != nil {
			q.Free()
			if d.rd.err != nil {
				return 0, fmt.Errorf("media: seeking to %v failed: %w", t, d.rd.err)
			}
			if errors.Is(err, astiav.ErrEof) {
				break
			}
			return 0, fmt.Errorf("media: seeking to %v failed: %w", t, err)
		}
		d.pending = append(d.pending, q)
		i := q.StreamIndex()
		s := d.stream(i)
		if s == nil || i >= len(seen) || seen[i] || d.streams[i].Kind == KindUnknown {
			continue
		}
		ts := q.Pts()
		if ts == astiav.NoPtsValue {
			ts = q.Dts()
		}
		if ts == astiav.NoPtsValue {
			continue
		}
		seen[i] = true
		want--
		late = max(late, toDuration(ts, s.TimeBase())-t)
	}
	return late, nil
}

func (d *Demuxer) dropPending() {
	for i, q := range d.pending {
		q.Free()
		d.pending[i] = nil
	}
	d.pending = d.pending[:0]
}

// Close releases the demuxer. It does not close the reader.
func (d *Demuxer) Close() error {
	d.dropPending()
	if d.fc != nil {
		if d.opened {
			// With a custom AVIOContext this leaves the context to us.
			d.fc.CloseInput()
		} else {
			d.fc.Free()
		}
		d.fc = nil
	}
	if d.ioc != nil {
		d.ioc.Free()
		d.ioc = nil
	}
	return nil
}

// codecStream returns stream i for a decoder to read its parameters.
func (d *Demuxer) codecStream(i int) (*astiav.Stream, error) {
	if d.fc == nil {
		return nil, errors.New("demuxer is closed")
	}
	s := d.stream(i)
	if s == nil {
		return nil, fmt.Errorf("no stream %d", i)
	}
	return s, nil
}
