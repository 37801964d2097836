package media

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/asticode/go-astiav"
)

// Seeking files without an index.
//
// An MP3 without a table of contents and an ADTS AAC stream carry no index,
// and FFmpeg seeks them by reading from the start to the target: a far
// seek in a 2-hour talk pulls the whole file through the reader, which
// over the network is the whole file over the link. Reelay places such a
// seek by a byte estimate instead, which a constant bit rate makes exact
// and a near-constant one close, and the decoders then discard up to the
// target's sample as after any seek:
//   - MP3: FFmpeg's own estimate, turned on with fast seek: it scales the
//     time to a byte position (or follows the Xing table of contents of a
//     variable bit rate file), finds the next frame and stamps it with the
//     time it aimed at.
//   - ADTS AAC, which FFmpeg cannot seek but by reading (nor resync past
//     the first probesize bytes): SeekTo reads a few kilobytes where the
//     target should be, finds a frame header there (one whose length leads
//     to another header), measures the mean frame length of the frames
//     that follow, and aims again with it, reading once more where that
//     lands. Every AAC frame holds the same number of
//     samples, so the mean length turns bytes into time better than
//     FFmpeg's duration, which it guesses from the first frames' bit rate;
//     the duration itself is measured so from the last frames.
//     The demuxer is sent to the frame found; the packets that follow,
//     whose times FFmpeg counts from zero again, are stamped from that
//     frame's byte position on, one frame's duration apart.

// estimateSeekLead is how far before the target a byte estimate aims, so
// the frame found after it (a resync moves forwards) starts at or before
// the target and SeekTo need not step back.
const estimateSeekLead = 200 * time.Millisecond

// adtsScan is how much seekByBytes reads at an estimate: ADTS frames are
// at most 8 KiB, and a 32 kbit/s talk's are 200 bytes, so it holds from a
// few frames to a few seconds of them.
const adtsScan = 32 << 10

// minMeasuredFrames is how many frames a scan must chain for their mean
// length to be used.
const minMeasuredFrames = 16

// estimateSeeking sets up seeking by a byte estimate for the formats that
// need it, once the demuxer is open.
func (d *Demuxer) estimateSeeking() {
	f := d.fc.InputFormat()
	if f == nil {
		return
	}
	switch f.Name() {
	case "mp3":
		d.fc.SetFlags(d.fc.Flags().Add(astiav.FormatContextFlagFastSeek))
	case "aac":
		size, err := d.rd.streamSize()
		if err != nil || size <= 0 || len(d.avStreams) != 1 || d.Duration() <= 0 {
			return
		}
		cp := d.avStreams[0].CodecParameters()
		if cp.SampleRate() <= 0 {
			return
		}
		d.byteSeek = true
		// AAC-LC frames hold 1024 samples (FFmpeg may not say until one is
		// decoded).
		samples := cp.FrameSize()
		if samples <= 0 {
			samples = 1024
		}
		d.frameTime = time.Duration(samples) * time.Second / time.Duration(cp.SampleRate())
		// FFmpeg guesses the duration from the first frames' bit rate (40 s
		// short of 20 minutes in a test file); the mean frame length of the
		// last frames, which a network reader fetched as it opened, does
		// better, and lets a seek reach the end.
		if _, bpf, err := d.scanADTS(size - adtsScan); err == nil && bpf > 0 {
			d.duration = time.Duration(float64(size) / bpf * float64(d.frameTime))
			d.streams[0].Duration = d.duration
		}
	}
}

// seekByBytes sends the demuxer to the ADTS frame where t is estimated to
// be, a little before, and turns on stamping for the packets that follow.
func (d *Demuxer) seekByBytes(t time.Duration) error {
	if d.dataStart < 0 {
		// Nothing read yet: the data is taken to start the file (an ID3
		// tag before ADTS frames is rare, and small against the file).
		d.dataStart = 0
	}
	want := max(t-estimateSeekLead-d.StartTime(), 0)
	at := d.dataStart + int64(float64(d.rd.size-d.dataStart)*min(float64(want)/float64(d.Duration()), 1))
	frame, bytesPerFrame, err := d.scanADTS(at)
	if err != nil {
		return err
	}
	if bytesPerFrame > 0 {
		// Aim again by the measured frame length. Within the bytes just
		// read, a network reader answers from its cache.
		again := d.dataStart + int64(float64(want)/float64(d.frameTime)*bytesPerFrame)
		f, bpf, err := d.scanADTS(again)
		if err != nil {
			return err
		}
		frame = f
		if bpf > 0 {
			bytesPerFrame = bpf
		}
	}
	if err := d.fc.SeekFrame(-1, frame, astiav.NewSeekFlags(astiav.SeekFlagByte)); err != nil {
		return err
	}
	d.stamping, d.stampNext, d.stampFrom, d.bytesPerFrame = true, astiav.NoPtsValue, frame, bytesPerFrame
	return nil
}

// stamp gives a packet read after a byte seek its time, which FFmpeg does
// not know (it counts from zero again): the first one's from its byte
// position, each later one a frame after its predecessor, until the next
// seek.
func (d *Demuxer) stamp(q *astiav.Packet) {
	if !d.stamping {
		return
	}
	s := d.stream(q.StreamIndex())
	if s == nil {
		return
	}
	tb := s.TimeBase()
	if d.stampNext == astiav.NoPtsValue {
		d.stampNext = astiav.RescaleQ(int64(d.timeAt(d.stampFrom)), nanosecondQ, tb)
	}
	q.SetPts(d.stampNext)
	q.SetDts(d.stampNext)
	dur := astiav.RescaleQ(int64(d.frameTime), nanosecondQ, tb)
	q.SetDuration(dur)
	d.stampNext += dur
}

// timeAt is the time of the frame at byte pos: by the mean frame length
// measured there, or in proportion to FFmpeg's duration.
func (d *Demuxer) timeAt(pos int64) time.Duration {
	if d.bytesPerFrame > 0 {
		return d.StartTime() + time.Duration(float64(pos-d.dataStart)/d.bytesPerFrame*float64(d.frameTime))
	}
	return d.StartTime() + time.Duration(float64(d.Duration())*float64(pos-d.dataStart)/float64(d.rd.size-d.dataStart))
}

// errNoADTSFrame says no ADTS frame header was found where one was sought.
var errNoADTSFrame = errors.New("no ADTS frame header")

// scanADTS reads adtsScan bytes from pos (kept clear of the end) and
// returns the first ADTS frame in them that another follows, and the mean
// length of the frames chained from it (0 if fewer than
// minMeasuredFrames). It reads the caller's reader directly and puts its
// position back for FFmpeg's buffered reader.
func (d *Demuxer) scanADTS(pos int64) (frame int64, bytesPerFrame float64, err error) {
	pos = max(d.dataStart, min(pos, d.rd.size-adtsScan))
	r := d.rd.r
	cur, err := r.Seek(0, io.SeekCurrent)
	if err != nil {
		return 0, 0, err
	}
	defer r.Seek(cur, io.SeekStart)
	if _, err := r.Seek(pos, io.SeekStart); err != nil {
		return 0, 0, err
	}
	buf := make([]byte, adtsScan)
	n, err := io.ReadFull(r, buf)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return 0, 0, err
	}
	buf = buf[:n]
	for i := 0; i+7 <= len(buf); i++ {
		l := adtsFrameLength(buf[i:])
		if l == 0 {
			continue
		}
		// The next header must follow with the same stream parameters
		// (profile, sampling rate, channels), or the file end there.
		next := i + l
		followed := next+7 <= len(buf) && adtsFrameLength(buf[next:]) > 0 &&
			buf[next+2] == buf[i+2] && buf[next+3]&0xf0 == buf[i+3]&0xf0
		if !followed && pos+int64(next) != d.rd.size {
			continue
		}
		frames, end := 1, next
		for end+7 <= len(buf) {
			l := adtsFrameLength(buf[end:])
			if l == 0 || end+l > len(buf) {
				break
			}
			frames, end = frames+1, end+l
		}
		if frames >= minMeasuredFrames {
			bytesPerFrame = float64(end-i) / float64(frames)
		}
		return pos + int64(i), bytesPerFrame, nil
	}
	return 0, 0, fmt.Errorf("%w in %d bytes from %d", errNoADTSFrame, len(buf), pos)
}

// adtsFrameLength is the length of the ADTS frame whose header starts b, or
// 0 if b does not start one: a 12-bit sync word, layer 0, and a length of
// at least the header's.
func adtsFrameLength(b []byte) int {
	if len(b) < 7 || b[0] != 0xff || b[1]&0xf6 != 0xf0 {
		return 0
	}
	l := int(b[3]&0x03)<<11 | int(b[4])<<3 | int(b[5])>>5
	if l < 7 {
		return 0
	}
	return l
}
