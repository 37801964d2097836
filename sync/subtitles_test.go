package sync

import (
	"os"
	"path/filepath"
	gosync "sync"
	"testing"
	"testing/synctest"
	"time"

	"reelay/media/mediatest"
)

// subtitleLog records what a SubtitleSink was told, and when.
type subtitleLog struct {
	mu    gosync.Mutex
	start time.Time
	shown []shownSubtitle
}

type shownSubtitle struct {
	at   time.Duration
	text string
}

func (l *subtitleLog) ShowSubtitle(text string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.shown = append(l.shown, shownSubtitle{at: time.Since(l.start), text: text})
}

func (l *subtitleLog) all() []shownSubtitle {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]shownSubtitle(nil), l.shown...)
}

// writeFiles writes text files into a new folder and returns their paths.
func writeFiles(t *testing.T, files map[string]string) map[string]string {
	t.Helper()
	dir := t.TempDir()
	paths := map[string]string{}
	for name, text := range files {
		paths[name] = filepath.Join(dir, name)
		if err := os.WriteFile(paths[name], []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return paths
}

// wantTimeline is what a sink shows playing the subtitle fixtures from
// the start: every cue at its start, cleared at its end.
func wantTimeline() []shownSubtitle {
	var want []shownSubtitle
	for _, c := range mediatest.Cues {
		want = append(want, shownSubtitle{c.Start, c.Text}, shownSubtitle{c.End, ""})
	}
	return want
}

func checkTimeline(t *testing.T, got []shownSubtitle, from time.Duration) {
	t.Helper()
	var want []shownSubtitle
	for _, w := range wantTimeline() {
		if w.at > from {
			want = append(want, w)
		}
	}
	if len(got) != len(want) {
		t.Fatalf("the sink was told %+v, want %+v", got, want)
	}
	for i, w := range want {
		// The wall clock of a bubble runs exactly: the player wakes at a
		// cue's edge, not at the next picture's time.
		if g := got[i]; g.text != w.text || g.at < w.at || g.at > w.at+time.Millisecond {
			t.Errorf("change %d: %q at %v, want %q at %v", i, g.text, g.at, w.text, w.at)
		}
	}
}

// TestSubtitleFileBesideTheVideo: an .srt and a .vtt beside the screen
// are subtitle tracks; the first is on and the second switched off at
// open (one at a time). Playing shows every cue at its time and clears
// it at its end; a subtitle track never holds the start; switching the
// other on switches the first off and shows the same words from its own
// file; hiding subtitles clears them.
func TestSubtitleFileBesideTheVideo(t *testing.T) {
	text := writeFiles(t, map[string]string{"talk.srt": mediatest.SRT, "talk.vtt": mediatest.VTT})
	src := FolderSource(folderOf(t, map[string]string{
		"screen.mp4": mediatest.Fixture(t, "screen.mp4"),
		"talk.srt":   text["talk.srt"], "talk.vtt": text["talk.vtt"],
	}, ""))
	names := map[string]bool{}
	for _, tr := range src.Tracks() {
		names[tr.Name] = true
	}
	if !names["screen"] || !names["talk"] || !names["talk (subtitles)"] {
		t.Fatalf("tracks %v, want screen, talk and talk (subtitles)", names)
	}
	synctest.Test(t, func(t *testing.T) {
		log := &subtitleLog{}
		p, _, _ := openTest(t, src, Options{})
		p.SetSubtitleSink(log)
		waitState(t, p, StatePaused, 5*time.Second)
		on := map[string]bool{}
		for _, tr := range p.Tracks() {
			on[tr.Name] = tr.On
		}
		if !on["screen"] || !on["talk"] || on["talk (subtitles)"] {
			t.Fatalf("tracks on %v, want screen and talk, not talk (subtitles)", on)
		}
		log.mu.Lock()
		log.start, log.shown = time.Now(), nil
		log.mu.Unlock()
		p.Play()
		time.Sleep(9 * time.Second)
		checkTimeline(t, log.all(), 0)

		p.Pause()
		p.Seek(3500 * time.Millisecond)
		waitFor(t, 5*time.Second, "the seek", func() bool { return p.Status().Subtitle == mediatest.Cues[1].Text })
		if err := p.Subscribe("talk (subtitles)", true); err != nil {
			t.Fatal(err)
		}
		for _, tr := range p.Tracks() {
			if tr.Name == "talk" && tr.On {
				t.Error("talk is still on after talk (subtitles) was switched on")
			}
		}
		if got := p.Status().Subtitle; got != mediatest.Cues[1].Text {
			t.Errorf("the .vtt shows %q at 3.5 s, want %q", got, mediatest.Cues[1].Text)
		}
		p.SetSubtitlesShown(false)
		waitFor(t, time.Second, "hidden subtitles", func() bool { return p.Status().Subtitle == "" })
		if got := log.all(); got[len(got)-1].text != "" {
			t.Errorf("hiding subtitles told the sink %q", got[len(got)-1].text)
		}
	})
}

// TestSubtitleStreamAndChaptersOfAVideo: a video's own subtitle stream
// shows as the track plays, after seeks too (in an MP4, the cue a seek
// lands inside even when it began before the keyframe), and its chapters
// are the recording's.
func TestSubtitleStreamAndChaptersOfAVideo(t *testing.T) {
	for _, name := range []string{"subtitled.mp4", "subtitled.mkv"} {
		t.Run(name, func(t *testing.T) {
			src := FolderSource(folderOf(t, map[string]string{name: mediatest.Subtitled(t, name)}, ""))
			synctest.Test(t, func(t *testing.T) {
				log := &subtitleLog{}
				p, _, _ := openTest(t, src, Options{})
				p.SetSubtitleSink(log)
				waitState(t, p, StatePaused, 5*time.Second)
				st := p.Status()
				if len(st.Chapters) != len(mediatest.Chapters) {
					t.Fatalf("chapters %+v, want %+v", st.Chapters, mediatest.Chapters)
				}
				for i, want := range mediatest.Chapters {
					if c := st.Chapters[i]; c.Start != want.Start || c.Title != want.Title {
						t.Errorf("chapter %d: %+v, want %+v", i, c, want)
					}
				}
				if name == "subtitled.mp4" {
					// The cue showing at 7 s began before the keyframe the
					// seek lands on; MP4's index finds it.
					p.Seek(7 * time.Second)
					waitFor(t, 5*time.Second, "the cue at 7 s", func() bool { return p.Status().Subtitle == mediatest.Cues[2].Text })
				}
				p.Seek(2 * time.Second)
				waitFor(t, 5*time.Second, "the seek", func() bool { return p.Position() == 2*time.Second && p.State() == StatePaused })
				log.mu.Lock()
				log.start, log.shown = time.Now().Add(-2*time.Second), nil
				log.mu.Unlock()
				p.Play()
				time.Sleep(7 * time.Second)
				checkTimeline(t, log.all(), 2*time.Second)
			})
		})
	}
}

// TestChapterTarget: the chapter keys go to the next chapter's start, or
// back to the start of the chapter the position is in, or the one before
// when just into it, as mpv.
func TestChapterTarget(t *testing.T) {
	chapters := []Chapter{{Start: 0}, {Start: 4 * time.Second}, {Start: 7 * time.Second}}
	for _, c := range []struct {
		pos  time.Duration
		dir  int
		want time.Duration
		ok   bool
	}{
		{0, 1, 4 * time.Second, true},
		{4 * time.Second, 1, 7 * time.Second, true},
		{8 * time.Second, 1, 0, false},
		{8 * time.Second, -1, 4 * time.Second, true},
		{10 * time.Second, -1, 7 * time.Second, true},
		{5 * time.Second, -1, 0, true},
		{0, -1, 0, false},
	} {
		if got, ok := ChapterTarget(chapters, c.pos, c.dir); got != c.want || ok != c.ok {
			t.Errorf("ChapterTarget(%v, %+d) = %v, %v; want %v, %v", c.pos, c.dir, got, ok, c.want, c.ok)
		}
	}
	if _, ok := ChapterTarget(nil, time.Second, -1); ok {
		t.Error("a chapter target without chapters")
	}
}
