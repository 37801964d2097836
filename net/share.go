package net

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"reelay/net/live"
)

// A shared folder is looked at again and again, so that a file still being
// written is served as it grows and a file that appears joins the
// recording. While a track is live the folder is looked at every
// liveInterval, so growth reaches a viewer within it (plus a round trip);
// otherwise every idleInterval, to notice a recorder starting. A look is a
// directory listing and a stat per file: 78 µs for a folder of four files
// on a 2-core machine, under 0.1 % of a core at ten looks a second
// (go test -run '^$' -bench ShareLook ./net).
const (
	liveInterval = 100 * time.Millisecond
	idleInterval = time.Second
	// liveQuiet is how long a track may stop growing before it counts as
	// finished. Recorders write every fraction of a second (FFmpeg's
	// output buffer is 32 KiB: 0.06 s of a 4 Mbit/s recording, 2 s of a
	// 128 kbit/s sound track).
	liveQuiet = 6 * time.Second
	// watchHold is how long a stream.watch waits for a change before it
	// answers anyway, well inside every request timeout; a viewer that
	// hears nothing for watchGrace longer has lost the sharer.
	watchHold  = 5 * time.Second
	watchGrace = 3 * time.Second
)

// Where a growing file is checked for rewrites: the bytes from
// sampleStart on, up to appendSlack before its end, must never change. The
// first bytes are left out because a recorder rewrites its header when it
// stops (a Matroska muxer writes the duration and the segment's size
// there); the last appendSlack because it patches the size of the cluster
// it is writing once the cluster is done.
const (
	sampleStart  = 64 << 10
	appendSlack  = 16 << 20
	sampleLen    = 4 << 10
	maxSamples   = 4
	errAppending = "rewritten, not appended to"
)

// errNoTrack is what a request for a track the share does not hold finds.
var errNoTrack = errors.New("no such track")

// share is one shared folder and what its sharer has seen of its files.
type share struct {
	// dir is the folder as shared, looked at again for growth and new files.
	dir string
	// name is the recording's display name.
	name string
	// quiet is how long a track may stop growing before it finishes:
	// liveQuiet, shorter in tests.
	quiet time.Duration
	// stop ends the goroutine that looks at the folder; done is closed
	// when it has returned.
	stop context.CancelFunc
	done chan struct{}

	mu sync.Mutex
	// tracks are the shared tracks in the recording's order; tracks that
	// appear later are added at the end.
	tracks []*sharedTrack
	// files are opened on first read and kept for the share's lifetime;
	// nil once the share is closed.
	files map[string]*os.File
	// changed remembers the tracks already logged as changed on disk.
	changed map[string]bool
	// rev counts changes viewers are told of; revCh is closed and
	// replaced at each, waking the stream.watch answers waiting for one.
	rev   uint64
	revCh chan struct{}
	// closed is closed with the share, ending those waits.
	closed chan struct{}
}

// sharedTrack is a track as its share serves it. Its fields after the
// embedded folderTrack change as the file grows; share.mu guards them.
type sharedTrack struct {
	folderTrack
	// first is the file as first shared, to tell it from a file put in
	// its place.
	first os.FileInfo
	// mtime is the modification time when last looked at: a change with
	// no growth is a rewrite.
	mtime time.Time
	// live says the file grew within liveQuiet; grewAt is when it last did.
	live   bool
	grewAt time.Time
	// samples are hashes of windows of the file's older bytes, checked
	// each time it grows, so a rewrite is not taken for growth.
	samples []sample
	// err is why the file no longer holds the bytes shared (replaced,
	// shrunk, rewritten); once set the track answers changed.
	err error
	// scan indexes the file once it is seen growing (join.go), up to
	// scanned bytes; only the share's goroutine uses it. index is what it
	// found.
	scan    *live.Scanner
	scanned int64
	index   live.Index
	// placing says the track appeared while shared and is not listed yet:
	// its start on the timeline is found first (join.go, place).
	placing bool
	// trailing is what a demuxer reads near the file's end as it opens
	// it (live.TrailingIndex), found once the file is finished; empty
	// when it has none.
	trailing ByteRange
	// head is how many bytes from the start a demuxer reads before it has
	// every stream's first sample (live.FirstSamples), 0 when not known.
	head int64
}

// sample is the hash of sampleLen bytes at off.
type sample struct {
	off int64
	sum [sha256.Size]byte
}

// newShare shares the folder f scanned from dir and starts looking at it.
func newShare(dir string, f *Folder, quiet time.Duration) *share {
	if quiet <= 0 {
		quiet = liveQuiet
	}
	sh := &share{
		dir:     dir,
		quiet:   quiet,
		name:    f.Name(),
		files:   map[string]*os.File{},
		changed: map[string]bool{},
		revCh:   make(chan struct{}),
		closed:  make(chan struct{}),
		done:    make(chan struct{}),
	}
	now := time.Now()
	for _, t := range f.tracks {
		if st := newSharedTrack(t, now); st != nil {
			sh.tracks = append(sh.tracks, st)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	sh.stop = cancel
	go sh.run(ctx)
	return sh
}

func newSharedTrack(t folderTrack, now time.Time) *sharedTrack {
	fi, err := os.Stat(t.path)
	if err != nil {
		return nil
	}
	t.Size, t.Version = fi.Size(), fileVersion(fi)
	st := &sharedTrack{folderTrack: t, first: fi, mtime: fi.ModTime()}
	st.addSample()
	st.locateOpening()
	return st
}

// locateOpening finds what a demuxer reads as it opens the file: near
// its end, and from its start up to every stream's first sample, which a
// viewer asks for at once instead of a round trip after the first bytes.
func (t *sharedTrack) locateOpening() {
	t.trailing, t.head = ByteRange{}, 0
	f, err := os.Open(t.path)
	if err != nil {
		return
	}
	defer f.Close()
	if off, n, ok := live.TrailingIndex(f, t.Size); ok {
		t.trailing = ByteRange{Start: off, End: off + n}
	}
	if end, ok := live.FirstSamples(f, t.Size); ok {
		t.head = end
	}
}

// run looks at the folder until the share is closed.
func (sh *share) run(ctx context.Context) {
	defer close(sh.done)
	for {
		wait := idleInterval
		if sh.anyLive() {
			wait = liveInterval
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		sh.look(time.Now())
		if sh.scanLive() {
			sh.mu.Lock()
			sh.bump()
			sh.mu.Unlock()
		}
	}
}

func (sh *share) anyLive() bool {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	for _, t := range sh.tracks {
		if t.live {
			return true
		}
	}
	return false
}

// look stats every shared file and lists the folder for new ones, and
// tells viewers waiting in stream.watch of what changed.
func (sh *share) look(now time.Time) {
	// Scanned outside the lock: it reads the disk.
	f, _ := OpenFolder(sh.dir)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.files == nil {
		return
	}
	changed := false
	for _, t := range sh.tracks {
		if fi, err := os.Stat(t.path); err == nil {
			changed = sh.observe(t, fi, now) || changed
		} else if t.err == nil {
			t.err, changed = err, true
		}
	}
	if f != nil {
		for _, ft := range f.tracks {
			if sh.track(ft.Name) != nil {
				continue
			}
			if st := newSharedTrack(ft, now); st != nil {
				// A file that appeared while sharing is being written.
				st.live, st.grewAt, st.placing = true, now, true
				sh.tracks = append(sh.tracks, st)
				changed = true
			}
		}
	}
	if changed {
		sh.bump()
	}
}

// bump tells the waiting stream.watch answers of a change; mu is held.
func (sh *share) bump() {
	sh.rev++
	close(sh.revCh)
	sh.revCh = make(chan struct{})
}

// observe takes in a fresh stat of t's file: growth is served (after
// checking the older bytes did not change), a track that stopped growing
// finishes, and a file replaced, shrunk or rewritten is changed from
// then on. It says whether viewers need telling. mu is held.
func (sh *share) observe(t *sharedTrack, fi os.FileInfo, now time.Time) bool {
	if t.err != nil {
		return false
	}
	switch {
	case !os.SameFile(t.first, fi):
		t.err = errors.New("replaced by another file")
	case fi.Size() < t.Size:
		t.err = fmt.Errorf("shrank from %d to %d bytes", t.Size, fi.Size())
	case fi.Size() > t.Size:
		if err := t.checkSamples(); err != nil {
			t.err = err
			break
		}
		t.Size, t.mtime = fi.Size(), fi.ModTime()
		t.live, t.grewAt = true, now
		t.addSample()
		return true
	case !fi.ModTime().Equal(t.mtime):
		// Written with no growth: a recorder patching what it wrote
		// last, or a rewrite. Only the first is allowed, and only while
		// the file grows.
		if !t.live {
			t.err = errors.New(errAppending)
			break
		}
		if err := t.checkSamples(); err != nil {
			t.err = err
			break
		}
		t.mtime = fi.ModTime()
		return false
	case t.live && now.Sub(t.grewAt) > sh.quiet:
		t.live = false
		t.locateOpening()
		return true
	default:
		return false
	}
	return true
}

// checkSamples reads the sampled windows again.
func (t *sharedTrack) checkSamples() error {
	if len(t.samples) == 0 {
		return nil
	}
	f, err := os.Open(t.path)
	if err != nil {
		return err
	}
	defer f.Close()
	for _, s := range t.samples {
		sum, err := hashWindow(f, s.off)
		if err != nil {
			return err
		}
		if !bytes.Equal(sum[:], s.sum[:]) {
			return fmt.Errorf("%s at byte %d", errAppending, s.off)
		}
	}
	return nil
}

// addSample hashes a window of the bytes that can no longer change: the
// first after the header, then, as the file grows, one appendSlack before
// its end now and then, keeping the first and the newest few. A window
// holding a Matroska cluster's start is passed over: its size is what a
// muxer patches when the cluster is done.
func (t *sharedTrack) addSample() {
	off := int64(sampleStart)
	if n := len(t.samples); n > 0 {
		off = t.Size - appendSlack - sampleLen
		if off < t.samples[n-1].off+appendSlack/4 {
			return // sampled close by lately
		}
	}
	f, err := os.Open(t.path)
	if err != nil {
		return
	}
	defer f.Close()
	buf := make([]byte, sampleLen)
	for range 4 {
		if off+sampleLen > t.Size {
			return
		}
		if _, err := f.ReadAt(buf, off); err != nil {
			return
		}
		if !bytes.Contains(buf, matroskaCluster) {
			break
		}
		off += sampleLen
	}
	t.samples = append(t.samples, sample{off: off, sum: sha256.Sum256(buf)})
	if len(t.samples) > maxSamples {
		t.samples = append(t.samples[:1], t.samples[2:]...)
	}
}

// matroskaCluster is the ID a Matroska cluster starts with.
var matroskaCluster = []byte{0x1F, 0x43, 0xB6, 0x75}

func hashWindow(f io.ReaderAt, off int64) ([sha256.Size]byte, error) {
	buf := make([]byte, sampleLen)
	if _, err := f.ReadAt(buf, off); err != nil {
		return [sha256.Size]byte{}, err
	}
	return sha256.Sum256(buf), nil
}

// track finds a track by name; mu is held.
func (sh *share) track(name string) *sharedTrack {
	for _, t := range sh.tracks {
		if t.Name == name {
			return t
		}
	}
	return nil
}

// info is the recording as stream.get and stream.watch answer it.
func (sh *share) info() *recordingInfo {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	ri := &recordingInfo{Name: sh.name, MaxLength: MaxReadLength, Priorities: true, Watch: true, Rev: sh.rev}
	for _, t := range sh.tracks {
		if t.placing {
			continue
		}
		ti := trackInfo{Name: t.Name, Size: t.Size, Start: t.Start.Seconds(), Version: t.Version, Live: t.live}
		if n := len(t.index.Points); n > 0 && formatName(t.index.Format) != "" {
			ti.First, ti.End = t.index.Points[0].Time.Seconds(), t.index.End.Seconds()
		}
		ti.Unfinished = t.index.Format == live.FormatPlainMP4 && !t.index.Finished
		if !t.live {
			if t.trailing.End > t.trailing.Start {
				ti.Index = &byteSpan{Offset: t.trailing.Start, Length: t.trailing.End - t.trailing.Start}
			}
			ti.Head = t.head
		}
		if t.cut() {
			ti.Size, ti.Cut = t.index.Whole, true
		}
		ri.Tracks = append(ri.Tracks, ti)
	}
	return ri
}

// cut says a finished track ends with a piece its recorder did not
// finish: the file does not say it was closed (a fragmented MP4's mfra, a
// Matroska Segment's size), and its index's whole units end before the
// file does. A Matroska recorder killed mid-cluster loses that cluster
// whole: its size, written when it closes, never was. mu is held.
func (t *sharedTrack) cut() bool {
	switch t.index.Format {
	case live.FormatFragmentedMP4, live.FormatMatroska, live.FormatMPEGTS:
	default:
		return false
	}
	return !t.live && t.scan != nil && !t.index.Finished && t.index.Whole > 0 && t.index.Whole < t.Size && t.scanned == t.Size
}

// changes returns the current revision and a channel closed at the next
// change or when the share closes.
func (sh *share) changes() (uint64, <-chan struct{}) {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	return sh.rev, sh.revCh
}

// served is what a request may be served of a track, taken under mu.
type served struct {
	name, version string
	size          int64
	live          bool
	err           error
}

// open returns the track's file, opened once for the share's lifetime,
// and what it holds now. f and its path are checked so a file grown since
// the last look is served at its new size, and a changed one is not.
func (sh *share) open(name string) (*os.File, served, error) {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.files == nil {
		return nil, served{}, errShareClosed
	}
	t := sh.track(name)
	if t == nil {
		return nil, served{}, errNoTrack
	}
	f := sh.files[name]
	if f == nil {
		var err error
		if f, err = os.Open(t.path); err != nil {
			return nil, served{}, err
		}
		sh.files[name] = f
	}
	sh.checkLocked(t, f, true)
	return f, t.served(), nil
}

// check looks at t's file again after bytes were read from it: a write
// lands in the modification time before the data, so a chunk holding
// rewritten bytes is caught here and never sent.
func (sh *share) check(name string, f *os.File) error {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	t := sh.track(name)
	if t == nil || sh.files == nil {
		return errShareClosed
	}
	sh.checkLocked(t, f, false)
	return t.err
}

// checkLocked observes t's open file f (one stat); withPath also looks
// at the file the track's path names, so a file put in its place counts
// as changed (a second stat, once per request, not per chunk). mu is
// held.
func (sh *share) checkLocked(t *sharedTrack, f *os.File, withPath bool) {
	fi, err := f.Stat()
	if err == nil && withPath {
		// A file put in the track's place is another file to observe.
		if pi, perr := os.Stat(t.path); perr != nil {
			err = perr
		} else if !os.SameFile(fi, pi) {
			fi = pi
		}
	}
	switch {
	case err != nil && t.err == nil:
		t.err = err
		sh.bump()
	case err == nil && sh.observe(t, fi, time.Now()):
		sh.bump()
	}
}

func (t *sharedTrack) served() served {
	return served{name: t.Name, version: t.Version, size: t.Size, live: t.live, err: t.err}
}

// close stops looking at the folder, closes its files and ends the
// stream.watch answers waiting.
func (sh *share) close() {
	sh.stop()
	<-sh.done
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.files == nil {
		return
	}
	for _, f := range sh.files {
		f.Close()
	}
	sh.files = nil
	close(sh.closed)
}
