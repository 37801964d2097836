package media_test

import (
	"bytes"
	"errors"
	"image"
	"io"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"time"

	"reelay/media"
	"reelay/media/mediatest"
)

func randomBytes(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func TestNotMediaIsAClearError(t *testing.T) {
	t.Parallel()
	text := []byte(strings.Repeat("Reelay plays a friend's recording over libp2p.\n", 2000))
	for name, b := range map[string][]byte{
		"random bytes": randomBytes(256<<10, 1),
		"text":         text,
		"empty":        nil,
		"one byte":     {0},
	} {
		t.Run(name, func(t *testing.T) {
			within(t, 30*time.Second, func() {
				d, err := media.OpenDemuxer(bytes.NewReader(b), media.DemuxerOptions{})
				if err == nil {
					d.Close()
					t.Fatalf("opened %s as media: %+v", name, d.Streams())
				}
				if !strings.HasPrefix(err.Error(), "media: opening demuxer failed: ") {
					t.Errorf("error %q", err)
				}
				t.Log(err)
			})
		})
	}
	if _, err := media.OpenDemuxer(nil, media.DemuxerOptions{}); err == nil {
		t.Error("nil reader opened")
	}
}

func TestTruncatedFileEndsWithAnError(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile(mediatest.Fixture(t, "av.mp4"))
	if err != nil {
		t.Fatal(err)
	}
	cut := b[:len(b)*3/10]
	within(t, 30*time.Second, func() {
		// The index is at the front (faststart), so the file opens; reading
		// must stop where the bytes stop, saying so.
		d, err := media.OpenDemuxer(bytes.NewReader(cut), media.DemuxerOptions{})
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		v, err := media.NewVideoDecoder(d, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer v.Close()
		frames := 0
		p := media.NewPacket()
		defer p.Free()
		for {
			err = d.ReadPacket(p)
			if err != nil {
				break
			}
			if p.StreamIndex() == 0 {
				// Damaged packets may fail to decode; that must not stop the
				// demuxer or panic.
				_ = v.Decode(p, func(*media.VideoFrame) error { frames++; return nil })
			}
			p.Unref()
		}
		if !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("reading a cut file ended with %v, want io.ErrUnexpectedEOF", err)
		}
		t.Logf("%v after %d frames", err, frames)
		if frames == 0 || frames >= 300 {
			t.Errorf("decoded %d frames from 30%% of a 300-frame file", frames)
		}
		// The error stays: the end is not mistaken for a clean one later.
		if err := d.ReadPacket(p); !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("second read: %v", err)
		}
	})

	tail, err := os.ReadFile(mediatest.Fixture(t, "av-tail.mov"))
	if err != nil {
		t.Fatal(err)
	}
	within(t, 30*time.Second, func() {
		// With the index at the end, 30% of the file has none.
		_, err := media.OpenDemuxer(bytes.NewReader(tail[:len(tail)*3/10]), media.DemuxerOptions{})
		if err == nil || !strings.HasPrefix(err.Error(), "media: opening demuxer failed: ") {
			t.Fatalf("opening a tail-index file without its index: %v", err)
		}
	})
}

var errBoom = errors.New("boom: connection reset by peer")

// failingReader reads from r until limit bytes have been read, then fails
// every read with errBoom.
type failingReader struct {
	r     *bytes.Reader
	limit int64
	read  int64
}

func (f *failingReader) Read(b []byte) (int, error) {
	if f.read >= f.limit {
		return 0, errBoom
	}
	if rest := f.limit - f.read; int64(len(b)) > rest {
		b = b[:rest]
	}
	n, err := f.r.Read(b)
	f.read += int64(n)
	return n, err
}

func (f *failingReader) Seek(off int64, whence int) (int64, error) { return f.r.Seek(off, whence) }

func TestReaderErrorIsSurfaced(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile(mediatest.Fixture(t, "av.mp4"))
	if err != nil {
		t.Fatal(err)
	}
	t.Run("while opening", func(t *testing.T) {
		within(t, 30*time.Second, func() {
			_, err := media.OpenDemuxer(&failingReader{r: bytes.NewReader(b), limit: 1000}, media.DemuxerOptions{})
			if !errors.Is(err, errBoom) || !strings.HasPrefix(err.Error(), "media: opening demuxer failed: ") {
				t.Fatalf("got %v, want the reader's error wrapped", err)
			}
		})
	})
	t.Run("while reading", func(t *testing.T) {
		within(t, 30*time.Second, func() {
			d, err := media.OpenDemuxer(&failingReader{r: bytes.NewReader(b), limit: int64(len(b) / 2)}, media.DemuxerOptions{})
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			p := media.NewPacket()
			defer p.Free()
			n := 0
			for {
				if err = d.ReadPacket(p); err != nil {
					break
				}
				p.Unref()
				n++
			}
			if !errors.Is(err, errBoom) {
				t.Fatalf("after %d packets: %v, want the reader's error", n, err)
			}
			if n == 0 {
				t.Error("no packets before the failure")
			}
			// Seeking back needs the reader too, which is still failing.
			if err := d.SeekTo(time.Second); !errors.Is(err, errBoom) {
				t.Errorf("SeekTo after the failure: %v", err)
			}
			if err := d.ReadPacket(p); !errors.Is(err, errBoom) {
				t.Errorf("ReadPacket after the failure: %v", err)
			}
		})
	})
}

// badReader misbehaves in one way.
type badReader struct {
	*bytes.Reader
	mode string
}

func (r *badReader) Read(b []byte) (int, error) {
	switch r.mode {
	case "panic":
		if int64(r.Len()) < r.Size()/2 {
			panic("reader bug")
		}
	case "stuck":
		if int64(r.Len()) < r.Size()/2 {
			return 0, nil
		}
	}
	return r.Reader.Read(b)
}

func (r *badReader) Seek(off int64, whence int) (int64, error) {
	if r.mode == "seek" && off > r.Size()/2 {
		return 0, errBoom
	}
	return r.Reader.Seek(off, whence)
}

func TestMisbehavingReader(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile(mediatest.Fixture(t, "av-tail.mov"))
	if err != nil {
		t.Fatal(err)
	}
	for mode, want := range map[string]string{
		"panic": "reader panicked: reader bug",
		"stuck": io.ErrNoProgress.Error(),
		"seek":  errBoom.Error(),
	} {
		t.Run(mode, func(t *testing.T) {
			within(t, 30*time.Second, func() {
				// av-tail.mov must read or seek past the middle to open.
				d, err := media.OpenDemuxer(&badReader{Reader: bytes.NewReader(b), mode: mode}, media.DemuxerOptions{})
				if err == nil {
					d.Close()
					t.Fatal("opened")
				}
				if !strings.Contains(err.Error(), want) {
					t.Fatalf("got %q, want it to say %q", err, want)
				}
			})
		})
	}
}

func TestCorruptDataDoesNotStopDecoding(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"av.mp4", "vp9-opus.webm", "mp3.mp3", "flac.flac"} {
		t.Run(name, func(t *testing.T) {
			b, err := os.ReadFile(mediatest.Fixture(t, name))
			if err != nil {
				t.Fatal(err)
			}
			// Garble a stretch in the middle of the media data.
			copy(b[len(b)/2:], randomBytes(len(b)/20, 2))
			within(t, 60*time.Second, func() {
				d, err := media.OpenDemuxer(bytes.NewReader(b), media.DemuxerOptions{})
				if err != nil {
					t.Fatal(err)
				}
				defer d.Close()
				decs := map[int]func(*media.Packet) error{}
				img := image.NewRGBA(image.Rect(0, 0, 160, 90))
				for _, s := range d.Streams() {
					switch s.Kind {
					case media.KindVideo:
						v, err := media.NewVideoDecoder(d, s.Index)
						if err != nil {
							t.Fatal(err)
						}
						defer v.Close()
						decs[s.Index] = func(p *media.Packet) error {
							return v.Decode(p, func(f *media.VideoFrame) error { return v.Convert(f, img) })
						}
					case media.KindAudio:
						a, err := media.NewAudioDecoder(d, s.Index)
						if err != nil {
							t.Fatal(err)
						}
						defer a.Close()
						decs[s.Index] = func(p *media.Packet) error {
							return a.Decode(p, func(time.Duration, []float32) error { return nil })
						}
					}
				}
				p := media.NewPacket()
				defer p.Free()
				packets, failed := 0, 0
				for {
					err := d.ReadPacket(p)
					if errors.Is(err, io.EOF) {
						break
					}
					if err != nil {
						t.Logf("demuxer stopped: %v", err)
						break
					}
					packets++
					if dec := decs[p.StreamIndex()]; dec != nil {
						if err := dec(p); err != nil {
							failed++
						}
					}
					p.Unref()
				}
				t.Logf("%d packets, %d failed to decode", packets, failed)
				if packets == 0 {
					t.Error("no packets at all")
				}
			})
		})
	}
}

func TestDecoderMisuseIsAnError(t *testing.T) {
	t.Parallel()
	d := openFixture(t, "av.mp4")
	if _, err := media.NewVideoDecoder(d, 1); err == nil {
		t.Error("video decoder on the audio stream")
	}
	if _, err := media.NewAudioDecoder(d, 0); err == nil {
		t.Error("audio decoder on the video stream")
	}
	if _, err := media.NewAudioDecoder(d, 7); err == nil {
		t.Error("audio decoder on a stream that does not exist")
	}
	if _, err := media.NewVideoDecoder(nil, 0); err == nil {
		t.Error("video decoder without a demuxer")
	}
	v, err := media.NewVideoDecoder(d, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	p := media.NewPacket()
	defer p.Free()
	var kept *media.VideoFrame
	for kept == nil {
		if err := d.ReadPacket(p); err != nil {
			t.Fatal(err)
		}
		if p.StreamIndex() == 1 {
			if err := v.Decode(p, func(*media.VideoFrame) error { return nil }); err == nil {
				t.Error("video decoder took an audio packet")
			}
		} else if err := v.Decode(p, func(f *media.VideoFrame) error { kept = f; return nil }); err != nil {
			t.Fatal(err)
		}
		p.Unref()
	}
	// The frame is only valid inside the callback.
	if err := v.Convert(kept, image.NewRGBA(image.Rect(0, 0, 64, 36))); err == nil {
		t.Error("converted a frame after its callback returned")
	}
	if err := v.Convert(nil, image.NewRGBA(image.Rect(0, 0, 64, 36))); err == nil {
		t.Error("converted a nil frame")
	}
	stop := errors.New("stop")
	if err := d.ReadPacket(p); err != nil {
		t.Fatal(err)
	}
	for p.StreamIndex() != 0 {
		p.Unref()
		if err := d.ReadPacket(p); err != nil {
			t.Fatal(err)
		}
	}
	err = v.Decode(p, func(f *media.VideoFrame) error {
		if err := v.Convert(f, nil); err == nil {
			t.Error("converted into a nil image")
		}
		if err := v.Convert(f, &image.RGBA{}); err == nil {
			t.Error("converted into an empty image")
		}
		return stop
	})
	p.Unref()
	if err != nil && !errors.Is(err, stop) {
		t.Errorf("callback error came back as %v", err)
	}
}
