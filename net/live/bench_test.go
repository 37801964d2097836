package live

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
)

// A minute of 640x360 noise at 4 Mbit/s with AAC, a keyframe every 2 s,
// encoded once and remuxed as each recorder writes it.
var bench struct {
	once sync.Once
	dir  string
	err  error
}

const benchSeconds = 60

func benchFile(b *testing.B, name string) string {
	b.Helper()
	needFFmpeg(b)
	bench.once.Do(func() {
		bench.dir, bench.err = os.MkdirTemp("", "reelay-live-bench-")
		if bench.err != nil {
			return
		}
		src := filepath.Join(bench.dir, "src.mkv")
		encode := "-f lavfi -i testsrc2=size=640x360:rate=30,noise=alls=12:allf=t -f lavfi -i sine=sample_rate=48000 -t 60 " +
			"-c:v libx264 -preset ultrafast -b:v 4M -maxrate 4M -bufsize 8M -g 60 -pix_fmt yuv420p -c:a aac -b:a 128k"
		for _, args := range [][]string{
			ffmpegArgs(encode, src),
			ffmpegArgs("-i "+src+" -c copy -movflags frag_keyframe+empty_moov", filepath.Join(bench.dir, "bench.mp4")),
			ffmpegArgs("-i "+src+" -c copy", filepath.Join(bench.dir, "bench.mkv")),
			ffmpegArgs("-i "+src+" -c copy -f mpegts", filepath.Join(bench.dir, "bench.ts")),
		} {
			if out, err := exec.Command("ffmpeg", args...).CombinedOutput(); err != nil {
				bench.err = err
				b.Logf("%s", out)
				return
			}
		}
	})
	if bench.err != nil {
		b.Fatal(bench.err)
	}
	return filepath.Join(bench.dir, name)
}

// counting counts the reads and bytes read from a file.
type counting struct {
	r            io.ReaderAt
	reads, bytes atomic.Int64
}

func (c *counting) ReadAt(b []byte, off int64) (int, error) {
	c.reads.Add(1)
	c.bytes.Add(int64(len(b)))
	return c.r.ReadAt(b, off)
}

// BenchmarkScan measures a sharer's scans of a minute-long recording in
// each format, read from disk (the page cache): from scratch, after a
// second of growth, and with no growth (the rescan every 250 ms of a
// recording that ends in the middle of a unit and has not grown since).
func BenchmarkScan(b *testing.B) {
	for _, name := range []string{"bench.mp4", "bench.mkv", "bench.ts"} {
		b.Run(name, func(b *testing.B) {
			f, err := os.Open(benchFile(b, name))
			if err != nil {
				b.Fatal(err)
			}
			defer f.Close()
			fi, err := f.Stat()
			if err != nil {
				b.Fatal(err)
			}
			size := fi.Size()
			grown := size - size/benchSeconds
			c := &counting{r: f}
			report := func(b *testing.B, n int) {
				b.ReportMetric(float64(c.reads.Load())/float64(n), "reads/op")
				b.ReportMetric(float64(c.bytes.Load())/float64(n), "bytes-read/op")
			}
			b.Run("whole", func(b *testing.B) {
				c.reads.Store(0)
				c.bytes.Store(0)
				b.ReportAllocs()
				for b.Loop() {
					idx, err := NewScanner().Scan(c, size)
					if err != nil || len(idx.Points) < benchSeconds/2-1 {
						b.Fatalf("%d points, %v", len(idx.Points), err)
					}
				}
				report(b, b.N)
			})
			b.Run("grown1s", func(b *testing.B) {
				// Each round scans on from a copy of a scanner that has
				// seen all but the last second (the copies' appends to the
				// shared points go past what the original holds).
				at := NewScanner()
				if _, err := at.Scan(f, grown); err != nil {
					b.Fatal(err)
				}
				c.reads.Store(0)
				c.bytes.Store(0)
				b.ReportAllocs()
				for b.Loop() {
					s := *at
					if _, err := s.Scan(c, size); err != nil {
						b.Fatal(err)
					}
				}
				report(b, b.N)
			})
			b.Run("unchanged", func(b *testing.B) {
				s := NewScanner()
				if _, err := s.Scan(f, grown); err != nil {
					b.Fatal(err)
				}
				c.reads.Store(0)
				c.bytes.Store(0)
				b.ReportAllocs()
				for b.Loop() {
					if _, err := s.Scan(c, grown); err != nil {
						b.Fatal(err)
					}
				}
				report(b, b.N)
			})
		})
	}
}
