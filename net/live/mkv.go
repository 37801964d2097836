package live

import (
	"io"
	"math/bits"
	"time"
)

// Matroska element IDs (with their length marker bits, as written).
const (
	idEBML           = 0x1A45DFA3
	idSegment        = 0x18538067
	idSeekHead       = 0x114D9B74
	idInfo           = 0x1549A966
	idTracks         = 0x1654AE6B
	idCluster        = 0x1F43B675
	idCues           = 0x1C53BB6B
	idAttachments    = 0x1941A469
	idChapters       = 0x1043A770
	idTags           = 0x1254C367
	idVoid           = 0xEC
	idCRC32          = 0xBF
	idTimestampScale = 0x2AD7B1
	idTrackEntry     = 0xAE
	idTrackNumber    = 0xD7
	idTrackType      = 0x83
	idDefaultDur     = 0x23E383
	idTimestamp      = 0xE7
	idSimpleBlock    = 0xA3
	idBlockGroup     = 0xA0
	idBlock          = 0xA1
	idReferenceBlock = 0xFB
	idBlockDuration  = 0x9B
)

// defaultScale is Matroska's TimestampScale when Info gives none: 1 ms.
const defaultScale = 1_000_000

// mkvState is where the Matroska walk stands between scans.
type mkvState struct {
	next      int64  // the next element to read: top level before the Segment, level 1 in it
	inSegment bool   // the Segment's header was read
	segOff    int64  // the Segment element's offset, to read its size again
	segStart  int64  // the offset of the Segment's first child
	segEnd    int64  // the Segment's end, -1 while its size is unknown
	scale     int64  // TimestampScale: nanoseconds per tick
	tracks    bool   // Tracks was read
	track     uint64 // the indexed track's number, 0 for none
	defDur    int64  // its DefaultDuration in nanoseconds, 0 when not given
	cl        clusterWalk
}

// clusterWalk is how far the walk of the Cluster being read got: a
// cluster still being written (unknown size) is read on from here at the
// next scan rather than from its start.
type clusterWalk struct {
	off    int64 // the Cluster's offset, -1 when no cluster is open
	hlen   int64 // its header's length, to notice a rewritten header
	pos    int64 // the offset of its next child
	ts     int64 // its Timestamp, in ticks
	key    bool  // a keyframe of the indexed track was seen
	keyRel int64 // that keyframe's timestamp relative to ts, in ticks
	has    bool  // a block of the indexed track was seen
	endNs  int64 // the latest end of the track's blocks relative to ts, in ns
}

func (st *mkvState) reset() {
	*st = mkvState{segEnd: -1, scale: defaultScale, cl: clusterWalk{off: -1}}
}

// elem is an element header.
type elem struct {
	id      uint32
	hlen    int64 // length of ID and size
	size    int64 // payload length, when known
	unknown bool  // the size is "unknown" (all ones): up to the parent's end or the next upper element
	start   int64 // payload offset
	end     int64 // offset after the element, when its size is known
}

// status says whether a header could be parsed.
type status uint8

const (
	short status = iota // not all its bytes are there yet
	good
	bad // not a valid header
)

// vint parses an EBML variable-length integer of at most max bytes; keep
// leaves the length marker in (for IDs).
func vint(b []byte, max int, keep bool) (uint64, int, status) {
	if len(b) == 0 {
		return 0, 0, short
	}
	l := bits.LeadingZeros8(b[0]) + 1
	if l > max {
		return 0, 0, bad
	}
	if len(b) < l {
		return 0, 0, short
	}
	v := uint64(b[0])
	if !keep {
		v &= 0xFF >> l
	}
	for _, c := range b[1:l] {
		v = v<<8 | uint64(c)
	}
	return v, l, good
}

// parseElem parses an element header at the start of b, for an element at
// offset off.
func parseElem(b []byte, off int64) (elem, status) {
	id, il, st := vint(b, 4, true)
	if st != good {
		return elem{}, st
	}
	sz, sl, st := vint(b[il:], 8, false)
	if st != good {
		return elem{}, st
	}
	e := elem{id: uint32(id), hlen: int64(il + sl), start: off + int64(il+sl)}
	if sz == 1<<(7*sl)-1 {
		e.unknown = true
		return e, good
	}
	if sz > uint64(1<<62) || e.start > 1<<62 {
		return elem{}, bad
	}
	e.size = int64(sz)
	e.end = e.start + e.size
	return e, good
}

// elemHeader reads the header of the element at off, reading no further
// than limit. ok is false when the header is not all there; a header that
// cannot be one is errMalformed.
func (s *Scanner) elemHeader(r io.ReaderAt, off, limit int64) (elem, bool, error) {
	n := min(limit-off, 12)
	if n <= 0 {
		return elem{}, false, nil
	}
	b := s.scratch[:n]
	if err := readAt(r, b, off); err != nil {
		return elem{}, false, err
	}
	e, st := parseElem(b, off)
	switch st {
	case bad:
		return elem{}, false, errMalformed
	case short:
		return elem{}, false, nil
	}
	return e, true, nil
}

// upper reports whether an element ID belongs above a Cluster's children:
// it ends a Cluster of unknown size.
func upper(id uint32) bool {
	switch id {
	case idEBML, idSegment, idSeekHead, idInfo, idTracks, idCluster,
		idCues, idAttachments, idChapters, idTags:
		return true
	}
	return false
}

// scanMKV walks the EBML header and the Segment's children from where the
// last scan stopped.
func (s *Scanner) scanMKV(r io.ReaderAt, size int64) error {
	st := &s.mkv
	if !st.inSegment {
		if err := s.mkvTop(r, size); err != nil || !st.inSegment {
			return err
		}
	} else {
		// A recorder sets the Segment's size when it stops.
		h, ok, err := s.elemHeader(r, st.segOff, size)
		if err != nil {
			return err
		}
		if ok && h.id == idSegment && h.start == st.segStart && !h.unknown {
			st.segEnd = h.end
		}
	}
	for {
		limit := size
		if st.segEnd >= 0 {
			if st.next >= st.segEnd {
				s.done = st.next == st.segEnd
				return nil
			}
			limit = min(size, st.segEnd)
		}
		off := st.next
		h, ok, err := s.elemHeader(r, off, limit)
		if err != nil || !ok {
			return err
		}
		if h.id == idCluster {
			closed, err := s.walkCluster(r, off, h, size)
			if err != nil || !closed {
				return err
			}
			continue
		}
		if h.unknown || h.id == idEBML || h.id == idSegment {
			return errMalformed
		}
		if st.segEnd >= 0 && h.end > st.segEnd {
			return errMalformed
		}
		if h.end > size {
			return nil
		}
		switch h.id {
		case idInfo, idTracks:
			if h.size > maxRead {
				return errMalformed
			}
			b := s.grow(int(h.size))
			if err := readAt(r, b, h.start); err != nil {
				return err
			}
			if h.id == idInfo {
				st.readInfo(b)
			} else if !st.tracks {
				s.video = st.readTracks(b)
			}
		}
		st.next = h.end
		s.whole = h.end
	}
}

// mkvTop walks the top-level elements up to the Segment's header.
func (s *Scanner) mkvTop(r io.ReaderAt, size int64) error {
	st := &s.mkv
	for {
		h, ok, err := s.elemHeader(r, st.next, size)
		if err != nil || !ok {
			return err
		}
		switch h.id {
		case idSegment:
			st.inSegment = true
			st.segOff, st.segStart = st.next, h.start
			if !h.unknown {
				st.segEnd = h.end
			}
			st.next = h.start
			s.whole = h.start
			return nil
		case idEBML, idVoid, idCRC32:
			if h.unknown {
				return errMalformed
			}
			if h.end > size {
				return nil
			}
			st.next = h.end
			s.whole = h.end
		default:
			return errMalformed
		}
	}
}

// walkCluster reads the Cluster at off from where its walk got to, and
// reports whether it is whole and taken in.
func (s *Scanner) walkCluster(r io.ReaderAt, off int64, h elem, size int64) (bool, error) {
	st := &s.mkv
	if !st.tracks {
		return false, errMalformed
	}
	if s.header == 0 {
		s.header = off
	}
	cl := &st.cl
	if cl.off != off || cl.hlen != h.hlen {
		*cl = clusterWalk{off: off, hlen: h.hlen, pos: h.start}
	}
	// parent is where the cluster surely ends: its size, or else the
	// Segment's end if known; -1 when only the next upper element tells.
	parent := st.segEnd
	if !h.unknown {
		if st.segEnd >= 0 && h.end > st.segEnd {
			return false, errMalformed
		}
		parent = h.end
	}
	for cl.pos != parent {
		limit := size
		if parent >= 0 {
			limit = min(size, parent)
		}
		c, ok, err := s.elemHeader(r, cl.pos, limit)
		if err != nil {
			return false, err
		}
		if !ok {
			if parent >= 0 && parent <= size {
				return false, errMalformed // the parent ends within this header
			}
			return false, nil
		}
		if h.unknown && upper(c.id) {
			break
		}
		if c.unknown || (parent >= 0 && c.end > parent) {
			return false, errMalformed
		}
		if c.end > size {
			return false, nil
		}
		switch c.id {
		case idTimestamp:
			v, err := s.readUint(r, c)
			if err != nil {
				return false, err
			}
			cl.ts = int64(v)
		case idSimpleBlock:
			track, rel, flags, ok, err := s.blockHeader(r, c)
			if err != nil {
				return false, err
			}
			if ok && track == st.track {
				st.seeBlock(rel, flags&0x80 != 0, -1)
			}
		case idBlockGroup:
			if err := s.blockGroup(r, c); err != nil {
				return false, err
			}
		}
		cl.pos = c.end
	}
	// The cluster ends at cl.pos: whole.
	t0 := cl.ts * st.scale
	if cl.key {
		s.addPoint(off, timeNs(t0+cl.keyRel*st.scale))
	}
	if cl.has {
		s.seeEnd(timeNs(t0 + cl.endNs))
	}
	st.next = cl.pos
	s.whole = cl.pos
	st.cl = clusterWalk{off: -1}
	return true, nil
}

// seeBlock takes in a block of the indexed track at rel ticks from the
// cluster's timestamp; dur is its BlockDuration in ticks, or -1.
func (st *mkvState) seeBlock(rel int64, key bool, dur int64) {
	cl := &st.cl
	if key && !cl.key {
		cl.key, cl.keyRel = true, rel
	}
	d := st.defDur
	if dur >= 0 {
		d = dur * st.scale
	}
	if e := rel*st.scale + d; !cl.has || e > cl.endNs {
		cl.endNs = e
	}
	cl.has = true
}

// blockGroup reads a BlockGroup's Block, ReferenceBlock and BlockDuration:
// a block that references none is a keyframe.
func (s *Scanner) blockGroup(r io.ReaderAt, g elem) error {
	st := &s.mkv
	var track uint64
	var rel int64
	found, ref, dur := false, false, int64(-1)
	for pos := g.start; pos < g.end; {
		c, ok, err := s.elemHeader(r, pos, g.end)
		if err != nil {
			return err
		}
		if !ok || c.unknown || c.end > g.end {
			return errMalformed
		}
		switch c.id {
		case idBlock:
			t, rl, _, ok, err := s.blockHeader(r, c)
			if err != nil {
				return err
			}
			track, rel, found = t, rl, ok
		case idReferenceBlock:
			ref = true
		case idBlockDuration:
			v, err := s.readUint(r, c)
			if err != nil {
				return err
			}
			dur = int64(v & (1<<62 - 1))
		}
		pos = c.end
	}
	if found && track == st.track {
		st.seeBlock(rel, !ref, dur)
	}
	return nil
}

// blockHeader reads a (Simple)Block's track number, relative timestamp and
// flags; ok is false for a block too short to have them.
func (s *Scanner) blockHeader(r io.ReaderAt, c elem) (track uint64, rel int64, flags byte, ok bool, err error) {
	n := min(c.size, 11)
	b := s.scratch[:n]
	if err := readAt(r, b, c.start); err != nil {
		return 0, 0, 0, false, err
	}
	t, l, st := vint(b, 8, false)
	if st != good || len(b) < l+3 {
		return 0, 0, 0, false, nil
	}
	return t, int64(int16(uint16(b[l])<<8 | uint16(b[l+1]))), b[l+2], true, nil
}

// readUint reads an unsigned integer element of up to 8 bytes.
func (s *Scanner) readUint(r io.ReaderAt, c elem) (uint64, error) {
	if c.size > 8 {
		return 0, errMalformed
	}
	b := s.scratch[:c.size]
	if err := readAt(r, b, c.start); err != nil {
		return 0, err
	}
	return beUint(b), nil
}

func beUint(b []byte) uint64 {
	var v uint64
	for _, c := range b {
		v = v<<8 | uint64(c)
	}
	return v
}

// eachElem calls fn with each whole child element of payload b.
func eachElem(b []byte, fn func(id uint32, payload []byte)) {
	for len(b) > 0 {
		e, st := parseElem(b, 0)
		if st != good || e.unknown || e.end > int64(len(b)) {
			return
		}
		fn(e.id, b[e.start:e.end])
		b = b[e.end:]
	}
}

// readInfo takes the TimestampScale from Info's payload.
func (st *mkvState) readInfo(b []byte) {
	eachElem(b, func(id uint32, p []byte) {
		if id == idTimestampScale && len(p) <= 8 {
			if v := beUint(p); v > 0 && v < 1<<40 {
				st.scale = int64(v)
			}
		}
	})
}

// readTracks picks the indexed track from Tracks' payload: the first
// video track, else the first audio track, else the first track. It
// reports whether that track is video.
func (st *mkvState) readTracks(b []byte) bool {
	type entry struct {
		number, kind uint64
		defDur       int64
	}
	var video, audio, first entry
	eachElem(b, func(id uint32, p []byte) {
		if id != idTrackEntry {
			return
		}
		var e entry
		eachElem(p, func(id uint32, v []byte) {
			if len(v) > 8 {
				return
			}
			switch id {
			case idTrackNumber:
				e.number = beUint(v)
			case idTrackType:
				e.kind = beUint(v)
			case idDefaultDur:
				e.defDur = int64(beUint(v) & (1<<62 - 1))
			}
		})
		switch {
		case e.number == 0:
		case e.kind == 1 && video.number == 0:
			video = e
		case e.kind == 2 && audio.number == 0:
			audio = e
		}
		if first.number == 0 {
			first = e
		}
	})
	st.tracks = true
	pick := first
	if video.number != 0 {
		pick = video
	} else if audio.number != 0 {
		pick = audio
	}
	st.track, st.defDur = pick.number, pick.defDur
	return pick.number != 0 && pick.kind == 1
}

// timeNs is a nanosecond count as a duration.
func timeNs(ns int64) time.Duration { return time.Duration(ns) }
