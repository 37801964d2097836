package live

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
	"time"
)

// Each finished recording is recognised, whole, and says whether its
// recorder closed it; the header ends where the first point starts.
func TestScanFinishedRecordings(t *testing.T) {
	for _, f := range fixtures {
		t.Run(f.name, func(t *testing.T) {
			b := readFile(t, fixturePath(t, f.name))
			idx := scanAll(t, b)
			if idx.Format != f.format {
				t.Fatalf("Format %v, want %v", idx.Format, f.format)
			}
			if idx.Finished != f.finished {
				t.Errorf("Finished %v, want %v", idx.Finished, f.finished)
			}
			if idx.Whole != int64(len(b)) {
				t.Errorf("Whole %d, want the file's %d bytes", idx.Whole, len(b))
			}
			if f.format == FormatPlainMP4 {
				if idx.Points != nil || idx.Header != 0 {
					t.Errorf("a plain MP4 has points %v, header %d", idx.Points, idx.Header)
				}
				return
			}
			if len(idx.Points) < 2 {
				t.Fatalf("%d points", len(idx.Points))
			}
			want := idx.Points[0].Offset
			if f.format == FormatMPEGTS {
				want = 0
			}
			if idx.Header != want {
				t.Errorf("Header %d, want %d", idx.Header, want)
			}
		})
	}
}

// Every point is at a keyframe ffprobe lists, at the same time, and the
// keyframe's data is in the point's unit; there is a point for every unit
// (fragment, cluster) of a recording with a keyframe a second; End is the
// end of the last picture (sound) ffprobe lists.
func TestPointsAreKeyframes(t *testing.T) {
	for _, f := range fixtures {
		if f.format == FormatPlainMP4 {
			continue
		}
		t.Run(f.name, func(t *testing.T) {
			path := fixturePath(t, f.name)
			b := readFile(t, path)
			idx := scanAll(t, b)
			kind := "a"
			if f.video {
				kind = "v"
			}
			pkts := probe(t, path, kind)
			var keys []packet
			var last time.Duration
			for _, p := range pkts {
				if p.key {
					keys = append(keys, p)
				}
				last = max(last, p.pts+p.dur)
			}
			for i, p := range idx.Points {
				next := idx.Whole
				if i+1 < len(idx.Points) {
					next = idx.Points[i+1].Offset
				}
				k := slices.IndexFunc(keys, func(k packet) bool {
					return near(k.pts, p.Time) && k.pos >= p.Offset && k.pos < next
				})
				if k < 0 {
					t.Errorf("point %d (%d, %v): no keyframe at that time in [%d, %d)", i, p.Offset, p.Time, p.Offset, next)
					continue
				}
				if f.format == FormatMPEGTS && f.video && keys[k].pos != p.Offset {
					t.Errorf("point %d at %d, its keyframe's PES at %d", i, p.Offset, keys[k].pos)
				}
				if i > 0 {
					gap := p.Time - idx.Points[i-1].Time
					if gap < 500*time.Millisecond || !f.video && gap < time.Second {
						t.Errorf("point %d only %v after the last", i, gap)
					}
				}
			}
			var units int
			switch f.format {
			case FormatFragmentedMP4:
				types, _ := topBoxes(b)
				for _, typ := range types {
					if typ == "moof" {
						units++
					}
				}
			case FormatMatroska:
				offs, _, _, _ := clusters(t, b)
				units = len(offs)
			case FormatMPEGTS:
				units = len(keys) // each keyframe a point; audio: a point a second
				if !f.video {
					units = len(idx.Points)
				}
			}
			if len(idx.Points) != units {
				t.Errorf("%d points for %d fragments/clusters/keyframes", len(idx.Points), units)
			}
			switch {
			case f.format == FormatMPEGTS && f.video:
				// The last PES's PTS: the latest picture's start.
				var lastPTS time.Duration
				for _, p := range pkts {
					lastPTS = max(lastPTS, p.pts)
				}
				if !near(idx.End, lastPTS) {
					t.Errorf("End %v, the last picture is at %v", idx.End, lastPTS)
				}
			case f.video:
				if !near(idx.End, last) {
					t.Errorf("End %v, the last picture ends at %v", idx.End, last)
				}
			default:
				if idx.End < idx.Points[len(idx.Points)-1].Time || idx.End > last+time.Millisecond {
					t.Errorf("End %v, the last sound ends at %v", idx.End, last)
				}
			}
			t.Logf("%d points, header %d, End %v", len(idx.Points), idx.Header, idx.End)
		})
	}
}

// prefix is a file of which only the first size bytes are written yet: a
// read beyond them fails the test. It counts the bytes read.
type prefix struct {
	tb   testing.TB
	b    []byte
	size int64
	read *int64
}

func (p prefix) ReadAt(b []byte, off int64) (int, error) {
	if off < 0 || off+int64(len(b)) > p.size {
		p.tb.Errorf("read of %d bytes at %d beyond the size %d", len(b), off, p.size)
		return 0, errors.New("beyond the size")
	}
	*p.read += int64(len(b))
	return copy(b, p.b[off:]), nil
}

// grow scans b as it grows to each of sizes in turn with one Scanner, and
// checks each index against the final one: its points a prefix of the
// final's, within Whole, Whole within the size. It returns the last index
// and the bytes read.
func grow(t *testing.T, b []byte, sizes []int64, final Index) (Index, int64) {
	t.Helper()
	s := NewScanner()
	var read int64
	var idx Index
	for _, n := range sizes {
		var err error
		idx, err = s.Scan(prefix{t, b, n, &read}, n)
		if err != nil {
			t.Fatalf("at %d: %v", n, err)
		}
		if idx.Whole > n {
			t.Fatalf("at %d: Whole %d", n, idx.Whole)
		}
		if idx.Format != FormatUnknown && idx.Format != final.Format {
			t.Fatalf("at %d: Format %v, finally %v", n, idx.Format, final.Format)
		}
		if len(idx.Points) > len(final.Points) || !slices.Equal(idx.Points, final.Points[:len(idx.Points)]) {
			t.Fatalf("at %d: points %v not a prefix of the final %v", n, idx.Points, final.Points)
		}
		if k := len(idx.Points); k > 0 && idx.Points[k-1].Offset >= idx.Whole {
			t.Fatalf("at %d: point %v beyond Whole %d", n, idx.Points[k-1], idx.Whole)
		}
		if k := len(idx.Points); k > 0 && idx.Header != final.Header {
			t.Fatalf("at %d: Header %d, finally %d", n, idx.Header, final.Header)
		}
	}
	return idx, read
}

// A recording scanned as it grows, in steps of 10 KiB or of random sizes,
// ends with the index of one scan of the whole, without reading it again
// and again.
func TestScanGrowing(t *testing.T) {
	for _, f := range fixtures {
		t.Run(f.name, func(t *testing.T) {
			b := readFile(t, fixturePath(t, f.name))
			final := scanAll(t, b)
			n := int64(len(b))
			var even []int64
			for k := int64(1); k < n; k += 10 << 10 {
				even = append(even, k)
			}
			rng := rand.New(rand.NewPCG(1, uint64(len(b))))
			var random []int64
			for k := int64(0); k < n; k += 1 + rng.Int64N(30<<10) {
				random = append(random, k)
			}
			for _, steps := range []struct {
				name  string
				sizes []int64
			}{{"10KiB", append(even, n)}, {"random", append(random, n)}} {
				got, read := grow(t, b, steps.sizes, final)
				if !reflect.DeepEqual(got, final) {
					t.Errorf("%s steps: %+v\nwant %+v", steps.name, got, final)
				}
				// A TS is read once; the others' headers only (a plain
				// MP4's are read again at each scan until it finishes).
				limit := n / 10
				if f.format == FormatMPEGTS {
					limit = n + 64 // and the first bytes, to tell the format
				}
				if read > limit {
					t.Errorf("%s steps: %d bytes read over %d scans of a %d-byte file", steps.name, read, len(steps.sizes), n)
				}
			}
		})
	}
}

// A recording cut in the middle of a fragment, cluster or packet (a
// recorder that crashed, or one still writing) is whole up to that unit,
// with the points before it.
func TestScanTruncated(t *testing.T) {
	for _, f := range fixtures {
		if f.format == FormatPlainMP4 {
			continue
		}
		t.Run(f.name, func(t *testing.T) {
			b := readFile(t, fixturePath(t, f.name))
			final := scanAll(t, b)
			k := len(final.Points) / 2
			unit := final.Points[k].Offset
			// The unit's end: the next top-level box after its mdat, the
			// next element after the cluster, the next packet.
			var end int64
			switch f.format {
			case FormatFragmentedMP4:
				types, offs := topBoxes(b)
				i := slices.Index(offs, unit)
				if i < 0 || i+2 >= len(offs) || types[i+1] != "mdat" {
					t.Fatalf("no moof+mdat at %d: %v", unit, types)
				}
				end = offs[i+2]
			case FormatMatroska:
				_, _, _, children := clusters(t, b)
				i := slices.Index(children, unit)
				if i < 0 {
					t.Fatalf("no element at %d", unit)
				}
				end = children[i+1]
			case FormatMPEGTS:
				end = unit + tsPacket
			}
			for _, cut := range []int64{unit + 1, unit + 100, (unit + end) / 2, end - 1} {
				idx := scanAll(t, b[:cut])
				if idx.Whole != unit {
					t.Errorf("cut at %d in the unit [%d, %d): Whole %d", cut, unit, end, idx.Whole)
				}
				if !slices.Equal(idx.Points, final.Points[:k]) {
					t.Errorf("cut at %d: points %v, want %v", cut, idx.Points, final.Points[:k])
				}
				if idx.Finished {
					t.Errorf("cut at %d: Finished", cut)
				}
				if f.format != FormatMPEGTS && idx.End > final.Points[k].Time+videoGap {
					t.Errorf("cut at %d: End %v beyond the cut unit's start %v", cut, idx.End, final.Points[k].Time)
				}
			}
			// A TS cut after a point's packet has the point.
			if f.format == FormatMPEGTS {
				idx := scanAll(t, b[:end+100])
				if idx.Whole != end || !slices.Equal(idx.Points, final.Points[:k+1]) {
					t.Errorf("cut at %d: Whole %d, points %v", end+100, idx.Whole, idx.Points)
				}
			}
		})
	}
}

// unknownSize gives the cluster whose size field is at off, l bytes long,
// the "unknown" size (all ones), as a muxer writes a cluster it has not
// closed yet.
func unknownSize(b []byte, off int64, l int) {
	b[off] = 0xFF >> (l - 1)
	for i := 1; i < l; i++ {
		b[off+int64(i)] = 0xFF
	}
}

// Clusters of unknown size (a muxer that sets each cluster's size only when
// it closes it) end where the next Cluster or Cues begins: the index is the
// one of the same file with sizes, however it grows, and ffprobe agrees.
func TestScanUnknownSizeClusters(t *testing.T) {
	for _, name := range []string{"av.mkv", "audio.mkv", "av.webm"} {
		t.Run(name, func(t *testing.T) {
			b := readFile(t, fixturePath(t, name))
			final := scanAll(t, b)
			offs, sizeAt, sizeLen, children := clusters(t, b)
			// Where each cluster ends: the next element of the Segment,
			// a Cluster or the Cues after the last one.
			ends := make([]int64, len(offs))
			for i, off := range offs {
				ends[i] = children[slices.IndexFunc(children, func(c int64) bool { return c > off })]
			}

			open := bytes.Clone(b)
			for i := range offs {
				unknownSize(open, sizeAt[i], sizeLen[i])
			}
			if got := scanAll(t, open); !reflect.DeepEqual(got, final) {
				t.Errorf("all sizes unknown: %+v\nwant %+v", got, final)
			}

			// As a muxer writes it: the cluster being written has the
			// unknown size, set when the next one begins. Each prefix is
			// a different file, so each step reads its own copy.
			s := NewScanner()
			var read int64
			n := int64(len(b))
			rng := rand.New(rand.NewPCG(2, 3))
			var idx Index
			for size := int64(1); ; size = min(n, size+1+rng.Int64N(20<<10)) {
				now := bytes.Clone(b[:size])
				for i := range offs {
					if offs[i] < size && sizeAt[i]+int64(sizeLen[i]) <= size && (i+1 == len(offs) || offs[i+1] >= size) {
						unknownSize(now, sizeAt[i], sizeLen[i])
					}
				}
				var err error
				idx, err = s.Scan(prefix{t, now, size, &read}, size)
				if err != nil {
					t.Fatal(err)
				}
				if len(idx.Points) > len(final.Points) || !slices.Equal(idx.Points, final.Points[:len(idx.Points)]) {
					t.Fatalf("at %d: points %v not a prefix of %v", size, idx.Points, final.Points)
				}
				if idx.Whole > size {
					t.Fatalf("at %d: Whole %d", size, idx.Whole)
				}
				// The cluster being written is never taken as whole; it is
				// closed once the element after it begins, even while its
				// size still reads unknown.
				for i, off := range offs {
					if off < size && size < ends[i] && idx.Whole > off {
						t.Fatalf("at %d: Whole %d past the open cluster at %d", size, idx.Whole, off)
					}
				}
				if size == n {
					break
				}
			}
			// The last cluster's size is set at the end, when Cues follow.
			if !reflect.DeepEqual(idx, final) {
				t.Errorf("grown: %+v\nwant %+v", idx, final)
			}
			if read > n/4 {
				t.Errorf("%d bytes read for a %d-byte file", read, n)
			}

			// ffprobe takes unknown sizes only in a Segment of unknown size.
			seg := bytes.Clone(open)
			size, l, _ := vint(seg[4:], 8, false) // the EBML header's
			at := 4 + int64(l) + int64(size) + 4  // the Segment's size
			_, l, _ = vint(seg[at:], 8, false)
			unknownSize(seg, at, l)
			path := t.TempDir() + "/open.mkv"
			writeFile(t, path, seg)
			if got, want := len(probe(t, path, "v")), len(probe(t, fixturePath(t, name), "v")); got != want {
				t.Errorf("ffprobe lists %d pictures with unknown cluster sizes, %d with sizes", got, want)
			}
		})
	}
}

// A plain MP4 being recorded (ffmpeg's mdat says 8 bytes, its moov is yet
// to come) is a plain MP4 that is not finished, whose media data is not
// walked as boxes; once the recorder sets the mdat's size and writes the
// moov, it is finished.
func TestScanPlainMP4Recording(t *testing.T) {
	b := readFile(t, fixturePath(t, "plain.mp4"))
	types, offs := topBoxes(b)
	m := slices.Index(types, "mdat")
	if m < 0 || slices.Index(types, "moov") < m {
		t.Fatalf("boxes %v: want the mdat before the moov", types)
	}
	mdat, moov := offs[m], offs[slices.Index(types, "moov")]
	recording := bytes.Clone(b[:moov])
	binary.BigEndian.PutUint32(recording[mdat:], 8)
	s := NewScanner()
	var read int64
	for _, n := range []int64{4, 16, mdat + 4, mdat + 8, mdat + 1000, moov / 2, moov} {
		idx, err := s.Scan(prefix{t, recording, n, &read}, n)
		if err != nil {
			t.Fatal(err)
		}
		wantFormat := FormatPlainMP4
		if n <= mdat+4 {
			wantFormat = FormatUnknown
		}
		if idx.Format != wantFormat || idx.Finished || idx.Points != nil || idx.Whole > mdat {
			t.Errorf("at %d: %+v, want a %v, not finished, whole up to the mdat at %d", n, idx, wantFormat, mdat)
		}
	}
	// The recorder stops: the mdat's size is set and the moov written.
	idx, err := s.Scan(prefix{t, b, int64(len(b)), &read}, int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	if idx.Format != FormatPlainMP4 || !idx.Finished || idx.Whole != int64(len(b)) {
		t.Errorf("finished: %+v", idx)
	}
	if read > 4096 {
		t.Errorf("%d bytes read", read)
	}
}

// Files that are no recording this package knows, or are too short to
// tell, are FormatUnknown with no error; a file that shrinks is scanned
// anew.
func TestScanUnknownAndShrinking(t *testing.T) {
	for _, b := range [][]byte{
		nil,
		[]byte("G"),
		[]byte("hello, this is a text file\n"),
		bytes.Repeat([]byte{0x47}, 300), // too short to tell a TS
		append([]byte{0x47}, make([]byte, 1000)...),
		[]byte("\x00\x00\x00\x18ftypisom"), // an MP4 not yet known fragmented or not
		{0x1A, 0x45, 0xDF},
	} {
		idx := scanAll(t, b)
		if idx.Format != FormatUnknown || idx.Points != nil || idx.Finished {
			t.Errorf("%q: %+v", b, idx)
		}
	}
	b := readFile(t, fixturePath(t, "av.ts"))
	s := NewScanner()
	if _, err := s.Scan(bytes.NewReader(b), int64(len(b))); err != nil {
		t.Fatal(err)
	}
	other := readFile(t, fixturePath(t, "av.mkv"))[:100<<10]
	idx, err := s.Scan(bytes.NewReader(other), int64(len(other)))
	if err != nil {
		t.Fatal(err)
	}
	if want := scanAll(t, other); !reflect.DeepEqual(idx, want) {
		t.Errorf("after shrinking: %+v, want %+v", idx, want)
	}
}

// A read that fails is the error of Scan, and the next Scan goes on.
func TestScanReadError(t *testing.T) {
	for _, name := range []string{"frag.mp4", "av.mkv", "av.ts"} {
		b := readFile(t, fixturePath(t, name))
		final := scanAll(t, b)
		s := NewScanner()
		n := int64(len(b))
		_, err := s.Scan(failing{b, n / 2}, n)
		if err == nil {
			t.Errorf("%s: no error from a failing read", name)
		}
		idx, err := s.Scan(bytes.NewReader(b), n)
		if err != nil || !reflect.DeepEqual(idx, final) {
			t.Errorf("%s: after a failed read, %+v, %v; want %+v", name, idx, err, final)
		}
	}
}

// failing fails every read that reaches past bad.
type failing struct {
	b   []byte
	bad int64
}

func (f failing) ReadAt(b []byte, off int64) (int, error) {
	if off+int64(len(b)) > f.bad {
		return 0, fmt.Errorf("disk error at %d", f.bad)
	}
	return copy(b, f.b[off:]), nil
}
