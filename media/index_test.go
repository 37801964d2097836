package media_test

import (
	"crypto/md5"
	"image"
	"os"
	"testing"
	"time"

	"reelay/media"
	"reelay/media/mediatest"
)

// keyPacket is a keyframe as ReadPacket returned it.
type keyPacket struct {
	pts       time.Duration
	pos, size int64
}

func TestKeyframesOfAnMP4(t *testing.T) {
	for _, name := range []string{"av.mp4", "av-tail.mov", "camera.mp4"} {
		t.Run(name, func(t *testing.T) {
			d := mediatest.OpenDemuxer(t, mediatest.Fixture(t, name))
			v := mediatest.FirstStream(d, media.KindVideo)
			var want []keyPacket
			mediatest.EachPacket(t, d, func(p *media.Packet) error {
				if p.StreamIndex() == v && p.IsKey() {
					want = append(want, keyPacket{p.PTS(), p.Pos(), int64(p.Size())})
				}
				return nil
			})
			keys := d.Keyframes(v)
			if len(keys) != len(want) || len(want) < 5 {
				t.Fatalf("Keyframes gave %d, reading the file found %d", len(keys), len(want))
			}
			for i, k := range keys {
				if got := (keyPacket{k.PTS, k.Pos, k.Size}); got != want[i] {
					t.Errorf("keyframe %d: index says %+v, the packet read was %+v", i, got, want[i])
				}
			}
		})
	}
}

func TestTheIndexLocatesEverySoundPacket(t *testing.T) {
	path := mediatest.Fixture(t, "av-tail.mov")
	d := mediatest.OpenDemuxer(t, path)
	a := mediatest.FirstStream(d, media.KindAudio)
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var want []keyPacket
	var sums [][16]byte
	mediatest.EachPacket(t, d, func(p *media.Packet) error {
		if p.StreamIndex() == a && p.PTS() >= 0 {
			want = append(want, keyPacket{p.PTS(), p.Pos(), int64(p.Size())})
			sums = append(sums, md5.Sum(p.Data()))
		}
		return nil
	})
	index := d.Index(a)
	if len(index) != len(want) {
		t.Fatalf("Index gave %d sound packets, reading the file found %d", len(index), len(want))
	}
	pkt := media.NewPacket()
	defer pkt.Free()
	for i, e := range index {
		if got := (keyPacket{e.PTS, e.Pos, e.Size}); got != want[i] {
			t.Fatalf("packet %d: index says %+v, the packet read was %+v", i, got, want[i])
		}
		if err := d.ReadIndexed(f, a, e, pkt); err != nil {
			t.Fatal(err)
		}
		if pkt.PTS() != e.PTS || md5.Sum(pkt.Data()) != sums[i] {
			t.Fatalf("packet %d read by the index: at %v, bytes equal %v", i, pkt.PTS(), md5.Sum(pkt.Data()) == sums[i])
		}
		pkt.Unref()
	}
}

func TestNoKeyframesWhereTheIndexHoldsNoPackets(t *testing.T) {
	for _, name := range []string{"vp8-vorbis.mkv", "vp9-opus.webm"} {
		d := mediatest.OpenDemuxer(t, mediatest.Fixture(t, name))
		if v := mediatest.FirstStream(d, media.KindVideo); d.Indexed(v) || d.Keyframes(v) != nil {
			t.Errorf("%s: Keyframes = %d entries, want none (its cues say where clusters start, not where packets are)", name, len(d.Keyframes(v)))
		}
	}
	d := mediatest.OpenDemuxer(t, mediatest.Fixture(t, "av.mp4"))
	if !d.Indexed(0) || !d.Indexed(1) {
		t.Errorf("av.mp4 says its streams are not indexed")
	}
	if keys := d.Keyframes(99); keys != nil || d.Indexed(99) {
		t.Errorf("Keyframes of a stream that does not exist = %v", keys)
	}
}

// pictureSum decodes pkt alone (drained and flushed, as a keyframe read
// out of order is) and returns its picture's checksum and time.
func pictureSum(t *testing.T, dec *media.VideoDecoder, pkt *media.Packet) (sum [16]byte, pts time.Duration, frames int) {
	t.Helper()
	fn := func(f *media.VideoFrame) error {
		frames++
		pts = f.PTS
		sum = frameSum(t, dec, f)
		return nil
	}
	if err := dec.Decode(pkt, fn); err != nil {
		t.Fatal(err)
	}
	if err := dec.Decode(nil, fn); err != nil {
		t.Fatal(err)
	}
	dec.Flush()
	return sum, pts, frames
}

func TestAKeyframeReadAloneDecodesToItsPicture(t *testing.T) {
	path := mediatest.Fixture(t, "av.mp4")
	d := mediatest.OpenDemuxer(t, path)
	v := mediatest.FirstStream(d, media.KindVideo)
	dec, err := media.NewVideoDecoder(d, v)
	if err != nil {
		t.Fatal(err)
	}
	defer dec.Close()

	// The pictures at the keyframes, decoding the whole stream.
	at := map[time.Duration][16]byte{}
	var keyTimes []time.Duration
	mediatest.EachPacket(t, d, func(p *media.Packet) error {
		if p.StreamIndex() != v {
			return nil
		}
		if p.IsKey() {
			keyTimes = append(keyTimes, p.PTS())
		}
		return dec.Decode(p, func(f *media.VideoFrame) error {
			at[f.PTS] = frameSum(t, dec, f)
			return nil
		})
	})
	dec.Flush()

	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	pkt := media.NewPacket()
	defer pkt.Free()
	keys := d.Keyframes(v)
	// Backwards, so that no keyframe is helped by the one before.
	for i := len(keys) - 1; i >= 0; i-- {
		k := keys[i]
		if err := d.ReadIndexed(f, v, k, pkt); err != nil {
			t.Fatal(err)
		}
		sum, pts, n := pictureSum(t, dec, pkt)
		pkt.Unref()
		if n != 1 || pts != k.PTS || pts != keyTimes[i] {
			t.Fatalf("keyframe %d at %v: %d pictures, at %v (the stream has it at %v)", i, k.PTS, n, pts, keyTimes[i])
		}
		if sum != at[pts] {
			t.Errorf("keyframe %d at %v: its picture differs from the one decoding the stream gives", i, pts)
		}
	}

	short := keys[len(keys)-1]
	short.Pos = mustSize(t, path) - short.Size/2
	if err := d.ReadIndexed(f, v, short, pkt); err == nil {
		t.Error("ReadIndexed past the end of the file did not fail")
	}
}

// frameSum is the checksum of f's picture, converted to RGBA.
func frameSum(t *testing.T, dec *media.VideoDecoder, f *media.VideoFrame) [16]byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, f.Width, f.Height))
	if err := dec.Convert(f, img); err != nil {
		t.Fatal(err)
	}
	return md5.Sum(img.Pix)
}

func mustSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}
