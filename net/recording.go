package net

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
)

// DialTimeout bounds connecting to a sharer and asking for the recording.
const DialTimeout = 20 * time.Second

// requestTimeout bounds one exchange on the viewer side; a sharer that stops
// answering must not hang a reader forever.
const requestTimeout = 30 * time.Second

// Recording is a shared recording as the viewer sees it: its name, its
// tracks, and readers that pull their bytes on demand. It keeps its
// connection to the sharer up by itself (see Connection): while the sharer
// is unreachable, reads wait for it to come back instead of failing.
type Recording struct {
	h    host.Host
	link Link
	info recordingInfo
	// tracks is info.Tracks in the form the rest of Reelay uses, kept up
	// to date as live tracks grow and tracks appear (under mu).
	tracks []TrackInfo
	// log reports the first track bytes and the connection's ups and downs.
	log *slog.Logger
	// o are the options Dial was given, defaults filled in, for reconnecting.
	o DialOptions
	// steps are what Dial took; dialStart is when it began.
	steps     DialSteps
	dialStart time.Time
	// firstTrackByte is when track bytes first arrived (nanoseconds after
	// dialStart), zero before.
	firstTrackByte     atomic.Int64
	firstTrackByteOnce sync.Once

	// lanes are the connections range requests go out on: the host's own
	// and, on a lossy link, more (lanes.go).
	lanes *lanes

	// inflight counts exchanges under way and progress is when bytes last
	// arrived (Unix nanoseconds), so run can tell a stalled connection.
	inflight atomic.Int64
	progress atomic.Int64

	// ctx ends run, the goroutine that keeps the connection up; done is
	// closed when it returned.
	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}
	// suspectCh asks run to look at the connection: a request failed or a
	// connection to the sharer closed.
	suspectCh chan struct{}

	// mu guards the fields below.
	mu sync.Mutex
	// conn is what Connection reports.
	conn Connection
	// suspectErr is why run was last asked to look.
	suspectErr error
	// up is closed while connected; a fresh one replaces it when the
	// connection is lost, for fetches to wait on.
	up chan struct{}
	// gen counts connections; next is closed and replaced when a new one
	// is made, waking fetches that wait to retry.
	gen  uint64
	next chan struct{}
	// stale holds the tracks whose file changed on the sharer since Dial.
	stale map[string]error
	// ended is why fetches can no longer be served at all, once run ended.
	ended error
	// rev is the sharer's revision of the recording last applied.
	rev uint64
	// readers are the track readers opened, told when their track grows.
	readers []*RangeReader
	// updated is closed and replaced at each change apply takes in.
	updated chan struct{}
	// followDone is closed when follow returned; nil when it never ran.
	followDone chan struct{}
	// resumed holds the live tracks the sharer came back with after a
	// restart, grown, under a new version; their next word from it says
	// whether they are still live (follow.go, apply).
	resumed map[string]bool
}

// Dial connects to the sharer named by l and asks for the recording.
func Dial(ctx context.Context, h host.Host, l Link) (*Recording, error) {
	return DialWith(ctx, h, l, DialOptions{})
}

// DialWith is Dial with options. It tries the link's addresses, then, on a
// host with Reach, what mDNS and the DHT know of the peer, so a link
// holding only the peer ID works. Media needs a connection that is not
// limited: when the sharer answers only through a relay that limits
// traffic, DialWith waits for hole punching to make a direct connection
// and otherwise fails with ErrNoDirectPath.
func DialWith(ctx context.Context, h host.Host, l Link, o DialOptions) (*Recording, error) {
	o.setDefaults()
	ctx, cancel := context.WithTimeout(ctx, DialTimeout)
	defer cancel()
	d := newDialer(h, l.Peer, o)
	if err := d.run(ctx, l); err != nil {
		return nil, err
	}
	r := &Recording{h: h, link: l, log: o.Logger, o: o, steps: d.steps, dialStart: d.start, lanes: newLanes(h, l.Peer, o.Logger)}
	r.lanes.demand = r.playRate
	var resp response
	err := r.exchange(ctx, request{Method: MethodGet, Token: l.Token}, &resp, func(*bufio.Reader) error { return nil })
	if err != nil {
		r.lanes.close()
		return nil, fmt.Errorf("net: opening the recording failed: %w", err)
	}
	if resp.Recording == nil {
		return nil, errors.New("net: opening the recording failed: the sharer sent no recording")
	}
	r.steps.FirstByte = time.Since(d.start)
	r.info = *resp.Recording
	for _, t := range r.info.Tracks {
		if t.Size < 0 || t.Start < 0 || checkTrackName(t.Name) != nil {
			return nil, fmt.Errorf("net: the sharer sent a malformed track %q", t.Name)
		}
		r.tracks = append(r.tracks, trackOf(t))
	}
	r.rev = r.info.Rev
	r.updated = make(chan struct{})
	r.startRun()
	st := r.steps
	o.Logger.Info("reached the sharer", "peer", shortID(l.Peer), "path", st.Path.String(), "found", st.Found,
		"lookup", st.Lookup, "relay", st.Relay, "holepunch", st.HolePunch, "connect", st.Connect, "firstbyte", st.FirstByte)
	return r, nil
}

// Steps are what reaching the sharer took.
func (r *Recording) Steps() DialSteps {
	st := r.steps
	st.FirstTrackByte = time.Duration(r.firstTrackByte.Load())
	return st
}

// noteTrackBytes records and logs the first track bytes' arrival.
func (r *Recording) noteTrackBytes(track string) {
	r.firstTrackByteOnce.Do(func() {
		if r.dialStart.IsZero() {
			return
		}
		after := time.Since(r.dialStart)
		r.firstTrackByte.Store(int64(after))
		if r.log != nil {
			r.log.Info("first track bytes arrived", "track", track, "after", after, "path", r.Path().String())
		}
	})
}

func shortID(id peer.ID) string {
	s := id.String()
	if len(s) > 12 {
		return "…" + s[len(s)-8:]
	}
	return s
}

// Name is the recording's display name.
func (r *Recording) Name() string { return r.info.Name }

// Link is the link this recording was opened with.
func (r *Recording) Link() Link { return r.link }

// Tracks lists the recording's tracks in the sharer's order, those that
// appeared since Dial last.
func (r *Recording) Tracks() []TrackInfo {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]TrackInfo(nil), r.tracks...)
}

// Track finds a track by name.
func (r *Recording) Track(name string) (TrackInfo, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.track(name)
}

// track is Track with mu held.
func (r *Recording) track(name string) (TrackInfo, bool) {
	for _, t := range r.tracks {
		if t.Name == name {
			return t, true
		}
	}
	return TrackInfo{}, false
}

// RTT is the latest round-trip time libp2p measured to the sharer.
func (r *Recording) RTT() time.Duration { return r.h.Peerstore().LatencyEWMA(r.link.Peer) }

// OpenTrack returns a reader over one track's bytes. Each reader owns its
// cache and its requests; Close it when done. While the sharer is
// unreachable its reads wait for the connection to come back; they fail on
// what retrying cannot fix: an answer such as not_found or changed, or the
// recording closed.
func (r *Recording) OpenTrack(name string, o RangeReaderOptions) (*RangeReader, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	t, ok := r.track(name)
	if !ok {
		return nil, fmt.Errorf("net: the recording has no track %q", name)
	}
	if t.Live {
		// A live track's end is where it is being written, not an index.
		o.PrefetchTail = false
	}
	rr := newRangeReader(trackFetcher{r: r, track: t.Name}, t.Size, o)
	rr.resize(t.Size, t.Live)
	r.readers = append(r.readers, rr)
	return rr, nil
}

// playRate is the bytes a second the recording's open readers play, as
// their players set it (SetByteRate); 0 when none told.
func (r *Recording) playRate() float64 {
	r.mu.Lock()
	readers := slices.Clone(r.readers)
	r.mu.Unlock()
	var sum float64
	for _, rr := range readers {
		sum += float64(rr.playRate())
	}
	return sum
}

// ReadRange reads up to len(dst) bytes of track at off in one request,
// without waiting for a lost connection to come back.
func (r *Recording) ReadRange(ctx context.Context, track string, off int64, dst []byte) (int, error) {
	var version string
	if t, ok := r.Track(track); ok {
		version = t.Version
	}
	n, _, err := r.readRange(ctx, track, version, off, dst, 0, nil)
	if err != nil {
		return n, fmt.Errorf("net: reading range %d+%d of %q failed: %w", off, len(dst), track, err)
	}
	return n, nil
}

// Close stops reconnecting, fails the reads waiting for a connection, and
// closes the sharer's connection. Readers opened from r must be closed by
// their owners. Closing the host instead also ends the reconnecting.
func (r *Recording) Close() error {
	if r.cancel != nil {
		r.cancel()
		<-r.done
		if r.followDone != nil {
			<-r.followDone
		}
	}
	return r.h.Network().ClosePeer(r.link.Peer)
}

// trackFetcher is one track's rangeFetcher.
type trackFetcher struct {
	r     *Recording
	track string
}

// maxLiveFailures bounds the failures in a row of one fetch while the
// connection stays up (run probed it and the sharer answered): a failure
// that outlives retries on a working connection is the sharer's answer.
const maxLiveFailures = 5

// paths is how many connections carry the recording's requests.
func (f trackFetcher) paths() int { return f.r.lanes.count() }

func (f trackFetcher) fetchRange(ctx context.Context, off int64, dst []byte, prio Priority) (int, time.Duration, error) {
	return f.fetchRangeStreaming(ctx, off, dst, prio, nil)
}

// fetchRangeStreaming fills dst from off, calling arrived as bytes land. A
// failure that a new connection may fix (the connection dropped, a stream
// reset, busy) is retried, after the connection is back when it was lost,
// continuing after the bytes already received; the fetch then takes as
// long as the outage.
func (f trackFetcher) fetchRangeStreaming(ctx context.Context, off int64, dst []byte, prio Priority, arrived func(n, landed int)) (int, time.Duration, error) {
	if t, ok := f.r.Track(f.track); ok && off >= t.Size {
		return 0, 0, io.EOF
	}
	retry := newBackoff(f.r.o.ReconnectMin, f.r.o.ReconnectMax)
	got, failures := 0, 0
	for {
		gen, next, err := f.r.awaitConnected(ctx, f.track)
		if err != nil {
			return got, 0, fmt.Errorf("track %q: %w", f.track, err)
		}
		base := got
		var progress func(n, landed int)
		if arrived != nil {
			progress = func(n, landed int) { arrived(base+n, base+landed) }
		}
		// The version the recording holds now: a live track's changes
		// when its sharer restarted while it grew (follow.go, apply).
		t, _ := f.r.Track(f.track)
		n, ttfb, err := f.r.readRange(ctx, f.track, t.Version, off+int64(got), dst[got:], prio, progress)
		got += n
		if n > 0 {
			f.r.noteTrackBytes(f.track)
		}
		if err == nil {
			return got, ttfb, nil
		}
		if ctx.Err() != nil || !retryable(err) {
			return got, ttfb, fmt.Errorf("track %q: %w", f.track, err)
		}
		f.r.suspect(err)
		if !f.r.waitRetry(ctx, next, retry.next()) {
			return got, ttfb, fmt.Errorf("track %q: %w", f.track, context.Cause(ctx))
		}
		if f.r.connectedAs(gen) && !errors.Is(err, ErrBusy) {
			if failures++; failures >= maxLiveFailures {
				return got, ttfb, fmt.Errorf("track %q: %w", f.track, err)
			}
		}
	}
}

// errMalformedAnswer marks an answer that breaks the protocol: asking again
// would get the same.
var errMalformedAnswer = errors.New("malformed answer")

// retryable says whether asking again, on this connection or a new one,
// may succeed: not after a typed answer other than busy (not_found after
// the token was revoked, out_of_range, changed), nor a malformed answer.
func retryable(err error) bool {
	var e *Error
	if errors.As(err, &e) {
		return e.Code == CodeBusy
	}
	return !errors.Is(err, errMalformedAnswer)
}

// readRange asks for [off, off+len(dst)) of version of track at priority
// prio and reads the answer straight into dst, calling arrived (if not
// nil) with the bytes read so far as they land. ttfb is from opening the
// stream to the answer's header. A request long enough to fill more than
// one lane is split across them (lanes.split: those with the least ahead
// of it take the most), its parts fetched side by side; n and
// arrived then count the bytes in order from off, and err is the failure
// of the first part that stops them. Callers add the context to errors
// (the range reader says which range it wanted).
func (r *Recording) readRange(ctx context.Context, track, version string, off int64, dst []byte, prio Priority, arrived func(n, landed int)) (n int, ttfb time.Duration, err error) {
	if len(dst) > MaxReadLength {
		dst = dst[:MaxReadLength]
	}
	shares := r.lanes.split(len(dst), prio)
	if len(shares) == 1 {
		return r.readPart(ctx, shares[0], track, version, off, dst, prio, arrived)
	}
	parts := make([]rangePart, len(shares))
	lo := 0
	for i, s := range shares {
		parts[i].lo, parts[i].hi = lo, lo+s.n
		lo += s.n
	}
	var mu sync.Mutex
	landed := 0
	// prefix is how many bytes from off have arrived, with mu held.
	prefix := func() int {
		got := 0
		for i := range parts {
			got += parts[i].got
			if parts[i].got < parts[i].hi-parts[i].lo {
				break
			}
		}
		return got
	}
	var wg sync.WaitGroup
	for i, s := range shares {
		p := &parts[i]
		wg.Go(func() {
			_, p.ttfb, p.err = r.readPart(ctx, s, track, version, off+int64(p.lo), dst[p.lo:p.hi], prio, func(got, _ int) {
				mu.Lock()
				defer mu.Unlock()
				landed += got - p.got
				p.got = got
				if arrived != nil {
					arrived(prefix(), landed)
				}
			})
		})
	}
	wg.Wait()
	n, ttfb = prefix(), parts[0].ttfb
	for _, p := range parts {
		if p.got == p.hi-p.lo {
			continue
		}
		// The first part short of its bytes says why the read ends there:
		// a short answer, or a range past the end, is the track's end (a
		// live track's sharer knew less than asked for); anything else
		// fails it.
		if p.err == nil || (p.got == 0 && errors.Is(p.err, ErrOutOfRange)) {
			return n, ttfb, nil
		}
		return n, ttfb, p.err
	}
	return n, ttfb, nil
}

// rangePart is one lane's part [lo, hi) of a split request: how many of its
// bytes arrived, its time to first byte and its failure.
type rangePart struct {
	lo, hi int
	got    int
	ttfb   time.Duration
	err    error
}

// readPart is readRange on one lane, unsplit: part's, whose bytes it
// counts as they land and which it is done with on return.
func (r *Recording) readPart(ctx context.Context, part lanePart, track, version string, off int64, dst []byte, prio Priority, arrived func(n, landed int)) (n int, ttfb time.Duration, err error) {
	defer func() { part.done(n) }()
	l := part.l
	start := time.Now()
	var resp response
	req := request{Method: MethodReadRange, Token: r.link.Token, Track: track, Offset: off, Length: int64(len(dst)), Version: version}
	if r.info.Priorities {
		req.Priority = prio
	}
	err = r.exchangeOn(ctx, l.h, req, &resp,
		func(br *bufio.Reader) error {
			ttfb = time.Since(start)
			if resp.Length <= 0 || resp.Length > int64(len(dst)) {
				return fmt.Errorf("%w: the sharer announced %d bytes for a request of %d", errMalformedAnswer, resp.Length, len(dst))
			}
			r.lanes.observe(resp.Loss)
			want := int(resp.Length)
			for n < want {
				m, err := br.Read(dst[n:want])
				n += m
				if m > 0 {
					r.lanes.landed(m)
					if arrived != nil {
						arrived(n, n)
					}
				}
				if err != nil {
					if errors.Is(err, io.EOF) && n < want {
						err = io.ErrUnexpectedEOF
					}
					if n < want {
						return err
					}
				}
			}
			return nil
		})
	return n, ttfb, err
}

// exchange runs one request on a fresh stream of the recording's own
// connection: send the request, read the response header into resp, and
// let body read what follows. A cancelled ctx resets the stream so the
// sharer stops working for it. It never dials: without a connection it
// fails at once, and the recording's run reconnects.
func (r *Recording) exchange(ctx context.Context, req request, resp *response, body func(*bufio.Reader) error) error {
	return r.exchangeOn(ctx, r.h, req, resp, body)
}

// exchangeOn is exchange on h's connection: the recording's or a lane's.
func (r *Recording) exchangeOn(ctx context.Context, h host.Host, req request, resp *response, body func(*bufio.Reader) error) error {
	// A watch waits for the sharer by design: it is no request for the
	// stall watchdog to wait on.
	if req.Method != MethodWatch {
		if r.inflight.Add(1) == 1 {
			r.progress.Store(time.Now().UnixNano())
		}
		defer r.inflight.Add(-1)
	}
	st, err := openStream(network.WithNoDial(ctx, "reelay: the recording reconnects by itself"), h, r.link.Peer)
	if err != nil {
		return err
	}
	stop := context.AfterFunc(ctx, func() { st.Reset() })
	defer stop()
	deadline := time.Now().Add(requestTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	st.SetDeadline(deadline)
	err = func() error {
		if err := writeFrame(st, req); err != nil {
			return err
		}
		br := bufio.NewReaderSize(progressReader{st, &r.progress}, 4096)
		if err := readFrame(br, resp); err != nil {
			return fmt.Errorf("reading answer: %w", err)
		}
		if resp.Error != nil {
			return resp.Error
		}
		return body(br)
	}()
	if err != nil {
		st.Reset()
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
		return err
	}
	// Everything asked for has arrived; a failure to close cleanly now
	// loses nothing.
	st.Close()
	return nil
}
