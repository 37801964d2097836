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
	// MaxRequestsPerPeer bounds one peer's requests served at once; more get
	// busy. It defaults to 32.
	MaxRequestsPerPeer int
	// MaxDiskReads bounds disk reads at once across all peers, so a greedy
	// viewer cannot starve another. It defaults to 16.
	MaxDiskReads int
	// RequestTimeout bounds one exchange from request to last byte. It
	// defaults to 30 s.
	RequestTimeout time.Duration
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
	if o.RequestTimeout <= 0 {
		o.RequestTimeout = 30 * time.Second
	}
}

// Sharer serves recording folders over ProtocolID. Peers name a recording
// only by its token and a track only by its display name: no path or file
// name from the wire ever reaches the file system.
type Sharer struct {
	h host.Host
	o SharerOptions
	// notifiee logs viewers; kept to unregister it on Close.
	notifiee *network.NotifyBundle
	// diskSem holds one slot per disk read under way.
	diskSem chan struct{}
	// handlers counts stream handlers running, so Close can wait for them.
	handlers sync.WaitGroup
	// bufPool recycles copy buffers so serving allocates nothing per range.
	bufPool sync.Pool

	mu sync.Mutex
	// shares maps sha256(token) to a shared folder; hashing keeps tokens
	// out of memory dumps of the map and lookups independent of token bytes.
	shares map[[sha256.Size]byte]*share
	// viewers tracks peers connected now, for logs and the share view.
	viewers map[peer.ID]*viewer
	closed  bool
}

type share struct {
	folder *Folder
	mu     sync.Mutex
	// files are opened on first read and kept for the share's lifetime.
	files map[string]*os.File
}

type viewer struct {
	conns   int
	active  int // requests being served now
	since   time.Time
	bytes   int64
	reqs    int64
	lastErr string
}

// ViewerStats describes a peer connected to the sharer.
type ViewerStats struct {
	Peer  peer.ID
	Since time.Time
	// BytesSent counts track bytes served to this peer.
	BytesSent int64
	// Requests counts the requests it made.
	Requests int64
}

const copyBufSize = 256 << 10

// NewSharer registers the protocol handler on h. Close unregisters it.
func NewSharer(h host.Host, o SharerOptions) *Sharer {
	o.setDefaults()
	s := &Sharer{
		h:       h,
		o:       o,
		diskSem: make(chan struct{}, o.MaxDiskReads),
		shares:  map[[sha256.Size]byte]*share{},
		viewers: map[peer.ID]*viewer{},
	}
	s.bufPool.New = func() any { b := make([]byte, copyBufSize); return &b }
	s.notifiee = &network.NotifyBundle{
		ConnectedF:    func(_ network.Network, c network.Conn) { s.connected(c) },
		DisconnectedF: func(_ network.Network, c network.Conn) { s.disconnected(c) },
	}
	h.Network().Notify(s.notifiee)
	h.SetStreamHandler(ProtocolID, s.handleStream)
	return s
}

// Share starts serving the recording in dir and returns its link.
func (s *Sharer) Share(dir string) (Link, error) {
	f, err := OpenFolder(dir)
	if err != nil {
		return Link{}, err
	}
	token := newToken()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return Link{}, errors.New("net: sharer is closed")
	}
	s.shares[sha256.Sum256([]byte(token))] = &share{folder: f, files: map[string]*os.File{}}
	return Link{Peer: s.h.ID(), Addrs: linkAddrs(s.h.Addrs()), Token: token}, nil
}

// Unshare stops serving the recording behind token; its open files close
// and later requests get not_found.
func (s *Sharer) Unshare(token string) {
	s.mu.Lock()
	key := sha256.Sum256([]byte(token))
	sh := s.shares[key]
	delete(s.shares, key)
	s.mu.Unlock()
	if sh != nil {
		sh.close()
	}
}

// Viewers lists the peers connected now.
func (s *Sharer) Viewers() []ViewerStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]ViewerStats, 0, len(s.viewers))
	for id, v := range s.viewers {
		out = append(out, ViewerStats{Peer: id, Since: v.since, BytesSent: v.bytes, Requests: v.reqs})
	}
	return out
}

// Close stops serving: the handler is removed, running requests finish or
// time out, and every file is closed.
func (s *Sharer) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	shares := s.shares
	s.shares = nil
	s.mu.Unlock()
	s.h.RemoveStreamHandler(ProtocolID)
	s.h.Network().StopNotify(s.notifiee)
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

func (s *Sharer) connected(c network.Conn) {
	id := c.RemotePeer()
	s.mu.Lock()
	v := s.viewers[id]
	if v == nil {
		v = &viewer{since: time.Now()}
		s.viewers[id] = v
	}
	v.conns++
	first := v.conns == 1
	s.mu.Unlock()
	if first {
		s.o.Logger.Info("viewer connected", "peer", id, "addr", c.RemoteMultiaddr())
	}
}

func (s *Sharer) disconnected(c network.Conn) {
	id := c.RemotePeer()
	s.mu.Lock()
	v := s.viewers[id]
	if v == nil {
		s.mu.Unlock()
		return
	}
	v.conns--
	last := v.conns <= 0
	if last {
		delete(s.viewers, id)
	}
	s.mu.Unlock()
	if last {
		s.o.Logger.Info("viewer left", "peer", id, "bytes", v.bytes, "requests", v.reqs)
	}
}

// admit counts a request against its peer's limit.
func (s *Sharer) admit(id peer.ID) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	v := s.viewers[id]
	if v == nil {
		// A stream can race ahead of the connection notification.
		v = &viewer{since: time.Now()}
		s.viewers[id] = v
	}
	if v.active >= s.o.MaxRequestsPerPeer {
		return false
	}
	v.active++
	v.reqs++
	s.handlers.Add(1)
	return true
}

func (s *Sharer) release(id peer.ID, sent int64) {
	s.mu.Lock()
	if v := s.viewers[id]; v != nil {
		v.active--
		v.bytes += sent
	}
	s.mu.Unlock()
	s.handlers.Done()
}

func (s *Sharer) handleStream(st network.Stream) {
	id := st.Conn().RemotePeer()
	st.SetDeadline(time.Now().Add(s.o.RequestTimeout))
	if !s.admit(id) {
		writeFrame(st, response{Error: errorf(CodeBusy, "too many requests at once from this peer")})
		st.Close()
		return
	}
	var sent int64
	defer func() { s.release(id, sent) }()

	req, err := decodeRequest(bufio.NewReaderSize(st, 512))
	if err != nil {
		s.o.Logger.Debug("bad request", "peer", id, "err", err)
		writeFrame(st, response{Error: errorf(CodeBadRequest, "%v", err)})
		st.Close()
		return
	}
	sh := s.lookup(req.Token)
	if sh == nil {
		// Same answer for a wrong token and an unknown recording.
		writeFrame(st, response{Error: errorf(CodeNotFound, "no such recording")})
		st.Close()
		return
	}
	switch req.Method {
	case MethodGet:
		err = writeFrame(st, response{Recording: sh.info()})
	case MethodReadRange:
		sent, err = s.serveRange(st, sh, req)
	}
	if err != nil {
		s.o.Logger.Debug("request failed", "peer", id, "method", req.Method, "err", err)
		st.Reset()
		return
	}
	st.Close()
}

func (s *Sharer) lookup(token string) *share {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.shares[sha256.Sum256([]byte(token))]
}

// serveRange answers a read_range. Errors found before the header is sent
// become typed answers; a failure after it resets the stream, so the viewer
// never takes a short body for data.
func (s *Sharer) serveRange(st network.Stream, sh *share, req request) (int64, error) {
	t := sh.folder.track(req.Track)
	if t == nil {
		return 0, writeFrame(st, response{Error: errorf(CodeNotFound, "no such track")})
	}
	if req.Offset >= t.Size {
		return 0, writeFrame(st, response{Error: errorf(CodeOutOfRange, "offset %d at or past the end (%d bytes)", req.Offset, t.Size)})
	}
	n := min(req.Length, t.Size-req.Offset)
	f, err := sh.open(t)
	if err != nil {
		s.o.Logger.Warn("opening track failed", "track", t.Name, "err", err)
		return 0, writeFrame(st, response{Error: errorf(CodeInternal, "track unreadable")})
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.o.RequestTimeout)
	defer cancel()
	select {
	case s.diskSem <- struct{}{}:
		defer func() { <-s.diskSem }()
	case <-ctx.Done():
		return 0, writeFrame(st, response{Error: errorf(CodeBusy, "disk busy")})
	}
	if err := writeFrame(st, response{Length: n}); err != nil {
		return 0, err
	}
	bp := s.bufPool.Get().(*[]byte)
	defer s.bufPool.Put(bp)
	written, err := io.CopyBuffer(st, io.NewSectionReader(f, req.Offset, n), *bp)
	if err == nil && written < n {
		err = fmt.Errorf("track %q shrank while being read", t.Name)
	}
	return written, err
}

func (sh *share) info() *recordingInfo {
	ri := &recordingInfo{Name: sh.folder.Name(), MaxLength: MaxReadLength}
	for _, t := range sh.folder.Tracks() {
		ri.Tracks = append(ri.Tracks, trackInfo{Name: t.Name, Size: t.Size, Start: t.Start.Seconds(), Version: t.Version})
	}
	return ri
}

func (sh *share) open(t *folderTrack) (*os.File, error) {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.files == nil {
		return nil, os.ErrClosed
	}
	if f := sh.files[t.Name]; f != nil {
		return f, nil
	}
	f, err := os.Open(t.path)
	if err != nil {
		return nil, err
	}
	sh.files[t.Name] = f
	return f, nil
}

func (sh *share) close() {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	for _, f := range sh.files {
		f.Close()
	}
	sh.files = nil
}
