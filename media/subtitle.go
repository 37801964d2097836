package media

/*
#cgo pkg-config: libavformat
#include <libavformat/avformat.h>

static unsigned reelay_chapter_count(const AVFormatContext *fc) { return fc->nb_chapters; }

// reelay_chapter copies chapter i's times and title (NULL when untitled).
static void reelay_chapter(const AVFormatContext *fc, unsigned i, int64_t *start, int64_t *end,
	int *num, int *den, const char **title) {
	const AVChapter *c = fc->chapters[i];
	const AVDictionaryEntry *e = av_dict_get(c->metadata, "title", NULL, 0);
	*start = c->start;
	*end = c->end;
	*num = c->time_base.num;
	*den = c->time_base.den;
	*title = e ? e->value : NULL;
}
*/
import "C"

import (
	"html"
	"strings"
	"time"
	"unsafe"

	"github.com/asticode/go-astiav"
)

// Cue is one subtitle: its text, shown from Start until End, on the file's
// own timeline (the domain of Packet.PTS). The text is plain: styling
// (italics, colours, positions) is dropped, lines are separated by "\n".
type Cue struct {
	Start, End time.Duration
	Text       string
}

// defaultCueLength is how long a cue without a duration is shown: a
// subtitle is read in a few seconds.
const defaultCueLength = 4 * time.Second

// textSubtitle says Cue reads subtitles of the codec: those made of text.
// Subtitles made of pictures (DVD, Blu-ray, DVB) are not played.
func textSubtitle(codec string) bool {
	switch codec {
	case "subrip", "srt", "webvtt", "ass", "ssa", "mov_text", "text":
		return true
	}
	return false
}

// Cue reads the subtitle in p, a packet of a KindSubtitle stream; ok is
// false for any other packet, and for a packet that only clears the
// screen (MP4's timed text writes an empty one where a cue ends).
func (d *Demuxer) Cue(p *Packet) (c Cue, ok bool) {
	i := p.StreamIndex()
	if i < 0 || i >= len(d.streams) || d.streams[i].Kind != KindSubtitle || !p.HasPTS() {
		return Cue{}, false
	}
	text := cueText(d.streams[i].Codec, p.Data())
	if text == "" {
		return Cue{}, false
	}
	c = Cue{Start: p.PTS(), Text: text}
	c.End = c.Start + defaultCueLength
	if dur := p.Duration(); dur > 0 {
		c.End = c.Start + dur
	}
	return c, true
}

// cueText turns a subtitle packet's payload into plain lines.
func cueText(codec string, data []byte) string {
	var s string
	switch codec {
	case "mov_text":
		// A 16-bit big-endian length, the UTF-8 text, then style boxes.
		if len(data) < 2 {
			return ""
		}
		n := int(data[0])<<8 | int(data[1])
		s = string(data[2:min(2+n, len(data))])
	case "ass", "ssa":
		// ReadOrder, Layer, Style, Name, MarginL, MarginR, MarginV,
		// Effect, Text: the text is the ninth field and may hold commas.
		f := strings.SplitN(string(data), ",", 9)
		if len(f) < 9 {
			return ""
		}
		s = assText(f[8])
	case "subrip", "srt":
		// SubRip borrows HTML's tags and, from ASS, {\an8}-style codes.
		s = stripBetween(stripTags(string(data)), '{', '}')
	case "webvtt":
		s = html.UnescapeString(stripTags(string(data)))
	default:
		s = string(data)
	}
	var lines []string
	for _, l := range strings.Split(strings.ReplaceAll(s, "\r\n", "\n"), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
		}
	}
	return strings.Join(lines, "\n")
}

// assText drops ASS's override blocks ({\i1}) and turns its line breaks
// and hard spaces into text.
func assText(s string) string {
	s = stripBetween(s, '{', '}')
	return strings.NewReplacer(`\N`, "\n", `\n`, "\n", `\h`, " ").Replace(s)
}

// stripTags drops markup tags: a '<' followed by a letter, '/' or a
// digit (WebVTT's timestamps) up to the next '>', with no '<' between.
// Any other '<' is text ("<3").
func stripTags(s string) string {
	var b strings.Builder
	for {
		i := strings.IndexByte(s, '<')
		if i < 0 || i+1 >= len(s) {
			break
		}
		c := s[i+1]
		j := strings.IndexByte(s[i:], '>')
		if j < 0 || strings.IndexByte(s[i+1:i+j], '<') >= 0 || !(c == '/' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			b.WriteString(s[:i+1])
			s = s[i+1:]
			continue
		}
		b.WriteString(s[:i])
		s = s[i+j+1:]
	}
	b.WriteString(s)
	return b.String()
}

// stripBetween drops every open…close run.
func stripBetween(s string, open, close byte) string {
	var b strings.Builder
	for {
		i := strings.IndexByte(s, open)
		if i < 0 {
			break
		}
		j := strings.IndexByte(s[i:], close)
		if j < 0 {
			break
		}
		b.WriteString(s[:i])
		s = s[i+j+1:]
	}
	b.WriteString(s)
	return b.String()
}

// Chapter is a named part of a file, on the file's own timeline.
type Chapter struct {
	Start, End time.Duration
	Title      string
}

// Chapters lists the file's chapters in order, as its header gives them
// (MP4's chapter track or Nero chapters, Matroska's editions); nil if it
// has none.
func (d *Demuxer) Chapters() []Chapter {
	if d.fc == nil {
		return nil
	}
	fc := *(**C.AVFormatContext)(unsafe.Pointer(d.fc))
	n := uint(C.reelay_chapter_count(fc))
	var out []Chapter
	for i := range n {
		var start, end C.int64_t
		var num, den C.int
		var title *C.char
		C.reelay_chapter(fc, C.uint(i), &start, &end, &num, &den, &title)
		if num <= 0 || den <= 0 {
			continue
		}
		tb := astiav.NewRational(int(num), int(den))
		c := Chapter{Start: toDuration(int64(start), tb), End: toDuration(int64(end), tb)}
		if title != nil {
			c.Title = strings.TrimSpace(C.GoString(title))
		}
		out = append(out, c)
	}
	return out
}

// dictValue is key's value in md, "" when absent or undetermined.
func dictValue(md *astiav.Dictionary, key string) string {
	e := md.Get(key, nil, 0)
	if e == nil {
		return ""
	}
	if v := e.Value(); v != "und" {
		return v
	}
	return ""
}
