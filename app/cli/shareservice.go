package cli

// One identity is one peer ID, so it is served by one process: net holds
// the identity while a host runs with it (p2pnet.ErrIdentityInUse), and
// every other `reelay share`, or the window's Share, hands its folder to
// the process that holds it, over a unix socket beside the identity key.
// The connection is the folder's lease: while it is open the holder
// shares the folder, when it closes (the command stopped, or died) the
// holder stops; when the holder goes away, the lease's owner takes the
// identity over and shares the folder itself under the same link, and
// viewers reconnect as after any restart of the sharer.

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	gosync "sync"
	"time"

	p2pnet "reelay/net"
)

// handoffRequest is one line a lease sends to the process sharing.
type handoffRequest struct {
	// Op is "share" (Dir, Renew) or "viewers" (also a sign of life).
	Op    string `json:"op"`
	Dir   string `json:"dir,omitempty"`
	Renew bool   `json:"renew,omitempty"`
}

// handoffReply is the answer to one request.
type handoffReply struct {
	// Link is the folder's link ("share"); PID the process serving it.
	Link string `json:"link,omitempty"`
	PID  int    `json:"pid,omitempty"`
	// Viewers are the peers watching what the holder shares ("viewers").
	Viewers []p2pnet.ViewerStats `json:"viewers,omitempty"`
	// Err says why the request failed.
	Err string `json:"error,omitempty"`
}

// errNoHolder says no process answers for the identity.
var errNoHolder = errors.New("no Reelay shares with this identity")

// leasePing is how often a lease asks the holder for its viewers, which
// is also how it notices the holder went away.
const leasePing = time.Second

// shareService shares folders under the user's identity: from this
// process when it holds the identity (or can take it), else through the
// process that does.
type shareService struct {
	e *env
	// idPath is the identity key file.
	idPath string
	// hostOptions are the options of the host made on first share.
	hostOptions func() (p2pnet.HostOptions, error)

	// mu guards everything below.
	mu gosync.Mutex
	// h, s and srv are the host, the sharer and the lease server while
	// this process holds the identity, nil before.
	h   *p2pnet.Host
	s   *p2pnet.Sharer
	srv *leaseServer
	// holders counts, per token, what holds it shared here: this
	// process's own shares and other processes' leases.
	holders map[string]int
	// closed says close ran: nothing more is shared.
	closed bool
}

func newShareService(e *env, idPath string, hostOptions func() (p2pnet.HostOptions, error)) *shareService {
	return &shareService{e: e, idPath: idPath, hostOptions: hostOptions, holders: map[string]int{}}
}

// socketPath is where the identity's holder answers leases.
func (ss *shareService) socketPath() string { return ss.idPath + ".sock" }

// share shares dir (renew: under a new link) until Stop.
func (ss *shareService) share(dir string, renew bool) (*sharedFolder, error) {
	f, err := p2pnet.OpenFolder(dir)
	if err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	sf := &sharedFolder{ss: ss, dir: abs, folder: f}
	if err := sf.start(renew); err != nil {
		return nil, err
	}
	return sf, nil
}

// shareHere shares dir from this process, taking the identity first if
// this process does not hold it yet; p2pnet.ErrIdentityInUse says another
// process does.
func (ss *shareService) shareHere(dir string, renew bool) (p2pnet.Link, string, error) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.closed {
		return p2pnet.Link{}, "", errors.New("sharing has stopped")
	}
	if ss.s == nil {
		if err := ss.holdLocked(); err != nil {
			return p2pnet.Link{}, "", err
		}
	}
	token, err := shareToken(ss.idPath, dir, renew)
	if err != nil {
		return p2pnet.Link{}, "", err
	}
	link, err := ss.s.ShareWithToken(dir, token)
	if err != nil {
		return p2pnet.Link{}, "", err
	}
	ss.holders[token]++
	return link, token, nil
}

// holdLocked makes the host with the identity, the sharer, and the lease
// server; ss.mu is held.
func (ss *shareService) holdLocked() error {
	o, err := ss.hostOptions()
	if err != nil {
		return err
	}
	o.IdentityFile = ss.idPath
	h, err := p2pnet.NewHost(o)
	if err != nil {
		return err
	}
	s := p2pnet.NewSharer(h, p2pnet.SharerOptions{Logger: ss.e.log})
	srv, err := listenLeases(ss.socketPath(), ss)
	if err != nil {
		s.Close()
		h.Close()
		return err
	}
	ss.h, ss.s, ss.srv = h, s, srv
	return nil
}

// unshareHere lets go of one holder of token; the last one stops sharing
// it.
func (ss *shareService) unshareHere(token string) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.holders[token] == 0 {
		return
	}
	ss.holders[token]--
	if ss.holders[token] == 0 {
		delete(ss.holders, token)
		if ss.s != nil {
			ss.s.Unshare(token)
		}
	}
}

// viewersHere lists the peers watching what this process shares.
func (ss *shareService) viewersHere() []p2pnet.ViewerStats {
	ss.mu.Lock()
	s := ss.s
	ss.mu.Unlock()
	if s == nil {
		return nil
	}
	return s.Viewers()
}

// host is the host this process shares from, nil while another process
// holds the identity.
func (ss *shareService) host() *p2pnet.Host {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return ss.h
}

// close stops sharing from this process: leases of other processes end,
// and they take the identity over.
func (ss *shareService) close() {
	ss.mu.Lock()
	ss.closed = true
	h, s, srv := ss.h, ss.s, ss.srv
	ss.h, ss.s, ss.srv = nil, nil, nil
	ss.mu.Unlock()
	if srv != nil {
		srv.close()
	}
	if s != nil {
		s.Close()
		h.Close()
	}
}

// sharedFolder is one folder shared through a shareService, here or
// through the identity's holder.
type sharedFolder struct {
	ss     *shareService
	dir    string
	folder *p2pnet.Folder

	// mu guards everything below.
	mu gosync.Mutex
	// link is the folder's link; token its token when shared here.
	link  string
	token string
	// pid is the process serving it.
	pid int
	// lease is the connection to the holder while another process shares
	// it; viewers what the holder last said.
	lease   *leaseClient
	viewers []p2pnet.ViewerStats
	// stop ends the lease's watch; done is closed when it returned.
	stop chan struct{}
	done chan struct{}
	// stopped says Stop ran.
	stopped bool
}

// start shares the folder, and while another process serves it, watches
// that process.
func (sf *sharedFolder) start(renew bool) error {
	if err := sf.acquire(renew); err != nil {
		return err
	}
	sf.mu.Lock()
	defer sf.mu.Unlock()
	if sf.lease != nil {
		sf.stop, sf.done = make(chan struct{}), make(chan struct{})
		go sf.watch()
	}
	return nil
}

// acquire shares the folder through the process that answers for the
// identity, or here when none does, trying again while the identity
// changes hands (for up to 5 s).
func (sf *sharedFolder) acquire(renew bool) error {
	deadline := time.Now().Add(5 * time.Second)
	for {
		lc, rep, err := dialLease(sf.ss.socketPath(), handoffRequest{Op: "share", Dir: sf.dir, Renew: renew})
		if err == nil {
			sf.mu.Lock()
			sf.lease, sf.link, sf.token, sf.pid = lc, rep.Link, "", rep.PID
			sf.mu.Unlock()
			return nil
		}
		if !errors.Is(err, errNoHolder) {
			return err
		}
		link, token, err := sf.ss.shareHere(sf.dir, renew)
		if err == nil {
			sf.mu.Lock()
			sf.lease, sf.link, sf.token, sf.pid = nil, link.String(), token, os.Getpid()
			sf.mu.Unlock()
			return nil
		}
		// Another process took the identity meanwhile: it answers soon.
		if !errors.Is(err, p2pnet.ErrIdentityInUse) || time.Now().After(deadline) {
			return err
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// watch asks the holder for its viewers every leasePing; when it goes
// away, the folder is shared afresh (here, or through whoever holds the
// identity now) under the same link.
func (sf *sharedFolder) watch() {
	defer close(sf.done)
	t := time.NewTicker(leasePing)
	defer t.Stop()
	for {
		select {
		case <-sf.stop:
			return
		case <-t.C:
		}
		sf.mu.Lock()
		lc := sf.lease
		sf.mu.Unlock()
		rep, err := lc.ask(handoffRequest{Op: "viewers"})
		if err == nil {
			sf.mu.Lock()
			sf.viewers = rep.Viewers
			sf.mu.Unlock()
			continue
		}
		lc.close()
		sf.ss.e.log.Info("the Reelay sharing this folder stopped", "folder", sf.dir, "pid", sf.PID())
		select {
		case <-sf.stop:
			return
		default:
		}
		if err := sf.acquire(false); err != nil {
			sf.ss.e.log.Error("sharing the folder again failed", "folder", sf.dir, "err", err)
			return
		}
		sf.mu.Lock()
		here := sf.lease == nil
		sf.mu.Unlock()
		sf.ss.e.log.Info("sharing the folder again", "folder", sf.dir, "pid", sf.PID(), "link", sf.Link())
		if here {
			return
		}
	}
}

// Link is the folder's link, with the host's addresses now when shared
// here (a relay reservation may have come since); the first link keeps
// working.
func (sf *sharedFolder) Link() string {
	sf.mu.Lock()
	link, here := sf.link, sf.lease == nil
	sf.mu.Unlock()
	if h := sf.ss.host(); here && h != nil {
		if l, err := p2pnet.ParseLink(link); err == nil {
			return l.WithAddrs(h.Addrs()).String()
		}
	}
	return link
}

// PID is the process serving the folder.
func (sf *sharedFolder) PID() int {
	sf.mu.Lock()
	defer sf.mu.Unlock()
	return sf.pid
}

func (sf *sharedFolder) Name() string { return sf.folder.Name() }

// Tracks are the folder's tracks as viewers see them now when shared
// here (a recording being written grows and gains tracks), and as they
// were when sharing began when another process serves them.
func (sf *sharedFolder) Tracks() []p2pnet.TrackInfo {
	sf.mu.Lock()
	token, here := sf.token, sf.lease == nil
	sf.mu.Unlock()
	sf.ss.mu.Lock()
	s := sf.ss.s
	sf.ss.mu.Unlock()
	if here && s != nil {
		if tracks, ok := s.Tracks(token); ok {
			return tracks
		}
	}
	return sf.folder.Tracks()
}

// Viewers are the peers watching what the identity's holder shares.
func (sf *sharedFolder) Viewers() []p2pnet.ViewerStats {
	sf.mu.Lock()
	defer sf.mu.Unlock()
	if sf.lease == nil {
		return sf.ss.viewersHere()
	}
	return sf.viewers
}

// Stop stops sharing the folder: the lease ends, or this process lets go
// of it.
func (sf *sharedFolder) Stop() error {
	sf.mu.Lock()
	if sf.stopped {
		sf.mu.Unlock()
		return nil
	}
	sf.stopped = true
	stop, done := sf.stop, sf.done
	sf.mu.Unlock()
	if stop != nil {
		close(stop)
		<-done
	}
	sf.mu.Lock()
	lc, token := sf.lease, sf.token
	sf.mu.Unlock()
	if lc != nil {
		lc.close()
	} else if token != "" {
		sf.ss.unshareHere(token)
	}
	return nil
}

// leaseClient is a lease's connection to the identity's holder.
type leaseClient struct {
	// mu orders requests: one answer at a time.
	mu   gosync.Mutex
	conn net.Conn
	r    *bufio.Reader
}

// dialLease connects to the holder at path and asks req; errNoHolder when
// nobody answers there.
func dialLease(path string, req handoffRequest) (*leaseClient, handoffReply, error) {
	conn, err := net.DialTimeout("unix", path, time.Second)
	if err != nil {
		return nil, handoffReply{}, fmt.Errorf("%w: %v", errNoHolder, err)
	}
	lc := &leaseClient{conn: conn, r: bufio.NewReader(conn)}
	rep, err := lc.ask(req)
	if err != nil {
		lc.close()
		return nil, handoffReply{}, fmt.Errorf("%w: %v", errNoHolder, err)
	}
	if rep.Err != "" {
		lc.close()
		return nil, handoffReply{}, errors.New(rep.Err)
	}
	return lc, rep, nil
}

// ask sends req and reads the answer, giving up after 5 s.
func (lc *leaseClient) ask(req handoffRequest) (handoffReply, error) {
	lc.mu.Lock()
	defer lc.mu.Unlock()
	var rep handoffReply
	lc.conn.SetDeadline(time.Now().Add(5 * time.Second))
	b, _ := json.Marshal(req)
	if _, err := lc.conn.Write(append(b, '\n')); err != nil {
		return rep, err
	}
	line, err := lc.r.ReadBytes('\n')
	if err != nil {
		return rep, err
	}
	return rep, json.Unmarshal(line, &rep)
}

func (lc *leaseClient) close() { lc.conn.Close() }

// leaseServer answers leases for the shareService holding the identity.
type leaseServer struct {
	ln net.Listener
	ss *shareService
	// mu guards conns; wg counts the goroutines.
	mu    gosync.Mutex
	conns map[net.Conn]bool
	wg    gosync.WaitGroup
}

// listenLeases listens at path. A socket already there is stale: only
// the identity's holder listens, and that is this process now.
func listenLeases(path string, ss *shareService) (*leaseServer, error) {
	os.Remove(path)
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("listening for other Reelays at %s failed: %w", path, err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, err
	}
	srv := &leaseServer{ln: ln, ss: ss, conns: map[net.Conn]bool{}}
	srv.wg.Add(1)
	go srv.accept()
	return srv, nil
}

func (srv *leaseServer) accept() {
	defer srv.wg.Done()
	for {
		conn, err := srv.ln.Accept()
		if err != nil {
			return
		}
		srv.mu.Lock()
		if srv.conns == nil {
			srv.mu.Unlock()
			conn.Close()
			return
		}
		srv.conns[conn] = true
		srv.wg.Add(1)
		srv.mu.Unlock()
		go srv.serve(conn)
	}
}

// serve answers one lease until it closes, then lets go of what it
// shared.
func (srv *leaseServer) serve(conn net.Conn) {
	defer srv.wg.Done()
	var tokens []string
	defer func() {
		for _, t := range tokens {
			srv.ss.unshareHere(t)
		}
		conn.Close()
		srv.mu.Lock()
		delete(srv.conns, conn)
		srv.mu.Unlock()
	}()
	r := bufio.NewReader(conn)
	enc := json.NewEncoder(conn)
	for {
		line, err := r.ReadBytes('\n')
		if err != nil {
			return
		}
		var req handoffRequest
		rep := handoffReply{PID: os.Getpid()}
		switch err := json.Unmarshal(line, &req); {
		case err != nil:
			rep.Err = "malformed request"
		case req.Op == "share":
			link, token, err := srv.ss.shareHere(req.Dir, req.Renew)
			if err != nil {
				rep.Err = err.Error()
			} else {
				tokens = append(tokens, token)
				rep.Link = link.String()
				srv.ss.e.log.Info("sharing a folder for another Reelay", "folder", req.Dir, "link", rep.Link)
			}
		case req.Op == "viewers":
			rep.Viewers = srv.ss.viewersHere()
		default:
			rep.Err = fmt.Sprintf("unknown request %q", req.Op)
		}
		if enc.Encode(rep) != nil {
			return
		}
	}
}

// close stops answering and ends every lease.
func (srv *leaseServer) close() {
	srv.ln.Close()
	srv.mu.Lock()
	for c := range srv.conns {
		c.Close()
	}
	srv.conns = nil
	srv.mu.Unlock()
	srv.wg.Wait()
}
