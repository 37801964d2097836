package net

import (
	"bytes"
	"context"
	"math/rand/v2"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// TestRangeReadersOverALossyLinkReadTheFiles: two tracks read at once
// across an emulated link that loses 1 % of its packets, with the
// player's readahead (so requests of every priority, coalesced and
// cancelled by jumps, share the uplink), return exactly the sharer's
// bytes.
func TestRangeReadersOverALossyLinkReadTheFiles(t *testing.T) {
	checkGoroutines(t)
	link, err := ParseEmulatedLink("20ms,100mbit,1%")
	if err != nil {
		t.Fatal(err)
	}
	pair, err := NewEmulatedPair(link, TransportQUIC)
	if err != nil {
		t.Fatal(err)
	}
	defer pair.Close()
	dir := t.TempDir()
	files := map[string][]byte{
		"screen": writeRandomFile(t, filepath.Join(dir, "screen.mp4"), 6<<20, 21),
		"camera": writeRandomFile(t, filepath.Join(dir, "camera.mp4"), 3<<20, 22),
	}
	sharer := NewSharer(pair.Sharer, SharerOptions{})
	defer sharer.Close()
	l, err := sharer.Share(dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	rec, err := Dial(ctx, pair.Viewer, l)
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Close()

	var wg sync.WaitGroup
	for rank, name := range []string{"screen", "camera"} {
		data := files[name]
		r, err := rec.OpenTrack(name, RangeReaderOptions{CacheSize: 2 << 20, PrefetchTail: true})
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		r.SetRank(rank + 1)
		r.SetByteRate(256<<10, 3*time.Second)
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(rank), 9))
			size := int64(len(data))
			pos := int64(0)
			for i := range 150 {
				n := min(int64(1)<<rng.IntN(18)+rng.Int64N(64<<10), 256<<10)
				if rng.IntN(4) == 0 {
					pos = rng.Int64N(size)
				}
				p := make([]byte, n)
				got, err := r.ReadAt(p, pos)
				want := max(0, min(n, size-pos))
				if int64(got) != want || (want == n && err != nil) {
					t.Errorf("%s: read %d at %d of %d bytes: got %d (%v), want %d", name, i, pos, n, got, err, want)
					return
				}
				if !bytes.Equal(p[:got], data[pos:pos+want]) {
					t.Errorf("%s: read %d at %d of %d bytes: bytes differ from the file", name, i, pos, n)
					return
				}
				if pos += int64(got); pos >= size {
					pos = 0
				}
			}
		})
	}
	wg.Wait()
	st := pair.Stats()
	t.Logf("%d of %d packets lost", st.Down.Lost+st.Up.Lost, st.Down.Packets+st.Up.Packets)
}
