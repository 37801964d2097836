package cli

import (
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"reelay/media/mediatest"
	p2pnet "reelay/net"
)

// TestFarSeekInATalkWithoutAnIndexOverAHomeLink: a viewer across an
// emulated home link (QUIC, 50 ms, 20 Mbit/s) seeks to 15 minutes into a
// 20-minute MP3 or ADTS AAC microphone track, formats without an index
// that FFmpeg would read from the start to seek. The seek shows, and the
// whole run fetches a few blocks, not the file.
func TestFarSeekInATalkWithoutAnIndexOverAHomeLink(t *testing.T) {
	link, err := p2pnet.ParseEmulatedLink("50ms,20mbit")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"talk.mp3", "talk.aac"} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			data, err := os.ReadFile(mediatest.Long(t, name))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "mic"+filepath.Ext(name)), data, 0o644); err != nil {
				t.Fatal(err)
			}
			pair, err := p2pnet.NewEmulatedPair(link, p2pnet.TransportQUIC)
			if err != nil {
				t.Fatal(err)
			}
			defer pair.Close()
			sharer := p2pnet.NewSharer(pair.Sharer, p2pnet.SharerOptions{})
			defer sharer.Close()
			l, err := sharer.Share(dir)
			if err != nil {
				t.Fatal(err)
			}
			connectAt := time.Now()
			rec, err := p2pnet.Dial(t.Context(), pair.Viewer, l)
			if err != nil {
				t.Fatal(err)
			}
			defer rec.Close()
			o := playOptions{For: 6 * time.Second, Seeks: []time.Duration{15 * time.Minute}, OpenAudio: benchNoSound}
			rep, err := playSource(t.Context(), rec.Source(), "link", connectAt, o, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			if len(rep.Seeks) != 1 || rep.Seeks[0].Latency == nil {
				t.Fatalf("the seek to 15 min never played: %+v", rep.Seeks)
			}
			tr := rep.Tracks[0]
			if tr.BytesFetched == nil {
				t.Fatal("no network figures for the track")
			}
			t.Logf("%s, %.1f MB: seek to 15 min in %.0f ms; fetched %d KB in %d requests, the demuxer read %d KB",
				name, float64(len(data))/1e6, *rep.Seeks[0].Latency, *tr.BytesFetched>>10, *tr.Requests, tr.BytesRead>>10)
			// The opening, the tail, the seek's block and the next: 256 KiB
			// blocks, so about 1 MB; reading to the target is 4.6 MB.
			if *tr.BytesFetched > 1536<<10 {
				t.Errorf("fetched %d KB of a %d KB file for one far seek", *tr.BytesFetched>>10, len(data)>>10)
			}
		})
	}
}
