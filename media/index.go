package media

/*
#cgo pkg-config: libavformat
#include <string.h>
#include <libavformat/avformat.h>

static int reelay_index_count(AVStream *st) { return avformat_index_get_entries_count(st); }

// reelay_index_entry copies entry i; it returns 0 when there is none.
static int reelay_index_entry(AVStream *st, int i, int64_t *pos, int64_t *ts, int *size, int *flags) {
	const AVIndexEntry *e = avformat_index_get_entry(st, i);
	if (!e) return 0;
	*pos = e->pos;
	*ts = e->timestamp;
	*size = e->size;
	*flags = e->flags;
	return 1;
}

static int reelay_stream_index(AVStream *st) { return st->index; }

static int reelay_video_delay(AVStream *st) { return st->codecpar->video_delay; }

// reelay_packet_fill gives pkt a copy of data, with the zeroed padding
// decoders may read past the end.
static int reelay_packet_fill(AVPacket *pkt, const void *data, int size) {
	int ret = av_new_packet(pkt, size);
	if (ret < 0) return ret;
	memcpy(pkt->data, data, size);
	return 0;
}
*/
import "C"

import (
	"errors"
	"fmt"
	"io"
	"time"
	"unsafe"

	"github.com/asticode/go-astiav"
)

// IndexEntry is where one packet of a stream lies in its file, as the
// container's index tells. A player that cannot fetch a whole file can
// fetch just the packets it needs: the keyframes of a picture, one
// picture each, and the sound between.
type IndexEntry struct {
	// PTS is when the packet shows, on the file's own timeline (the domain
	// of Packet.PTS): exact for keyframes and for sound; a picture between
	// keyframes may show later (B-frames).
	PTS time.Duration
	// Pos and Size are the packet's bytes in the file.
	Pos  int64
	Size int64
	// Key says decoding can start at the packet.
	Key bool
	// dts is the index's timestamp in the stream's time base.
	dts int64
}

// avPacket returns the C packet behind q, as avStream does.
func avPacket(q *astiav.Packet) *C.AVPacket {
	return *(**C.AVPacket)(unsafe.Pointer(q))
}

// avStream returns the C stream behind s. astiav.Stream is a struct of
// one field, the C pointer (go-astiav v0.16.0 offers no accessor); Index
// checks the pointer by the stream index it holds.
func avStream(s *astiav.Stream) *C.AVStream {
	return *(**C.AVStream)(unsafe.Pointer(s))
}

// videoDelay is the stream's video_delay, which go-astiav v0.16.0 does not
// expose.
func videoDelay(s *astiav.Stream) int { return int(C.reelay_video_delay(avStream(s))) }

// Index lists the packets of stream i in decoding order, from the
// container's index, when the index gives each one's bytes: MP4 and
// QuickTime do; Matroska's cues, MPEG-TS and Ogg do not, and give nil.
// Packets the container marks to be dropped (an encoder's priming) are
// left out.
func (d *Demuxer) Index(i int) []IndexEntry {
	s := d.stream(i)
	if s == nil {
		return nil
	}
	st := avStream(s)
	if int(C.reelay_stream_index(st)) != i {
		return nil
	}
	tb := s.TimeBase()
	shift := d.keyShift(i)
	n := int(C.reelay_index_count(st))
	entries := make([]IndexEntry, 0, n)
	for e := range n {
		var pos, ts C.int64_t
		var size, flags C.int
		if C.reelay_index_entry(st, C.int(e), &pos, &ts, &size, &flags) == 0 {
			return nil
		}
		if pos < 0 || size <= 0 || ts == C.AV_NOPTS_VALUE {
			// An index of places to start reading (Matroska's cues), not
			// of packets.
			return nil
		}
		if flags&C.AVINDEX_DISCARD_FRAME != 0 {
			continue
		}
		entries = append(entries, IndexEntry{
			PTS: toDuration(int64(ts)+shift, tb), Pos: int64(pos), Size: int64(size),
			Key: flags&C.AVINDEX_KEYFRAME != 0, dts: int64(ts),
		})
	}
	if len(entries) == 0 {
		return nil
	}
	return entries
}

// Indexed says Index locates stream i's packets, without listing them.
func (d *Demuxer) Indexed(i int) bool {
	s := d.stream(i)
	if s == nil {
		return false
	}
	st := avStream(s)
	if int(C.reelay_stream_index(st)) != i || C.reelay_index_count(st) == 0 {
		return false
	}
	var pos, ts C.int64_t
	var size, flags C.int
	return C.reelay_index_entry(st, 0, &pos, &ts, &size, &flags) != 0 && pos >= 0 && size > 0 && ts != C.AV_NOPTS_VALUE
}

// Keyframes lists the keyframes of stream i from Index, nil when the
// index does not locate packets.
func (d *Demuxer) Keyframes(i int) []IndexEntry {
	var keys []IndexEntry
	for _, e := range d.Index(i) {
		if e.Key {
			keys = append(keys, e)
		}
	}
	return keys
}

// KeyDelay is how much later than it decodes a keyframe of stream i
// shows, as the last keyframe read said (B-frames delay presentation by a
// constant), 0 before one was read: Index's times include the delay known
// when it is called, so an index read before any packet holds decoding
// times.
func (d *Demuxer) KeyDelay(i int) time.Duration {
	s := d.stream(i)
	if s == nil {
		return 0
	}
	return toDuration(d.keyShift(i), s.TimeBase())
}

// keyShift is how much later than it decodes a keyframe of stream i
// shows, in its time base, as its last keyframe read said (the index
// holds decoding times; B-frames delay presentation by a constant).
func (d *Demuxer) keyShift(i int) int64 {
	if i < len(d.keyShifts) {
		return d.keyShifts[i]
	}
	return 0
}

// noteKeyShift remembers, from a keyframe packet read, how much later
// than it decodes its stream's keyframes show.
func (d *Demuxer) noteKeyShift(q *astiav.Packet) {
	if !q.Flags().Has(astiav.PacketFlagKey) || q.Pts() == astiav.NoPtsValue || q.Dts() == astiav.NoPtsValue {
		return
	}
	i := q.StreamIndex()
	if i < 0 || i >= len(d.streams) {
		return
	}
	for len(d.keyShifts) <= i {
		d.keyShifts = append(d.keyShifts, 0)
	}
	d.keyShifts[i] = q.Pts() - q.Dts()
}

// maxIndexedPacket bounds the size an index may claim for one packet.
const maxIndexedPacket = 64 << 20

// FillPacket fills p with entry e of stream i, whose bytes data the
// caller read from the file at e.Pos: a packet a decoder takes as one
// from ReadPacket. It does not move the demuxer.
func (d *Demuxer) FillPacket(i int, e IndexEntry, data []byte, p *Packet) error {
	s := d.stream(i)
	if s == nil {
		return fmt.Errorf("media: filling packet failed: no stream %d", i)
	}
	if p == nil || p.pkt == nil {
		return errors.New("media: filling packet failed: packet is nil or freed")
	}
	if e.Size <= 0 || e.Size > maxIndexedPacket || int64(len(data)) != e.Size {
		return fmt.Errorf("media: filling packet at byte %d failed: %d bytes for a packet of %d", e.Pos, len(data), e.Size)
	}
	p.pkt.Unref()
	if ret := C.reelay_packet_fill(avPacket(p.pkt), unsafe.Pointer(&data[0]), C.int(len(data))); ret < 0 {
		return fmt.Errorf("media: filling packet at byte %d failed: %w", e.Pos, astiav.Error(ret))
	}
	tb := s.TimeBase()
	p.tb = tb
	p.pkt.SetStreamIndex(i)
	p.pkt.SetDts(e.dts)
	p.pkt.SetPts(e.dts + d.keyShift(i))
	p.pkt.SetPos(e.Pos)
	if e.Key {
		p.pkt.SetFlags(astiav.NewPacketFlags(astiav.PacketFlagKey))
	}
	return nil
}

// ReadIndexed reads entry e of stream i from r, the file the demuxer
// reads, into p (FillPacket).
func (d *Demuxer) ReadIndexed(r io.ReaderAt, i int, e IndexEntry, p *Packet) error {
	if e.Size <= 0 || e.Size > maxIndexedPacket {
		return fmt.Errorf("media: reading packet at byte %d failed: size %d is not a packet's", e.Pos, e.Size)
	}
	buf := make([]byte, e.Size)
	if n, err := r.ReadAt(buf, e.Pos); n < len(buf) {
		if err == nil || errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return fmt.Errorf("media: reading packet at byte %d failed: %w", e.Pos, err)
	}
	return d.FillPacket(i, e, buf, p)
}
