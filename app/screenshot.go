package app

import (
	"bufio"
	"errors"
	"fmt"
	"image"
	"image/draw"
	"image/png"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// toastFor is how long the status line keeps a passing message, such as
// where a screenshot went.
const toastFor = 4 * time.Second

// screenshot saves what the video area shows, as it shows it (every
// picture on screen where it is, at the window's size), as a PNG in the
// pictures folder, named after the recording and the position; UI
// goroutine. The pictures are copied here, encoded and written in the
// background.
func (pv *playerView) screenshot() {
	img := pv.area.compose()
	if img == nil {
		return
	}
	dir := pv.u.o.ScreenshotDir
	if dir == "" {
		dir = filepath.Join(picturesDir(), "Reelay")
	}
	base := fileSafe(pv.src.Name()) + " " + strings.ReplaceAll(formatTime(pv.position), ":", "-")
	pv.u.background.Go(func() {
		path, err := savePNG(dir, base, img)
		pv.u.do(func() {
			if pv.closed.Load() {
				return
			}
			if err != nil {
				pv.u.showError("Could not save the screenshot", err)
				return
			}
			pv.u.debug.emit("screenshot", map[string]any{"path": path, "size": [2]int{img.Rect.Dx(), img.Rect.Dy()}})
			pv.showToast("Screenshot saved: " + path)
		})
	})
}

// compose draws the pictures on screen as the area shows them, on black,
// at its size in pixels: the main one, then the insets over it; nil for an
// area with no size. UI goroutine.
func (a *videoArea) compose() *image.RGBA {
	s := a.scale()
	size := a.box.Size()
	w, h := int(size.Width*s), int(size.Height*s)
	if w <= 0 || h <= 0 {
		return nil
	}
	out := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.Draw(out, out.Bounds(), image.Black, image.Point{}, draw.Src)
	vis := a.visible()
	if len(vis) == 0 {
		return out
	}
	m := a.main(vis)
	for _, t := range append([]*videoTile{m}, slices.DeleteFunc(slices.Clone(vis), func(t *videoTile) bool { return t == m })...) {
		frame, ok := t.img.Image.(*image.RGBA)
		if !ok || frame == nil || !t.img.Visible() {
			continue
		}
		// Frames are converted at the tile's size, so they are drawn as
		// they are, centred in the tile as the painter does.
		cell := image.Rect(int(t.pos.X*s), int(t.pos.Y*s), int((t.pos.X+t.rect.Width)*s), int((t.pos.Y+t.rect.Height)*s))
		fb := frame.Bounds()
		at := image.Pt(cell.Min.X+(cell.Dx()-fb.Dx())/2, cell.Min.Y+(cell.Dy()-fb.Dy())/2)
		draw.Draw(out, image.Rectangle{Min: at, Max: at.Add(fb.Size())}.Intersect(cell), frame, fb.Min, draw.Src)
	}
	return out
}

// showToast puts msg in the status line for toastFor; UI goroutine.
func (pv *playerView) showToast(msg string) {
	pv.toast, pv.toastUntil = msg, time.Now().Add(toastFor)
	pv.updateStatus()
}

// savePNG writes img as dir/base.png, or base (2).png and so on when that
// is taken, and returns the path. The picture is written aside first, so a
// name never holds half a file.
func savePNG(dir, base string, img image.Image) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	tmp, err := os.CreateTemp(dir, ".reelay-shot-*.png")
	if err != nil {
		return "", err
	}
	defer os.Remove(tmp.Name())
	w := bufio.NewWriter(tmp)
	err = png.Encode(w, img)
	if err == nil {
		err = w.Flush()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", err
	}
	os.Chmod(tmp.Name(), 0o644)
	for n := 1; n < 1000; n++ {
		name := base + ".png"
		if n > 1 {
			name = fmt.Sprintf("%s (%d).png", base, n)
		}
		path := filepath.Join(dir, name)
		// A hard link never replaces a file already there.
		err := os.Link(tmp.Name(), path)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return "", err
		}
		return path, nil
	}
	return "", fmt.Errorf("%s holds too many screenshots named %q", dir, base)
}

// picturesDir is the user's pictures folder: XDG_PICTURES_DIR, from the
// environment or ~/.config/user-dirs.dirs, else ~/Pictures.
func picturesDir() string {
	home, _ := os.UserHomeDir()
	if d := os.Getenv("XDG_PICTURES_DIR"); d != "" {
		return d
	}
	if cfg, err := os.UserConfigDir(); err == nil {
		if b, err := os.ReadFile(filepath.Join(cfg, "user-dirs.dirs")); err == nil {
			for _, line := range strings.Split(string(b), "\n") {
				if v, ok := strings.CutPrefix(strings.TrimSpace(line), "XDG_PICTURES_DIR="); ok {
					v = strings.Trim(v, `"`)
					return strings.Replace(v, "$HOME", home, 1)
				}
			}
		}
	}
	return filepath.Join(home, "Pictures")
}

// fileSafe is name with the characters file systems refuse replaced.
func fileSafe(name string) string {
	name = strings.Map(func(r rune) rune {
		if strings.ContainsRune(`/\:*?"<>|`, r) || r < ' ' {
			return '_'
		}
		return r
	}, name)
	if name = strings.TrimSpace(name); name == "" || name == "." || name == ".." {
		return "Reelay"
	}
	return name
}
