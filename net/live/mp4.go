package live

import (
	"encoding/binary"
	"io"
	"math"
	"time"
)

// mp4State is where the MP4 walk stands between scans.
type mp4State struct {
	next     int64      // offset of the next top-level box to read
	unit     int64      // offset of the open fragment's first box (styp, sidx, moof…), -1 when none is open
	moov     bool       // a whole moov was read
	frag     bool       // the moov has mvex: the file is fragmented
	plain    bool       // an mdat came before any moov: the file is not fragmented
	tracks   []mp4Track // the moov's tracks, in order
	track    int        // index in tracks of the indexed track, -1 when none
	pending  *fragment  // the open fragment's moof, read, awaiting its mdat
	nextDTS  int64      // the indexed track's decode time after the last fragment, for a traf without tfdt
	haveNext bool       // nextDTS is set
}

// mp4Track is what the moov tells of a track.
type mp4Track struct {
	id        uint32 // tkhd's track_ID, matched with tfhd's
	timescale uint32 // mdhd's ticks per second
	handler   string // hdlr's handler type: vide, soun…
	trex      trex   // the fragments' defaults
}

// trex is a track's sample defaults from moov/mvex/trex.
type trex struct {
	duration, flags uint32
}

// fragment is what a moof says of the indexed track.
type fragment struct {
	off   int64         // the moof's offset
	has   bool          // the moof has samples of the indexed track
	sync  bool          // its first sample of the track is a sync sample
	time  time.Duration // that sample's presentation time
	end   time.Duration // the latest end of the track's samples in it
	dts   int64         // the track's decode time after the fragment
	isDTS bool          // dts is set
}

func (st *mp4State) reset() {
	*st = mp4State{unit: -1, track: -1}
}

func (st *mp4State) format() Format {
	switch {
	case st.frag:
		return FormatFragmentedMP4
	case st.plain || st.moov:
		return FormatPlainMP4
	}
	return FormatUnknown
}

// Sample flag: sample_is_non_sync_sample (ISO/IEC 14496-12 8.8.3.1).
const nonSync = 0x10000

// boxHeader reads the header of the box at off, within size. ok is false
// when the header is not all there yet.
func (s *Scanner) boxHeader(r io.ReaderAt, off, size int64) (typ string, boxSize int64, hlen int64, ok bool, err error) {
	n := min(size-off, 16)
	if n < 8 {
		return "", 0, 0, false, nil
	}
	b := s.scratch[:n]
	if err := readAt(r, b, off); err != nil {
		return "", 0, 0, false, err
	}
	for _, c := range b[4:8] {
		if c < 0x20 || c > 0x7E {
			return "", 0, 0, false, errMalformed // not a box type: not a box
		}
	}
	sz := uint64(binary.BigEndian.Uint32(b))
	typ, hlen = string(b[4:8]), 8
	switch sz {
	case 0:
		return typ, 0, hlen, true, nil
	case 1:
		if n < 16 {
			return "", 0, 0, false, nil
		}
		sz, hlen = binary.BigEndian.Uint64(b[8:]), 16
	}
	if sz < uint64(hlen) || sz > uint64(math.MaxInt64-off) {
		return typ, 0, 0, false, errMalformed
	}
	return typ, int64(sz), hlen, true, nil
}

// scanMP4 walks the top-level boxes from where the last scan stopped.
func (s *Scanner) scanMP4(r io.ReaderAt, size int64) error {
	st := &s.mp4
	if st.plain && !st.frag && !s.done {
		// A plain MP4 being recorded: the mdat's size is a placeholder
		// (ffmpeg writes 8, others 0) that the recorder sets when it
		// writes the moov, so the walk starts over (a few headers).
		st.reset()
		s.whole = 0
	}
	for {
		off := st.next
		typ, boxSize, hlen, ok, err := s.boxHeader(r, off, size)
		if err != nil || !ok {
			return err
		}
		if typ == "mdat" && !st.moov {
			// Media data before the moov: not fragmented, and not whole
			// until the moov that describes it is.
			st.plain = true
			if st.unit < 0 {
				st.unit = off
			}
		}
		if boxSize == 0 {
			// "To the end of the file": a recorder's placeholder for a box
			// it is still writing (ffmpeg's mdat until the moov comes).
			return nil
		}
		end := off + boxSize
		if end > size {
			return nil
		}
		switch typ {
		case "moov":
			if !st.moov {
				if err := s.readMoov(r, off+hlen, end); err != nil {
					return err
				}
				st.moov = true
				st.unit = -1
				if !st.frag {
					// A plain MP4's moov is written when its recorder stops.
					st.plain = true
					s.done = true
				}
			}
		case "moof":
			if !st.frag {
				return errMalformed
			}
			if boxSize > maxRead {
				return errMalformed
			}
			b := s.grow(int(boxSize))
			if err := readAt(r, b, off); err != nil {
				return err
			}
			f := s.parseMoof(b[hlen:])
			f.off = off
			st.pending = &f
			if st.unit < 0 {
				st.unit = off
			}
			if s.header == 0 {
				s.header = off
			}
		case "styp", "sidx", "ssix", "prft", "emsg":
			if st.frag && st.unit < 0 {
				st.unit = off
			}
		case "mdat":
			if f := st.pending; f != nil {
				st.pending = nil
				s.closeFragment(f)
			}
			if st.moov {
				st.unit = -1
			}
		case "mfra":
			if st.frag {
				s.done = true
			}
		}
		st.next = end
		if st.unit < 0 {
			s.whole = end
		}
	}
}

// closeFragment takes in a fragment whose mdat is whole.
func (s *Scanner) closeFragment(f *fragment) {
	st := &s.mp4
	if f.isDTS {
		st.nextDTS, st.haveNext = f.dts, true
	}
	if !f.has {
		return
	}
	s.seeEnd(f.end)
	if f.sync {
		s.addPoint(f.off, f.time)
	}
}

// readMoov reads what the fragments need from the moov's children in
// [from, to): whether there is an mvex and, if so, each track's id,
// timescale, handler and defaults. A plain MP4's moov (maybe megabytes of
// sample tables) costs only its children's headers.
func (s *Scanner) readMoov(r io.ReaderAt, from, to int64) error {
	st := &s.mp4
	st.tracks, st.track = nil, -1
	var traks [][2]int64
	mvex := [2]int64{-1, -1}
	err := s.eachBox(r, from, to, func(typ string, start, end int64) error {
		switch typ {
		case "trak":
			if len(traks) < 1024 {
				traks = append(traks, [2]int64{start, end})
			}
		case "mvex":
			mvex = [2]int64{start, end}
		}
		return nil
	})
	if err != nil || mvex[0] < 0 {
		return err
	}
	st.frag = true
	for _, t := range traks {
		tr, err := s.readTrak(r, t[0], t[1])
		if err != nil {
			return err
		}
		st.tracks = append(st.tracks, tr)
	}
	err = s.eachBox(r, mvex[0], mvex[1], func(typ string, start, end int64) error {
		if typ != "trex" || end-start < 24 {
			return nil
		}
		b := s.scratch[:24]
		if err := readAt(r, b, start); err != nil {
			return err
		}
		id := binary.BigEndian.Uint32(b[4:])
		for i := range st.tracks {
			if st.tracks[i].id == id {
				st.tracks[i].trex = trex{
					duration: binary.BigEndian.Uint32(b[12:]),
					flags:    binary.BigEndian.Uint32(b[20:]),
				}
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, want := range []string{"vide", "soun", ""} {
		for i, t := range st.tracks {
			if st.track < 0 && (want == "" || t.handler == want) {
				st.track = i
			}
		}
	}
	s.video = st.track >= 0 && st.tracks[st.track].handler == "vide"
	return nil
}

// readTrak reads a trak's tkhd track_ID, mdhd timescale and hdlr type.
func (s *Scanner) readTrak(r io.ReaderAt, from, to int64) (mp4Track, error) {
	var t mp4Track
	var mdia [2]int64
	err := s.eachBox(r, from, to, func(typ string, start, end int64) error {
		switch typ {
		case "tkhd":
			b, err := s.fullBox(r, start, end, 12, 20)
			if err != nil || b == nil {
				return err
			}
			if b[0] == 1 {
				t.id = binary.BigEndian.Uint32(b[20:])
			} else {
				t.id = binary.BigEndian.Uint32(b[12:])
			}
		case "mdia":
			mdia = [2]int64{start, end}
		}
		return nil
	})
	if err != nil || mdia[1] == 0 {
		return t, err
	}
	err = s.eachBox(r, mdia[0], mdia[1], func(typ string, start, end int64) error {
		switch typ {
		case "mdhd":
			b, err := s.fullBox(r, start, end, 12, 20)
			if err != nil || b == nil {
				return err
			}
			if b[0] == 1 {
				t.timescale = binary.BigEndian.Uint32(b[20:])
			} else {
				t.timescale = binary.BigEndian.Uint32(b[12:])
			}
		case "hdlr":
			if end-start >= 12 {
				b := s.scratch[:12]
				if err := readAt(r, b, start); err != nil {
					return err
				}
				t.handler = string(b[8:12])
			}
		}
		return nil
	})
	return t, err
}

// fullBox reads the start of a full box's payload [start, end): enough for
// a field ending at v0 bytes in version 0 or v1 in version 1, or nil when
// the box is too short for it.
func (s *Scanner) fullBox(r io.ReaderAt, start, end int64, v0, v1 int) ([]byte, error) {
	n := min(end-start, int64(v1+4))
	if n < int64(v0+4) {
		return nil, nil
	}
	b := s.scratch[:n]
	if err := readAt(r, b, start); err != nil {
		return nil, err
	}
	if b[0] == 1 && n < int64(v1+4) {
		return nil, nil
	}
	return b, nil
}

// eachBox calls fn with each child box of [from, to) whose header is whole,
// with its payload's bounds; a child running past to ends the walk.
func (s *Scanner) eachBox(r io.ReaderAt, from, to int64, fn func(typ string, start, end int64) error) error {
	for off := from; off < to; {
		typ, size, hlen, ok, err := s.boxHeader(r, off, to)
		if err != nil || !ok {
			return err
		}
		if size == 0 {
			size = to - off
		}
		if size > to-off {
			return errMalformed
		}
		if err := fn(typ, off+hlen, off+size); err != nil {
			return err
		}
		off += size
	}
	return nil
}

// parseMoof reads what a moof's payload b says of the indexed track.
func (s *Scanner) parseMoof(b []byte) fragment {
	st := &s.mp4
	f := fragment{}
	if st.track < 0 {
		return f
	}
	tr := st.tracks[st.track]
	dts, haveDTS := st.nextDTS, st.haveNext
	eachChild(b, func(typ string, traf []byte) {
		if typ != "traf" {
			return
		}
		var tf tfhd
		var tfdt []byte
		var truns [][]byte
		eachChild(traf, func(typ string, p []byte) {
			switch typ {
			case "tfhd":
				tf = parseTfhd(p, tr.trex)
			case "tfdt":
				tfdt = p
			case "trun":
				truns = append(truns, p)
			}
		})
		if !tf.ok || tf.id != tr.id {
			return
		}
		if len(tfdt) >= 8 && tfdt[0] == 1 && len(tfdt) >= 12 {
			dts, haveDTS = int64(binary.BigEndian.Uint64(tfdt[4:])), true
		} else if len(tfdt) >= 8 && tfdt[0] == 0 {
			dts, haveDTS = int64(binary.BigEndian.Uint32(tfdt[4:])), true
		}
		for _, p := range truns {
			dts = f.addTrun(p, tf, dts, tr.timescale)
		}
	})
	if haveDTS {
		f.dts, f.isDTS = dts, true
	}
	return f
}

// tfhd holds a track fragment header's track and sample defaults.
type tfhd struct {
	ok              bool
	id              uint32
	duration, flags uint32
}

func parseTfhd(p []byte, def trex) tfhd {
	if len(p) < 8 {
		return tfhd{}
	}
	flags := binary.BigEndian.Uint32(p) & 0xFFFFFF
	t := tfhd{ok: true, id: binary.BigEndian.Uint32(p[4:]), duration: def.duration, flags: def.flags}
	p = p[8:]
	field := func(bit uint32, n int) ([]byte, bool) {
		if flags&bit == 0 {
			return nil, true
		}
		if len(p) < n {
			return nil, false
		}
		v := p[:n]
		p = p[n:]
		return v, true
	}
	_, ok1 := field(0x01, 8) // base_data_offset
	_, ok2 := field(0x02, 4) // sample_description_index
	dur, ok3 := field(0x08, 4)
	_, ok4 := field(0x10, 4) // default_sample_size
	fl, ok5 := field(0x20, 4)
	if !(ok1 && ok2 && ok3 && ok4 && ok5) {
		return tfhd{}
	}
	if dur != nil {
		t.duration = binary.BigEndian.Uint32(dur)
	}
	if fl != nil {
		t.flags = binary.BigEndian.Uint32(fl)
	}
	return t
}

// addTrun takes in a trun's samples from decode time dts and returns the
// decode time after them.
func (f *fragment) addTrun(p []byte, tf tfhd, dts int64, hz uint32) int64 {
	if len(p) < 8 {
		return dts
	}
	version := p[0]
	flags := binary.BigEndian.Uint32(p) & 0xFFFFFF
	count := int64(binary.BigEndian.Uint32(p[4:]))
	p = p[8:]
	if flags&0x01 != 0 { // data_offset
		if len(p) < 4 {
			return dts
		}
		p = p[4:]
	}
	first, haveFirst := uint32(0), false
	if flags&0x04 != 0 {
		if len(p) < 4 {
			return dts
		}
		first, haveFirst = binary.BigEndian.Uint32(p), true
		p = p[4:]
	}
	per := 0
	for _, bit := range []uint32{0x100, 0x200, 0x400, 0x800} {
		if flags&bit != 0 {
			per += 4
		}
	}
	if per > 0 {
		count = min(count, int64(len(p)/per))
	}
	// With no per-sample fields every sample is described by the
	// defaults, so the count can be large: the times come in one step.
	if per == 0 {
		if count == 0 {
			return dts
		}
		if !f.has {
			f.firstSample(dts, 0, tf.flags, haveFirst, first, hz)
		}
		last := dts + (count-1)*int64(tf.duration)
		f.seeEnd(ticks(last+int64(tf.duration), hz))
		return last + int64(tf.duration)
	}
	for i := int64(0); i < count; i++ {
		dur, sflags, cto := tf.duration, tf.flags, int64(0)
		if flags&0x100 != 0 {
			dur = binary.BigEndian.Uint32(p)
			p = p[4:]
		}
		if flags&0x200 != 0 {
			p = p[4:]
		}
		if flags&0x400 != 0 {
			sflags = binary.BigEndian.Uint32(p)
			p = p[4:]
		}
		if flags&0x800 != 0 {
			if version == 0 {
				cto = int64(binary.BigEndian.Uint32(p))
			} else {
				cto = int64(int32(binary.BigEndian.Uint32(p)))
			}
			p = p[4:]
		}
		if !f.has {
			f.firstSample(dts, cto, sflags, haveFirst && i == 0, first, hz)
		}
		f.seeEnd(ticks(dts+cto+int64(dur), hz))
		dts += int64(dur)
	}
	return dts
}

// firstSample records the fragment's first sample of the track.
func (f *fragment) firstSample(dts, cto int64, flags uint32, useFirst bool, first uint32, hz uint32) {
	if useFirst {
		flags = first
	}
	f.has = true
	f.sync = flags&nonSync == 0
	f.time = ticks(dts+cto, hz)
	f.end = f.time
}

func (f *fragment) seeEnd(t time.Duration) {
	if t > f.end {
		f.end = t
	}
}

// eachChild calls fn with each whole child box of payload b.
func eachChild(b []byte, fn func(typ string, payload []byte)) {
	for len(b) >= 8 {
		size := uint64(binary.BigEndian.Uint32(b))
		typ := string(b[4:8])
		hlen := uint64(8)
		switch size {
		case 0:
			size = uint64(len(b))
		case 1:
			if len(b) < 16 {
				return
			}
			size, hlen = binary.BigEndian.Uint64(b[8:]), 16
		}
		if size < hlen || size > uint64(len(b)) {
			return
		}
		fn(typ, b[hlen:size])
		b = b[size:]
	}
}
