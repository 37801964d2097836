package media_test

import (
	"os"
	"testing"
	"time"

	"reelay/media"
	"reelay/media/mediatest"
	"reelay/media/syncclip"
)

// TestFarSeekWithoutAnIndexReadsLittle: a far seek in a 20-minute MP3 or
// ADTS AAC, formats without an index that FFmpeg seeks by reading from the
// start, reads a few kilobytes near the target, not the file before it,
// and lands where the audio really is: the recording's beeps come out at
// their seconds.
func TestFarSeekWithoutAnIndexReadsLittle(t *testing.T) {
	t.Parallel()
	// How far from its second a beep may come out. A constant bit rate
	// MP3's estimate is exact, to a frame of 32 kbit/s audio (26 ms). An
	// ADTS frame carries no time and an AAC encoder's bit rate drifts: the
	// time at a byte is the mean frame length measured there, 0.13 s off
	// at 18 minutes in this file (FFmpeg's own duration for it is 40 s
	// off), so only the second is sure.
	within := map[string]time.Duration{"talk.mp3": 50 * time.Millisecond, "talk.aac": 400 * time.Millisecond}
	for _, name := range []string{"talk.mp3", "talk.aac"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			path := mediatest.Long(t, name)
			f, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			fi, err := f.Stat()
			if err != nil {
				t.Fatal(err)
			}
			cr := &countingReader{r: f}
			d, err := media.OpenDemuxer(cr, media.DemuxerOptions{})
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			opened := cr.bytes
			if got := d.Duration(); got < mediatest.LongDuration-2*time.Second || got > mediatest.LongDuration+2*time.Second {
				t.Errorf("duration %v, want %v within 2 s", got, mediatest.LongDuration)
			}

			at := mediatest.LongDuration - 100*time.Second + 300*time.Millisecond
			if err := d.SeekTo(at); err != nil {
				t.Fatal(err)
			}
			a, err := media.NewAudioDecoder(d, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer a.Close()
			beeps := syncclip.NewBeepDetector(media.OutputSampleRate, media.OutputChannels)
			var first, end time.Duration
			var onsets []time.Duration
			p := media.NewPacket()
			defer p.Free()
			for first == 0 || end < first+12*time.Second {
				if err := d.ReadPacket(p); err != nil {
					t.Fatalf("reading after the seek: %v", err)
				}
				err := a.Decode(p, func(pts time.Duration, s []float32) error {
					if first == 0 {
						first = pts
					}
					end = pts + time.Duration(len(s)/media.OutputChannels)*time.Second/media.OutputSampleRate
					onsets = append(onsets, beeps.Feed(pts, s)...)
					return nil
				})
				p.Unref()
				if err != nil {
					t.Fatal(err)
				}
			}
			read := cr.bytes - opened
			t.Logf("%s, %.1f MB: opening read %d KB; the seek to %v read %d KB and landed at %v; beeps at %v",
				name, float64(fi.Size())/1e6, opened>>10, at, read>>10, first, onsets)
			// The seek and the 12 s played after it; FFmpeg alone reads the
			// 4.6 MB before the target.
			if read > 256<<10 {
				t.Errorf("the seek and 12 s of playing read %d KB of the file's %d KB, want under 256 KB", read>>10, fi.Size()>>10)
			}
			if first > at || at-first > 2*time.Second {
				t.Errorf("the seek to %v landed at %v", at, first)
			}
			// Each beep must come out where the recording has one, near a
			// whole second that beeps, and every such second must beep.
			heard := map[int]bool{}
			for _, o := range onsets {
				sec := int(o.Round(time.Second) / time.Second)
				if off := o - o.Round(time.Second); off < -within[name] || off > within[name] || !mediatest.LongBeeps(sec) {
					t.Errorf("a beep came out at %v, where the recording has none (%v from the second)", o, off)
				}
				heard[sec] = true
			}
			for sec := int((first + time.Second - 1) / time.Second); time.Duration(sec)*time.Second+100*time.Millisecond < end; sec++ {
				if mediatest.LongBeeps(sec) && !heard[sec] {
					t.Errorf("no beep at %ds, where the recording has one", sec)
				}
			}
		})
	}
}
