package sync

import (
	"context"
	gosync "sync"

	"reelay/media"
)

// queuedPacket is one entry of a packetQueue: a compressed packet, or the
// end of the stream.
type queuedPacket struct {
	// pkt is the packet; nil for the end marker.
	pkt *media.Packet
	// end marks the end of the stream in this epoch.
	end bool
	// alone says pkt is a keyframe read by itself, whose picture must come
	// out before the next packet goes in (thin.go).
	alone bool
	// trips is how many round trips the track's reads had waited for in
	// sequence, since opening or the seek, once pkt was read.
	trips int
}

// packetQueue carries one stream's compressed packets from the demux
// goroutine to its decode goroutine, like ffplay's PacketQueue. It never
// blocks the demuxer: how much it holds is bounded by the demux loop, which
// stops reading once every stream is BufferTarget ahead of the clock.
type packetQueue struct {
	// mu guards items and bytes.
	mu gosync.Mutex
	// items are the queued entries, oldest first.
	items []queuedPacket
	// bytes is the payload queued, for the demuxer's memory bound.
	bytes int
	// ready wakes the decoder waiting for an entry.
	ready chan struct{}
}

func newPacketQueue() *packetQueue {
	return &packetQueue{ready: make(chan struct{}, 1)}
}

func (q *packetQueue) put(e queuedPacket) {
	q.mu.Lock()
	q.items = append(q.items, e)
	if e.pkt != nil {
		q.bytes += e.pkt.Size()
	}
	q.mu.Unlock()
	select {
	case q.ready <- struct{}{}:
	default:
	}
}

// get waits for the oldest entry; it fails only when ctx ends.
func (q *packetQueue) get(ctx context.Context) (queuedPacket, error) {
	for {
		q.mu.Lock()
		if len(q.items) > 0 {
			e := q.items[0]
			q.items[0] = queuedPacket{}
			q.items = q.items[1:]
			if e.pkt != nil {
				q.bytes -= e.pkt.Size()
			}
			q.mu.Unlock()
			return e, nil
		}
		q.mu.Unlock()
		select {
		case <-ctx.Done():
			return queuedPacket{}, ctx.Err()
		case <-q.ready:
		}
	}
}

func (q *packetQueue) size() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.bytes
}

// flush empties the queue, handing every packet to release.
func (q *packetQueue) flush(release func(*media.Packet)) {
	q.mu.Lock()
	items := q.items
	q.items, q.bytes = nil, 0
	q.mu.Unlock()
	for _, e := range items {
		if e.pkt != nil {
			release(e.pkt)
		}
	}
}

// packetPool recycles packets between the demuxer and the decoders, so
// steady playback allocates no FFmpeg packets.
type packetPool struct {
	// mu guards free.
	mu gosync.Mutex
	// free are unreferenced packets ready to be filled.
	free []*media.Packet
}

// maxPooledPackets bounds the packets kept for reuse; the rest are freed.
const maxPooledPackets = 256

func (pp *packetPool) get() *media.Packet {
	pp.mu.Lock()
	defer pp.mu.Unlock()
	if n := len(pp.free); n > 0 {
		p := pp.free[n-1]
		pp.free = pp.free[:n-1]
		return p
	}
	return media.NewPacket()
}

func (pp *packetPool) put(p *media.Packet) {
	p.Unref()
	pp.mu.Lock()
	defer pp.mu.Unlock()
	if len(pp.free) < maxPooledPackets {
		pp.free = append(pp.free, p)
		return
	}
	p.Free()
}

// close frees every pooled packet.
func (pp *packetPool) close() {
	pp.mu.Lock()
	defer pp.mu.Unlock()
	for _, p := range pp.free {
		p.Free()
	}
	pp.free = nil
}
