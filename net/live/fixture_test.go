package live

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// The fixtures are recordings ffmpeg makes from lavfi sources, 8 s long,
// with a keyframe every second: made once per test process, all at once.

const (
	videoIn = "-f lavfi -i testsrc2=size=320x240:rate=30"
	audioIn = "-f lavfi -i sine=frequency=440:sample_rate=48000"
	h264    = "-c:v libx264 -preset veryfast -g 30 -pix_fmt yuv420p"
	aac     = "-c:a aac -b:a 96k"
)

// fixture describes one recording and what its index must say.
type fixture struct {
	name     string // file name; the extension tells ffmpeg the muxer
	args     string // ffmpeg arguments before the output, split on spaces
	format   Format
	video    bool // the indexed track is video
	finished bool // the container says its recorder stopped
}

var fixtures = []fixture{
	{"frag.mp4", videoIn + " " + audioIn + " -t 8 " + h264 + " " + aac + " -movflags frag_keyframe+empty_moov", FormatFragmentedMP4, true, true},
	{"fragbase.mp4", videoIn + " " + audioIn + " -t 8 " + h264 + " " + aac + " -movflags frag_keyframe+empty_moov+default_base_moof", FormatFragmentedMP4, true, true},
	{"audio.mp4", audioIn + " -t 8 " + aac + " -frag_duration 1000000 -movflags empty_moov+default_base_moof", FormatFragmentedMP4, false, true},
	{"av.mkv", videoIn + " " + audioIn + " -t 8 " + h264 + " " + aac, FormatMatroska, true, true},
	{"av.webm", videoIn + " " + audioIn + " -t 8 -c:v libvpx -deadline realtime -cpu-used 8 -b:v 400k -g 30 -c:a libopus", FormatMatroska, true, true},
	{"audio.mkv", audioIn + " -t 8 " + aac, FormatMatroska, false, true},
	{"av.ts", videoIn + " " + audioIn + " -t 8 " + h264 + " " + aac + " -f mpegts", FormatMPEGTS, true, false},
	{"audio.ts", audioIn + " -t 8 " + aac + " -f mpegts", FormatMPEGTS, false, false},
	{"plain.mp4", videoIn + " " + audioIn + " -t 8 " + h264 + " " + aac, FormatPlainMP4, true, true},
}

var made struct {
	once sync.Once
	dir  string
	errs map[string]error
}

func TestMain(m *testing.M) {
	code := m.Run()
	for _, dir := range []string{made.dir, bench.dir} {
		if dir != "" {
			os.RemoveAll(dir)
		}
	}
	os.Exit(code)
}

// needFFmpeg skips the test when ffmpeg or ffprobe is missing.
func needFFmpeg(tb testing.TB) {
	tb.Helper()
	for _, tool := range []string{"ffmpeg", "ffprobe"} {
		if _, err := exec.LookPath(tool); err != nil {
			tb.Skipf("%s is not installed", tool)
		}
	}
}

// ffmpegArgs splits a recipe into arguments, with the quiet flags first.
func ffmpegArgs(recipe string, out ...string) []string {
	args := append([]string{"-nostdin", "-loglevel", "error", "-y"}, strings.Fields(recipe)...)
	return append(args, out...)
}

// fixturePath returns the path of the named fixture, making all of them on
// the first call.
func fixturePath(tb testing.TB, name string) string {
	tb.Helper()
	needFFmpeg(tb)
	made.once.Do(func() {
		dir, err := os.MkdirTemp("", "reelay-live-")
		if err != nil {
			made.errs = map[string]error{"": err}
			return
		}
		made.dir = dir
		made.errs = map[string]error{}
		var mu sync.Mutex
		var wg sync.WaitGroup
		for _, f := range fixtures {
			wg.Add(1)
			go func() {
				defer wg.Done()
				cmd := exec.Command("ffmpeg", ffmpegArgs(f.args, filepath.Join(dir, f.name))...)
				if out, err := cmd.CombinedOutput(); err != nil {
					mu.Lock()
					made.errs[f.name] = fmt.Errorf("ffmpeg for %s: %v\n%s", f.name, err, out)
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
	})
	if err := made.errs[""]; err != nil {
		tb.Fatal(err)
	}
	if err := made.errs[name]; err != nil {
		tb.Fatal(err)
	}
	return filepath.Join(made.dir, name)
}

// readFile returns a fixture's bytes.
func readFile(tb testing.TB, path string) []byte {
	tb.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// scanAll scans b in one go.
func scanAll(tb testing.TB, b []byte) Index {
	tb.Helper()
	idx, err := NewScanner().Scan(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		tb.Fatal(err)
	}
	return idx
}

// packet is one packet as ffprobe lists it.
type packet struct {
	pts, dur time.Duration
	pos      int64
	key      bool
}

// probe lists the packets of the file's streams of a kind ("v" or "a"),
// failing the test if ffprobe reports any error.
func probe(tb testing.TB, path, kind string) []packet {
	tb.Helper()
	cmd := exec.Command("ffprobe", "-v", "error", "-select_streams", kind, "-show_entries",
		"packet=pts_time,duration_time,pos,flags", "-of", "json", path)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		tb.Fatalf("ffprobe %s: %v\n%s", path, err, stderr.Bytes())
	}
	if stderr.Len() > 0 {
		tb.Errorf("ffprobe %s reports:\n%s", path, stderr.Bytes())
	}
	var doc struct {
		Packets []struct {
			PTS   string `json:"pts_time"`
			Dur   string `json:"duration_time"`
			Pos   string `json:"pos"`
			Flags string `json:"flags"`
		} `json:"packets"`
	}
	if err := json.Unmarshal(out, &doc); err != nil {
		tb.Fatal(err)
	}
	seconds := func(s string) time.Duration {
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return 0
		}
		return time.Duration(math.Round(f * 1e9))
	}
	var ps []packet
	for _, p := range doc.Packets {
		pos, _ := strconv.ParseInt(p.Pos, 10, 64)
		ps = append(ps, packet{pts: seconds(p.PTS), dur: seconds(p.Dur), pos: pos, key: strings.HasPrefix(p.Flags, "K")})
	}
	return ps
}

// near reports whether two times are within a millisecond.
func near(a, b time.Duration) bool {
	return (a - b).Abs() <= time.Millisecond
}

// The structure as a separate, plain reading of the fixtures sees it, to
// check the scanner's counts against.

// topBoxes lists an MP4's top-level boxes: type and offset.
func topBoxes(b []byte) (types []string, offs []int64) {
	for off := int64(0); off+8 <= int64(len(b)); {
		size := int64(binary.BigEndian.Uint32(b[off:]))
		if size == 1 {
			size = int64(binary.BigEndian.Uint64(b[off+8:]))
		}
		if size < 8 {
			break
		}
		types = append(types, string(b[off+4:off+8]))
		offs = append(offs, off)
		off += size
	}
	return types, offs
}

// clusters lists the offsets of a Matroska file's Clusters and the offset
// and length of each one's size field, and the offsets of all the
// Segment's children (and of its end). It expects known sizes, as ffmpeg
// writes them.
func clusters(tb testing.TB, b []byte) (offs, sizeAt []int64, sizeLen []int, children []int64) {
	tb.Helper()
	el := func(off int64) (id uint32, hlen, size int64, sl int) {
		i, il, _ := vint(b[off:], 4, true)
		s, l, _ := vint(b[off+int64(il):], 8, false)
		return uint32(i), int64(il + l), int64(s), l
	}
	_, hl, sz, _ := el(0) // EBML header
	off := hl + sz
	id, hl, _, _ := el(off)
	if id != idSegment {
		tb.Fatalf("no Segment at %d", off)
	}
	for off += hl; off < int64(len(b)); {
		id, hl, sz, sl := el(off)
		if id == idCluster {
			offs = append(offs, off)
			sizeAt = append(sizeAt, off+hl-int64(sl))
			sizeLen = append(sizeLen, sl)
		}
		children = append(children, off)
		off += hl + sz
	}
	return offs, sizeAt, sizeLen, append(children, int64(len(b)))
}

// writeFile writes a test file.
func writeFile(tb testing.TB, path string, b []byte) {
	tb.Helper()
	if err := os.WriteFile(path, b, 0o644); err != nil {
		tb.Fatal(err)
	}
}
