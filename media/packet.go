package media

import (
	"time"

	"github.com/asticode/go-astiav"
)

// Packet is one compressed frame read from a Demuxer. The caller owns it:
// allocate it once with NewPacket, Unref it after each use, Free it at the
// end.
type Packet struct {
	// pkt is the FFmpeg packet; its timestamps are in tb.
	pkt *astiav.Packet
	// tb is the time base of the stream the packet came from, set by
	// Demuxer.ReadPacket.
	tb astiav.Rational
}

// NewPacket allocates an empty packet.
func NewPacket() *Packet {
	return &Packet{pkt: astiav.AllocPacket()}
}

// StreamIndex is the index of the stream the packet belongs to.
func (p *Packet) StreamIndex() int { return p.pkt.StreamIndex() }

// HasPTS reports whether the packet carries a presentation or, failing
// that, a decoding timestamp.
func (p *Packet) HasPTS() bool {
	return p.pkt.Pts() != astiav.NoPtsValue || p.pkt.Dts() != astiav.NoPtsValue
}

// PTS is the packet's presentation time on the file's own timeline, falling
// back to its decoding time; 0 when HasPTS is false.
func (p *Packet) PTS() time.Duration {
	ts := p.pkt.Pts()
	if ts == astiav.NoPtsValue {
		ts = p.pkt.Dts()
	}
	return toDuration(ts, p.tb)
}

// DTS is the packet's decoding time (0 if unknown).
func (p *Packet) DTS() time.Duration { return toDuration(p.pkt.Dts(), p.tb) }

// Duration is how long the packet plays (0 if unknown).
func (p *Packet) Duration() time.Duration { return toDuration(p.pkt.Duration(), p.tb) }

// IsKey reports whether decoding can start at this packet.
func (p *Packet) IsKey() bool { return p.pkt.Flags().Has(astiav.PacketFlagKey) }

// Size is the packet's payload size in bytes.
func (p *Packet) Size() int { return p.pkt.Size() }

// Unref drops the payload so the packet can be filled again.
func (p *Packet) Unref() { p.pkt.Unref() }

// Free releases the packet; it must not be used afterwards.
func (p *Packet) Free() {
	if p.pkt != nil {
		p.pkt.Free()
		p.pkt = nil
	}
}

// Pos is the byte of the file the packet was read from (-1 if unknown).
func (p *Packet) Pos() int64 { return p.pkt.Pos() }

// Data returns a copy of the packet's payload.
func (p *Packet) Data() []byte { return p.pkt.Data() }
