package live

import "io"

const (
	tsPacket = 188
	tsSync   = 0x47
	ptsWrap  = 1 << 33 // PTS is a 33-bit count of a 90 kHz clock
)

// tsState is where the MPEG-TS walk stands between scans.
type tsState struct {
	next    int64 // offset of the next packet to read
	pmtPID  int   // the first program's PMT PID from the PAT, -1 until read
	pid     int   // the indexed elementary stream's PID, -1 until the PMT is read
	lastRaw int64 // the last PTS as written, to unwrap the next
	pts     int64 // the last PTS unwrapped, in 90 kHz ticks
	havePTS bool  // lastRaw and pts are set
}

func (st *tsState) reset() {
	*st = tsState{pmtPID: -1, pid: -1}
}

// scanTS reads the whole packets from where the last scan stopped: a TS
// has no index, so every packet header is read (in large reads).
func (s *Scanner) scanTS(r io.ReaderAt, size int64) error {
	st := &s.ts
	for {
		n := (size - st.next) / tsPacket * tsPacket
		if n <= 0 {
			return nil
		}
		n = min(n, tsChunk)
		b := s.grow(int(n))
		if err := readAt(r, b, st.next); err != nil {
			return err
		}
		for ; len(b) >= tsPacket; b = b[tsPacket:] {
			if b[0] != tsSync {
				return errMalformed
			}
			s.tsPacket(b[:tsPacket], st.next)
			st.next += tsPacket
			s.whole = st.next
		}
	}
}

// tsPacket takes in the packet p at offset off.
func (s *Scanner) tsPacket(p []byte, off int64) {
	st := &s.ts
	if p[1]&0x80 != 0 { // transport_error_indicator
		return
	}
	pusi := p[1]&0x40 != 0
	pid := int(p[1]&0x1F)<<8 | int(p[2])
	afc := p[3] >> 4 & 3
	if p[3]&0xC0 != 0 || afc&1 == 0 { // scrambled, or no payload
		return
	}
	payload := p[4:]
	rai := false
	if afc&2 != 0 {
		l := int(p[4])
		if 5+l > tsPacket {
			return
		}
		rai = l > 0 && p[5]&0x40 != 0
		payload = p[5+l:]
	}
	if !pusi {
		return
	}
	switch {
	case pid == st.pid:
		raw, ok := pesPTS(payload)
		if !ok {
			return
		}
		s.seePTS(raw, off, rai)
	case pid == 0 && st.pmtPID < 0:
		st.pmtPID = patPMT(payload)
	case pid == st.pmtPID && st.pid < 0:
		st.pid, s.video = pmtStream(payload)
	}
}

// seePTS takes in a PES start of the indexed stream at off with PTS raw.
func (s *Scanner) seePTS(raw int64, off int64, rai bool) {
	st := &s.ts
	if st.havePTS {
		d := (raw - st.lastRaw) & (ptsWrap - 1)
		if d >= ptsWrap/2 {
			d -= ptsWrap
		}
		st.pts += d
	} else {
		st.pts, st.havePTS = raw, true
	}
	st.lastRaw = raw
	t := ticks(st.pts, 90000)
	s.seeEnd(t)
	if rai || !s.video {
		s.addPoint(off, t)
	}
}

// pesPTS reads the PTS of the PES header at the start of b.
func pesPTS(b []byte) (int64, bool) {
	if len(b) < 14 || b[0] != 0 || b[1] != 0 || b[2] != 1 {
		return 0, false
	}
	if b[6]&0xC0 != 0x80 || b[7]&0x80 == 0 { // not an MPEG-2 PES header, or no PTS
		return 0, false
	}
	p := b[9:14]
	v := int64(p[0]>>1&7)<<30 | int64(p[1])<<22 | int64(p[2]>>1)<<15 | int64(p[3])<<7 | int64(p[4]>>1)
	return v, true
}

// section returns the PSI section that starts in payload b (after its
// pointer field), cut to its section_length, if table id matches and it
// is all in this packet.
func section(b []byte, table byte) []byte {
	if len(b) < 1 {
		return nil
	}
	ptr := int(b[0])
	b = b[1:]
	if ptr+3 > len(b) {
		return nil
	}
	b = b[ptr:]
	if b[0] != table {
		return nil
	}
	l := int(b[1]&0x0F)<<8 | int(b[2])
	if 3+l > len(b) || l < 9 {
		return nil
	}
	return b[:3+l-4] // without the CRC
}

// patPMT returns the PMT PID of the PAT's first program, or -1.
func patPMT(b []byte) int {
	sec := section(b, 0x00)
	if sec == nil {
		return -1
	}
	for e := sec[8:]; len(e) >= 4; e = e[4:] {
		if program := int(e[0])<<8 | int(e[1]); program != 0 {
			return int(e[2]&0x1F)<<8 | int(e[3])
		}
	}
	return -1
}

// pmtStream returns the PID of the PMT's first video stream, else of its
// first audio stream, or -1, and whether it is video.
func pmtStream(b []byte) (int, bool) {
	sec := section(b, 0x02)
	if sec == nil || len(sec) < 12 {
		return -1, false
	}
	info := int(sec[10]&0x0F)<<8 | int(sec[11])
	if 12+info > len(sec) {
		return -1, false
	}
	audio := -1
	for e := sec[12+info:]; len(e) >= 5; {
		typ := e[0]
		pid := int(e[1]&0x1F)<<8 | int(e[2])
		l := int(e[3]&0x0F)<<8 | int(e[4])
		if 5+l > len(e) {
			break
		}
		desc := e[5 : 5+l]
		e = e[5+l:]
		switch {
		case videoType(typ):
			return pid, true
		case audio < 0 && (audioType(typ) || typ == 0x06 && audioDescriptor(desc)):
			audio = pid
		}
	}
	return audio, false
}

// videoType reports whether a PMT stream type is video: MPEG-1/2, MPEG-4
// part 2, H.264, HEVC, VVC, AVS, Dirac, VC-1.
func videoType(t byte) bool {
	switch t {
	case 0x01, 0x02, 0x10, 0x1B, 0x24, 0x33, 0x42, 0xD1, 0xEA:
		return true
	}
	return false
}

// audioType reports whether a PMT stream type is audio: MPEG-1/2 audio,
// AAC (ADTS, LATM), AC-3, E-AC-3, DTS.
func audioType(t byte) bool {
	switch t {
	case 0x03, 0x04, 0x0F, 0x11, 0x81, 0x82, 0x87:
		return true
	}
	return false
}

// audioDescriptor reports whether a private stream's descriptors say it is
// audio: DVB AC-3, E-AC-3, DTS or AAC, or an Opus or AC-3 registration.
func audioDescriptor(d []byte) bool {
	for len(d) >= 2 {
		tag, l := d[0], int(d[1])
		if 2+l > len(d) {
			return false
		}
		v := d[2 : 2+l]
		switch {
		case tag == 0x6A || tag == 0x7A || tag == 0x7B || tag == 0x7C:
			return true
		case tag == 0x05 && l >= 4 && (string(v[:4]) == "Opus" || string(v[:4]) == "AC-3"):
			return true
		}
		d = d[2+l:]
	}
	return false
}
