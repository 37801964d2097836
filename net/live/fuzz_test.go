package live

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"testing"
)

// Small recordings to seed the fuzzer: every kind of unit in a few KiB.
var fuzzSeeds = []struct{ name, args string }{
	{"seed.mp4", "-f lavfi -i testsrc2=size=64x48:rate=10 -f lavfi -i sine=sample_rate=8000 -t 2 -c:v libx264 -g 5 -pix_fmt yuv420p -c:a aac -b:a 16k -movflags frag_keyframe+empty_moov"},
	{"seed-plain.mp4", "-f lavfi -i testsrc2=size=64x48:rate=10 -t 1 -c:v libx264 -g 5 -pix_fmt yuv420p"},
	{"seed.mkv", "-f lavfi -i testsrc2=size=64x48:rate=10 -f lavfi -i sine=sample_rate=8000 -t 2 -c:v libx264 -g 5 -pix_fmt yuv420p -c:a aac -b:a 16k"},
	{"seed.ts", "-f lavfi -i testsrc2=size=64x48:rate=10 -f lavfi -i sine=sample_rate=8000 -t 2 -c:v libx264 -g 5 -pix_fmt yuv420p -c:a aac -b:a 16k -f mpegts"},
}

// FuzzScan scans any bytes in one go and as they grow in steps: no panic,
// no error from a reader that cannot fail, an index that keeps its
// invariants, the same index either way, and splices that read.
func FuzzScan(f *testing.F) {
	f.Add([]byte{}, uint16(0))
	f.Add([]byte("\x00\x00\x00\x08ftyp\x00\x00\x00\x00mdat"), uint16(3))
	f.Add(append([]byte{0x1A, 0x45, 0xDF, 0xA3, 0x80, 0x18, 0x53, 0x80, 0x67, 0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}, make([]byte, 40)...), uint16(7))
	if _, err := exec.LookPath("ffmpeg"); err == nil {
		dir := f.TempDir()
		for _, s := range fuzzSeeds {
			path := filepath.Join(dir, s.name)
			if out, err := exec.Command("ffmpeg", ffmpegArgs(s.args, path)...).CombinedOutput(); err != nil {
				f.Fatalf("%s: %v\n%s", s.name, err, out)
			}
			b, err := os.ReadFile(path)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b, uint16(1000))
			f.Add(b[:len(b)*2/3], uint16(333))
		}
	}
	f.Fuzz(func(t *testing.T, data []byte, step uint16) {
		n := int64(len(data))
		idx, err := NewScanner().Scan(bytes.NewReader(data), n)
		if err != nil {
			t.Fatal(err)
		}
		checkIndex(t, idx, n)

		s := NewScanner()
		var grown Index
		for size := int64(0); ; size = min(n, size+int64(step%4096)+1) {
			grown, err = s.Scan(bytes.NewReader(data[:size]), size)
			if err != nil {
				t.Fatal(err)
			}
			checkIndex(t, grown, size)
			if size == n {
				break
			}
		}
		if !reflect.DeepEqual(grown, idx) {
			t.Fatalf("grown in steps of %d: %+v\none scan: %+v", step%4096+1, grown, idx)
		}

		for i, p := range idx.Points {
			if i == 3 {
				break
			}
			sp, err := NewSplice(bytes.NewReader(data), idx, p)
			if err != nil {
				continue
			}
			if _, err := io.ReadAll(io.NewSectionReader(sp, 0, n-sp.Base())); err != nil {
				t.Fatal(err)
			}
		}
	})
}

// checkIndex checks what holds of any index of a file of size bytes.
func checkIndex(t *testing.T, idx Index, size int64) {
	t.Helper()
	if idx.Whole < 0 || idx.Whole > size {
		t.Fatalf("Whole %d of %d bytes", idx.Whole, size)
	}
	if idx.Header < 0 || idx.Header > idx.Whole && len(idx.Points) > 0 {
		t.Fatalf("Header %d, Whole %d", idx.Header, idx.Whole)
	}
	if idx.Format == FormatUnknown && (idx.Points != nil || idx.Finished) {
		t.Fatalf("an unknown file with %+v", idx)
	}
	for i, p := range idx.Points {
		if p.Offset < idx.Header || p.Offset >= idx.Whole {
			t.Fatalf("point %+v, header %d, whole %d", p, idx.Header, idx.Whole)
		}
		if i == 0 {
			continue
		}
		if last := idx.Points[i-1]; p.Offset <= last.Offset || p.Time < last.Time || p.Time-last.Time < videoGap {
			t.Fatalf("point %+v after %+v", p, last)
		}
	}
}
