// Package leakcheck fails tests that leave goroutines running or files
// open: Check after one test, Main after a whole package's tests. Both
// compare a snapshot taken before with the state a while after, so work
// that winds down asynchronously (a libp2p host closing) gets time to end.
package leakcheck

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	gosync "sync"
	"testing"
	"time"
)

// processLifetime are goroutines that, once started, live as long as the
// process by their library's design; a frame containing one of these marks
// the goroutine as expected.
var processLifetime = []string{
	// oto allows one audio context per process and never closes it: its
	// mixer loop and its ALSA writer run from the first audio output on.
	"github.com/ebitengine/oto/v3/internal/mux.(*Mux).loop",
	"github.com/ebitengine/oto/v3.newContext.func1",
	// go-flow-metrics (libp2p's bandwidth meters) starts one global sweeper
	// on first use and never stops it.
	"github.com/libp2p/go-flow-metrics.(*sweeper).run",
	// The Go runtime's signal delivery loop, started by the first
	// signal.Notify and never stopped.
	"os/signal.loop",
}

// ignored are goroutines of test harnesses that end their life blocked
// by design or by a bug of theirs, added by Ignore.
var ignored struct {
	mu     gosync.Mutex
	frames []string
}

// Ignore makes every later check pass over goroutines with a frame
// containing one of frames: for a test harness's own goroutines that it
// cannot end (not Reelay's, which must all end).
func Ignore(frames ...string) {
	ignored.mu.Lock()
	defer ignored.mu.Unlock()
	ignored.frames = append(ignored.frames, frames...)
}

// Snapshot is the goroutines and open files of the process at one moment.
type Snapshot struct {
	// goroutines holds the IDs of the goroutines running.
	goroutines map[uint64]bool
	// fds maps each open descriptor to what it refers to.
	fds map[int]string
}

// Take snapshots the process now.
func Take() Snapshot {
	s := Snapshot{goroutines: map[uint64]bool{}, fds: openFiles()}
	for _, g := range goroutines() {
		s.goroutines[g.id] = true
	}
	return s
}

// Leaks lists what runs or is open now that was not in s, apart from what
// lives as long as the process; empty when nothing leaked.
func (s Snapshot) Leaks() []string {
	var out []string
	for _, g := range goroutines() {
		if !s.goroutines[g.id] && !expected(g.stack) {
			out = append(out, "goroutine "+g.stack)
		}
	}
	var kinds *socketKinds
	for fd, target := range openFiles() {
		if s.fds[fd] == target {
			continue
		}
		if kinds == nil {
			kinds = readSocketKinds()
		}
		if lifetimeFile(target, kinds) {
			continue
		}
		out = append(out, fmt.Sprintf("file descriptor %d → %s%s", fd, target, kinds.describe(target)))
	}
	slices.Sort(out)
	return out
}

// Wait waits up to d for the leaks to go away and returns those left.
func (s Snapshot) Wait(d time.Duration) []string {
	deadline := time.Now().Add(d)
	for {
		leaks := s.Leaks()
		if len(leaks) == 0 || time.Now().After(deadline) {
			return leaks
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Grace is how long Check and Main wait for goroutines and files to go:
// libp2p closes connections and ends goroutines asynchronously.
const Grace = 5 * time.Second

// Check fails tb if, after its cleanups, goroutines it started are still
// running or descriptors it opened are still open. Call it first in the
// test, so it runs after every cleanup registered later.
func Check(tb testing.TB) {
	tb.Helper()
	s := Take()
	tb.Cleanup(func() {
		if leaks := s.Wait(Grace); len(leaks) > 0 {
			tb.Errorf("leakcheck: %d left behind:\n%s", len(leaks), strings.Join(leaks, "\n\n"))
		}
	})
}

// Main runs the package's tests and then fails the run, with the list on
// stderr, if goroutines or descriptors are left: use it as
// os.Exit(leakcheck.Main(m)) in TestMain.
func Main(m *testing.M) int {
	s := Take()
	code := m.Run()
	if code != 0 {
		return code
	}
	if leaks := s.Wait(Grace); len(leaks) > 0 {
		fmt.Fprintf(os.Stderr, "leakcheck: the package's tests left %d behind:\n%s\n", len(leaks), strings.Join(leaks, "\n\n"))
		return 1
	}
	return 0
}

type goroutine struct {
	id    uint64
	stack string
}

// goroutines parses the stacks of every goroutine.
func goroutines() []goroutine {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	var out []goroutine
	for _, block := range bytes.Split(buf, []byte("\n\n")) {
		rest, ok := bytes.CutPrefix(block, []byte("goroutine "))
		if !ok {
			continue
		}
		idText, _, _ := bytes.Cut(rest, []byte(" "))
		id, err := strconv.ParseUint(string(idText), 10, 64)
		if err != nil {
			continue
		}
		out = append(out, goroutine{id: id, stack: string(rest)})
	}
	return out
}

func expected(stack string) bool {
	in := func(f string) bool { return strings.Contains(stack, f) }
	ignored.mu.Lock()
	defer ignored.mu.Unlock()
	return slices.ContainsFunc(processLifetime, in) || slices.ContainsFunc(ignored.frames, in)
}

// openFiles maps the process's descriptors to their targets.
func openFiles() map[int]string {
	dir := "/proc/self/fd"
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil // not Linux: nothing to compare
	}
	out := map[int]string{}
	for _, e := range entries {
		fd, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		target, err := os.Readlink(filepath.Join(dir, e.Name()))
		if err != nil {
			continue // the directory's own descriptor, closed meanwhile
		}
		out[fd] = target
	}
	return out
}

// lifetimeFile says a descriptor belongs to something that lives as long
// as the process: the runtime's poller, or the audio device (a PulseAudio
// or ALSA client: its socket, shared memory and wake-up descriptors).
// Reelay's own descriptors are never of these kinds: libp2p uses TCP and
// UDP sockets, tracks are regular files, subprocesses pipes.
func lifetimeFile(target string, kinds *socketKinds) bool {
	switch {
	case target == "anon_inode:[eventpoll]", target == "anon_inode:[eventfd]", target == "anon_inode:[timerfd]":
		return true
	case strings.HasPrefix(target, "/dev/snd/"), strings.HasPrefix(target, "/dev/shm/"), strings.HasPrefix(target, "memfd:"), strings.HasPrefix(target, "/memfd:"):
		return true
	case strings.HasPrefix(target, "socket:["):
		return kinds.unix[socketInode(target)]
	}
	return false
}

// socketKinds tells sockets apart by inode.
type socketKinds struct {
	unix map[string]bool
	ip   map[string]string
}

func socketInode(target string) string {
	return strings.TrimSuffix(strings.TrimPrefix(target, "socket:["), "]")
}

func readSocketKinds() *socketKinds {
	k := &socketKinds{unix: map[string]bool{}, ip: map[string]string{}}
	if f, err := os.Open("/proc/self/net/unix"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			// Num RefCount Protocol Flags Type St Inode [Path]
			if fs := strings.Fields(sc.Text()); len(fs) >= 7 {
				k.unix[fs[6]] = true
			}
		}
		f.Close()
	}
	for _, proto := range []string{"tcp", "tcp6", "udp", "udp6"} {
		f, err := os.Open("/proc/self/net/" + proto)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			// sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
			if fs := strings.Fields(sc.Text()); len(fs) >= 10 {
				k.ip[fs[9]] = proto + " " + fs[1] + " → " + fs[2]
			}
		}
		f.Close()
	}
	return k
}

// describe says what a socket is, for the failure message.
func (k *socketKinds) describe(target string) string {
	if !strings.HasPrefix(target, "socket:[") {
		return ""
	}
	if d, ok := k.ip[socketInode(target)]; ok {
		return " (" + d + ")"
	}
	return ""
}
