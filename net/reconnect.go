package net

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/p2p/net/swarm"

	"reelay/net/track"
)

// ConnState says whether a Recording can reach its sharer (see
// track.ConnState).
type ConnState = track.ConnState

// The states of a connection.
const (
	ConnUnknown      = track.ConnUnknown
	ConnConnected    = track.ConnConnected
	ConnReconnecting = track.ConnReconnecting
	ConnUnshared     = track.ConnUnshared
	ConnClosed       = track.ConnClosed
)

// Connection is a snapshot of a Recording's link to its sharer (see
// track.Connection).
type Connection = track.Connection

// errUnshared is why a Recording stops reconnecting when the sharer
// answers without the recording.
var errUnshared = errors.New("net: the sharer no longer shares this recording")

// errRecordingClosed fails the reads waiting for a connection when the
// Recording or its host closes.
var errRecordingClosed = errors.New("net: the recording is closed")

// Connection says whether the sharer is reachable now, and how the
// connection fared since Dial.
func (r *Recording) Connection() Connection {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := r.conn
	if c.State == ConnReconnecting {
		c.Downtime += time.Since(c.Since)
	}
	c.Lanes = r.lanes.count()
	return c
}

// Connection is the connection of the recording r reads from: a player
// that only sees its readers (a source wrapping the Recording) learns the
// connection's state from them. The zero Connection for a reader made
// otherwise.
func (r *RangeReader) Connection() Connection {
	if f, ok := r.f.(trackFetcher); ok && f.r.done != nil {
		return f.r.Connection()
	}
	return Connection{}
}

// startRun starts the goroutine that keeps the connection up.
func (r *Recording) startRun() {
	r.ctx, r.cancel = context.WithCancel(context.Background())
	r.done = make(chan struct{})
	r.suspectCh = make(chan struct{}, 1)
	r.up = make(chan struct{})
	close(r.up)
	r.next = make(chan struct{})
	r.conn = Connection{State: ConnConnected, Since: time.Now()}
	go r.run()
	if r.info.Watch {
		r.followDone = make(chan struct{})
		go r.follow()
	}
}

// run watches the connection and reconnects when it is lost: on a closed
// connection, on a failed request when the sharer does not answer a
// probe, and on requests that receive nothing for StallTimeout when it
// does not either. It ends with Close, when the host closes, or when the
// sharer answers without the recording.
func (r *Recording) run() {
	defer close(r.done)
	// The lanes end with the recording's own connection.
	defer r.lanes.close()
	id := r.link.Peer
	nb := &network.NotifyBundle{DisconnectedF: func(_ network.Network, c network.Conn) {
		if c.RemotePeer() == id {
			r.suspect(errors.New("the connection closed"))
		}
	}}
	r.h.Network().Notify(nb)
	defer r.h.Network().StopNotify(nb)
	var hostDone <-chan struct{}
	if n, ok := r.h.Network().(interface{ Done() <-chan struct{} }); ok {
		hostDone = n.Done()
	}

	watch := time.NewTicker(r.o.StallTimeout / 4)
	defer watch.Stop()
	retry := time.NewTimer(0)
	retry.Stop()
	defer retry.Stop()
	var retryC <-chan time.Time
	bo := newBackoff(r.o.ReconnectMin, r.o.ReconnectMax)
	var probed time.Time

	// look decides, while connected, whether the connection is gone: it
	// is if no usable connection is left, or if the sharer does not
	// answer a probe (at most one per StallTimeout once it answered).
	look := func(why error) {
		if r.state() != ConnConnected {
			return
		}
		if usable, _ := usableConn(r.h, id); usable {
			if time.Since(probed) < r.o.StallTimeout {
				return
			}
			ctx, cancel := context.WithTimeout(r.ctx, r.o.ProbeTimeout)
			err := r.check(ctx)
			cancel()
			probed = time.Now()
			switch {
			case err == nil, r.ctx.Err() != nil:
				return
			case errors.Is(err, errUnshared):
				r.end(ConnUnshared, err)
				return
			}
			why = fmt.Errorf("%v; the sharer did not answer a probe: %w", why, err)
			r.h.Network().ClosePeer(id)
		}
		r.lose(why)
		retry.Reset(bo.next())
		retryC = retry.C
	}

	for {
		select {
		case <-r.ctx.Done():
			r.end(ConnClosed, errRecordingClosed)
			return
		case <-hostDone:
			r.end(ConnClosed, fmt.Errorf("%w: its host closed", errRecordingClosed))
			return
		case <-r.suspectCh:
			r.mu.Lock()
			why := r.suspectErr
			r.mu.Unlock()
			look(why)
		case <-watch.C:
			if r.inflight.Load() > 0 && time.Since(time.Unix(0, r.progress.Load())) > r.o.StallTimeout {
				look(fmt.Errorf("requests received nothing for %v", r.o.StallTimeout))
			}
		case <-retryC:
			retryC = nil
			err := r.reconnect()
			switch {
			case err == nil:
				bo.reset()
				probed = time.Now()
				r.restore()
			case r.ctx.Err() != nil:
			case errors.Is(err, errUnshared):
				r.end(ConnUnshared, err)
			default:
				r.mu.Lock()
				r.conn.Err = err
				r.mu.Unlock()
				r.log.Debug("reconnecting failed", "peer", shortID(id), "err", err)
				retry.Reset(bo.next())
				retryC = retry.C
			}
		}
		if r.state() == ConnUnshared {
			return
		}
	}
}

// reconnectTimeout bounds one attempt to reconnect as Dial is bounded, so
// that discovery and a hole punch fit. A dial that hangs (a link dropping
// packets) ends sooner, at libp2p's dial timeout: 5 s on a LAN, 15 s
// across the internet.
const reconnectTimeout = DialTimeout

// reconnect makes one attempt to reach the sharer again, the way Dial did,
// and then asks it for the recording.
func (r *Recording) reconnect() error {
	ctx, cancel := context.WithTimeout(r.ctx, reconnectTimeout)
	defer cancel()
	r.mu.Lock()
	r.conn.Attempts++
	r.mu.Unlock()
	// The swarm holds back dials to addresses that just failed, for 5 s
	// and more; this loop paces its attempts itself.
	if sw, ok := r.h.Network().(*swarm.Swarm); ok {
		sw.Backoff().Clear(r.link.Peer)
	}
	if err := newDialer(r.h, r.link.Peer, r.o).run(ctx, r.link); err != nil {
		return err
	}
	return r.check(ctx)
}

// check asks the sharer for the recording on the connection there is. Any
// answer shows the sharer alive; stream.get's also tells whether the
// recording is still shared and its tracks unchanged since Dial, for a
// sharer that restarted.
func (r *Recording) check(ctx context.Context) error {
	var resp response
	err := r.exchange(ctx, request{Method: MethodGet, Token: r.link.Token}, &resp, func(*bufio.Reader) error { return nil })
	var e *Error
	switch {
	case errors.Is(err, ErrNotFound):
		return fmt.Errorf("%w: %w", errUnshared, err)
	case errors.As(err, &e):
		return nil
	case err != nil:
		return err
	case resp.Recording == nil:
		return nil
	}
	r.apply(resp.Recording)
	return nil
}

// suspect asks run to look at the connection, for why.
func (r *Recording) suspect(why error) {
	r.mu.Lock()
	r.suspectErr = why
	r.mu.Unlock()
	select {
	case r.suspectCh <- struct{}{}:
	default:
	}
}

func (r *Recording) state() ConnState {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.conn.State
}

// lose marks the connection lost: fetches wait from now on.
func (r *Recording) lose(why error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.conn.State != ConnConnected {
		return
	}
	r.conn.State, r.conn.Since, r.conn.Err, r.conn.Attempts = ConnReconnecting, time.Now(), why, 0
	r.up = make(chan struct{})
	r.log.Info("lost the sharer; reconnecting", "peer", shortID(r.link.Peer), "why", why)
}

// restore marks the connection back and wakes the fetches waiting for it.
func (r *Recording) restore() {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := time.Now()
	out := now.Sub(r.conn.Since)
	r.conn.Downtime += out
	r.conn.Reconnects++
	r.conn.State, r.conn.Since, r.conn.Err = ConnConnected, now, nil
	close(r.up)
	r.gen++
	close(r.next)
	r.next = make(chan struct{})
	r.log.Info("reconnected to the sharer", "peer", shortID(r.link.Peer), "after", out.Round(time.Millisecond),
		"attempts", r.conn.Attempts, "path", pathTo(r.h, r.link.Peer).String())
}

// end stops serving fetches for good, with why.
func (r *Recording) end(st ConnState, why error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.conn.State == ConnReconnecting {
		// Wake the fetches waiting for the connection: they fail with why.
		r.conn.Downtime += time.Since(r.conn.Since)
		close(r.up)
	}
	r.conn.State, r.conn.Since, r.conn.Err = st, time.Now(), why
	r.ended = why
	if st == ConnUnshared {
		r.log.Info("the sharer no longer shares the recording", "peer", shortID(r.link.Peer))
	}
}

// awaitConnected waits until requests for track can go to the sharer, and
// returns the connection's generation and the channel closed when a newer
// connection is made. It fails when the track changed on the sharer, when
// reconnecting ended, or with ctx.
func (r *Recording) awaitConnected(ctx context.Context, track string) (uint64, <-chan struct{}, error) {
	if r.done == nil {
		// A Recording made without Dial: no connection is kept up.
		return 0, nil, nil
	}
	for {
		r.mu.Lock()
		if err := r.stale[track]; err != nil {
			r.mu.Unlock()
			return 0, nil, err
		}
		if r.ended != nil {
			err := r.ended
			r.mu.Unlock()
			return 0, nil, err
		}
		if r.conn.State == ConnConnected {
			gen, next := r.gen, r.next
			r.mu.Unlock()
			return gen, next, nil
		}
		up := r.up
		r.mu.Unlock()
		select {
		case <-up:
		case <-r.done:
		case <-ctx.Done():
			return 0, nil, context.Cause(ctx)
		}
	}
}

// waitRetry waits d, or until a newer connection than the one that failed
// exists (next closes). It returns false if ctx ended first.
func (r *Recording) waitRetry(ctx context.Context, next <-chan struct{}, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-next:
	case <-r.done:
	case <-ctx.Done():
		return false
	}
	return true
}

// connectedAs reports whether the connection of generation gen is still
// the one in use.
func (r *Recording) connectedAs(gen uint64) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.conn.State == ConnConnected && r.gen == gen
}

// progressReader notes when bytes arrive, for the stall watchdog.
type progressReader struct {
	r  io.Reader
	at *atomic.Int64
}

func (p progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	if n > 0 {
		p.at.Store(time.Now().UnixNano())
	}
	return n, err
}

// backoff is an exponential backoff with jitter: each wait is drawn
// between half and all of min·2ⁿ, capped at max, so viewers that lost the
// same sharer do not come back in step.
type backoff struct {
	min, max time.Duration
	// n is the number of waits since the last reset.
	n int
}

func newBackoff(min, max time.Duration) backoff { return backoff{min: min, max: max} }

func (b *backoff) next() time.Duration {
	d := b.max
	if b.n < 30 {
		d = min(b.max, b.min<<b.n)
	}
	b.n++
	return d/2 + rand.N(d/2+1)
}

func (b *backoff) reset() { b.n = 0 }
