package net

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// answerOf reads a raw answer's header, and its body when it has one.
func answerOf(t *testing.T, raw []byte) (response, []byte) {
	t.Helper()
	br := bufio.NewReader(bytes.NewReader(raw))
	var resp response
	if err := readFrame(br, &resp); err != nil {
		t.Fatalf("answer %q: %v", raw, err)
	}
	body, _ := io.ReadAll(br)
	return resp, body
}

func trackVersion(t *testing.T, ts *testShare, name string) string {
	t.Helper()
	tr, ok := ts.viewer.Track(name)
	if !ok || tr.Version == "" {
		t.Fatalf("no version for %q", name)
	}
	return tr.Version
}

// TestReadRangeVersion: a read naming the version stream.get gave is
// served; one naming another version is refused with changed; one naming
// none is served (the field is optional).
func TestReadRangeVersion(t *testing.T) {
	ts := newTestShare(t)
	v := trackVersion(t, ts, "mic")
	for _, c := range []struct {
		version string
		want    ErrorCode
	}{{v, ""}, {"", ""}, {v + "0", CodeChanged}, {"1-2", CodeChanged}} {
		raw, reset := rawExchange(t, ts, frame(request{Method: MethodReadRange, Token: ts.link.Token, Track: "mic", Offset: 10, Length: 100, Version: c.version}))
		if reset {
			t.Fatalf("version %q: reset", c.version)
		}
		resp, body := answerOf(t, raw)
		switch {
		case c.want == "" && (resp.Error != nil || !bytes.Equal(body, ts.files["mic"][10:110])):
			t.Errorf("version %q: %+v, %d bytes; want the bytes", c.version, resp.Error, len(body))
		case c.want != "" && (resp.Error == nil || resp.Error.Code != c.want):
			t.Errorf("version %q: %+v; want %s", c.version, resp.Error, c.want)
		}
	}
	raw, _ := rawExchange(t, ts, frame(request{Method: MethodGet, Token: ts.link.Token, Version: v}))
	if resp, _ := answerOf(t, raw); resp.Error == nil || resp.Error.Code != CodeBadRequest {
		t.Errorf("stream.get with a version: %+v, want bad_request", resp.Error)
	}
}

// TestChangedFileIsRefused: once a shared file is written to, shrunk,
// rewritten and grown, replaced or removed, every read of its track is refused with
// changed, whatever version the request names; the other tracks go on.
func TestChangedFileIsRefused(t *testing.T) {
	for name, change := range map[string]func(path string) error{
		"written in place": func(path string) error {
			f, err := os.OpenFile(path, os.O_WRONLY, 0)
			if err != nil {
				return err
			}
			defer f.Close()
			_, err = f.WriteAt([]byte("new bytes"), 1000)
			return err
		},
		"shrunk": func(path string) error { return os.Truncate(path, 100<<10) },
		"rewritten and grown": func(path string) error {
			f, err := os.OpenFile(path, os.O_WRONLY, 0)
			if err != nil {
				return err
			}
			defer f.Close()
			if _, err := f.WriteAt(bytes.Repeat([]byte{0x55}, 16<<10), 60<<10); err != nil {
				return err
			}
			_, err = f.Seek(0, io.SeekEnd)
			if err == nil {
				_, err = f.Write([]byte("more"))
			}
			return err
		},
		"replaced": func(path string) error {
			// Other bytes of the same size and modification time renamed
			// over the file, as editors save and cp -p copies: only the
			// file's identity tells.
			fi, err := os.Stat(path)
			if err != nil {
				return err
			}
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			for i := range b {
				b[i] = ^b[i]
			}
			tmp := path + ".tmp"
			if err := os.WriteFile(tmp, b, 0o644); err != nil {
				return err
			}
			if err := os.Chtimes(tmp, fi.ModTime(), fi.ModTime()); err != nil {
				return err
			}
			return os.Rename(tmp, path)
		},
		"removed": os.Remove,
	} {
		t.Run(name, func(t *testing.T) {
			ts := newTestShare(t)
			v := trackVersion(t, ts, "mic")
			// The sharer opens the file on a first read, before the change.
			if _, err := ts.viewer.ReadRange(t.Context(), "mic", 0, make([]byte, 10)); err != nil {
				t.Fatal(err)
			}
			// Modification times tick in steps of a few milliseconds.
			time.Sleep(20 * time.Millisecond)
			if err := change(filepath.Join(ts.dir, "mic.m4a")); err != nil {
				t.Fatal(err)
			}
			for _, version := range []string{"", v} {
				raw, reset := rawExchange(t, ts, frame(request{Method: MethodReadRange, Token: ts.link.Token, Track: "mic", Length: 100, Version: version}))
				if reset {
					t.Fatalf("version %q: reset, want a changed answer", version)
				}
				resp, body := answerOf(t, raw)
				if resp.Error == nil || resp.Error.Code != CodeChanged || len(body) != 0 {
					t.Fatalf("version %q: %+v with %d bytes, want changed", version, resp.Error, len(body))
				}
				t.Logf("%s", resp.Error)
			}
			_, err := ts.viewer.ReadRange(t.Context(), "mic", 0, make([]byte, 10))
			if !errors.Is(err, ErrChanged) {
				t.Errorf("the viewer's read: %v, want changed", err)
			}
			got := make([]byte, 1000)
			if _, err := ts.viewer.ReadRange(t.Context(), "camera", 0, got); err != nil || !bytes.Equal(got, ts.files["camera"][:1000]) {
				t.Errorf("another track: %v", err)
			}
		})
	}
}

// TestChangeDuringReadResets: when the file changes while a read is on
// the wire, the rest of the read is never sent: the viewer gets a reset
// after bytes that all belong to the old file.
func TestChangeDuringReadResets(t *testing.T) {
	ts := newTestShare(t)
	st, err := ts.vHost.NewStream(t.Context(), ts.sHost.ID(), ProtocolID)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Reset()
	st.SetDeadline(time.Now().Add(10 * time.Second))
	st.Write(frame(request{Method: MethodReadRange, Token: ts.link.Token, Track: "screen", Length: MaxReadLength, Version: trackVersion(t, ts, "screen")}))
	br := bufio.NewReader(st)
	var resp response
	if err := readFrame(br, &resp); err != nil || resp.Length != MaxReadLength {
		t.Fatalf("answer %+v, %v", resp, err)
	}
	first := make([]byte, 64<<10)
	if _, err := io.ReadFull(br, first); err != nil {
		t.Fatal(err)
	}
	// The sharer is now blocked on the stream's window; rewrite the
	// whole file behind it, keeping its size.
	time.Sleep(20 * time.Millisecond)
	path := filepath.Join(ts.dir, "screen.mp4")
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(bytes.Repeat([]byte{0xAA}, len(ts.files["screen"])), 0); err != nil {
		t.Fatal(err)
	}
	f.Close()
	rest, err := io.ReadAll(br)
	got := append(first, rest...)
	if err == nil {
		t.Fatalf("the read ended cleanly after the file changed (%d bytes)", len(got))
	}
	if !bytes.Equal(got, ts.files["screen"][:len(got)]) {
		t.Fatalf("of %d bytes received, some are not the old file's", len(got))
	}
	t.Logf("reset after %d of %d bytes, all from the old file: %v", len(got), MaxReadLength, err)
}
