package media_test

import (
	"bytes"
	"errors"
	"io"
	"os"
	"testing"
	"time"

	"reelay/media"
	"reelay/media/mediatest"
)

func TestStreamsDescribeTheFile(t *testing.T) {
	t.Parallel()
	d := openFixture(t, "av.mp4")
	s := d.Streams()
	if len(s) != 2 {
		t.Fatalf("got %d streams, want 2: %+v", len(s), s)
	}
	v, a := s[0], s[1]
	if v.Index != 0 || v.Kind != media.KindVideo || v.Codec != "h264" || v.Width != 640 || v.Height != 360 || v.FrameRate != 30 {
		t.Errorf("video stream %+v", v)
	}
	if a.Index != 1 || a.Kind != media.KindAudio || a.Codec != "aac" || a.SampleRate != 48000 || a.Channels != 2 || a.BitRate <= 0 {
		t.Errorf("audio stream %+v", a)
	}
	if d.Duration() != 10*time.Second || d.StartTime() != 0 || d.BitRate() <= 0 {
		t.Errorf("duration %v, start %v, bit rate %d", d.Duration(), d.StartTime(), d.BitRate())
	}
	if v.Kind.String() != "video" || a.Kind.String() != "audio" || media.KindUnknown.String() != "unknown" {
		t.Error("StreamKind.String")
	}

	w := openFixture(t, "vp9-opus.webm")
	if got := w.StartTime(); got != -7*time.Millisecond {
		// Opus pre-skip puts the first audio packet before zero.
		t.Errorf("webm start time %v, want -7ms", got)
	}
}

func TestOpenStatsReportTheReadersIO(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"av.mp4", "av-tail.mov", "vp9-opus.webm", "mp3.mp3"} {
		t.Run(name, func(t *testing.T) {
			f, err := os.Open(mediatest.Fixture(t, name))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			size, _ := f.Seek(0, io.SeekEnd)
			f.Seek(0, io.SeekStart)
			cr := &countingReader{r: f}
			d, err := media.OpenDemuxer(cr, media.DemuxerOptions{})
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			st := d.OpenStats()
			t.Logf("%s (%d bytes): %d reads, %d seeks, %d bytes, %v", name, size, st.Reads, st.Seeks, st.Bytes, st.Elapsed)
			if st.Reads != cr.reads || st.Bytes != cr.bytes || st.Reads == 0 || st.Elapsed <= 0 {
				t.Errorf("OpenStats %+v, reader saw %d reads of %d bytes", st, cr.reads, cr.bytes)
			}
			if st.Seeks > cr.seeks {
				t.Errorf("OpenStats says %d seeks, reader saw %d", st.Seeks, cr.seeks)
			}
			if name == "av-tail.mov" {
				// The index is at the end: the demuxer must seek to it, not
				// read the media data in front of it.
				if st.Seeks == 0 || st.Bytes >= size/2 {
					t.Errorf("opening a tail-index file read %d of %d bytes with %d seeks", st.Bytes, size, st.Seeks)
				}
			}
			// Reading on still works after the probe.
			n := 0
			mediatest.EachPacket(t, d, func(*media.Packet) error { n++; return nil })
			if n == 0 {
				t.Error("no packets")
			}
		})
	}
}

// sizedReader is a reader that knows its size and cannot seek relative to
// the end, like a remote track.
type sizedReader struct{ *bytes.Reader }

func (s sizedReader) Seek(off int64, whence int) (int64, error) {
	if whence == io.SeekEnd {
		return 0, errors.New("no SeekEnd here")
	}
	return s.Reader.Seek(off, whence)
}

func TestSizeComesFromSizeMethod(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile(mediatest.Fixture(t, "av-tail.mov"))
	if err != nil {
		t.Fatal(err)
	}
	d, err := media.OpenDemuxer(sizedReader{bytes.NewReader(b)}, media.DemuxerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if d.Duration() != 10*time.Second {
		t.Errorf("duration %v", d.Duration())
	}
}

func TestProbeOptionsBoundTheOpen(t *testing.T) {
	t.Parallel()
	path := mediatest.Fixture(t, "vp8-vorbis.mkv")
	for _, o := range []media.DemuxerOptions{
		{},
		{ProbeSize: 64 << 10, AnalyzeDuration: 200 * time.Millisecond},
		{ProbeSize: -1, AnalyzeDuration: -1},
	} {
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		d, err := media.OpenDemuxer(f, o)
		if err != nil {
			t.Fatalf("%+v: %v", o, err)
		}
		if len(d.Streams()) != 2 || d.Streams()[0].Width != 320 || d.Streams()[1].SampleRate != 48000 {
			t.Errorf("%+v: streams %+v", o, d.Streams())
		}
		t.Logf("%+v: %+v", o, d.OpenStats())
		d.Close()
		f.Close()
	}
}

// seekHead is what a stream's first packet after a seek looks like.
type seekHead struct {
	pts time.Duration
	key bool
}

// firstPackets seeks to at and returns each stream's first packet.
func firstPackets(t *testing.T, d *media.Demuxer, at time.Duration) map[int]seekHead {
	t.Helper()
	if err := d.SeekTo(at); err != nil {
		t.Fatalf("SeekTo(%v): %v", at, err)
	}
	first := map[int]seekHead{}
	p := media.NewPacket()
	defer p.Free()
	for i := 0; i < 200 && len(first) < len(d.Streams()); i++ {
		if err := d.ReadPacket(p); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			t.Fatal(err)
		}
		if _, ok := first[p.StreamIndex()]; !ok {
			first[p.StreamIndex()] = seekHead{pts: p.PTS(), key: p.IsKey()}
		}
		p.Unref()
	}
	return first
}

func TestSeekLandsOnKeyframeAtOrBefore(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"camera.mp4", "av.mp4", "av-tail.mov", "vp9-opus.webm", "vp8-vorbis.mkv", "sync-av.mp4"} {
		t.Run(name, func(t *testing.T) {
			d := openFixture(t, name)
			// Just after a keyframe, just before one, on one, and late.
			for _, at := range []time.Duration{3500 * time.Millisecond, 2990 * time.Millisecond, 5 * time.Second, 9900 * time.Millisecond, 0, 1 * time.Millisecond} {
				first := firstPackets(t, d, at)
				for idx, p := range first {
					s := d.Streams()[idx]
					if p.pts > at && at > s.Start {
						t.Errorf("seek to %v: %s stream %d starts at %v, after the target", at, s.Kind, idx, p.pts)
					}
					if s.Kind == media.KindVideo {
						if !p.key {
							t.Errorf("seek to %v: first video packet (pts %v) is not a keyframe", at, p.pts)
						}
						// Fixtures have a keyframe every second (-g 30).
						if at-p.pts > 1100*time.Millisecond {
							t.Errorf("seek to %v: landed at %v, more than a GOP before", at, p.pts)
						}
					}
				}
			}
		})
	}
}

func TestSeekAudioOnly(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"mic.m4a", "opus.ogg", "vorbis.ogg", "mp3.mp3", "wav.wav", "flac.flac"} {
		t.Run(name, func(t *testing.T) {
			d := openFixture(t, name)
			at := 4250 * time.Millisecond
			first := firstPackets(t, d, at)
			p, ok := first[0]
			if !ok {
				t.Fatal("no packet after seek")
			}
			if p.pts > at || at-p.pts > 500*time.Millisecond {
				t.Errorf("seek to %v landed at %v", at, p.pts)
			}
		})
	}
}
