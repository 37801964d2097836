package sync

import (
	"bytes"
	"math"
	"testing"
	"testing/synctest"
	"time"

	"reelay/media/mediatest"
)

func TestSeekShowsTheFrameAtTheTargetAndTheExactSample(t *testing.T) {
	files := map[string]string{
		"camera.mp4": mediatest.Fixture(t, "camera.mp4"),
		"screen.mp4": mediatest.Fixture(t, "screen.mp4"),
		"mic.m4a":    mediatest.Fixture(t, "mic.m4a"),
	}
	refs := map[string][]refFrame{
		"camera": decodeVideoRef(t, files["camera.mp4"], 640/4, 360/4, true),
		"screen": decodeVideoRef(t, files["screen.mp4"], 1280/4, 720/4, true),
	}
	refAudio := decodeAudioRef(t, files["mic.m4a"])
	src := FolderSource(folderOf(t, files, ""))
	targets := []time.Duration{
		4500 * time.Millisecond, // between frames of both
		1234 * time.Millisecond, // backwards, mid-GOP
		7 * time.Second,         // a keyframe of both
		6999 * time.Millisecond, // just before a keyframe: a whole GOP to discard
		9950 * time.Millisecond, // the last frames
		33 * time.Millisecond,   // the first frames
		5016667 * time.Microsecond,
	}
	synctest.Test(t, func(t *testing.T) {
		p, sink, recs := openTest(t, src, Options{})
		for _, r := range recs {
			r.keepPictures()
		}
		waitState(t, p, StatePaused, 5*time.Second)
		for _, target := range targets {
			before := map[string]int{}
			for name, r := range recs {
				before[name] = r.count()
			}
			p.Seek(target)
			waitFor(t, 5*time.Second, "the seek", func() bool {
				return len(p.Stats().SeekLatencies) > 0 && p.Position() == target && recs["camera"].count() > before["camera"] && recs["screen"].count() > before["screen"]
			})
			synctest.Wait()
			for name, ref := range refs {
				got := recs[name].since(before[name])
				want := frameAt(ref, target)
				if len(got) != 1 {
					t.Errorf("seek to %v: %s showed %d frames while paused, want 1", target, name, len(got))
					continue
				}
				if got[0].pts != want.pts {
					t.Errorf("seek to %v: %s showed the frame at %v, want %v", target, name, got[0].pts, want.pts)
				}
				if !bytes.Equal(got[0].img.Pix, want.img.Pix) {
					t.Errorf("seek to %v: %s picture differs from the frame at %v decoded from the start", target, name, want.pts)
				}
			}
			// While paused the device is filled ahead; its first samples
			// must be the file's from the target's sample on.
			var got []float32
			waitFor(t, time.Second, "audio after the seek", func() bool {
				got = sink.samples()
				return len(got) >= 2*channels*480
			})
			at := sampleAt(target) * channels
			want := refAudio[at:min(at+int64(len(got)), int64(len(refAudio)))]
			n := min(len(want), 480*channels)
			// Exact up to the AAC decoder's warm-up after a flush (below
			// -60 dB); being one sample off would differ by about 0.02.
			if d := maxDiff(got[:n], want[:n]); d > 1e-3 {
				t.Errorf("seek to %v: first 10 ms of audio differ from the file's at that sample by up to %g", target, d)
			}
		}
	})
}

// TestSeekPastATracksEndShowsItsLastFrame: with the screen starting 3 s
// into the recording, the camera ends 3 s before it; a seek past the
// camera's end shows the camera's last frame, not whatever it showed
// before the seek. The player also opens paused at 0, where the screen has
// not started yet.
func TestSeekPastATracksEndShowsItsLastFrame(t *testing.T) {
	files := map[string]string{
		"camera.mp4": mediatest.Fixture(t, "camera.mp4"),
		"screen.mp4": mediatest.Fixture(t, "screen.mp4"),
	}
	ref := decodeVideoRef(t, files["camera.mp4"], 640/4, 360/4, true)
	last := ref[len(ref)-1]
	src := FolderSource(folderOf(t, files, `{"tracks":[{"file":"camera.mp4"},{"file":"screen.mp4","start":3}]}`))
	synctest.Test(t, func(t *testing.T) {
		p, _, recs := openTest(t, src, Options{})
		recs["camera"].keepPictures()
		waitState(t, p, StatePaused, 5*time.Second)
		for _, target := range []time.Duration{5 * time.Second, 12 * time.Second, 4 * time.Second, 10*time.Second + 500*time.Millisecond} {
			before := recs["camera"].count()
			p.Seek(target)
			waitFor(t, 5*time.Second, "the seek", func() bool {
				return len(p.Stats().SeekLatencies) > 0 && p.Position() == target && p.State() == StatePaused
			})
			synctest.Wait()
			got := recs["camera"].since(before)
			want := frameAt(ref, min(target, last.pts))
			if len(got) != 1 {
				t.Errorf("seek to %v: the camera showed %d frames, want 1 (its frame at %v)", target, len(got), want.pts)
				continue
			}
			if got[0].pts != want.pts || !bytes.Equal(got[0].img.Pix, want.img.Pix) {
				t.Errorf("seek to %v: the camera showed its frame at %v, want %v", target, got[0].pts, want.pts)
			}
		}
	})
}

func maxDiff(a, b []float32) float64 {
	var d float64
	for i := range min(len(a), len(b)) {
		d = max(d, math.Abs(float64(a[i]-b[i])))
	}
	return d
}

func TestRapidSeeksCoalesce(t *testing.T) {
	files := map[string]string{
		"camera.mp4": mediatest.Fixture(t, "camera.mp4"),
		"mic.m4a":    mediatest.Fixture(t, "mic.m4a"),
	}
	ref := decodeVideoRef(t, files["camera.mp4"], 0, 0, false)
	refAudio := decodeAudioRef(t, files["mic.m4a"])
	src := FolderSource(folderOf(t, files, ""))
	synctest.Test(t, func(t *testing.T) {
		p, sink, recs := openTest(t, src, Options{})
		waitState(t, p, StatePaused, 5*time.Second)
		p.Play()
		time.Sleep(500 * time.Millisecond)
		// A drag of the seek bar: 20 targets with no pause between them.
		var last time.Duration
		for i := range 20 {
			last = time.Duration(i*397%9000)*time.Millisecond + 123*time.Millisecond
			p.Seek(last)
		}
		n0 := recs["camera"].count()
		waitFor(t, 5*time.Second, "playing after the seeks", func() bool { return p.State() == StatePlaying })
		time.Sleep(500 * time.Millisecond)
		got := recs["camera"].since(n0)
		tracks := p.Tracks()
		st := p.Stats()
		t.Logf("20 seeks requested; the camera track worked on %d (including the open), mic on %d; %d frames shown after the last",
			tracks[0].Stats.Seeks, tracks[1].Stats.Seeks, len(got))
		if len(got) == 0 {
			t.Fatal("no frame shown after the last seek")
		}
		if want := frameAt(ref, last).pts; got[0].pts != want {
			t.Errorf("first frame after the seeks is at %v, want the frame at the last target %v", got[0].pts, want)
		}
		for i := 1; i < len(got); i++ {
			if got[i].pts <= got[i-1].pts || got[i].pts > last+time.Second {
				t.Errorf("stale or out-of-order frame after the last seek: %v after %v (target %v)", got[i].pts, got[i-1].pts, last)
			}
		}
		if st.Seeks != 20 || len(st.SeekLatencies) == 0 {
			t.Errorf("stats: %d seeks, %d latencies", st.Seeks, len(st.SeekLatencies))
		}
		samples := sink.samples()
		at := sampleAt(last) * channels
		if d := maxDiff(samples[:480*channels], refAudio[at:at+480*channels]); d > 1e-3 {
			t.Errorf("audio after the seeks does not start at the last target's sample (diff %g)", d)
		}
	})
}

// TestASeekToAKeyframeDecodesFromIt: in a file with a picture and sound,
// a seek to a keyframe, or just after one, decodes from that keyframe, not
// from the one before it with a whole group of pictures (the sound's
// preroll before the target used to send the demuxer there); the picture
// and the sound at the target are still the file's, exactly.
func TestASeekToAKeyframeDecodesFromIt(t *testing.T) {
	path := mediatest.Fixture(t, "av.mp4")
	keys, _ := keyframesOf(t, path)
	if len(keys) < 8 {
		t.Fatalf("the fixture has %d keyframes", len(keys))
	}
	ref := decodeVideoRef(t, path, 640/4, 360/4, true)
	refAudio := decodeAudioRef(t, path)
	src := FolderSource(fixtureFolder(t, "av.mp4"))
	targets := []time.Duration{keys[5].PTS, keys[3].PTS + 40*time.Millisecond, keys[7].PTS}
	synctest.Test(t, func(t *testing.T) {
		p, sink, recs := openTest(t, src, Options{})
		rec := recs["av"]
		rec.keepPictures()
		waitState(t, p, StatePaused, 5*time.Second)
		for _, target := range targets {
			// What the pipeline decodes ahead of the last target, while
			// paused, is done before the count starts.
			synctest.Wait()
			before, decoded := rec.count(), p.Tracks()[0].Stats.FramesDecoded
			p.Seek(target)
			waitFor(t, 5*time.Second, "the seek", func() bool {
				return p.Position() == target && rec.count() > before && p.State() == StatePaused
			})
			synctest.Wait()
			got, want := rec.since(before), frameAt(ref, target)
			if len(got) != 1 || got[0].pts != want.pts || !bytes.Equal(got[0].img.Pix, want.img.Pix) {
				t.Errorf("seek to %v: %d pictures shown, want 1, the file's at %v", target, len(got), want.pts)
			}
			// The keyframe and the pictures up to the target, with those
			// after it the pipeline decodes ahead while paused (as many
			// as its pool holds): fewer than half the 30 of a group of
			// pictures, which decoding from the keyframe before adds.
			if n := p.Tracks()[0].Stats.FramesDecoded - decoded; n >= 15 {
				t.Errorf("seek to %v decoded %d pictures, want fewer than 15: it decoded from the keyframe before", target, n)
			}
			var samples []float32
			waitFor(t, time.Second, "sound after the seek", func() bool {
				samples = sink.samples()
				return len(samples) >= 2*channels*480
			})
			at := sampleAt(target) * channels
			n := min(len(samples), 480*channels)
			if d := maxDiff(samples[:n], refAudio[at:at+int64(n)]); d > 1e-3 {
				t.Errorf("seek to %v: the first 10 ms of sound differ from the file's at that sample by up to %g", target, d)
			}
		}
	})
}
