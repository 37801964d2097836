package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"reelay/media"
	"reelay/media/mediatest"
	p2pnet "reelay/net"
)

// TestFrameMD5OverLoopback: every audio and video stream of every fixture,
// pulled through the remote reader over real libp2p hosts on loopback,
// decodes to exactly what `ffmpeg -f framemd5` prints for the local file.
func TestFrameMD5OverLoopback(t *testing.T) {
	dir := t.TempDir()
	local := map[string]string{} // track name → fixture path
	for _, name := range mediatest.Names() {
		if testing.Short() && strings.HasPrefix(name, "1080p") {
			continue
		}
		path := mediatest.Fixture(t, name)
		track := strings.NewReplacer(".", "_").Replace(name)
		copyFile(t, path, filepath.Join(dir, track+filepath.Ext(name)))
		local[track] = path
	}
	sh, err := p2pnet.NewHost(p2pnet.HostOptions{ListenAddrs: p2pnet.LoopbackListenAddrs})
	if err != nil {
		t.Fatal(err)
	}
	defer sh.Close()
	sharer := p2pnet.NewSharer(sh, p2pnet.SharerOptions{})
	defer sharer.Close()
	link, err := sharer.Share(dir)
	if err != nil {
		t.Fatal(err)
	}
	vh, rec, err := openLink(t.Context(), link.String())
	if err != nil {
		t.Fatal(err)
	}
	defer vh.Close()
	if got := len(rec.Tracks()); got != len(local) {
		t.Fatalf("the recording lists %d tracks, want %d", got, len(local))
	}
	for track, path := range local {
		t.Run(track, func(t *testing.T) {
			for _, idx := range mediaStreams(t, path) {
				r, err := rec.OpenTrack(track, p2pnet.RangeReaderOptions{})
				if err != nil {
					t.Fatal(err)
				}
				mediatest.CompareFrameMD5(t, r, path, idx)
				r.Close()
			}
		})
	}

	// And the command itself, on a file holding both audio and video.
	var out bytes.Buffer
	e := &env{stdout: &out, stderr: os.Stderr}
	if code := run(context.Background(), e, []string{"framemd5", link.String(), "av_mp4"}); code != 0 {
		t.Fatalf("reelay framemd5 exited %d", code)
	}
	if want := mediatest.FFmpegFrameMD5(t, local["av_mp4"]); out.String() != want {
		t.Fatalf("reelay framemd5 printed %d bytes differing from ffmpeg's %d", out.Len(), len(want))
	}
}

// mediaStreams lists the audio and video stream indexes of a local file.
func mediaStreams(t *testing.T, path string) []int {
	var out []int
	for _, s := range mediatest.OpenDemuxer(t, path).Streams() {
		if s.Kind == media.KindVideo || s.Kind == media.KindAudio {
			out = append(out, s.Index)
		}
	}
	return out
}
