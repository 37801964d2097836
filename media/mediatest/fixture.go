// Package mediatest generates the media files Reelay's tests play, with the
// ffmpeg CLI from lavfi sources (never downloaded), and holds the helpers
// tests share, such as framemd5 comparison against ffmpeg. The A/V sync
// clip's flashes and beeps are found by the detectors of media/syncclip.
package mediatest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"reelay/media/syncclip"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// The sync clip: the picture flashes white for one frame and a 1 kHz tone
// starts, both exactly on every whole second.
const (
	// SyncPeriod is the time between two flashes (and two beeps); media's
	// detectors find them.
	SyncPeriod = syncclip.SyncPeriod
	// BeepDuration is how long each beep lasts.
	BeepDuration = 50 * time.Millisecond
	// BeepFrequency is the beep's pitch in Hz.
	BeepFrequency = 1000
)

// FixtureDuration is the length of every fixture.
const FixtureDuration = 10 * time.Second

const (
	x264 = "-c:v libx264 -preset veryfast -crf 30 -g 30 -pix_fmt yuv420p"
	tone = "aevalsrc=0.4*sin(2*PI*440*t)|0.4*sin(2*PI*660*t):s=48000:d=10"
	// Dark moving test picture, white for frame 0 of every second.
	syncCamera = "testsrc2=size=640x360:rate=30:duration=10,lutyuv=y=val*0.4," +
		"drawbox=x=0:y=0:w=iw:h=ih:color=white:t=fill:enable='eq(mod(n,30),0)'"
	syncScreen = "testsrc2=size=1280x720:rate=10:duration=10,lutyuv=y=val*0.4," +
		"drawbox=x=0:y=0:w=iw:h=ih:color=white:t=fill:enable='eq(mod(n,10),0)'"
	// 50 ms of 1 kHz at half scale from each whole second, silence between.
	syncBeep = "aevalsrc=if(lt(mod(t\\,1)\\,0.05)\\,0.5*sin(2*PI*1000*t)\\,0)|" +
		"if(lt(mod(t\\,1)\\,0.05)\\,0.5*sin(2*PI*1000*t)\\,0):s=48000:d=10"
)

// recipes are the ffmpeg arguments (split on spaces, except lavfi graphs)
// that make each fixture; the output path is appended.
var recipes = map[string][]string{
	// H.264 640x360 30 fps, no audio, index at the front.
	"camera.mp4": lavfi([]string{"testsrc2=size=640x360:rate=30:duration=10"}, x264, "-movflags +faststart"),
	// H.264 1280x720 10 fps, as a screen recording.
	"screen.mp4": lavfi([]string{"testsrc2=size=1280x720:rate=10:duration=10"}, x264, "-movflags +faststart"),
	// AAC 48 kHz stereo.
	"mic.m4a": lavfi([]string{tone}, "-c:a aac -b:a 64k -movflags +faststart"),
	// H.264 + AAC.
	"av.mp4": lavfi([]string{"testsrc2=size=640x360:rate=30:duration=10", tone}, x264, "-c:a aac -b:a 64k -movflags +faststart"),
	// H.264 + AAC with the index (moov) after the media data.
	"av-tail.mov": lavfi([]string{"testsrc2=size=640x360:rate=30:duration=10", tone}, x264, "-c:a aac -b:a 64k"),
	"vp9-opus.webm": lavfi([]string{"testsrc2=size=320x180:rate=30:duration=10", tone},
		"-c:v libvpx-vp9 -b:v 150k -deadline realtime -cpu-used 8 -g 30 -c:a libopus -b:a 48k"),
	"vp8-vorbis.mkv": lavfi([]string{"testsrc2=size=320x180:rate=30:duration=10", tone},
		"-c:v libvpx -b:v 150k -deadline realtime -cpu-used 8 -g 30 -c:a libvorbis -q:a 2"),
	"opus.ogg":   lavfi([]string{tone}, "-c:a libopus -b:a 48k"),
	"vorbis.ogg": lavfi([]string{tone}, "-c:a libvorbis -q:a 2"),
	"mp3.mp3":    lavfi([]string{tone}, "-c:a libmp3lame -b:a 64k"),
	// PCM s16 44.1 kHz mono: needs resampling and upmixing.
	"wav.wav": lavfi([]string{"sine=frequency=440:sample_rate=44100:duration=10"}, "-c:a pcm_s16le"),
	"flac.flac": lavfi([]string{"aevalsrc=0.4*sin(2*PI*440*t)|0.4*sin(2*PI*660*t):s=44100:d=10"},
		"-c:a flac"),
	// A screen share as the home-link benchmark's: noise makes every
	// keyframe a few hundred kB, the index is at the end.
	"noisy-tail.mp4": lavfi([]string{"testsrc2=size=1280x720:rate=30:duration=10,noise=alls=20:allf=t+u", tone},
		"-c:v libx264 -preset veryfast -b:v 6M -maxrate 6M -bufsize 6M -g 60 -pix_fmt yuv420p -c:a aac -b:a 64k"),
	// For the decode benchmark.
	"1080p.mp4": lavfi([]string{"testsrc2=size=1920x1080:rate=30:duration=10"}, x264, "-movflags +faststart"),

	"sync-camera.mp4": lavfi([]string{syncCamera}, x264, "-movflags +faststart"),
	"sync-screen.mp4": lavfi([]string{syncScreen}, x264, "-movflags +faststart"),
	"sync-mic.m4a":    lavfi([]string{syncBeep}, "-c:a aac -b:a 128k -movflags +faststart"),
	"sync-av.mp4":     lavfi([]string{syncCamera, syncBeep}, x264, "-c:a aac -b:a 128k -movflags +faststart"),
}

// LongDuration is the length of the long fixtures.
const LongDuration = 20 * time.Minute

// longRecipes are recordings long enough that reading one from its start
// shows in a test: a talk's microphone, 20 minutes of mono at 32 kbit/s,
// in formats without an index, over quiet noise (a voice never leaves the
// encoder silence to skimp on, so the bit rate stays near constant, as a
// talk's does). A 50 ms beep starts each whole second that LongBeeps
// names, so a test can tell where a seek landed to the sample. They are
// apart from recipes (and Names), so the tests that go through every
// fixture do not decode 20 minutes each.
var longRecipes = map[string][]string{
	"talk.mp3": lavfi([]string{longBeep}, "-c:a libmp3lame -b:a 32k"),
	"talk.aac": lavfi([]string{longBeep}, "-c:a aac -b:a 32k"),
}

// LongBeeps says whether a long fixture beeps at the whole second s: the
// seconds that are multiples of 3 or of 7, a pattern that repeats only
// every 21 s, so a landing a few seconds off shows.
func LongBeeps(s int) bool { return s%3 == 0 || s%7 == 0 }

// longBeep is the long fixtures' sound: LongBeeps' 1 kHz beeps at half
// scale, mono at 22.05 kHz, over noise at 5 %.
const longBeep = "aevalsrc=if(lt(mod(t\\,1)\\,0.05)*(eq(mod(floor(t)\\,3)\\,0)+eq(mod(floor(t)\\,7)\\,0))\\,0.5*sin(2*PI*1000*t)\\,0)" +
	"+0.05*(2*random(0)-1):s=22050:d=1200"

// Long returns the path of the named long fixture (talk.mp3, talk.aac),
// generated and cached as Fixture does.
func Long(tb testing.TB, name string) string {
	tb.Helper()
	args, ok := longRecipes[name]
	if !ok {
		tb.Fatalf("mediatest: no long fixture %q", name)
	}
	return made(tb, name, args)
}

func lavfi(inputs []string, opts ...string) []string {
	var args []string
	for _, in := range inputs {
		args = append(args, "-f", "lavfi", "-i", in)
	}
	for _, o := range opts {
		args = append(args, strings.Fields(o)...)
	}
	return args
}

// Names lists every fixture Fixture can make, sorted.
func Names() []string {
	var names []string
	for n := range recipes {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// fixture is one generated file, made once per process.
type fixture struct {
	once sync.Once
	path string
	err  error
}

var fixtures sync.Map // name → *fixture

// encoders limits how many ffmpeg processes run at once.
var encoders = make(chan struct{}, runtime.NumCPU())

// Fixture returns the path of the named fixture (see Names), generating it
// with ffmpeg if needed. Files are cached in a directory under
// os.TempDir(), keyed by the recipe, so later runs and other test processes
// reuse them; a file appears there only complete. Safe for parallel tests.
// Without an ffmpeg on PATH the test fails: fixtures are never skipped.
func Fixture(tb testing.TB, name string) string {
	tb.Helper()
	args, ok := recipes[name]
	if !ok {
		tb.Fatalf("mediatest: no fixture %q (have %s)", name, strings.Join(Names(), ", "))
	}
	return made(tb, name, args)
}

// made returns the path of the fixture name made by args, once per process.
func made(tb testing.TB, name string, args []string) string {
	tb.Helper()
	v, _ := fixtures.LoadOrStore(name, &fixture{})
	f := v.(*fixture)
	f.once.Do(func() { f.path, f.err = generate(name, args) })
	if f.err != nil {
		tb.Fatalf("mediatest: %v", f.err)
	}
	return f.path
}

func generate(name string, args []string) (string, error) {
	ffmpeg, err := exec.LookPath("ffmpeg")
	if err != nil {
		return "", fmt.Errorf("generating fixture %q needs the ffmpeg CLI on PATH (Debian: apt-get install ffmpeg): %w", name, err)
	}
	sum := sha256.Sum256([]byte(strings.Join(args, "\x00")))
	dir := filepath.Join(os.TempDir(), "reelay-mediatest")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("creating fixture cache: %w", err)
	}
	ext := filepath.Ext(name)
	base := strings.TrimSuffix(name, ext)
	path := filepath.Join(dir, base+"-"+hex.EncodeToString(sum[:6])+ext)
	if _, err := os.Stat(path); err == nil {
		return path, nil
	}

	// ffmpeg picks the container from the extension, so the temporary name
	// keeps it.
	tmp, err := os.CreateTemp(dir, base+"-*.tmp"+ext)
	if err != nil {
		return "", fmt.Errorf("creating fixture %q: %w", name, err)
	}
	tmp.Close()
	defer os.Remove(tmp.Name())
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return "", fmt.Errorf("creating fixture %q: %w", name, err)
	}

	// Encoders already use every core; more at once only thrash.
	encoders <- struct{}{}
	defer func() { <-encoders }()

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	full := append([]string{"-nostdin", "-hide_banner", "-loglevel", "error", "-y"}, args...)
	full = append(full, tmp.Name())
	out, err := exec.CommandContext(ctx, ffmpeg, full...).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("generating fixture %q failed: ffmpeg %s: %w\n%s", name, strings.Join(full, " "), err, out)
	}
	// Link, unlike rename, never replaces a file another process already
	// published and may be reading.
	if err := os.Link(tmp.Name(), path); err != nil && !errors.Is(err, fs.ErrExist) {
		return "", fmt.Errorf("publishing fixture %q: %w", name, err)
	}
	return path, nil
}
