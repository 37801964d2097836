package sync

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	gosync "sync"
	"time"

	"reelay/media"
)

// Subtitles and chapters.
//
// A track whose file holds text subtitles alone (an .srt or .vtt beside
// the video) is a subtitle track: its pipeline reads every cue when it
// opens and then rests; switching it on shows it, and at most one subtitle
// track is on at a time (switching one on switches the others off, and of
// those on at open the first in the recording's order stays on). A media
// track's own subtitle stream (MP4's timed text, Matroska's ASS or SRT)
// is read as the track is demuxed, so its cues are known a buffer ahead
// of the position. What is shown is the cue text at the clock's position,
// from the subtitle track that is on or, without one, from the first
// playing track with a subtitle stream, unless SetSubtitlesShown(false).
// A subtitle track never holds the clock, the preroll or the end.
//
// Chapters come from the first track, in the recording's order, whose
// file has any, placed on the timeline as its pictures are.

// Chapter is a named part of the recording, on its timeline.
type Chapter = media.Chapter

// SubtitleSink shows the subtitle text at the position: "" clears it.
// ShowSubtitle is called on the player's goroutine when the text changes,
// so it must return quickly.
type SubtitleSink interface {
	ShowSubtitle(text string)
}

// SubtitleSinkFunc adapts a function to a SubtitleSink.
type SubtitleSinkFunc func(text string)

// ShowSubtitle calls f.
func (f SubtitleSinkFunc) ShowSubtitle(text string) { f(text) }

// SetSubtitleSink sets where subtitle text goes (nil: nowhere); the sink
// is told the text now shown at once.
func (p *Player) SetSubtitleSink(s SubtitleSink) { p.send(subtitleSinkRequest{s}) }

// SetSubtitlesShown shows (the default) or hides subtitles, as mpv's v.
func (p *Player) SetSubtitlesShown(on bool) { p.send(subtitlesShownRequest{on}) }

type subtitleSinkRequest struct{ sink SubtitleSink }

func (r subtitleSinkRequest) handle(p *Player) {
	p.subSink = r.sink
	if r.sink != nil {
		r.sink.ShowSubtitle(p.subText)
	}
}

type subtitlesShownRequest struct{ on bool }

func (r subtitlesShownRequest) handle(p *Player) {
	p.subHidden = !r.on
	p.presentSubtitle(p.clock.position())
}

// maxSubtitleFile bounds what a subtitle track reads: a feature film's
// subtitles are a few hundred kB.
const maxSubtitleFile = 16 << 20

// cueList is one track's cues, in order of start. The pipeline adds them
// as it demuxes; the player reads them.
type cueList struct {
	mu   gosync.Mutex
	cues []media.Cue
	// longest is the longest cue's length, to bound the look back for
	// cues still showing.
	longest time.Duration
}

// add keeps c, once: a stream demuxed again after a seek repeats cues,
// and a cue read by the index (recallCue) may come again from the
// demuxer. Of two ends for one cue the earlier is kept: a cue whose
// packet gave no length got defaultCueLength.
func (l *cueList) add(c media.Cue) {
	l.mu.Lock()
	defer l.mu.Unlock()
	i, _ := slices.BinarySearchFunc(l.cues, c.Start, func(x media.Cue, t time.Duration) int { return cmp.Compare(x.Start, t) })
	for j := i; j < len(l.cues) && l.cues[j].Start == c.Start; j++ {
		if l.cues[j].Text == c.Text {
			l.cues[j].End = min(l.cues[j].End, c.End)
			return
		}
	}
	l.cues = slices.Insert(l.cues, i, c)
	l.longest = max(l.longest, c.End-c.Start)
}

// at is the text of the cues showing at t, in order of start, and when
// what shows next changes (-1 if never).
func (l *cueList) at(t time.Duration) (text string, change time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	i, _ := slices.BinarySearchFunc(l.cues, t, func(x media.Cue, t time.Duration) int {
		if x.Start <= t {
			return -1
		}
		return 1
	})
	change = -1
	if i < len(l.cues) {
		change = l.cues[i].Start
	}
	var lines []string
	for j := i - 1; j >= 0 && l.cues[j].Start >= t-l.longest; j-- {
		if c := l.cues[j]; c.End > t {
			lines = append(lines, c.Text)
			if change < 0 || c.End < change {
				change = c.End
			}
		}
	}
	slices.Reverse(lines)
	return strings.Join(lines, "\n"), change
}

// readCues reads every cue of a subtitle track's file, placing them at
// the track's start: a subtitle file's times count from its own zero,
// whatever its first cue.
func (pl *pipeline) readCues() error {
	if pl.info.Size > maxSubtitleFile {
		return fmt.Errorf("track %q: subtitles of %d bytes are more than the %d read", pl.name, pl.info.Size, maxSubtitleFile)
	}
	pl.offset = pl.info.Start
	p := media.NewPacket()
	defer p.Free()
	for {
		err := pl.demux.ReadPacket(p)
		if err != nil {
			if pl.ctx.Err() != nil {
				return pl.ctx.Err()
			}
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("reading subtitles of track %q failed: %w", pl.name, err)
		}
		pl.keepCue(p)
		p.Unref()
	}
}

// keepCue adds the cue in p, a packet of the subtitle stream, to the
// track's cues.
func (pl *pipeline) keepCue(p *media.Packet) {
	if c, ok := pl.demux.Cue(p); ok {
		c.Start += pl.offset
		c.End += pl.offset
		pl.cues.add(c)
	}
}

// recallCue reads, by the file's index, the subtitle showing at fileT
// (on the file's timeline) when it began before the keyframe a seek lands
// on: demuxing from there never meets it. MP4's timed text is indexed,
// one sample per cue or gap, so this is one small read, usually of bytes
// the seek reads anyway; a subtitle stream without an index (Matroska's)
// shows from its next cue.
func (pl *pipeline) recallCue(fileT time.Duration) {
	if pl.subtitle == nil {
		return
	}
	i := pl.subtitle.Index
	idx := pl.indexOf(i)
	n, _ := slices.BinarySearchFunc(idx, fileT, func(e media.IndexEntry, t time.Duration) int {
		if e.PTS <= t {
			return -1
		}
		return 1
	})
	if n == 0 || idx[n-1].Size <= 2 {
		// None before, or a gap (an empty sample).
		return
	}
	ra, ok := pl.readerAt()
	if !ok {
		return
	}
	e := idx[n-1]
	p := media.NewPacket()
	defer p.Free()
	if err := pl.demux.ReadIndexed(ra, i, e, p); err != nil {
		return // the cue shows if the stream is demuxed over it
	}
	if c, ok := pl.demux.Cue(p); ok {
		if n < len(idx) {
			c.End = idx[n].PTS
		}
		if c.End > fileT {
			c.Start += pl.offset
			c.End += pl.offset
			pl.cues.add(c)
		}
	}
}

// chapters are the file's chapters on the timeline.
func (pl *pipeline) chapters() []Chapter {
	cs := pl.demux.Chapters()
	for i := range cs {
		cs[i].Start += pl.offset
		cs[i].End += pl.offset
	}
	return cs
}

// subtitleSlot is the slot whose cues show: the subtitle track that is on
// or, without one, the first playing track with a subtitle stream; nil
// when none or hidden.
func (p *Player) subtitleSlot() *trackSlot {
	if p.subHidden {
		return nil
	}
	var embedded *trackSlot
	for _, s := range p.slots {
		switch {
		case !s.on || s.err != nil || s.cues == nil:
		case s.subtitlesOnly:
			return s
		case embedded == nil:
			embedded = s
		}
	}
	return embedded
}

// presentSubtitle tells the sink the text at pos when it changed, and
// notes when it changes next.
func (p *Player) presentSubtitle(pos time.Duration) {
	text, change := "", time.Duration(-1)
	if s := p.subtitleSlot(); s != nil {
		text, change = s.cues.at(pos)
	}
	p.subChange = change
	if text == p.subText {
		return
	}
	p.subText = text
	if p.subSink != nil {
		p.subSink.ShowSubtitle(text)
	}
}

// oneSubtitleTrack keeps s, a subtitle track switched on, the only one on;
// at open, the first on in the recording's order stays.
func (p *Player) oneSubtitleTrack(s *trackSlot, atOpen bool) {
	for _, o := range p.slots {
		if o == s || !o.on || !o.subtitlesOnly {
			continue
		}
		if atOpen && slices.Index(p.slots, o) < slices.Index(p.slots, s) {
			p.switchOff(s)
			return
		}
		p.switchOff(o)
	}
}

// chapters are the chapters of the first track that has any.
func (p *Player) chapters() []Chapter {
	for _, s := range p.slots {
		if len(s.chapters) > 0 {
			return s.chapters
		}
	}
	return nil
}

// ChapterTarget is where a chapter key goes from pos: the next chapter's
// start (dir > 0), or back (dir < 0) the start of the chapter pos is in,
// or of the one before when pos is within chapterBackSlack of its start
// (as mpv). ok is false without chapters or a chapter that way.
func ChapterTarget(chapters []Chapter, pos time.Duration, dir int) (t time.Duration, ok bool) {
	if dir > 0 {
		for _, c := range chapters {
			if c.Start > pos {
				return c.Start, true
			}
		}
		return 0, false
	}
	for i := len(chapters) - 1; i >= 0; i-- {
		if c := chapters[i]; c.Start <= pos-chapterBackSlack {
			return c.Start, true
		}
	}
	if len(chapters) > 0 && pos > 0 {
		// Before the first chapter, or just into it: the start.
		return 0, true
	}
	return 0, false
}

// chapterBackSlack is how far into a chapter a step back returns to its
// start rather than the previous chapter's.
const chapterBackSlack = 2 * time.Second
