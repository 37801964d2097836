package live

import (
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// Recordings that ffmpeg writes in real time (-re), scanned every 100 ms
// while it writes, as a sharer does: points appear while the file grows,
// each index is a prefix of the next, nothing is written once the file
// says it is finished, and the last is the index of the finished file.
func TestScanWhileRecording(t *testing.T) {
	if testing.Short() {
		t.Skip("records for 4 s in real time")
	}
	needFFmpeg(t)
	// Without -flush_packets ffmpeg 5.1 holds a small recording's output
	// until it exits; recorders write as they go.
	live := "-re " + videoIn + " -re " + audioIn + " -t 4 " + h264 + " " + aac + " -flush_packets 1"
	for _, c := range []struct {
		name, args string
		format     Format
	}{
		{"rec.mp4", live + " -movflags frag_keyframe+empty_moov", FormatFragmentedMP4},
		{"rec.mkv", live, FormatMatroska},
		{"rec.ts", live + " -f mpegts", FormatMPEGTS},
		{"plain.mp4", live, FormatPlainMP4},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), c.name)
			cmd := exec.Command("ffmpeg", ffmpegArgs(c.args, path)...)
			var stderr strings.Builder
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			exited := make(chan struct{})
			var exit error
			go func() { exit = cmd.Wait(); close(exited) }()
			t.Cleanup(func() {
				cmd.Process.Kill()
				<-exited
			})

			s := NewScanner()
			var history []Index
			var sizes []int64
			pointsWhileRecording, scans := 0, 0
			finishedAt := int64(-1)
			tick := time.NewTicker(100 * time.Millisecond)
			defer tick.Stop()
			for recording := true; recording; {
				select {
				case <-exited:
					if exit != nil {
						t.Fatalf("ffmpeg: %v\n%s", exit, stderr.String())
					}
					recording = false
				case <-tick.C:
				}
				idx, size, err := scanFile(s, path)
				if errors.Is(err, fs.ErrNotExist) {
					continue
				}
				if err != nil {
					t.Fatal(err)
				}
				if idx.Whole > size {
					t.Fatalf("Whole %d of %d bytes", idx.Whole, size)
				}
				if finishedAt >= 0 && size != finishedAt {
					// ffmpeg may exit a moment after its last write, so
					// Finished can come first; it must be the end.
					t.Errorf("Finished at %d bytes, then %d", finishedAt, size)
				}
				if idx.Finished && finishedAt < 0 {
					finishedAt = size
				}
				if recording {
					scans++
					pointsWhileRecording = len(idx.Points)
					if c.format == FormatPlainMP4 && size > 48 && idx.Format != FormatPlainMP4 {
						t.Errorf("a plain MP4 being recorded: %v at %d bytes", idx.Format, size)
					}
				}
				history, sizes = append(history, idx), append(sizes, size)
			}
			final := history[len(history)-1]
			f, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			once, err := NewScanner().Scan(f, sizes[len(sizes)-1])
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(final, once) {
				t.Errorf("scanned while recording: %+v\nin one go: %+v", final, once)
			}
			if final.Format != c.format || c.format != FormatMPEGTS && !final.Finished {
				t.Errorf("finished recording: %v, Finished %v", final.Format, final.Finished)
			}
			for i, idx := range history {
				if len(idx.Points) > len(final.Points) || !slices.Equal(idx.Points, final.Points[:len(idx.Points)]) {
					t.Errorf("at %d bytes: points %v not a prefix of %v", sizes[i], idx.Points, final.Points)
				}
			}
			if c.format != FormatPlainMP4 && pointsWhileRecording == 0 {
				t.Errorf("no point in %d scans while recording", scans)
			}
			t.Logf("%d scans while recording, the last with %d of %d points", scans, pointsWhileRecording, len(final.Points))
		})
	}
}

// scanFile scans the file at path as it is now.
func scanFile(s *Scanner, path string) (Index, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return Index{}, 0, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return Index{}, 0, err
	}
	idx, err := s.Scan(f, fi.Size())
	return idx, fi.Size(), err
}
