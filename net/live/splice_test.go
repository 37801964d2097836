package live

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestFiller(t *testing.T) {
	for _, c := range []struct {
		f       Format
		gap     int64
		want    []byte
		wantErr bool
	}{
		{FormatFragmentedMP4, 0, nil, false},
		{FormatFragmentedMP4, 7, nil, true},
		{FormatFragmentedMP4, 8, []byte("\x00\x00\x00\x08free"), false},
		{FormatFragmentedMP4, 1000, []byte("\x00\x00\x03\xe8free"), false},
		{FormatFragmentedMP4, 1<<32 - 1, []byte("\xff\xff\xff\xfffree"), false},
		{FormatFragmentedMP4, 1 << 32, []byte("\x00\x00\x00\x01free\x00\x00\x00\x01\x00\x00\x00\x00"), false},
		{FormatMatroska, 0, nil, false},
		{FormatMatroska, 8, nil, true},
		{FormatMatroska, 9, []byte{0xEC, 0x01, 0, 0, 0, 0, 0, 0, 0}, false},
		{FormatMatroska, 1000, []byte{0xEC, 0x01, 0, 0, 0, 0, 0, 0x03, 0xDF}, false},
		{FormatMatroska, 5 << 40, []byte{0xEC, 0x01, 0, 0x05, 0, 0, 0, 0, 0}, true},
		{FormatMPEGTS, 1000, nil, false},
		{FormatPlainMP4, 1000, nil, true},
		{FormatUnknown, 1000, nil, true},
	} {
		const header = 5000
		got, err := Filler(c.f, header, header+c.gap)
		if c.f == FormatMatroska && c.gap == 5<<40 {
			// 5 TiB - 9 bytes of Void: checked by parsing, below.
			c.wantErr = false
			c.want = got
		}
		if (err != nil) != c.wantErr || !bytes.Equal(got, c.want) {
			t.Errorf("%v gap %d: %x, %v; want %x (error %v)", c.f, c.gap, got, err, c.want, c.wantErr)
		}
		if err != nil && !errors.Is(err, ErrNoSplice) {
			t.Errorf("%v gap %d: %v is not ErrNoSplice", c.f, c.gap, err)
		}
		// The filler's own header says it spans the gap.
		switch {
		case err != nil || got == nil:
		case c.f == FormatMatroska:
			e, st := parseElem(got, header)
			if st != good || e.id != idVoid || e.unknown || e.end != header+c.gap {
				t.Errorf("Void of a %d-byte gap: %+v, %v", c.gap, e, st)
			}
		case c.f == FormatFragmentedMP4:
			size := int64(binary.BigEndian.Uint32(got))
			if size == 1 {
				size = int64(binary.BigEndian.Uint64(got[8:]))
			}
			if size != c.gap {
				t.Errorf("free box of a %d-byte gap says %d", c.gap, size)
			}
		}
	}
	if _, err := Filler(FormatFragmentedMP4, 100, 50); !errors.Is(err, ErrNoSplice) {
		t.Errorf("a point before the header's end: %v", err)
	}
}

// gapReader is a file whose bytes in [from, to) must not be read.
type gapReader struct {
	tb       testing.TB
	b        []byte
	from, to int64
}

func (g gapReader) ReadAt(b []byte, off int64) (int, error) {
	if off < g.to && off+int64(len(b)) > g.from {
		g.tb.Errorf("read of [%d, %d) in the gap [%d, %d)", off, off+int64(len(b)), g.from, g.to)
	}
	if off >= int64(len(g.b)) {
		return 0, io.EOF
	}
	n := copy(b, g.b[off:])
	if n < len(b) {
		return n, io.EOF
	}
	return n, nil
}

// A splice shows the header, the filler, zeros and the file from the
// point on, never reading the file in the gap; a TS splice is the file
// from the point on.
func TestSpliceReadAt(t *testing.T) {
	file := make([]byte, 10000)
	for i := range file {
		file[i] = byte(i%251 + 1)
	}
	const header, point = 300, 4000
	for _, f := range []Format{FormatFragmentedMP4, FormatMatroska, FormatMPEGTS} {
		idx := Index{Format: f, Header: header, Points: []Point{{Offset: point}}}
		if f == FormatMPEGTS {
			idx.Header = 0
		}
		s, err := NewSplice(gapReader{t, file, header, point}, idx, idx.Points[0])
		if err != nil {
			t.Fatal(err)
		}
		var want []byte
		if f == FormatMPEGTS {
			if s.Base() != point {
				t.Errorf("TS base %d", s.Base())
			}
			want = file[point:]
		} else {
			fill, _ := Filler(f, header, point)
			want = slices.Concat(file[:header], fill, make([]byte, point-header-len(fill)), file[point:])
		}
		got := make([]byte, len(want))
		if n, err := s.ReadAt(got, 0); n != len(want) || err != nil && err != io.EOF || !bytes.Equal(got, want) {
			t.Fatalf("%v: whole view: %d, %v", f, n, err)
		}
		rng := rand.New(rand.NewPCG(4, 5))
		for range 2000 {
			off := rng.Int64N(int64(len(want)) + 10)
			b := make([]byte, rng.IntN(3000))
			n, err := s.ReadAt(b, off)
			wantN := max(0, min(len(b), len(want)-int(off)))
			if n != wantN || n > 0 && !bytes.Equal(b[:n], want[off:off+int64(n)]) {
				t.Fatalf("%v: ReadAt(%d bytes, %d) = %d, %v", f, len(b), off, n, err)
			}
			if n < len(b) && err == nil {
				t.Fatalf("%v: short read with no error", f)
			}
		}
	}
}

// The real demuxer, reading a spliced file (header, filler, zeros, the
// file from a point on), lists without complaint the same pictures (or
// sounds) as the whole file from that point's keyframe on.
func TestSpliceDemuxes(t *testing.T) {
	for _, f := range fixtures {
		if f.format == FormatPlainMP4 {
			continue
		}
		t.Run(f.name, func(t *testing.T) {
			path := fixturePath(t, f.name)
			t.Parallel()
			b := readFile(t, path)
			idx := scanAll(t, b)
			kind := "a"
			if f.video {
				kind = "v"
			}
			all := probe(t, path, kind)
			n := len(idx.Points)
			// The first point needs no filler: the file is as it is.
			for _, i := range slices.Compact([]int{1, n - 1}) {
				p := idx.Points[i]
				s, err := NewSplice(bytes.NewReader(b), idx, p)
				if err != nil {
					t.Fatal(err)
				}
				view, err := io.ReadAll(io.NewSectionReader(s, 0, int64(len(b))-s.Base()))
				if err != nil {
					t.Fatal(err)
				}
				spliced := t.TempDir() + "/" + f.name
				writeFile(t, spliced, view)
				got := probe(t, spliced, kind)
				// The whole file's packets from the point's keyframe on,
				// in the order they are stored.
				k := slices.IndexFunc(all, func(q packet) bool { return q.key && near(q.pts, p.Time) && q.pos >= p.Offset })
				if k < 0 {
					t.Fatalf("point %d: no keyframe at %v", i, p.Time)
				}
				// (Sound has no reordering, and a TS demuxer gives the
				// frames of one PES no positions of their own.)
				var want []packet
				for _, q := range all {
					if f.video && q.pos >= all[k].pos || !f.video && q.pts >= all[k].pts {
						q.pos -= s.Base()
						want = append(want, q)
					}
				}
				if len(got) == 0 || !near(got[0].pts, p.Time) || !got[0].key {
					t.Errorf("point %d at %v: the spliced file starts with %+v", i, p.Time, got[:min(1, len(got))])
				}
				same := func(a, b packet) bool { return near(a.pts, b.pts) && (a.pos == b.pos || !f.video) }
				if !slices.EqualFunc(got, want, same) {
					t.Errorf("point %d at %v: %d packets from %+v, want %d from %+v", i, p.Time, len(got), got[:min(1, len(got))], len(want), want[0])
				}
			}
		})
	}
}
