package app

import (
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	avsync "reelay/sync"
)

// trackKind is what a track shows a person, for its icon and the layout.
type trackKind int

const (
	// kindUnknown is a track not opened yet whose name says nothing.
	kindUnknown trackKind = iota
	// kindCamera is a video track of a person (or any video that is not a
	// screen).
	kindCamera
	// kindScreen is a screen recording; it gets the large picture.
	kindScreen
	// kindAudio is a track with sound and no picture.
	kindAudio
	// kindSubtitles is a file of subtitles: its words show over the
	// pictures.
	kindSubtitles
)

func (k trackKind) String() string {
	switch k {
	case kindCamera:
		return "camera"
	case kindScreen:
		return "screen"
	case kindAudio:
		return "audio"
	case kindSubtitles:
		return "subtitles"
	default:
		return "unknown"
	}
}

// hasVideo says the kind shows pictures, or may once opened.
func (k trackKind) hasVideo() bool { return k != kindAudio && k != kindSubtitles }

// icon is the theme icon that says the kind.
func (k trackKind) icon() fyne.Resource {
	switch k {
	case kindScreen:
		return theme.ComputerIcon()
	case kindAudio:
		return theme.MediaMusicIcon()
	case kindCamera:
		return theme.MediaVideoIcon()
	case kindSubtitles:
		return theme.FileTextIcon()
	default:
		return theme.FileVideoIcon()
	}
}

// kindOf says what a track is: from its streams once it has been opened,
// and from its name until then (and to tell a screen from a camera).
func kindOf(t avsync.Track) trackKind {
	name := strings.ToLower(t.Name)
	has := func(words ...string) bool {
		for _, w := range words {
			if strings.Contains(name, w) {
				return true
			}
		}
		return false
	}
	if len(t.Streams) > 0 {
		switch {
		case !t.HasVideo() && t.HasAudio():
			return kindAudio
		case !t.HasVideo() && t.HasSubtitles():
			return kindSubtitles
		case t.HasVideo() && has("screen", "display", "desktop", "slides", "monitor"):
			return kindScreen
		case t.HasVideo():
			return kindCamera
		}
	}
	switch {
	case has("screen", "display", "desktop", "slides", "monitor"):
		return kindScreen
	case has("cam", "face", "video"):
		return kindCamera
	case has("mic", "audio", "sound", "voice", "music"):
		return kindAudio
	case has("subtitle", "caption"):
		return kindSubtitles
	}
	return kindUnknown
}

// trackToggle is one track's switch in the track list: a button that
// says the track's kind by its icon and whether it is on by its fill.
// Buttons do not take the keyboard focus when clicked, so the player's
// keys keep working.
type trackToggle struct {
	// btn is what is shown and tapped.
	btn *widget.Button
	// track is the track's name.
	track string
	// on, kind and failed are what the toggle shows.
	on     bool
	kind   trackKind
	failed bool
}

func newTrackToggle(track string, kind trackKind, on bool, tapped func(*trackToggle)) *trackToggle {
	t := &trackToggle{track: track, kind: kind, on: on}
	t.btn = widget.NewButtonWithIcon(track, kind.icon(), func() { tapped(t) })
	t.update()
	return t
}

func (t *trackToggle) set(on bool, kind trackKind, failed bool) {
	if on == t.on && kind == t.kind && failed == t.failed {
		return
	}
	t.on, t.kind, t.failed = on, kind, failed
	t.update()
}

func (t *trackToggle) update() {
	t.btn.Icon = t.kind.icon()
	switch {
	case t.failed:
		t.btn.Text = t.track + " — failed"
		t.btn.Importance = widget.DangerImportance
	case t.on:
		t.btn.Text = t.track
		t.btn.Importance = widget.HighImportance
	default:
		t.btn.Text = t.track + " (off)"
		t.btn.Importance = widget.LowImportance
	}
	t.btn.Refresh()
}
