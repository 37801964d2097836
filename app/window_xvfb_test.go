package app_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/draw"
	"image/png"
	"io"
	stdnet "net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	gosync "sync"
	"syscall"
	"testing"
	"time"

	"reelay/app"
	"reelay/app/cli"
	"reelay/app/report"
	"reelay/assets"
	"reelay/media/mediatest"
	"reelay/net/leakcheck"
)

// TestMain lets the test binary stand in for the reelay binary: with
// REELAY_CLI_MAIN=1 it runs the command line, so the window test starts
// the real app in a process of its own. Otherwise it runs the tests and
// fails if, taken together, they left goroutines running or descriptors
// open.
func TestMain(m *testing.M) {
	if os.Getenv("REELAY_CLI_MAIN") == "1" {
		os.Exit(cli.Main(os.Args[1:]))
	}
	os.Exit(leakcheck.Main(m))
}

// needDisplay skips the test without a display, unless the run is one
// that must have it (CI, or under .ci/av-env), where it fails.
func needDisplay(t *testing.T) {
	t.Helper()
	required := os.Getenv("CI") != "" || os.Getenv("REELAY_REQUIRE_AUDIO") != ""
	if err := app.CheckDisplay(); err != nil {
		if required {
			t.Fatalf("%v (run the tests under .ci/av-env)", err)
		}
		t.Skipf("%v; run under .ci/av-env", err)
	}
	for _, tool := range []string{"xdotool", "import"} {
		if _, err := exec.LookPath(tool); err != nil {
			if required {
				t.Fatalf("%s not found: install the test packages (.ci/deps test)", tool)
			}
			t.Skipf("%s not found", tool)
		}
	}
}

// uiLine is one line of the window's debug log.
type uiLine struct {
	Ev   string `json:"ev"`
	TMs  int64  `json:"t_ms"`
	View string `json:"view"`
	// layout
	Fullscreen bool              `json:"fullscreen"`
	Window     [2]int            `json:"window"`
	Mode       string            `json:"mode"`
	Tiles      map[string][4]int `json:"tiles"`
	Toggles    map[string][4]int `json:"toggles"`
	Video      [4]int            `json:"video"`
	TimeRect   [4]int            `json:"-"`
	StatusRect [4]int            `json:"-"`
	SeekBar    [4]int            `json:"seekbar"`
	Controls   bool              `json:"controls"`
	// controls (shown or hidden in fullscreen) and stats (on or off)
	Shown bool `json:"shown"`
	// seek-tip: what the seek bar's tooltip says, and where
	Text string `json:"text"`
	Tip  [4]int `json:"tip"`
	// screenshot
	Path string `json:"path"`
	Size [2]int `json:"size"`
	// status; Live is what the Live button says ("" hidden)
	Live     string `json:"live"`
	State    string `json:"state"`
	Playing  bool   `json:"playing"`
	PosMs    int64  `json:"pos_ms"`
	TimeText string `json:"-"`
	// StatusText is the status line's text.
	StatusText string                 `json:"-"`
	Tracks     map[string]uiTrackLine `json:"tracks"`
	// error
	Title   string `json:"title"`
	Message string `json:"message"`
	// connection (State as above)
	Reconnects int `json:"reconnects"`
}

type uiTrackLine struct {
	On      bool   `json:"on"`
	Visible bool   `json:"visible"`
	Painted int64  `json:"painted"`
	Frame   [2]int `json:"frame"`
}

func parseUILine(s string) (uiLine, bool) {
	var l uiLine
	if json.Unmarshal([]byte(s), &l) != nil {
		return l, false
	}
	// "time" is the time label's rect in a layout line and its text in a
	// status line.
	var raw struct {
		Time   json.RawMessage `json:"time"`
		Status json.RawMessage `json:"status"`
	}
	json.Unmarshal([]byte(s), &raw)
	if l.Ev == "layout" {
		json.Unmarshal(raw.Time, &l.TimeRect)
		json.Unmarshal(raw.Status, &l.StatusRect)
	} else {
		json.Unmarshal(raw.Time, &l.TimeText)
		json.Unmarshal(raw.Status, &l.StatusText)
	}
	return l, true
}

// uiLog collects the window's debug lines and its other output.
type uiLog struct {
	mu    gosync.Mutex
	lines []uiLine
	all   bytes.Buffer
	// ended is set when the app's output ends: it has exited.
	ended bool
}

func (l *uiLog) read(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<16), 1<<20)
	for sc.Scan() {
		text := sc.Text()
		l.mu.Lock()
		l.all.WriteString(text + "\n")
		if rest, ok := strings.CutPrefix(text, app.DebugPrefix); ok {
			if line, ok := parseUILine(rest); ok {
				l.lines = append(l.lines, line)
			}
		}
		l.mu.Unlock()
	}
	l.mu.Lock()
	l.ended = true
	l.mu.Unlock()
}

// waitFor returns the first line from index from on that matches, and the
// index after it.
func (l *uiLog) waitFor(t *testing.T, what string, from int, timeout time.Duration, match func(uiLine) bool) (uiLine, int) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		l.mu.Lock()
		for i := from; i < len(l.lines); i++ {
			if match(l.lines[i]) {
				line := l.lines[i]
				l.mu.Unlock()
				return line, i + 1
			}
		}
		n, ended := len(l.lines), l.ended
		l.mu.Unlock()
		if ended {
			t.Fatalf("the app exited before %s (%d debug lines)", what, n)
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s (%d debug lines)", timeout, what, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (l *uiLog) last(ev string) (uiLine, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i := len(l.lines) - 1; i >= 0; i-- {
		if l.lines[i].Ev == ev {
			return l.lines[i], i + 1
		}
	}
	return uiLine{}, 0
}

func (l *uiLog) text() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.all.String()
}

// screen is the X display as the test sees it.
type screen struct {
	t   *testing.T
	dir string
	n   int
	// display is the X display to use, "" for the test's own DISPLAY.
	display string
	// wid is the window's X id; x and y where it is on the screen.
	wid  string
	x, y int
}

func (s *screen) command(args ...string) *exec.Cmd {
	cmd := exec.Command(args[0], args[1:]...)
	if s.display != "" {
		cmd.Env = append(os.Environ(), "DISPLAY="+s.display)
	}
	return cmd
}

func (s *screen) run(args ...string) string {
	s.t.Helper()
	out, err := s.command(args...).CombinedOutput()
	if err != nil {
		s.t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// findWindow waits for the Reelay window and reads where it is.
func (s *screen) findWindow(timeout time.Duration) {
	s.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		out, _ := s.command("xdotool", "search", "--name", "Reelay$").Output()
		if ids := strings.Fields(string(out)); len(ids) > 0 {
			s.wid = ids[len(ids)-1]
			break
		}
		if time.Now().After(deadline) {
			s.t.Fatal("the Reelay window did not appear")
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.locate()
}

// locate reads the window's place on the screen.
func (s *screen) locate() {
	s.t.Helper()
	for _, kv := range strings.Fields(s.run("xdotool", "getwindowgeometry", "--shell", s.wid)) {
		k, v, _ := strings.Cut(kv, "=")
		n, _ := strconv.Atoi(v)
		switch k {
		case "X":
			s.x = n
		case "Y":
			s.y = n
		}
	}
}

// shot takes a screenshot of the whole screen, saved as name.png.
func (s *screen) shot(name string) *image.RGBA {
	s.t.Helper()
	s.n++
	path := filepath.Join(s.dir, fmt.Sprintf("%02d-%s.png", s.n, name))
	s.run("import", "-window", "root", path)
	f, err := os.Open(path)
	if err != nil {
		s.t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		s.t.Fatalf("%s: %v", path, err)
	}
	rgba := image.NewRGBA(img.Bounds())
	draw.Draw(rgba, rgba.Rect, img, img.Bounds().Min, draw.Src)
	s.t.Logf("screenshot %s", path)
	return rgba
}

// key presses keys in the window (real X key events through XTEST).
func (s *screen) key(keys ...string) {
	s.t.Helper()
	s.run("xdotool", "windowfocus", "--sync", s.wid)
	s.run(append([]string{"xdotool", "key", "--delay", "50"}, keys...)...)
}

// click clicks the middle of a rect given in window pixels.
func (s *screen) click(r [4]int) {
	s.t.Helper()
	x, y := s.x+r[0]+r[2]/2, s.y+r[1]+r[3]/2
	s.run("xdotool", "mousemove", "--sync", strconv.Itoa(x), strconv.Itoa(y), "click", "1")
}

// rectOnScreen turns a rect in window pixels into screen coordinates,
// shrunk by margin on every side.
func (s *screen) rectOnScreen(r [4]int, margin int) image.Rectangle {
	return image.Rect(s.x+r[0]+margin, s.y+r[1]+margin, s.x+r[0]+r[2]-margin, s.y+r[1]+r[3]-margin)
}

// changed is the fraction of pixels in r (minus the rects in except)
// that differ noticeably between a and b.
func changed(a, b *image.RGBA, r image.Rectangle, except ...image.Rectangle) float64 {
	r = r.Intersect(a.Bounds()).Intersect(b.Bounds())
	var n, diff int
	for y := r.Min.Y; y < r.Max.Y; y += 2 {
	next:
		for x := r.Min.X; x < r.Max.X; x += 2 {
			p := image.Pt(x, y)
			for _, e := range except {
				if p.In(e) {
					continue next
				}
			}
			n++
			i := a.PixOffset(x, y)
			d := 0
			for c := range 3 {
				d += abs(int(a.Pix[i+c]) - int(b.Pix[i+c]))
			}
			if d > 48 {
				diff++
			}
		}
	}
	if n == 0 {
		return 0
	}
	return float64(diff) / float64(n)
}

// lit is the fraction of pixels in r that are not black.
func lit(a *image.RGBA, r image.Rectangle) float64 {
	r = r.Intersect(a.Bounds())
	var n, on int
	for y := r.Min.Y; y < r.Max.Y; y += 2 {
		for x := r.Min.X; x < r.Max.X; x += 2 {
			n++
			i := a.PixOffset(x, y)
			if int(a.Pix[i])+int(a.Pix[i+1])+int(a.Pix[i+2]) > 60 {
				on++
			}
		}
	}
	if n == 0 {
		return 0
	}
	return float64(on) / float64(n)
}

// panelGrey is the fraction of pixels in r of the dark grey the window's
// panels are painted in, which no picture of the demo has.
func panelGrey(a *image.RGBA, r image.Rectangle) float64 {
	r = r.Intersect(a.Bounds())
	var n, grey int
	for y := r.Min.Y; y < r.Max.Y; y += 2 {
		for x := r.Min.X; x < r.Max.X; x += 2 {
			n++
			i := a.PixOffset(x, y)
			lo := min(a.Pix[i], a.Pix[i+1], a.Pix[i+2])
			hi := max(a.Pix[i], a.Pix[i+1], a.Pix[i+2])
			if lo >= 10 && hi <= 50 && hi-lo < 8 {
				grey++
			}
		}
	}
	if n == 0 {
		return 0
	}
	return float64(grey) / float64(n)
}

// brightness is the mean of the pixels' channels in r, 0 to 255.
func brightness(a *image.RGBA, r image.Rectangle) float64 {
	r = r.Intersect(a.Bounds())
	var sum, n int
	for y := r.Min.Y; y < r.Max.Y; y += 2 {
		for x := r.Min.X; x < r.Max.X; x += 2 {
			i := a.PixOffset(x, y)
			sum += int(a.Pix[i]) + int(a.Pix[i+1]) + int(a.Pix[i+2])
			n += 3
		}
	}
	if n == 0 {
		return 0
	}
	return float64(sum) / float64(n)
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// TestDemoWindow runs `reelay demo` in a process of its own under a real
// X server and drives it with real keys and clicks: both video tracks move
// within 3 s of start; switching the camera off takes its picture away;
// a seek moves the position text and the picture; f fills the screen; q
// quits. Each step is checked on screenshots, where the window's debug log
// says its parts are.
func TestDemoWindow(t *testing.T) {
	needDisplay(t)
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	home := t.TempDir()
	scr := &screen{t: t, dir: t.TempDir()}
	if d := os.Getenv("REELAY_SCREENSHOTS"); d != "" {
		scr.dir = d
	}

	cmd := exec.CommandContext(ctx, os.Args[0], "demo")
	cmd.Env = append(os.Environ(), "REELAY_CLI_MAIN=1", "REELAY_UI_DEBUG=1",
		"XDG_CONFIG_HOME="+filepath.Join(home, "config"), "HOME="+home)
	cmd.WaitDelay = 10 * time.Second
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	log := &uiLog{}
	readDone := make(chan struct{})
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { defer close(readDone); log.read(stderr) }()
	exited := false
	defer func() {
		if !exited {
			cmd.Process.Kill()
			cmd.Wait()
		}
		<-readDone
		if t.Failed() {
			t.Logf("the app's output:\n%s", log.text())
		}
	}()

	// 1. Moving video of both visible tracks: the window's own count of
	// new frames painted, read as its debug lines arrive (so the time
	// logged is an upper bound; how soon is for the benchmarks, as a
	// window's start varies with the machine's load), then two
	// screenshots where both pictures differ.
	painting := func(l uiLine) bool {
		return l.Ev == "status" && l.Tracks["screen"].Painted >= 3 && l.Tracks["camera"].Painted >= 3
	}
	log.waitFor(t, "both tracks painting", 0, 30*time.Second, painting)
	painted := time.Since(start)
	// The demo's subtitles reach the window from their own track.
	log.waitFor(t, "the demo's first subtitle", 0, 30*time.Second, func(l uiLine) bool {
		return l.Ev == "subtitle" && strings.HasPrefix(l.Text, "This is Reelay's demo")
	})
	t.Logf("both tracks had 3 new frames painted %v after start", painted.Round(time.Millisecond))
	// The first layout passes may come before every part has its place.
	both := func(l uiLine) bool {
		_, s := l.Tiles["screen"]
		c, ok := l.Tiles["camera"]
		return l.Ev == "layout" && s && ok && l.Video[2] > 0 && c[0] > 0 && l.Toggles["camera"][1] > 0
	}
	layout, _ := log.waitFor(t, "a layout with the screen and the camera", 0, 30*time.Second, both)
	scr.findWindow(10 * time.Second)
	scr.run("xdotool", "mousemove", "--sync", strconv.Itoa(scr.x+layout.Video[2]/2), strconv.Itoa(scr.y+layout.Video[3]/3))
	camRect := scr.rectOnScreen(layout.Tiles["camera"], 4)
	screenRect := scr.rectOnScreen(layout.Tiles["screen"], 4)
	var moving time.Duration
	prev := scr.shot("start")
	for {
		taken := time.Since(start)
		cur := scr.shot("start")
		cs, cc := changed(prev, cur, screenRect, camRect), changed(prev, cur, camRect)
		shown := lit(prev, camRect) > 0.5 && lit(prev, screenRect) > 0.5 && lit(cur, camRect) > 0.5 && lit(cur, screenRect) > 0.5
		if shown && cs > 0.001 && cc > 0.01 {
			moving = taken
			t.Logf("screenshots: both pictures moving %v after start (screen %.1f%%, camera %.1f%% of pixels changed between two shots)", moving.Round(time.Millisecond), 100*cs, 100*cc)
			break
		}
		if time.Since(start) > 20*time.Second {
			t.Fatalf("the pictures did not move (screen %.2f%%, camera %.2f%% changed)", 100*cs, 100*cc)
		}
		prev = cur
	}

	// 2. Pause (space), then switch the camera off with its toggle: its
	// picture is gone and the paused screen shows where it was.
	// The pictures flash white on every whole second; pausing on a flash
	// would leave nothing to compare, so pause again a little later.
	var paused *image.RGBA
	var i int
	for try := 0; ; try++ {
		if try > 0 {
			scr.key("space")
			log.waitFor(t, "playing", i, 10*time.Second, func(l uiLine) bool { return l.Ev == "status" && l.State == "playing" })
			time.Sleep(time.Duration(200+100*try) * time.Millisecond)
		}
		scr.key("space")
		_, i = log.waitFor(t, "paused", i, 10*time.Second, func(l uiLine) bool { return l.Ev == "status" && l.State == "paused" })
		time.Sleep(400 * time.Millisecond)
		paused = scr.shot("paused")
		if brightness(paused, camRect) < 200 && brightness(paused, screenRect) < 200 {
			break
		}
		if try == 4 {
			t.Fatal("paused on a white flash five times")
		}
	}
	layout, _ = log.last("layout")
	scr.click(layout.Toggles["camera"])
	log.waitFor(t, "the camera switched off", i, 10*time.Second, func(l uiLine) bool {
		_, c := l.Tiles["camera"]
		return l.Ev == "layout" && !c
	})
	time.Sleep(400 * time.Millisecond)
	camOff := scr.shot("camera-off")
	if f := changed(paused, camOff, camRect); f < 0.2 {
		t.Errorf("switching the camera off changed %.1f%% of its region, want its picture gone", 100*f)
	}
	if f := changed(paused, camOff, screenRect, camRect.Inset(-8)); f > 0.005 {
		t.Errorf("switching the camera off changed %.2f%% of the paused screen outside the camera's region", 100*f)
	}

	// 3. Seek 5 s forward (→): the position text and the picture move.
	st, i := log.last("status")
	scr.key("Right")
	seeked, _ := log.waitFor(t, "the seek", i, 10*time.Second, func(l uiLine) bool {
		return l.Ev == "status" && l.PosMs >= st.PosMs+4500
	})
	log.waitFor(t, "the seek to finish", i, 10*time.Second, func(l uiLine) bool { return l.Ev == "seeked" })
	time.Sleep(400 * time.Millisecond)
	afterSeek := scr.shot("seek")
	if seeked.TimeText == st.TimeText {
		t.Errorf("the time says %q before and after the seek", st.TimeText)
	}
	t.Logf("the time went from %q to %q", st.TimeText, seeked.TimeText)
	lay, _ := log.last("layout")
	timeRect := scr.rectOnScreen(lay.TimeRect, 0)
	if f := changed(camOff, afterSeek, timeRect); f < 0.003 {
		t.Errorf("the seek changed %.2f%% of the position text's pixels", 100*f)
	}
	if f := changed(camOff, afterSeek, screenRect); f < 0.01 {
		t.Errorf("the seek changed %.2f%% of the screen's picture", 100*f)
	}

	// 4. Twice ] plays at 1.5× (the sound through the null sink, at its
	// own pitch): the status line says so and the time runs half as fast
	// again as the wall clock; Backspace is back to normal speed.
	scr.key("space")
	_, i = log.waitFor(t, "playing", i, 10*time.Second, func(l uiLine) bool { return l.Ev == "status" && l.State == "playing" })
	scr.key("bracketright", "bracketright")
	fast, i := log.waitFor(t, "1.5×", i, 10*time.Second, func(l uiLine) bool {
		return l.Ev == "status" && strings.Contains(l.StatusText, "1.5×")
	})
	later, _ := log.waitFor(t, "2 s at 1.5×", i, 10*time.Second, func(l uiLine) bool {
		return l.Ev == "status" && l.TMs >= fast.TMs+2000
	})
	if rate := float64(later.PosMs-fast.PosMs) / float64(later.TMs-fast.TMs); rate < 1.35 || rate > 1.65 {
		t.Errorf("at 1.5× the time ran %.2f× the wall clock", rate)
	}
	scr.key("BackSpace", "space")
	_, i = log.waitFor(t, "normal speed, paused", i, 10*time.Second, func(l uiLine) bool {
		return l.Ev == "status" && l.State == "paused" && !strings.Contains(l.StatusText, "×")
	})

	// v hides the subtitles and shows them again.
	scr.key("v")
	_, i = log.waitFor(t, "subtitles hidden", i, 10*time.Second, func(l uiLine) bool {
		return l.Ev == "status" && strings.Contains(l.StatusText, "Subtitles hidden")
	})
	scr.key("v")
	_, i = log.waitFor(t, "subtitles shown", i, 10*time.Second, func(l uiLine) bool {
		return l.Ev == "status" && strings.Contains(l.StatusText, "Subtitles shown")
	})

	// . and , step a picture (an exact seek each, paused); i shows the
	// statistics; s saves a screenshot as big as the video area.
	scr.key("period")
	_, i = log.waitFor(t, "a step forward", i, 10*time.Second, func(l uiLine) bool { return l.Ev == "seeked" })
	scr.key("comma")
	_, i = log.waitFor(t, "a step back", i, 10*time.Second, func(l uiLine) bool { return l.Ev == "seeked" })
	scr.key("i")
	_, i = log.waitFor(t, "the statistics", i, 10*time.Second, func(l uiLine) bool { return l.Ev == "stats" && l.Shown })
	scr.key("s")
	shot, i := log.waitFor(t, "a screenshot", i, 10*time.Second, func(l uiLine) bool { return l.Ev == "screenshot" })
	if !strings.HasPrefix(shot.Path, filepath.Join(home, "Pictures", "Reelay")) {
		t.Errorf("the screenshot went to %s", shot.Path)
	}
	if f, err := os.Open(shot.Path); err != nil {
		t.Error(err)
	} else {
		cfg, err := png.DecodeConfig(f)
		f.Close()
		lay, _ := log.last("layout")
		if err != nil || cfg.Width != lay.Video[2] || cfg.Height != lay.Video[3] {
			t.Errorf("the screenshot is %dx%d (%v), the video area %v", cfg.Width, cfg.Height, err, lay.Video)
		}
	}
	scr.key("i")
	_, i = log.waitFor(t, "the statistics hidden", i, 10*time.Second, func(l uiLine) bool { return l.Ev == "stats" && !l.Shown })

	// 5. Fullscreen (f): the window fills the screen, and so does the
	// picture, where the desktop was before.
	_, i = log.last("layout")
	scr.key("f")
	full, _ := log.waitFor(t, "fullscreen", i, 10*time.Second, func(l uiLine) bool { return l.Ev == "layout" && l.Fullscreen })
	time.Sleep(600 * time.Millisecond)
	scr.locate()
	fullShot := scr.shot("fullscreen")
	b := fullShot.Bounds()
	if full.Window[0] != b.Dx() || full.Window[1] != b.Dy() {
		t.Errorf("fullscreen window is %v, the screen %dx%d", full.Window, b.Dx(), b.Dy())
	}
	beyond := image.Rect(lay.Window[0]+20, 100, b.Dx()-100, lay.Window[1]-100) // off the old window, inside the new picture
	if before, after := lit(afterSeek, beyond), lit(fullShot, beyond); before > 0.05 || after < 0.5 {
		t.Errorf("right of the old window %.0f%% of pixels were lit before fullscreen and %.0f%% after", 100*before, 100*after)
	}
	if fs := full.Tiles["screen"]; fs[2] <= layout.Tiles["screen"][2] {
		t.Errorf("the screen's picture is %d wide in fullscreen, %d before", fs[2], layout.Tiles["screen"][2])
	}
	scr.key("Escape")
	log.waitFor(t, "leaving fullscreen", i, 10*time.Second, func(l uiLine) bool { return l.Ev == "fullscreen" && !l.Fullscreen })

	// 6. q quits, cleanly.
	scr.key("q")
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		exited = true
		if err != nil {
			t.Errorf("reelay demo exited with %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("q did not quit")
	}
	<-readDone
	if out := log.text(); strings.Contains(out, "Error in Fyne call thread") {
		t.Error("the app touched Fyne off the UI goroutine")
	}
	for _, l := range log.lines {
		if l.Ev == "error" {
			t.Errorf("the window showed an error: %s: %s", l.Title, l.Message)
		}
	}
}

// TestDemoReport runs `reelay demo --for 4s --report json`: the window
// plays 4 s and prints the figures the 60 s measurement reports. Frame
// rates are not held to a bar here (the race detector slows everything);
// the figures must be there and make sense.
func TestDemoReport(t *testing.T) {
	needDisplay(t)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	home := t.TempDir()
	cmd := exec.CommandContext(ctx, os.Args[0], "demo", "--for", "4s", "--report", "json")
	cmd.Env = append(os.Environ(), "REELAY_CLI_MAIN=1", "XDG_CONFIG_HOME="+filepath.Join(home, "config"), "HOME="+home)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("reelay demo --for 4s: %v\n%s", err, stderr.String())
	}
	var r report.Report
	if err := json.Unmarshal(stdout.Bytes(), &r); err != nil {
		t.Fatalf("the report %q: %v", stdout.String(), err)
	}
	t.Logf("report: %s", stdout.String())
	if r.StoppedBy != "for" || r.PlayedSeconds < 3.5 || r.PlayedSeconds > 6 {
		t.Errorf("played %.2f s, stopped by %q; want about 4 s, stopped by for", r.PlayedSeconds, r.StoppedBy)
	}
	got := map[string]report.Track{}
	for _, tr := range r.Tracks {
		got[tr.Name] = tr
	}
	for name, fps := range map[string]float64{"screen": 15, "camera": 30} {
		tr, ok := got[name]
		switch {
		case !ok:
			t.Errorf("no figures for %s", name)
		case tr.SourceFPS != fps || tr.PresentedFPS <= 0 || tr.PresentedFPS > fps*1.1:
			t.Errorf("%s: source %.2f fps, presented %.2f, handed %.2f", name, tr.SourceFPS, tr.PresentedFPS, tr.HandedFPS)
		case tr.Frame != tr.Tile:
			t.Errorf("%s: frames converted at %v for a tile of %v", name, tr.Frame, tr.Tile)
		}
	}
	if got["screen"].Frame != [2]int{1280, 720} {
		t.Errorf("the screen's frames are %v, want 1280x720 in the default window", got["screen"].Frame)
	}
	if r.UI.Samples < 50 || r.UI.MaxMs <= 0 || r.UI.P99Ms > r.UI.MaxMs {
		t.Errorf("UI delays: %+v", r.UI)
	}
	if r.Memory.VmHWMMB <= 0 || r.Memory.VmRSSMB <= 0 || r.Memory.VmRSSMB > r.Memory.VmHWMMB {
		t.Errorf("memory: %+v", r.Memory)
	}
	if len(r.Errors) > 0 {
		t.Errorf("the window showed errors: %q", r.Errors)
	}
}

// freePort returns a TCP port on loopback nothing listens on now.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := stdnet.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*stdnet.TCPAddr).Port
}

// TestWindowRidesOutASharerRestart: the window watches a link shared by
// `reelay share` in a process of its own; the sharer is killed and started
// again with the same identity, port and link. The window says it is
// reconnecting, shows no error, and both pictures paint again once the
// sharer is back: net reconnects by itself, the window holds no retry loop.
func TestWindowRidesOutASharerRestart(t *testing.T) {
	needDisplay(t)
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	home := t.TempDir()
	env := cliEnv(home)
	dir := t.TempDir()
	if err := assets.CopyDemo(dir); err != nil {
		t.Fatal(err)
	}
	args := []string{dir, "--identity", filepath.Join(home, "identity.key"),
		"--listen", fmt.Sprintf("/ip4/127.0.0.1/tcp/%d", freePort(t)), "--no-dht", "--no-mdns"}
	share := func() (*exec.Cmd, string) { return startShare(ctx, t, env, args...) }
	sharer, link := share()
	defer func() {
		sharer.Process.Kill()
		sharer.Wait()
	}()

	log := startWindow(ctx, t, env, link)

	painted := func(min int64) func(uiLine) bool {
		return func(l uiLine) bool {
			return l.Ev == "status" && l.Tracks["screen"].Painted >= min && l.Tracks["camera"].Painted >= min
		}
	}
	before, at := log.waitFor(t, "both tracks painting", 0, 60*time.Second, painted(10))

	sharer.Process.Kill()
	sharer.Wait()
	_, at = log.waitFor(t, "the window saying it is reconnecting", at, 60*time.Second, func(l uiLine) bool {
		return l.Ev == "connection" && l.State == "reconnecting"
	})
	time.Sleep(2 * time.Second)
	sharer, relink := share()
	if relink != link {
		t.Errorf("the restarted sharer's link %q differs from %q", relink, link)
	}
	_, at = log.waitFor(t, "the window connected again", at, 60*time.Second, func(l uiLine) bool {
		return l.Ev == "connection" && l.State == "connected" && l.Reconnects >= 1
	})
	screen, camera := before.Tracks["screen"].Painted, before.Tracks["camera"].Painted
	log.waitFor(t, "both pictures painting again", at, 30*time.Second, func(l uiLine) bool {
		return l.Ev == "status" && l.Tracks["screen"].Painted > screen+10 && l.Tracks["camera"].Painted > camera+10
	})
	log.mu.Lock()
	defer log.mu.Unlock()
	for _, l := range log.lines {
		if l.Ev == "error" {
			t.Errorf("the window showed an error: %s: %s", l.Title, l.Message)
		}
	}
}

// startXvfb starts an X server of its own with a screen of w×h and
// returns its display once a client can connect to it; it stops with the
// test. A server that does not take connections is stopped and started
// again, and its own words are in the failure.
func startXvfb(t *testing.T, w, h int) string {
	t.Helper()
	if _, err := exec.LookPath("Xvfb"); err != nil {
		t.Skipf("no Xvfb: %v", err)
	}
	var tried []string
	for range 3 {
		display, stop, err := tryXvfb(w, h)
		if err == nil {
			t.Cleanup(stop)
			return display
		}
		tried = append(tried, err.Error())
	}
	t.Fatalf("Xvfb did not start:\n%s", strings.Join(tried, "\n"))
	return ""
}

// tryXvfb starts one X server and waits until xdpyinfo can connect to it.
// stop ends it with SIGTERM, so it removes its lock file and socket: a
// killed server leaves both for the next one to find.
func tryXvfb(w, h int) (display string, stop func(), err error) {
	r, wr, err := os.Pipe()
	if err != nil {
		return "", nil, err
	}
	defer r.Close()
	var out bytes.Buffer
	cmd := exec.Command("Xvfb", "-displayfd", "3", "-screen", "0", fmt.Sprintf("%dx%dx24", w, h), "-nolisten", "tcp", "-noreset")
	cmd.ExtraFiles = []*os.File{wr}
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		wr.Close()
		return "", nil, err
	}
	wr.Close()
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	stop = func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
	}
	fail := func(what string) (string, func(), error) {
		stop()
		return "", nil, fmt.Errorf("%s; Xvfb said: %s", what, strings.TrimSpace(out.String()))
	}
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil {
		return fail("it did not say its display")
	}
	display = ":" + strings.TrimSpace(line)
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		if exec.Command("xdpyinfo", "-display", display).Run() == nil {
			return display, stop, nil
		}
		select {
		case <-exited:
			return fail("it exited on " + display)
		case <-time.After(100 * time.Millisecond):
		}
	}
	return fail("no client could connect to " + display)
}

// TestThePlayerFitsASmallScreen: on a 1366×768 screen the player's window
// is no larger than the screen, and its controls and status line are on
// it (the player's own size, 1280×844, would put them below the edge).
func TestThePlayerFitsASmallScreen(t *testing.T) {
	needDisplay(t)
	display := startXvfb(t, 1366, 768)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	home := t.TempDir()
	log := startWindow(ctx, t, append(os.Environ(), "REELAY_CLI_MAIN=1", "DISPLAY="+display,
		"XDG_CONFIG_HOME="+filepath.Join(home, "config"), "HOME="+home), "demo")
	l, _ := log.waitFor(t, "the player laid out", 0, 60*time.Second, func(l uiLine) bool {
		return l.Ev == "layout" && l.StatusRect[3] > 0 && len(l.Tiles) == 2
	})
	w, h := l.Window[0], l.Window[1]
	t.Logf("window %d×%d, status line at %v, time at %v", w, h, l.StatusRect, l.TimeRect)
	if w > 1366 || h > 768 {
		t.Errorf("the window is %d×%d on a 1366×768 screen", w, h)
	}
	if bottom := l.StatusRect[1] + l.StatusRect[3]; bottom > h || bottom > 768 {
		t.Errorf("the status line ends at y=%d, below the window (%d) or the screen (768)", bottom, h)
	}
	if w < 1000 || h < 600 {
		t.Errorf("the window shrank to %d×%d, more than the screen asks", w, h)
	}
}

// startWindow runs the app with args and env in a process of its own,
// its window's debug log read into the uiLog returned; the process is
// killed when the test ends, and its output logged if the test failed.
func startWindow(ctx context.Context, t *testing.T, env []string, args ...string) *uiLog {
	t.Helper()
	cmd := exec.CommandContext(ctx, os.Args[0], args...)
	cmd.Env = append(env, "REELAY_UI_DEBUG=1")
	cmd.WaitDelay = 10 * time.Second
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	log := &uiLog{}
	readDone := make(chan struct{})
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { defer close(readDone); log.read(stderr) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		<-readDone
		if t.Failed() {
			t.Logf("the app's output:\n%s", log.text())
		}
	})
	return log
}

// demoOnScreen runs `reelay demo` on an X server of its own with a screen
// of w×h, and returns its debug log, the screen, and the first layout
// with both pictures, the seek bar and the status line in place.
func demoOnScreen(ctx context.Context, t *testing.T, w, h int) (*uiLog, *screen, uiLine) {
	t.Helper()
	display := startXvfb(t, w, h)
	home := t.TempDir()
	log := startWindow(ctx, t, append(os.Environ(), "REELAY_CLI_MAIN=1", "DISPLAY="+display,
		"XDG_CONFIG_HOME="+filepath.Join(home, "config"), "HOME="+home), "demo")
	// The window shrinks to the screen once the driver says its size, and
	// lays out again as the pictures' shapes become known: the layout
	// wanted is the one after both.
	_, i := log.waitFor(t, "the screen's size", 0, 60*time.Second, func(l uiLine) bool { return l.Ev == "screen" })
	log.waitFor(t, "playing", i, 60*time.Second, func(l uiLine) bool { return l.Ev == "status" && l.State == "playing" })
	time.Sleep(500 * time.Millisecond)
	l, _ := log.last("layout")
	if l.StatusRect[3] == 0 || l.SeekBar[2] == 0 || len(l.Tiles) != 2 {
		t.Fatalf("the player's layout lacks the status line, the seek bar or a picture: %+v", l)
	}
	scr := &screen{t: t, dir: t.TempDir(), display: display}
	if d := os.Getenv("REELAY_SCREENSHOTS"); d != "" {
		scr.dir = d
	}
	scr.findWindow(10 * time.Second)
	return log, scr, l
}

// mouse moves the pointer to a point of the screen (real X events).
func (s *screen) mouse(x, y int) {
	s.t.Helper()
	s.run("xdotool", "mousemove", "--sync", strconv.Itoa(x), strconv.Itoa(y))
}

// TestTheSeekBarTellsTheTimeInTheRealWindow: with the pointer over the
// seek bar, the time under it is painted above the bar, over the picture
// (outside the bar's own bounds, which only a real window shows), and
// inside the window at its left edge.
func TestTheSeekBarTellsTheTimeInTheRealWindow(t *testing.T) {
	needDisplay(t)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	log, scr, l := demoOnScreen(ctx, t, 1366, 768)
	// Paused, so that only the tooltip changes between two screenshots.
	_, i := log.last("status")
	scr.mouse(scr.x+l.Video[2]/2, scr.y+l.Video[3]/2)
	scr.key("space")
	_, i = log.waitFor(t, "paused", i, 10*time.Second, func(l uiLine) bool { return l.Ev == "status" && l.State == "paused" })
	time.Sleep(400 * time.Millisecond)
	before := scr.shot("no-tooltip")

	bar := l.SeekBar
	for _, c := range []struct {
		x    int // in the bar, pixels
		want []string
	}{
		{bar[2] / 4, []string{"0:14", "0:15"}},
		{1, []string{"0:00"}},
	} {
		scr.mouse(scr.x+bar[0]+c.x, scr.y+bar[1]+bar[3]/2)
		tip, next := log.waitFor(t, "the tooltip", i, 10*time.Second, func(l uiLine) bool { return l.Ev == "seek-tip" && l.Text != "" })
		i = next
		time.Sleep(300 * time.Millisecond)
		after := scr.shot("tooltip")
		t.Logf("pointer %d px into the bar: the tooltip says %q at %v, the bar at %v", c.x, tip.Text, tip.Tip, tip.SeekBar)
		if !slices.Contains(c.want, tip.Text) {
			t.Errorf("%d px into the bar the tooltip says %q, want one of %q", c.x, tip.Text, c.want)
		}
		r := tip.Tip
		if r[1]+r[3] > tip.SeekBar[1] {
			t.Errorf("the tooltip at %v reaches below the top of the bar at %v", r, tip.SeekBar)
		}
		if r[0] < 0 || r[0]+r[2] > l.Window[0] || r[1] < 0 {
			t.Errorf("the tooltip at %v is not inside the window of %v", r, l.Window)
		}
		if f := changed(before, after, scr.rectOnScreen(r, 2)); f < 0.3 {
			t.Errorf("only %.0f%% of the tooltip's pixels changed on screen: it is not painted", 100*f)
		}
	}
	// Off the bar it goes.
	scr.mouse(scr.x+l.Video[2]/2, scr.y+l.Video[3]/2)
	log.waitFor(t, "the tooltip hidden", i, 10*time.Second, func(l uiLine) bool { return l.Ev == "seek-tip" && l.Text == "" })
}

// TestFullscreenControlsStepAsideInTheRealWindow: on a 1920×1080 screen,
// fullscreen hides the controls and the status line about 3 s after the
// last mouse move, the picture filling the screen where they were; a
// mouse move brings them back; while paused they stay.
func TestFullscreenControlsStepAsideInTheRealWindow(t *testing.T) {
	needDisplay(t)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	log, scr, _ := demoOnScreen(ctx, t, 1920, 1080)
	_, i := log.last("layout")
	scr.mouse(scr.x+100, scr.y+100)
	scr.key("f")
	full, i := log.waitFor(t, "fullscreen with the controls", i, 10*time.Second, func(l uiLine) bool {
		return l.Ev == "layout" && l.Fullscreen && l.Controls && l.StatusRect[3] > 0 && l.Window == [2]int{1920, 1080}
	})
	entered := time.Now()
	time.Sleep(500 * time.Millisecond)
	scr.locate()
	withControls := scr.shot("fullscreen-controls")
	// Where the controls are, from the seek bar to the status line.
	controls := image.Rect(0, full.SeekBar[1], 1920, full.StatusRect[1]+full.StatusRect[3])
	if f := panelGrey(withControls, controls); f < 0.6 {
		t.Errorf("%.0f%% of the controls' strip is the panel's grey: they do not show", 100*f)
	}

	_, i = log.waitFor(t, "the controls hidden", i, 10*time.Second, func(l uiLine) bool { return l.Ev == "controls" && !l.Shown })
	idle := time.Since(entered)
	t.Logf("the controls hid %v after the last move", idle.Round(10*time.Millisecond))
	if idle < 2500*time.Millisecond || idle > 5*time.Second {
		t.Errorf("the controls hid %v after the last move, want about 3 s", idle.Round(10*time.Millisecond))
	}
	hidden, i := log.waitFor(t, "the layout without controls", i, 10*time.Second, func(l uiLine) bool { return l.Ev == "layout" && !l.Controls })
	if s := hidden.Tiles["screen"]; s[1]+s[3] < 1078 || s[2] < 1918 {
		t.Errorf("with the controls hidden the screen's picture is %v on a 1920×1080 screen", s)
	}
	time.Sleep(500 * time.Millisecond)
	noControls := scr.shot("fullscreen-idle")
	if f := panelGrey(noControls, controls); f > 0.1 {
		t.Errorf("with the controls hidden %.0f%% of their strip is still the panel's grey", 100*f)
	}
	if f := lit(noControls, controls); f < 0.5 {
		t.Errorf("with the controls hidden only %.0f%% of their strip is lit: the picture does not fill it", 100*f)
	}

	scr.mouse(scr.x+300, scr.y+300)
	_, i = log.waitFor(t, "the controls back", i, 10*time.Second, func(l uiLine) bool { return l.Ev == "controls" && l.Shown })
	time.Sleep(500 * time.Millisecond)
	if f := panelGrey(scr.shot("fullscreen-moved"), controls); f < 0.6 {
		t.Errorf("after a mouse move %.0f%% of the controls' strip is the panel's grey: they are not back", 100*f)
	}

	// Paused, they stay.
	scr.key("space")
	_, i = log.waitFor(t, "paused", i, 10*time.Second, func(l uiLine) bool { return l.Ev == "status" && l.State == "paused" })
	time.Sleep(4 * time.Second)
	log.mu.Lock()
	for _, l := range log.lines[i:] {
		if l.Ev == "controls" && !l.Shown {
			t.Error("the controls hid while paused")
		}
	}
	log.mu.Unlock()
	scr.key("Escape")
	log.waitFor(t, "leaving fullscreen", i, 10*time.Second, func(l uiLine) bool { return l.Ev == "fullscreen" && !l.Fullscreen })
}

// TestChaptersAndSubtitlesInTheRealWindow: a local recording with a
// subtitle stream and chapters, in the real window with real keys: the
// cues reach the window as it plays, Page Down goes to the next chapter
// and Page Up, just into it, back to the one before.
func TestChaptersAndSubtitlesInTheRealWindow(t *testing.T) {
	needDisplay(t)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	dir := t.TempDir()
	if err := os.Link(mediatest.Subtitled(t, "subtitled.mp4"), filepath.Join(dir, "talk.mp4")); err != nil {
		t.Fatal(err)
	}
	display := startXvfb(t, 1366, 768)
	home := t.TempDir()
	log := startWindow(ctx, t, append(os.Environ(), "REELAY_CLI_MAIN=1", "DISPLAY="+display,
		"XDG_CONFIG_HOME="+filepath.Join(home, "config"), "HOME="+home), dir)
	_, i := log.waitFor(t, "playing", 0, 60*time.Second, func(l uiLine) bool { return l.Ev == "status" && l.State == "playing" })
	scr := &screen{t: t, dir: t.TempDir(), display: display}
	scr.findWindow(10 * time.Second)
	_, i = log.waitFor(t, "the first cue", i, 10*time.Second, func(l uiLine) bool {
		return l.Ev == "subtitle" && l.Text == mediatest.Cues[0].Text
	})
	scr.key("Next")
	seeked, i := log.waitFor(t, "the next chapter", i, 10*time.Second, func(l uiLine) bool { return l.Ev == "seeked" })
	if want := mediatest.Chapters[1].Start.Milliseconds(); seeked.PosMs != want {
		t.Errorf("Page Down went to %d ms, want the next chapter's start, %d ms", seeked.PosMs, want)
	}
	scr.key("Prior")
	back, _ := log.waitFor(t, "back a chapter", i, 10*time.Second, func(l uiLine) bool { return l.Ev == "seeked" })
	if back.PosMs != 0 {
		t.Errorf("Page Up just into a chapter went to %d ms, want the one before, at 0", back.PosMs)
	}
}

// recordLive runs ffmpeg writing an MPEG-TS of a small picture and a
// sound in real time to path, for d; it stops with the test.
func recordLive(ctx context.Context, t *testing.T, path string, d time.Duration) {
	t.Helper()
	cmd := exec.CommandContext(ctx, "ffmpeg", "-loglevel", "error", "-re",
		"-f", "lavfi", "-i", "testsrc2=size=320x180:rate=30", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
		"-t", strconv.Itoa(int(d.Seconds())), "-c:v", "libx264", "-preset", "veryfast", "-g", "30", "-pix_fmt", "yuv420p",
		"-c:a", "aac", "-flush_packets", "1", "-f", "mpegts", path)
	if err := cmd.Start(); err != nil {
		t.Skipf("no ffmpeg: %v", err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
}

// TestLiveRecordingInTheRealWindow: `reelay share` serves a folder a
// recorder is still writing, and the window plays its link: the Live
// button shows at the edge; ↓ goes back a minute and the button offers
// Go live; End returns to the edge. A camera that starts recording into
// the folder later joins the window as a track of its own, painting.
func TestLiveRecordingInTheRealWindow(t *testing.T) {
	needDisplay(t)
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	home := t.TempDir()
	env := cliEnv(home)
	dir := t.TempDir()
	recordLive(ctx, t, filepath.Join(dir, "screen.ts"), 90*time.Second)
	time.Sleep(4 * time.Second)
	sharer, link := startShare(ctx, t, env, dir, "--identity", filepath.Join(home, "identity.key"),
		"--listen", "/ip4/127.0.0.1/tcp/0", "--no-dht", "--no-mdns")
	defer func() {
		sharer.Process.Kill()
		sharer.Wait()
	}()
	// The sharer sees the file grow within its first look.
	time.Sleep(2 * time.Second)
	display := startXvfb(t, 1366, 768)
	log := startWindow(ctx, t, append(env, "DISPLAY="+display), link)
	live, i := log.waitFor(t, "playing at the live edge", 0, 60*time.Second, func(l uiLine) bool {
		return l.Ev == "status" && l.State == "playing" && l.Live == "Live" && l.Tracks["screen"].Painted > 10
	})
	t.Logf("at the edge: %s", live.TimeText)
	scr := &screen{t: t, dir: t.TempDir(), display: display}
	scr.findWindow(10 * time.Second)
	scr.key("Down")
	back, i := log.waitFor(t, "Go live offered after going back", i, 10*time.Second, func(l uiLine) bool {
		return l.Ev == "status" && l.Live == "Go live"
	})
	t.Logf("gone back: %s", back.TimeText)
	scr.key("End")
	edge, i := log.waitFor(t, "back at the live edge", i, 10*time.Second, func(l uiLine) bool {
		return l.Ev == "status" && l.Live == "Live" && l.State == "playing"
	})
	t.Logf("End: %s", edge.TimeText)
	if edge.PosMs < live.PosMs {
		t.Errorf("End went to %d ms, before the edge it started at, %d ms", edge.PosMs, live.PosMs)
	}

	recordLive(ctx, t, filepath.Join(dir, "camera.ts"), 60*time.Second)
	log.waitFor(t, "the camera that started later painting", i, 30*time.Second, func(l uiLine) bool {
		return l.Ev == "status" && l.Tracks["camera"].On && l.Tracks["camera"].Painted > 10
	})
}

// cliEnv is the environment of a `reelay` child of a window test: the
// CLI's main, no DHT or mDNS, its own home.
func cliEnv(home string) []string {
	return append(os.Environ(), "REELAY_CLI_MAIN=1", "REELAY_NO_DHT=1", "REELAY_NO_MDNS=1",
		"XDG_CONFIG_HOME="+filepath.Join(home, "config"), "HOME="+home)
}

// startShare runs `reelay share` with args in a process of its own and
// returns it with the link it printed; the caller ends it.
func startShare(ctx context.Context, t *testing.T, env []string, args ...string) (*exec.Cmd, string) {
	t.Helper()
	cmd := exec.CommandContext(ctx, os.Args[0], append([]string{"share"}, args...)...)
	cmd.Env = env
	cmd.WaitDelay = 10 * time.Second
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	link, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("reading the link: %v", err)
	}
	return cmd, strings.TrimSpace(link)
}
