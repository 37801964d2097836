package media_test

import (
	"os"
	"path/filepath"
	"testing"

	"reelay/media"
	"reelay/media/mediatest"
)

// readCues reads every cue of d's first subtitle stream.
func readCues(t *testing.T, d *media.Demuxer) []mediatest.Cue {
	t.Helper()
	if mediatest.FirstStream(d, media.KindSubtitle) < 0 {
		t.Fatalf("no subtitle stream among %+v", d.Streams())
	}
	var got []mediatest.Cue
	mediatest.EachPacket(t, d, func(p *media.Packet) error {
		if c, ok := d.Cue(p); ok {
			got = append(got, mediatest.Cue{Start: c.Start, End: c.End, Text: c.Text})
		}
		return nil
	})
	return got
}

func checkCues(t *testing.T, got []mediatest.Cue) {
	t.Helper()
	if len(got) != len(mediatest.Cues) {
		t.Fatalf("got %d cues %q, want %d", len(got), got, len(mediatest.Cues))
	}
	for i, want := range mediatest.Cues {
		if got[i] != want {
			t.Errorf("cue %d: got %+v, want %+v", i, got[i], want)
		}
	}
}

// TestSubtitleFilesAreReadAsPlainCues: an .srt or .vtt opens as a file of
// one subtitle stream; its cues come out at their times, the markup gone
// and the entities read.
func TestSubtitleFilesAreReadAsPlainCues(t *testing.T) {
	t.Parallel()
	for name, text := range map[string]string{"talk.srt": mediatest.SRT, "talk.vtt": mediatest.VTT} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), name)
			if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
				t.Fatal(err)
			}
			d := mediatest.OpenDemuxer(t, path)
			if s := d.Streams(); len(s) != 1 || s[0].Kind != media.KindSubtitle {
				t.Fatalf("streams %+v, want one subtitle stream", s)
			}
			checkCues(t, readCues(t, d))
		})
	}
}

// TestSubtitleStreamsAndChaptersInsideAFile: MP4's timed text and ASS in
// Matroska give the same cues, with the stream's language, and the
// file's chapters come with their titles.
func TestSubtitleStreamsAndChaptersInsideAFile(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"subtitled.mp4", "subtitled.mkv"} {
		t.Run(name, func(t *testing.T) {
			d := mediatest.OpenDemuxer(t, mediatest.Subtitled(t, name))
			i := mediatest.FirstStream(d, media.KindSubtitle)
			if i < 0 {
				t.Fatalf("no subtitle stream among %+v", d.Streams())
			}
			if s := d.Streams()[i]; s.Language != "eng" {
				t.Errorf("subtitle stream %+v, want language eng", s)
			}
			chapters := d.Chapters()
			if len(chapters) != len(mediatest.Chapters) {
				t.Fatalf("chapters %+v, want %+v", chapters, mediatest.Chapters)
			}
			for i, want := range mediatest.Chapters {
				if c := chapters[i]; c.Start != want.Start || c.Title != want.Title {
					t.Errorf("chapter %d: %+v, want %+v", i, c, want)
				}
			}
			checkCues(t, readCues(t, d))
		})
	}
}

// TestFilesWithoutSubtitlesHaveNoCuesNorChapters: a picture's packets
// are no cues, and a file without chapters lists none.
func TestFilesWithoutSubtitlesHaveNoCuesNorChapters(t *testing.T) {
	t.Parallel()
	d := openFixture(t, "av.mp4")
	if c := d.Chapters(); c != nil {
		t.Errorf("chapters %+v, want none", c)
	}
	mediatest.EachPacket(t, d, func(p *media.Packet) error {
		if c, ok := d.Cue(p); ok {
			t.Fatalf("a packet of stream %d read as cue %+v", p.StreamIndex(), c)
		}
		return nil
	})
}
