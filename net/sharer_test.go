package net

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	gosync "sync"
	"testing"
	"time"
)

func TestGetListsTracks(t *testing.T) {
	ts := newTestShare(t)
	got := ts.viewer.Tracks()
	if len(got) != 3 {
		t.Fatalf("got %d tracks, want 3: %+v", len(got), got)
	}
	for _, tr := range got {
		if int64(len(ts.files[tr.Name])) != tr.Size {
			t.Errorf("track %q: size %d, want %d", tr.Name, tr.Size, len(ts.files[tr.Name]))
		}
		if tr.Version == "" {
			t.Errorf("track %q has no version", tr.Name)
		}
	}
	if ts.viewer.Name() != filepath.Base(ts.dir) {
		t.Errorf("name %q, want the folder's %q", ts.viewer.Name(), filepath.Base(ts.dir))
	}
}

// rawExchange sends body as-is on a new stream and returns everything the
// sharer answered, and whether the stream was reset.
func rawExchange(t *testing.T, ts *testShare, body []byte) (answer []byte, reset bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := ts.vHost.NewStream(ctx, ts.sHost.ID(), ProtocolID)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	st.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := st.Write(body); err != nil {
		return nil, true
	}
	st.CloseWrite()
	answer, err = io.ReadAll(st)
	return answer, err != nil
}

func frame(v any) []byte {
	var b bytes.Buffer
	if err := writeFrame(&b, v); err != nil {
		panic(err)
	}
	return b.Bytes()
}

func TestNoFileNamesOnTheWire(t *testing.T) {
	ts := newTestShare(t)
	answer, _ := rawExchange(t, ts, frame(request{Method: MethodGet, Token: ts.link.Token}))
	for _, leak := range []string{".mp4", ".m4a", ts.dir, filepath.Base(ts.dir) + "/"} {
		if bytes.Contains(answer, []byte(leak)) {
			t.Errorf("stream.get answer contains %q: %s", leak, answer)
		}
	}
}

func TestReadRangeExact(t *testing.T) {
	ts := newTestShare(t)
	ctx := t.Context()
	cam := ts.files["camera"]
	for _, c := range []struct{ off, n int }{
		{0, 1}, {0, 4096}, {12345, 256 << 10}, {len(cam) - 10, 10},
		{len(cam) - 10, 100}, // short at the end: exactly the bytes that exist
		{0, MaxReadLength},
	} {
		dst := make([]byte, c.n)
		n, err := ts.viewer.ReadRange(ctx, "camera", int64(c.off), dst)
		if err != nil {
			t.Fatalf("%d+%d: %v", c.off, c.n, err)
		}
		want := cam[c.off:min(c.off+c.n, len(cam))]
		if !bytes.Equal(dst[:n], want) {
			t.Fatalf("%d+%d: got %d bytes, not the file's %d", c.off, c.n, n, len(want))
		}
	}
}

// TestBadInput: every kind of bad request gets a typed error or a clean
// reset, and another viewer is served meanwhile.
func TestBadInput(t *testing.T) {
	ts := newTestShare(t)
	ctx := t.Context()
	size := int64(len(ts.files["mic"]))
	wrongToken := newToken()
	cases := []struct {
		name string
		req  request
		want error
	}{
		{"wrong token", request{Method: MethodReadRange, Token: wrongToken, Track: "mic", Length: 10}, ErrNotFound},
		{"wrong token get", request{Method: MethodGet, Token: wrongToken}, ErrNotFound},
		{"unknown track", request{Method: MethodReadRange, Token: ts.link.Token, Track: "nope", Length: 10}, ErrNotFound},
		{"path as track", request{Method: MethodReadRange, Token: ts.link.Token, Track: "../x", Length: 10}, ErrNotFound},
		{"file name as track", request{Method: MethodReadRange, Token: ts.link.Token, Track: "mic.m4a", Length: 10}, ErrNotFound},
		{"absolute path as track", request{Method: MethodReadRange, Token: ts.link.Token, Track: "/etc/passwd", Length: 10}, ErrNotFound},
		{"offset past end", request{Method: MethodReadRange, Token: ts.link.Token, Track: "mic", Offset: size + 1, Length: 10}, ErrOutOfRange},
		{"offset at end", request{Method: MethodReadRange, Token: ts.link.Token, Track: "mic", Offset: size, Length: 10}, ErrOutOfRange},
		{"negative offset", request{Method: MethodReadRange, Token: ts.link.Token, Track: "mic", Offset: -1, Length: 10}, ErrBadRequest},
		{"length 0", request{Method: MethodReadRange, Token: ts.link.Token, Track: "mic"}, ErrBadRequest},
		{"length over cap", request{Method: MethodReadRange, Token: ts.link.Token, Track: "mic", Length: MaxReadLength + 1}, ErrBadRequest},
		{"unknown method", request{Method: "stream.list", Token: ts.link.Token}, ErrBadRequest},
		{"no token", request{Method: MethodGet}, ErrBadRequest},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var resp response
			err := ts.viewer.exchange(ctx, c.req, &resp, func(*bufio.Reader) error { return errors.New("unexpected body") })
			if !errors.Is(err, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
			ts.assertServes(t)
		})
	}
}

func TestWrongTokenLooksLikeNoRecording(t *testing.T) {
	ts := newTestShare(t)
	a, _ := rawExchange(t, ts, frame(request{Method: MethodGet, Token: newToken()}))
	ts.sharer.Unshare(ts.link.Token)
	b, _ := rawExchange(t, ts, frame(request{Method: MethodGet, Token: ts.link.Token}))
	if !bytes.Equal(a, b) || len(a) == 0 {
		t.Fatalf("wrong token answered %q, revoked recording %q", a, b)
	}
}

func TestMalformedMessages(t *testing.T) {
	ts := newTestShare(t)
	huge := binary.AppendUvarint(nil, 1<<30)
	cases := map[string][]byte{
		"garbage":          []byte("\x05hello"),
		"not json":         append(binary.AppendUvarint(nil, 5), "hello"...),
		"zero length":      {0},
		"huge length":      huge,
		"truncated":        append(binary.AppendUvarint(nil, 100), `{"method":`...),
		"unknown field":    frameRaw(`{"method":"stream.get","token":"x","path":"/etc/passwd"}`),
		"trailing data":    frameRaw(`{"method":"stream.get","token":"x"} {}`),
		"wrong types":      frameRaw(`{"method":"stream.read_range","token":"x","track":"mic","offset":"0","length":1}`),
		"bad varint":       bytes.Repeat([]byte{0xff}, 11),
		"empty":            nil,
		"get with a track": frameRaw(`{"method":"stream.get","token":"x","track":"mic"}`),
	}
	for name, body := range cases {
		t.Run(name, func(t *testing.T) {
			answer, reset := rawExchange(t, ts, body)
			if !reset {
				var resp response
				if err := readFrame(bufio.NewReader(bytes.NewReader(answer)), &resp); err != nil {
					t.Fatalf("answer %q is neither a reset nor a response: %v", answer, err)
				}
				if resp.Error == nil || resp.Error.Code != CodeBadRequest {
					t.Fatalf("answer %+v, want bad_request", resp)
				}
			}
			ts.assertServes(t)
		})
	}
}

func frameRaw(s string) []byte { return append(binary.AppendUvarint(nil, uint64(len(s))), s...) }

// TestManyStreamsFromOnePeer: a peer opening 1,000 streams at once gets
// answers, busy, or resets; it does not crash the sharer, and another viewer
// is still served.
func TestManyStreamsFromOnePeer(t *testing.T) {
	ts := newTestShare(t)
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	var wg gosync.WaitGroup
	var mu gosync.Mutex
	outcomes := map[string]int{}
	for range 1000 {
		wg.Go(func() {
			outcome := "answered"
			var resp response
			err := ts.viewer.exchange(ctx, request{Method: MethodReadRange, Token: ts.link.Token, Track: "screen", Length: MaxReadLength}, &resp,
				func(br *bufio.Reader) error { _, err := io.Copy(io.Discard, br); return err })
			switch {
			case errors.Is(err, ErrBusy):
				outcome = "busy"
			case err != nil:
				outcome = "refused or reset"
			}
			mu.Lock()
			outcomes[outcome]++
			mu.Unlock()
		})
	}
	ts.assertServes(t)
	wg.Wait()
	t.Logf("1000 streams: %v", outcomes)
	if outcomes["answered"] == 0 {
		t.Error("no stream was answered")
	}
	ts.assertServes(t)
}

func TestUnshareRevokes(t *testing.T) {
	ts := newTestShare(t)
	ts.sharer.Unshare(ts.link.Token)
	_, err := ts.viewer.ReadRange(t.Context(), "mic", 0, make([]byte, 10))
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("read after unshare: %v, want not_found", err)
	}
}

func TestSharerCloseLeavesNothingRunning(t *testing.T) {
	checkGoroutines(t)
	ts := newTestShare(t)
	dst := make([]byte, 1<<20)
	if _, err := ts.viewer.ReadRange(t.Context(), "screen", 0, dst); err != nil {
		t.Fatal(err)
	}
}

func TestFolderScan(t *testing.T) {
	dir := t.TempDir()
	outside := t.TempDir()
	for _, f := range []string{"camera.mp4", "screen.webm", "mic.opus", "notes.txt", ".hidden.mp4"} {
		os.WriteFile(filepath.Join(dir, f), []byte("x"), 0o644)
	}
	os.Mkdir(filepath.Join(dir, "sub.mp4"), 0o755)
	os.WriteFile(filepath.Join(outside, "secret.mp4"), []byte("secret"), 0o644)
	os.Symlink(filepath.Join(outside, "secret.mp4"), filepath.Join(dir, "escape.mp4"))
	os.Symlink(filepath.Join(dir, "camera.mp4"), filepath.Join(dir, "inside.mp4"))
	checkScan(t, dir, "camera,inside,mic,screen")
}

// checkScan checks the names of the tracks a scan of dir finds, in order.
func checkScan(t *testing.T, dir, want string) {
	t.Helper()
	f, err := OpenFolder(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tr := range f.Tracks() {
		names = append(names, tr.Name)
	}
	if got := strings.Join(names, ","); got != want {
		t.Fatalf("tracks %s, want %s", got, want)
	}
}

// TestFolderScanTakesSubtitleFiles: subtitle files are tracks after the
// media, named by their stem, or "STEM (subtitles)" beside a media file
// of that stem.
func TestFolderScanTakesSubtitleFiles(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"screen.mp4", "screen.srt", "talk.en.vtt", "mic.srt", "mic.wav", "notes.txt"} {
		os.WriteFile(filepath.Join(dir, f), []byte("x"), 0o644)
	}
	checkScan(t, dir, "mic,screen,mic (subtitles),screen (subtitles),talk.en")
}

// TestEmptyFolderSaysSoPlainly: a folder without media, subtitles alone
// included, is refused with words that fit playing it as well as sharing
// it.
func TestEmptyFolderSaysSoPlainly(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("x"), 0o644)
	os.WriteFile(filepath.Join(dir, "talk.srt"), []byte("x"), 0o644)
	_, err := OpenFolder(dir)
	if err == nil || !strings.HasSuffix(err.Error(), dir+" holds no audio or video files") {
		t.Fatalf("OpenFolder of a folder with only notes and subtitles: %v", err)
	}
}

func TestFolderManifest(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"cam.mp4", "scr.mp4", "audio.m4a"} {
		os.WriteFile(filepath.Join(dir, f), []byte("x"), 0o644)
	}
	os.WriteFile(filepath.Join(dir, ManifestName), []byte(`{"name":"Standup","tracks":[
		{"file":"scr.mp4","name":"screen"},{"file":"cam.mp4","name":"camera","start":1.5},{"file":"audio.m4a","name":"mic"}]}`), 0o644)
	f, err := OpenFolder(dir)
	if err != nil {
		t.Fatal(err)
	}
	tr := f.Tracks()
	if f.Name() != "Standup" || len(tr) != 3 || tr[0].Name != "screen" || tr[1].Name != "camera" || tr[1].Start != 1500*time.Millisecond {
		t.Fatalf("name %q tracks %+v", f.Name(), tr)
	}
}

func TestFolderManifestErrors(t *testing.T) {
	for name, body := range map[string]string{
		"escape":      `{"tracks":[{"file":"../x.mp4"}]}`,
		"hidden":      `{"tracks":[{"file":".x.mp4"}]}`,
		"dup":         `{"tracks":[{"file":"a.mp4","name":"a"},{"file":"b.mp4","name":"a"}]}`,
		"negative":    `{"tracks":[{"file":"a.mp4","start":-1}]}`,
		"not json":    `{`,
		"unknown":     `{"trakcs":[]}`,
		"missing":     `{"tracks":[{"file":"gone.mp4"}]}`,
		"bad name":    `{"tracks":[{"file":"a.mp4","name":"a/b"}]}`,
		"dir as file": `{"tracks":[{"file":"sub"}]}`,
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			os.WriteFile(filepath.Join(dir, "a.mp4"), []byte("x"), 0o644)
			os.WriteFile(filepath.Join(dir, "b.mp4"), []byte("x"), 0o644)
			os.Mkdir(filepath.Join(dir, "sub"), 0o755)
			os.WriteFile(filepath.Join(dir, ManifestName), []byte(body), 0o644)
			if _, err := OpenFolder(dir); err == nil {
				t.Fatal("no error")
			} else {
				t.Log(err)
			}
		})
	}
}

func TestIdentityPersistsAndRefusesOpenKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "reelay", "identity.key")
	k1, err := LoadIdentity(path)
	if err != nil {
		t.Fatal(err)
	}
	fi, _ := os.Stat(path)
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("key created with mode %v", fi.Mode().Perm())
	}
	k2, err := LoadIdentity(path)
	if err != nil || !k1.Equals(k2) {
		t.Fatalf("second load: %v, same key %v", err, err == nil && k1.Equals(k2))
	}
	os.Chmod(path, 0o644)
	if _, err := LoadIdentity(path); err == nil || !strings.Contains(err.Error(), "readable by others") {
		t.Fatalf("world-readable key: %v", err)
	}
}

// TestOneHostPerIdentity: a second host with the identity file of a
// running one fails with ErrIdentityInUse, naming the process; once the
// first is closed the identity is free again.
func TestOneHostPerIdentity(t *testing.T) {
	path := filepath.Join(t.TempDir(), "reelay", "identity.key")
	o := HostOptions{IdentityFile: path, ListenAddrs: LoopbackListenAddrs}
	h1, err := NewHost(o)
	if err != nil {
		t.Fatal(err)
	}
	_, err = NewHost(o)
	if !errors.Is(err, ErrIdentityInUse) || !strings.Contains(err.Error(), strconv.Itoa(os.Getpid())) {
		t.Fatalf("a second host with the same identity: %v, want ErrIdentityInUse naming this process", err)
	}
	h1.Close()
	h2, err := NewHost(o)
	if err != nil {
		t.Fatalf("the identity after the first host closed: %v", err)
	}
	if h2.ID() != h1.ID() {
		t.Errorf("the identity changed: %s then %s", h1.ID(), h2.ID())
	}
	h2.Close()
}
