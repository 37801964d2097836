package sync

import (
	"bytes"
	"errors"
	"os"
	"testing"
	"time"

	"reelay/media"
	"reelay/media/mediatest"
)

// TestThumbnailsAreTheKeyframesFetchedAlone: the picture for a time is
// the keyframe at or before it, exactly as decoding the file finds it; over
// loopback libp2p the pictures for ten times cost a fraction of the file,
// since only their keyframes are fetched; a container without an index
// says so.
func TestThumbnailsAreTheKeyframesFetchedAlone(t *testing.T) {
	path := mediatest.Fixture(t, "screen.mp4")
	const w, h = 320, 180
	ref := decodeVideoRef(t, path, w, h, true)
	// The keyframes as reading the file finds them.
	d := mediatest.OpenDemuxer(t, path)
	video := mediatest.FirstStream(d, media.KindVideo)
	var keys []time.Duration
	var keyBytes int64
	mediatest.EachPacket(t, d, func(p *media.Packet) error {
		if p.StreamIndex() == video && p.IsKey() {
			keys = append(keys, p.PTS()-d.StartTime())
			keyBytes += int64(p.Size())
		}
		return nil
	})
	if len(keys) < 4 {
		t.Fatalf("the fixture has %d keyframes", len(keys))
	}
	keyAt := func(pos time.Duration) time.Duration {
		at := keys[0]
		for _, k := range keys {
			if k <= pos {
				at = k
			}
		}
		return at
	}
	targets := []time.Duration{0, 1500 * time.Millisecond, 2 * time.Second, 4999 * time.Millisecond, 7250 * time.Millisecond, 9900 * time.Millisecond, 3 * time.Second, 5 * time.Second, 8 * time.Second, 600 * time.Millisecond}

	check := func(name string, src Source) *Thumbnails {
		th, err := OpenThumbnails(src, "screen", w)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { th.Close() })
		if gw, gh := th.Size(); gw != w || gh != h {
			t.Errorf("%s: pictures %d×%d, want %d×%d", name, gw, gh, w, h)
		}
		for _, pos := range targets {
			got, err := th.At(pos)
			if err != nil {
				t.Fatalf("%s: the picture at %v: %v", name, pos, err)
			}
			want := frameAt(ref, keyAt(pos))
			if got.PTS != want.pts || !bytes.Equal(got.Image.Pix, want.img.Pix) {
				t.Errorf("%s: the picture at %v is the frame at %v, want the keyframe at %v", name, pos, got.PTS, want.pts)
			}
		}
		return th
	}
	dir := t.TempDir()
	if b, err := os.ReadFile(path); err != nil || os.WriteFile(dir+"/screen.mp4", b, 0o644) != nil {
		t.Fatal("copying the fixture failed")
	}
	check("local", FolderSource(folderOf(t, map[string]string{"screen.mp4": path}, "")))
	rec := shareLoopback(t, dir)
	th := check("loopback", rec.Source())
	fi, _ := os.Stat(path)
	st := th.Stats()
	if st == nil {
		t.Fatal("no network figures for a remote track")
	}
	t.Logf("%d pictures fetched %d of the file's %d bytes in %d requests", len(targets), st.BytesFetched, fi.Size(), st.Requests)
	// The keyframes, and the file's header and index before them.
	if limit := keyBytes + 64<<10; st.BytesFetched > limit {
		t.Errorf("the pictures fetched %d bytes; the keyframes are %d bytes, the file %d", st.BytesFetched, keyBytes, fi.Size())
	}

	mkv := mediatest.Fixture(t, "vp8-vorbis.mkv")
	if _, err := OpenThumbnails(FolderSource(folderOf(t, map[string]string{"v.mkv": mkv}, "")), "v", w); !errors.Is(err, ErrNoThumbnails) {
		t.Errorf("a Matroska track: %v, want ErrNoThumbnails", err)
	}
}
