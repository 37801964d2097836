package cli

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"reelay/assets"
	"reelay/media/mediatest"
	p2pnet "reelay/net"
)

// TestMain lets the test binary stand in for the reelay binary: with
// REELAY_CLI_MAIN=1 it runs the command line, so tests start real separate
// processes without a separate build. Otherwise it runs the tests under
// mediatest.Main's leak check.
func TestMain(m *testing.M) {
	if os.Getenv("REELAY_CLI_MAIN") == "1" {
		os.Exit(Main(os.Args[1:]))
	}
	os.Exit(mediatest.Main(m))
}

// reelayCmd is the reelay command line as a separate process.
func reelayCmd(ctx context.Context, t *testing.T, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, os.Args[0], args...)
	cmd.Env = append(os.Environ(), "REELAY_CLI_MAIN=1", "XDG_CONFIG_HOME="+filepath.Join(t.TempDir(), "config"))
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

// TestShareProbeFetchAcrossProcesses: `reelay share` of a folder with a
// camera, a screen and a mic in one process; `reelay probe` and `reelay
// fetch` in others; every fetched track is byte-identical to its source.
func TestShareProbeFetchAcrossProcesses(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	dir := t.TempDir()
	for _, f := range []string{"camera.mp4", "screen.mp4", "mic.m4a"} {
		copyFile(t, mediatest.Fixture(t, f), filepath.Join(dir, f))
	}

	share := reelayCmd(ctx, t, "share", dir, "--listen", "/ip4/127.0.0.1/tcp/0", "--listen", "/ip4/127.0.0.1/udp/0/quic-v1")
	stdout, err := share.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var shareLog bytes.Buffer
	share.Stderr = &shareLog
	if err := share.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		share.Process.Signal(os.Interrupt)
		share.Wait()
		t.Logf("sharer's log:\n%s", shareLog.String())
	}()
	link, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("no link from reelay share: %v", err)
	}
	link = strings.TrimSpace(link)

	out, err := reelayCmd(ctx, t, "probe", link).Output()
	if err != nil {
		t.Fatalf("probe: %v", err)
	}
	var probed probeResult
	if err := json.Unmarshal(out, &probed); err != nil {
		t.Fatalf("probe printed %q: %v", out, err)
	}
	if len(probed.Tracks) != 3 {
		t.Fatalf("probe listed %+v, want 3 tracks", probed.Tracks)
	}
	for _, tr := range probed.Tracks {
		src := filepath.Join(dir, map[string]string{"camera": "camera.mp4", "screen": "screen.mp4", "mic": "mic.m4a"}[tr.Name])
		fi, err := os.Stat(src)
		if err != nil {
			t.Fatalf("probe listed unknown track %q", tr.Name)
		}
		if fi.Size() != tr.Size {
			t.Errorf("%s: probe says %d bytes, file has %d", tr.Name, tr.Size, fi.Size())
		}
		dst := filepath.Join(t.TempDir(), tr.Name)
		fetch := reelayCmd(ctx, t, "fetch", link, tr.Name, "-o", dst)
		if msg, err := fetch.CombinedOutput(); err != nil {
			t.Fatalf("fetch %s: %v\n%s", tr.Name, err, msg)
		}
		if a, b := sha256File(t, src), sha256File(t, dst); a != b {
			t.Errorf("%s: fetched sha256 %x, source %x", tr.Name, b, a)
		}
	}
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{{"nope"}, {"share"}, {"fetch", "x"}, {"probe", "not-a-link"}} {
		var stderr bytes.Buffer
		e := &env{stdout: io.Discard, stderr: &stderr}
		if code := run(t.Context(), e, args); code == 0 {
			t.Errorf("%v: exit 0", args)
		}
		if stderr.Len() == 0 {
			t.Errorf("%v: no message", args)
		}
	}
}

// TestMistypedFolderSaysSo: a path that names nothing, or a file, is
// answered in plain words, not as an unknown command with the usage.
func TestMistypedFolderSaysSo(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "screen.mp4")
	if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	for arg, want := range map[string]string{
		filepath.Join(dir, "Recordngs", "standup"): "reelay: no such folder: " + filepath.Join(dir, "Recordngs", "standup") + "\n",
		"./standup": "reelay: no such folder: ./standup\n",
		file:        "reelay: " + file + " is a file, not a recording folder: play or share the folder that holds it\n",
		"nope":      "reelay: unknown command \"nope\"\n",
	} {
		var stderr bytes.Buffer
		e := &env{stdout: io.Discard, stderr: &stderr}
		if code := run(t.Context(), e, []string{arg}); code == 0 {
			t.Errorf("%s: exit 0", arg)
		}
		// Only an unknown command is followed by the usage.
		if msg := stderr.String(); !strings.HasPrefix(msg, want) || (arg != "nope" && msg != want) {
			t.Errorf("%s: said %q, want %q", arg, msg, want)
		}
	}
}

// TestQuietUnderTheCLocale: under LANG=C.UTF-8, a command's output is its
// own, with no complaint from Fyne about the locale.
func TestQuietUnderTheCLocale(t *testing.T) {
	for _, lang := range []string{"C.UTF-8", "POSIX", "en_GB.UTF-8"} {
		cmd := reelayCmd(t.Context(), t, "--help")
		cmd.Env = append(cmd.Env, "LANG="+lang, "LC_ALL=", "LC_MESSAGES=", "LANGUAGE=")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("LANG=%s: %v\n%s", lang, err, out)
		}
		if !strings.HasPrefix(string(out), "Reelay: ") {
			t.Errorf("LANG=%s: reelay --help printed\n%s", lang, out)
		}
	}
}

func copyFile(t *testing.T, src, dst string) {
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func sha256File(t *testing.T, path string) [32]byte {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(b)
}

// TestDemoPullsEveryTrackBack: the built-in demo shares assets/demo on
// loopback and gets every track back byte-identical through libp2p.
func TestDemoPullsEveryTrackBack(t *testing.T) {
	var out, stderr bytes.Buffer
	e := &env{stdout: &out, stderr: &stderr}
	if code := run(t.Context(), e, []string{"demo", "--headless"}); code != 0 {
		t.Fatalf("demo exited %d: %s%s", code, out.String(), stderr.String())
	}
	files, err := fs.ReadDir(assets.Demo, "demo")
	if err != nil {
		t.Fatal(err)
	}
	// Every file but the manifest is a track.
	if n, want := strings.Count(out.String(), " identical"), len(files)-1; n != want {
		t.Fatalf("demo reported %d identical tracks, want %d:\n%s", n, want, out.String())
	}
}

// TestShareKeepsItsLinkAcrossRestarts: `reelay share` of the same folder
// prints the same link after a restart, so viewers reconnect by
// themselves; --new-link revokes it for a new one.
func TestShareKeepsItsLinkAcrossRestarts(t *testing.T) {
	dir := t.TempDir()
	copyFile(t, mediatest.Fixture(t, "mic.m4a"), filepath.Join(dir, "mic.m4a"))
	config := filepath.Join(t.TempDir(), "config")
	shareOnce := func(extra ...string) string {
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		defer cancel()
		cmd := reelayCmd(ctx, t, append([]string{"share", dir, "--listen", "/ip4/127.0.0.1/tcp/0", "--no-dht", "--no-mdns"}, extra...)...)
		cmd.Env = append(cmd.Env, "XDG_CONFIG_HOME="+config)
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		line, err := bufio.NewReader(stdout).ReadString('\n')
		cmd.Process.Signal(os.Interrupt)
		cmd.Wait()
		if err != nil {
			t.Fatalf("no link: %v", err)
		}
		l, err := p2pnet.ParseLink(line)
		if err != nil {
			t.Fatal(err)
		}
		return l.Peer.String() + "/" + l.Token
	}
	first, second := shareOnce(), shareOnce()
	if first != second {
		t.Fatalf("restarted sharer gave another link: %s, then %s", first, second)
	}
	if renewed := shareOnce("--new-link"); renewed == first {
		t.Fatal("--new-link kept the old link")
	}
	fi, err := os.Stat(filepath.Join(config, "reelay", sharesFile))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("tokens file: %v, mode %v", err, fi.Mode().Perm())
	}
}

// TestOneSharerPerIdentity: a second `reelay share` with the identity of
// a running one hands its folder to it (the same peer, so a viewer can
// never reach a process that does not share the recording), for as long
// as it runs; when the first one stops, the second shares its folder
// itself under the same link.
func TestOneSharerPerIdentity(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	config := filepath.Join(t.TempDir(), "config")
	dirA, dirB := t.TempDir(), t.TempDir()
	copyFile(t, mediatest.Fixture(t, "mic.m4a"), filepath.Join(dirA, "mic.m4a"))
	copyFile(t, mediatest.Fixture(t, "camera.mp4"), filepath.Join(dirB, "camera.mp4"))

	// share starts `reelay share dir` and returns it with its link and
	// what it logs.
	share := func(dir string) (*exec.Cmd, p2pnet.Link, *lockedBuffer) {
		cmd := reelayCmd(ctx, t, "share", dir, "--listen", "/ip4/127.0.0.1/tcp/0", "--no-dht", "--no-mdns")
		cmd.Env = append(cmd.Env, "XDG_CONFIG_HOME="+config)
		logs := &lockedBuffer{}
		cmd.Stderr = logs
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		line, err := bufio.NewReader(stdout).ReadString('\n')
		if err != nil {
			t.Fatalf("no link: %v\n%s", err, logs)
		}
		l, err := p2pnet.ParseLink(line)
		if err != nil {
			t.Fatal(err)
		}
		return cmd, l, logs
	}
	// probe lists the tracks behind link, or says why it cannot.
	probe := func(link p2pnet.Link) (string, error) {
		out, err := reelayCmd(ctx, t, "probe", link.String(), "--no-dht", "--no-mdns").CombinedOutput()
		return string(out), err
	}
	stop := func(cmd *exec.Cmd) {
		cmd.Process.Signal(os.Interrupt)
		cmd.Wait()
	}

	a, linkA, _ := share(dirA)
	b, linkB, logsB := share(dirB)
	if linkB.Peer != linkA.Peer {
		t.Fatalf("the second share runs as %s, the first as %s", linkB.Peer, linkA.Peer)
	}
	for !strings.Contains(logsB.String(), "already running with this identity") {
		if ctx.Err() != nil {
			t.Fatalf("the second share does not say who shares its folder:\n%s", logsB)
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, c := range []struct {
		link  p2pnet.Link
		track string
	}{{linkA, `"mic"`}, {linkB, `"camera"`}} {
		if out, err := probe(c.link); err != nil || !strings.Contains(out, c.track) {
			t.Errorf("probing %s: %v\n%s", c.link, err, out)
		}
	}

	// The second one stops: its folder is no longer shared, the first's is.
	stop(b)
	if out, err := probe(linkB); err == nil {
		t.Errorf("the folder of the stopped share is still served:\n%s", out)
	}
	if out, err := probe(linkA); err != nil {
		t.Errorf("the first share's folder after the second stopped: %v\n%s", err, out)
	}

	// Again; now the first one stops, and the second takes over, serving
	// its folder under the same link (at its own addresses).
	b, linkB2, logsB := share(dirB)
	if linkB2.Token != linkB.Token {
		t.Errorf("the folder's link changed: %s, then %s", linkB, linkB2)
	}
	stop(a)
	var now p2pnet.Link
	deadline := time.Now().Add(15 * time.Second)
	for now.Token == "" && time.Now().Before(deadline) {
		for _, line := range strings.Split(logsB.String(), "\n") {
			if strings.Contains(line, "sharing the folder again") {
				if _, l, ok := strings.Cut(line, `link="`); ok {
					l, _, _ = strings.Cut(l, `"`)
					now, _ = p2pnet.ParseLink(l)
				}
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	if now.Token != linkB.Token || now.Peer != linkB.Peer {
		t.Fatalf("after the first share stopped, the second says %q:\n%s", now, logsB)
	}
	if out, err := probe(now); err != nil || !strings.Contains(out, `"camera"`) {
		t.Errorf("the second share's folder once it shares it itself: %v\n%s", err, out)
	}
	stop(b)
}
