package net

import (
	"bufio"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"
)

// SharerOptions configure a Sharer.
type SharerOptions struct {
	// Logger receives viewers joining and leaving and failed requests.
	// It defaults to discarding.
	Logger *slog.Logger
	// Allow, when not empty, lists the only peers served: any other peer
	// gets the answer a wrong token gets, so it learns nothing of what is
	// shared. It defaults to empty: whoever holds a link's token reads.
	Allow []peer.ID
	// MaxRequestsPerPeer bounds one peer's requests served at once; more get
	// busy. It defaults to 32.
	MaxRequestsPerPeer int
	// MaxDiskReads bounds disk reads at once across all peers, so a greedy
	// viewer cannot starve another. A read holds its slot only while one
	// chunk comes off the disk, never while a slow peer drains the
	// network. It defaults to 16.
	MaxDiskReads int
	// HeaderTimeout bounds the wait for a request once its stream opens. A
	// viewer sends it at once; a peer that opens streams and sends nothing
	// loses them after this, not after RequestTimeout. It defaults to 5 s.
	HeaderTimeout time.Duration
	// RequestTimeout bounds one exchange from request to last byte. It
	// defaults to 30 s.
	RequestTimeout time.Duration
	// LiveQuiet is how long a file that grew while shared may stop growing
	// before it counts as finished. It defaults to 6 s.
	LiveQuiet time.Duration
}

func (o *SharerOptions) setDefaults() {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.MaxRequestsPerPeer <= 0 {
		o.MaxRequestsPerPeer = 32
	}
	if o.MaxDiskReads <= 0 {
		o.MaxDiskReads = 16
	}
	if o.HeaderTimeout <= 0 {
		o.HeaderTimeout = 5 * time.Second
	}
	if o.RequestTimeout <= 0 {
		o.RequestTimeout = 30 * time.Second
	}
	o.HeaderTimeout = min(o.HeaderTimeout, o.RequestTimeout)
}

// Sharer serves recording folders over ProtocolID. Peers name a recording
// only by its token and a track only by its display name: no path or file
// name from the wire ever reaches the file system.
type Sharer struct {
	h host.Host
	o SharerOptions
	// allow is Options.Allow as a set; nil serves every peer.
	allow map[peer.ID]bool
	// notifiee sees connections close, to tell when a viewer has left;
	// kept to unregister it on Close.
	notifiee *network.NotifyBundle
	// diskSem holds one slot per disk read under way.
	diskSem chan struct{}
	// handlers counts stream handlers running, so Close can wait for them.
	handlers sync.WaitGroup
	// writes orders the answers to each viewer by their priority.
	writes priorityWrites
	// losses measures each connection's loss, told with every answer.
	losses lossMeter
	// bufPool recycles copy buffers so serving allocates nothing per range.
	bufPool sync.Pool

	mu sync.Mutex
	// shares maps sha256(token) to a shared folder; hashing keeps tokens
	// out of memory dumps of the map and lookups independent of token bytes.
	shares map[[sha256.Size]byte]*share
	// peers holds the peers with requests under way and the viewers: peers
	// that asked for a shared recording, until their last connection closes.
	peers map[peer.ID]*viewer
	// streams are the requests being served, so Unshare and Close can end
	// them at once.
	streams map[network.Stream]*serving
	closed  bool
}

// serving is one request under way.
type serving struct {
	// sh is the share it asks for, nil until its request is read.
	sh *share
	// cancel ends its waits (for a disk slot) when the share goes away.
	cancel context.CancelFunc
}

// viewer is a peer with requests under way or watching a recording.
type viewer struct {
	// viewing is set once the peer asked for a shared recording; a peer
	// with only refused requests is not watching anything.
	viewing bool
	// active counts requests being served now, against MaxRequestsPerPeer.
	active int
	// since is when viewing began, for the share view.
	since time.Time
	// bytes and reqs count what the peer was served and asked for (its
	// watches for changes aside).
	bytes int64
	reqs  int64
	// rate measures the bytes sent over the last 2 s.
	rate rateMeter
}

// ViewerStats describes a peer watching a shared recording.
type ViewerStats struct {
	Peer peer.ID
	// Since is when its first request for a shared recording arrived.
	Since time.Time
	// BytesSent counts track bytes served to this peer.
	BytesSent int64
	// Requests counts the requests it made.
	Requests int64
	// Throughput is the bytes per second sent to it over the last 2 s.
	Throughput float64
}

// copyBufSize is the chunk read from disk and written to a stream at once,
// the memory one request holds. A loopback pull through a RangeReader ran
// as fast with 128 KiB as with 256 KiB (QUIC 308 against 309 MB/s, TCP 777
// against 787, alternating in one run); 64 KiB cost up to 18% over QUIC.
const copyBufSize = 128 << 10

// NewSharer registers the protocol handler on h. Close unregisters it.
func NewSharer(h host.Host, o SharerOptions) *Sharer {
	o.setDefaults()
	s := &Sharer{
		h:       h,
		o:       o,
		diskSem: make(chan struct{}, o.MaxDiskReads),
		shares:  map[[sha256.Size]byte]*share{},
		peers:   map[peer.ID]*viewer{},
		streams: map[network.Stream]*serving{},
	}
	if len(o.Allow) > 0 {
		s.allow = map[peer.ID]bool{}
		for _, id := range o.Allow {
			s.allow[id] = true
		}
	}
	s.bufPool.New = func() any { b := make([]byte, copyBufSize); return &b }
	s.notifiee = &network.NotifyBundle{
		DisconnectedF: func(_ network.Network, c network.Conn) {
			s.losses.forget(c)
			s.disconnected(c.RemotePeer())
		},
	}
	h.Network().Notify(s.notifiee)
	h.SetStreamHandler(ProtocolID, s.handleStream)
	return s
}

// Share starts serving the recording in dir and returns its link.
func (s *Sharer) Share(dir string) (Link, error) {
	return s.ShareWithToken(dir, newToken())
}

// ShareWithToken is Share under a token the caller keeps (see NewToken),
// so a sharer that restarts with the same identity serves the same link.
// A token already shared stays shared as it is, its open files and the
// requests under way for it untouched.
func (s *Sharer) ShareWithToken(dir, token string) (Link, error) {
	if err := checkToken(token); err != nil {
		return Link{}, err
	}
	f, err := OpenFolder(dir)
	if err != nil {
		return Link{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return Link{}, errors.New("net: sharer is closed")
	}
	if key := sha256.Sum256([]byte(token)); s.shares[key] == nil {
		s.shares[key] = newShare(dir, f, s.o.LiveQuiet)
	}
	return Link{Peer: s.h.ID(), Addrs: linkAddrs(s.h.Addrs()), Token: token}, nil
}

// Unshare stops serving the recording behind token at once: requests
// under way for it are reset, its open files close, and later requests
// get not_found.
func (s *Sharer) Unshare(token string) {
	s.mu.Lock()
	key := sha256.Sum256([]byte(token))
	sh := s.shares[key]
	delete(s.shares, key)
	var ended []network.Stream
	var cancels []context.CancelFunc
	if sh != nil {
		for st, sv := range s.streams {
			if sv.sh == sh {
				ended = append(ended, st)
				cancels = append(cancels, sv.cancel)
			}
		}
	}
	s.mu.Unlock()
	if sh == nil {
		return
	}
	for i, st := range ended {
		cancels[i]()
		st.Reset()
	}
	sh.close()
}

// Tracks lists the tracks of the recording shared under token as viewers
// see them now: a live track's size so far, tracks that appeared while
// shared. ok is false for a token not shared.
func (s *Sharer) Tracks(token string) (tracks []TrackInfo, ok bool) {
	s.mu.Lock()
	sh := s.shares[sha256.Sum256([]byte(token))]
	s.mu.Unlock()
	if sh == nil {
		return nil, false
	}
	for _, t := range sh.info().Tracks {
		tracks = append(tracks, trackOf(t))
	}
	return tracks, true
}

// Viewers lists the peers watching now: those that asked for a shared
// recording and still have a connection. Peers that are connected for
// other reasons (relays, the DHT) or whose requests were all refused are
// not viewers.
func (s *Sharer) Viewers() []ViewerStats {
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]ViewerStats, 0, len(s.peers))
	for id, v := range s.peers {
		if v.viewing {
			out = append(out, ViewerStats{Peer: id, Since: v.since, BytesSent: v.bytes, Requests: v.reqs, Throughput: v.rate.rate(now)})
		}
	}
	return out
}

// Close stops serving: the handler is removed, requests under way are
// reset, and every file is closed.
func (s *Sharer) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	shares := s.shares
	s.shares = nil
	streams := s.streams
	s.streams = map[network.Stream]*serving{}
	s.mu.Unlock()
	s.h.RemoveStreamHandler(ProtocolID)
	s.h.Network().StopNotify(s.notifiee)
	for st, sv := range streams {
		sv.cancel()
		st.Reset()
	}
	s.handlers.Wait()
	for _, sh := range shares {
		sh.close()
	}
	return nil
}

// linkAddrs keeps the addresses worth putting in a link: dialable ones,
// loopback last since it only helps a viewer on the same machine.
func linkAddrs(addrs []ma.Multiaddr) []ma.Multiaddr {
	var out, loop []ma.Multiaddr
	for _, a := range addrs {
		switch {
		case manet.IsIPUnspecified(a):
		case manet.IsIPLoopback(a):
			loop = append(loop, a)
		default:
			out = append(out, a)
		}
	}
	out = append(out, loop...)
	if len(out) > maxLinkAddrs {
		out = out[:maxLinkAddrs]
	}
	return out
}

// disconnected ends a viewer once its last connection has closed; the
// swarm drops a connection before telling of it. A peer with requests
// still under way is ended by the last of them instead.
func (s *Sharer) disconnected(id peer.ID) {
	gone := len(s.h.Network().ConnsToPeer(id)) == 0
	s.mu.Lock()
	v := s.peers[id]
	left := v != nil && gone && v.active == 0
	if left {
		delete(s.peers, id)
	}
	s.mu.Unlock()
	if left && v.viewing {
		s.o.Logger.Info("viewer left", "peer", id, "bytes", v.bytes, "requests", v.reqs)
	}
}

// admit counts a request against its peer's limit.
func (s *Sharer) admit(st network.Stream, cancel context.CancelFunc) bool {
	id := st.Conn().RemotePeer()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	v := s.peers[id]
	if v == nil {
		v = &viewer{}
		s.peers[id] = v
	}
	if v.active >= s.o.MaxRequestsPerPeer {
		return false
	}
	v.active++
	s.streams[st] = &serving{cancel: cancel}
	s.handlers.Add(1)
	return true
}

// attach finds the share a request names and ties the request to it, so
// Unshare can end it. A peer off the allow-list finds nothing.
func (s *Sharer) attach(st network.Stream, req request) *share {
	token := req.Token
	id := st.Conn().RemotePeer()
	s.mu.Lock()
	sh := s.shares[sha256.Sum256([]byte(token))]
	if s.allow != nil && !s.allow[id] {
		sh = nil
	}
	sv := s.streams[st]
	if sh == nil || sv == nil {
		s.mu.Unlock()
		return nil
	}
	sv.sh = sh
	v := s.peers[id]
	if req.Method != MethodWatch {
		v.reqs++
	}
	first := !v.viewing
	if first {
		v.viewing = true
		v.since = time.Now()
		v.rate.start = v.since
	}
	s.mu.Unlock()
	if first {
		s.o.Logger.Info("viewer connected", "peer", id, "addr", st.Conn().RemoteMultiaddr())
	}
	return sh
}

// sent counts bytes served to a peer.
func (s *Sharer) sent(id peer.ID, n int) {
	now := time.Now()
	s.mu.Lock()
	if v := s.peers[id]; v != nil {
		v.bytes += int64(n)
		v.rate.add(now, int64(n))
	}
	s.mu.Unlock()
}

func (s *Sharer) release(st network.Stream) {
	id := st.Conn().RemotePeer()
	gone := len(s.h.Network().ConnsToPeer(id)) == 0
	s.mu.Lock()
	delete(s.streams, st)
	v := s.peers[id]
	var left bool
	if v != nil {
		v.active--
		if v.active == 0 && (!v.viewing || gone) {
			delete(s.peers, id)
			left = v.viewing
		}
	}
	s.mu.Unlock()
	if left {
		s.o.Logger.Info("viewer left", "peer", id, "bytes", v.bytes, "requests", v.reqs)
	}
	s.handlers.Done()
}

func (s *Sharer) handleStream(st network.Stream) {
	id := st.Conn().RemotePeer()
	// Media never flows through a relay that limits traffic, whoever asks:
	// such a relay is a meeting point for hole punching, lent by others.
	if st.Conn().Stat().Limited {
		s.o.Logger.Debug("refused a request over a limited relay", "peer", id)
		st.Reset()
		return
	}
	start := time.Now()
	deadline := start.Add(s.o.RequestTimeout)
	st.SetDeadline(deadline)
	st.SetReadDeadline(start.Add(s.o.HeaderTimeout))
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	if !s.admit(st, cancel) {
		writeFrame(st, response{Error: errorf(CodeBusy, "too many requests at once from this peer")})
		st.Close()
		return
	}
	defer s.release(st)

	req, err := decodeRequest(bufio.NewReaderSize(st, 512))
	if err != nil {
		s.o.Logger.Debug("bad request", "peer", id, "err", err)
		writeFrame(st, response{Error: errorf(CodeBadRequest, "%v", err)})
		st.Close()
		return
	}
	st.SetReadDeadline(deadline)
	sh := s.attach(st, req)
	if sh == nil {
		// Same answer for a wrong token, an unknown recording and a peer
		// off the allow-list.
		writeFrame(st, response{Error: errorf(CodeNotFound, "no such recording")})
		st.Close()
		return
	}
	switch req.Method {
	case MethodGet:
		err = writeFrame(st, response{Recording: sh.info()})
	case MethodReadRange:
		err = s.serveRange(ctx, st, sh, req)
	case MethodWatch:
		err = s.serveWatch(ctx, st, sh, req)
	case MethodJoin:
		err = s.serveJoin(st, sh, req)
	}
	if err != nil {
		s.o.Logger.Debug("request failed", "peer", id, "method", req.Method, "err", err)
		st.Reset()
		return
	}
	st.Close()
}

// errShareClosed is what a request finds once its share was stopped.
var errShareClosed = errors.New("the recording is no longer shared")

// serveWatch answers a stream.watch once the recording differs from the
// revision the viewer knows, or after watchHold with none.
func (s *Sharer) serveWatch(ctx context.Context, st network.Stream, sh *share, req request) error {
	wait := watchHold
	if d, ok := ctx.Deadline(); ok {
		wait = min(wait, time.Until(d)*3/4)
	}
	hold := time.NewTimer(wait)
	defer hold.Stop()
	// The viewer sends nothing more; a read ends when it resets the
	// stream or its connection closes, and the wait with it.
	gone, stop := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(gone)
		var b [1]byte
		for {
			_, err := st.Read(b[:])
			if errors.Is(err, io.EOF) {
				// Closed for writing: the viewer still waits for the answer.
				select {
				case <-stop:
				case <-ctx.Done():
				}
				return
			}
			if err != nil {
				return
			}
		}
	}()
	defer func() {
		close(stop)
		st.SetReadDeadline(time.Now())
		<-gone
	}()
	for {
		rev, next := sh.changes()
		if rev != req.Rev {
			break
		}
		select {
		case <-next:
			continue
		case <-hold.C:
		case <-sh.closed:
			return writeFrame(st, response{Error: errorf(CodeNotFound, "no such recording")})
		case <-gone:
			return errors.New("the viewer went away")
		case <-ctx.Done():
			return context.Cause(ctx)
		}
		break
	}
	return writeFrame(st, response{Recording: sh.info()})
}

// serveRange answers a read_range. Errors found before the header is sent
// become typed answers; a failure after it resets the stream, so the viewer
// never takes a short body for data.
func (s *Sharer) serveRange(ctx context.Context, st network.Stream, sh *share, req request) error {
	f, t, err := sh.open(req.Track)
	switch {
	case errors.Is(err, errNoTrack):
		return writeFrame(st, response{Error: errorf(CodeNotFound, "no such track")})
	case errors.Is(err, errShareClosed):
		return writeFrame(st, response{Error: errorf(CodeNotFound, "no such recording")})
	case err != nil:
		s.o.Logger.Warn("opening track failed", "track", req.Track, "err", err)
		return writeFrame(st, response{Error: errorf(CodeInternal, "track unreadable")})
	}
	if req.Version != "" && req.Version != t.version {
		return writeFrame(st, response{Error: errorf(CodeChanged, "track %q is at version %s, not %s: open the recording again", t.name, t.version, req.Version)})
	}
	if t.err != nil {
		s.noteChanged(sh, t.name, t.err)
		return writeFrame(st, response{Error: errorf(CodeChanged, "track %q changed on the sharer's disk since it was shared", t.name)})
	}
	if req.Offset >= t.size {
		return writeFrame(st, response{Error: errorf(CodeOutOfRange, "offset %d at or past the end (%d bytes)", req.Offset, t.size)})
	}
	n := min(req.Length, t.size-req.Offset)
	bp := s.bufPool.Get().(*[]byte)
	defer s.bufPool.Put(bp)
	buf := *bp
	// The copy buffer counts against the peer's memory in the resource
	// manager, so a peer's bytes in flight are bounded there too.
	if err := st.Scope().ReserveMemory(len(buf), network.ReservationPriorityHigh); err != nil {
		return writeFrame(st, response{Error: errorf(CodeBusy, "out of memory for this peer")})
	}
	defer st.Scope().ReleaseMemory(len(buf))
	id := st.Conn().RemotePeer()
	turn := s.writes.begin(id, st.Conn().ID(), req.Priority, t.name, req.Offset)
	defer turn.end()
	if err := writeFrame(st, response{Length: n, Loss: s.losses.loss(st.Conn())}); err != nil {
		return err
	}
	for off, end := req.Offset, req.Offset+n; off < end; {
		chunk := buf[:min(int64(len(buf)), end-off)]
		if err := s.readChunk(ctx, sh, t.name, f, chunk, off); err != nil {
			return err
		}
		for rest := chunk; len(rest) > 0; {
			if err := turn.wait(ctx); err != nil {
				return err
			}
			piece := rest[:min(len(rest), priorityPiece)]
			if _, err := st.Write(piece); err != nil {
				return err
			}
			rest = rest[len(piece):]
			s.sent(id, len(piece))
		}
		off += int64(len(chunk))
	}
	return nil
}

// readChunk reads one chunk while holding a disk slot, then checks the
// file did not change under it: a write updates the modification time
// before the data, so a chunk holding new bytes is caught here and its
// request reset, never sent.
func (s *Sharer) readChunk(ctx context.Context, sh *share, name string, f *os.File, chunk []byte, off int64) error {
	select {
	case s.diskSem <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("waiting for the disk: %w", context.Cause(ctx))
	}
	_, err := f.ReadAt(chunk, off)
	<-s.diskSem
	switch {
	case errors.Is(err, io.EOF):
		err = fmt.Errorf("track %q shrank while being read", name)
	case err != nil:
		return err // the share was stopped, or the disk failed
	default:
		err = sh.check(name, f)
	}
	if err != nil && !errors.Is(err, os.ErrClosed) && !errors.Is(err, errShareClosed) {
		s.noteChanged(sh, name, err)
	}
	return err
}

// noteChanged logs a track found changed, once per share.
func (s *Sharer) noteChanged(sh *share, name string, err error) {
	sh.mu.Lock()
	first := sh.changed != nil && !sh.changed[name]
	if first {
		sh.changed[name] = true
	}
	sh.mu.Unlock()
	if first {
		s.o.Logger.Warn("a shared track changed on disk; viewers get an error until it is shared again", "track", name, "err", err)
	}
}
