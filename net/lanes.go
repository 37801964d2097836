package net

import (
	"cmp"
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
	"github.com/quic-go/quic-go"
)

// Lanes. One QUIC connection's loss-based congestion control carries a
// fraction of a lossy link: 9–14 of 20 Mbit/s at 0.1 % loss and 50 ms,
// 3.1–3.7 at 1 %, about the 7.2 Mbit/s of a screen share with a camera.
// Every connection to the same sharer keeps a congestion window of its
// own, so four carry 3.1–3.4 times one at 1 %
// (BenchmarkLossyLinkConnections, every connection through the sharer's
// one uplink; two carry 1.0–1.6 times one at 0.1 %). The operating
// system's TCP with cubic, most sharers' congestion control, carries less
// than one QUIC connection there (0.7–0.9 times). On a link that does not
// lose packets at random, more connections carry nothing more and take
// more than their share of a queue others use, so a viewer opens them
// only when its sharer reports loss and one connection does not carry
// what the player asks for.
//
// The sharer reports, with each read_range answer over QUIC, the loss of
// the packets it sent on that connection since its slow start (lossMeter,
// response.Loss). That alone does not tell a link that loses 0.1 % at
// random from a clean one: a clean link's queue drops packets as a
// connection probes for more, and reported up to 0.39 %; 0.1 % random
// loss reported from 0.19 %. So the viewer also measures what its connections
// carry while its readers ask for more than has arrived (at least
// backlogMin outstanding, as after a seek or on a link too slow to fill
// the read-ahead), and compares it with what the readers play: the byte
// rates players set (SetByteRate). On a path where the loss looks random
// (lossAtRandom), from lossForLanes when one connection carries too
// little and from lossHeavy whatever it carries, the viewer keeps
// lanesOnLoss connections to the sharer: the recording's own and
// more lanes, each a host of its own under the viewer's identity dialling
// the address the recording's connection reached, so the sharer sees one
// viewer, its Allow list and its limits unchanged. Each range request goes
// out on the lane with the fewest bytes outstanding as urgent as it or
// more, and a request long enough is split across lanes, its parts
// fetched side by side and sized to even out what the lanes have ahead of
// them: a seek's way from a keyframe to its target then takes every
// lane's window, not one, and no part waits behind a lane's backlog. The
// sharer orders its answers per connection, a more urgent answer on any of
// them first (priority.go).

const (
	// lossForLanes is the loss since slow start from which a viewer keeps
	// lanesOnLoss connections to its sharer while they carry less than
	// lanesHeadroom times what its readers play; from lossHeavy it keeps
	// them whatever they carry (a connection that loses 1 % on a 50 ms
	// path carries about 2.6 Mbit/s, and a player thinned to keyframes
	// asks for too little to be backlogged). Reading 16 MB across emulated
	// links (50 ms), the loss reported was 0.03–0.29 % without random loss
	// at 20 Mbit/s (the queue's drops as the connection probes for more,
	// most in its first seconds) and 0.06–0.15 % at 100 Mbit/s; 0.19–0.44 %
	// at 0.1 % random loss, 0.51–0.88 % at 0.5 % and 0.85–1.20 % at 1 %.
	// The worst a player's run saw (reelay bench, 20 Mbit/s) was
	// 0.38–0.39 % on the clean link and 0.36–0.94 % at 0.1 % random loss,
	// in the connection's first seconds.
	lossForLanes = 0.001
	lossHeavy    = 0.008
	lanesOnLoss  = 4
	// lanesHeadroom is how much more than the readers' byte rates one
	// connection must carry: a screen share's bit rate varies, and a
	// loss-limited connection's rate halves at each loss.
	lanesHeadroom = 1.5
	// backlogMin is how many bytes outstanding make the readers
	// backlogged: more than one request's worth, so what arrives is what
	// the connections carry rather than a round trip's wait for a lone
	// block.
	backlogMin = 512 << 10
	// minCarriedSample is the backlogged time over which what the
	// connections carry is taken as measured.
	minCarriedSample = time.Second
	// lanesMinRTT is the shortest round trip on which lanes are opened: one
	// connection losing 1 % of its packets on a 10 ms path still carries
	// about 13 Mbit/s (1.22 × packet size / (RTT × √loss)), on 50 ms
	// about 2.6.
	lanesMinRTT = 10 * time.Millisecond
	// lanesMaxQueue bounds the smoothed round trip, as a multiple of the
	// shortest, of a path whose losses are taken for random ones.
	lanesMaxQueue = 1.5
	// splitMin is the smallest part of a request split across lanes.
	splitMin = 64 << 10
	// laneDialTimeout bounds dialling one lane.
	laneDialTimeout = 10 * time.Second
	// laneRetry is how long a viewer waits to dial a lane again after
	// one failed.
	laneRetry = 30 * time.Second
)

// errNoLaneAddr is why no lane is dialled while the recording's own
// connection is relayed or gone: there is no direct address to dial.
var errNoLaneAddr = errors.New("no direct connection to the sharer to dial beside")

// lanesFor is how many connections to keep to a sharer that reports loss,
// when they carry carried bytes a second while backlogged (0 when not
// measured) and the readers play demand bytes a second (0 when unknown).
func lanesFor(loss, carried, demand float64) int {
	short := carried > 0 && demand > 0 && carried < lanesHeadroom*demand
	if loss >= lossHeavy || (loss >= lossForLanes && short) {
		return lanesOnLoss
	}
	return 1
}

// lossMeter measures, for each connection the sharer answers on, the
// loss since its slow start: a clean link loses a few packets as a
// connection's slow start overfills the router's queue, as many at first
// as a link that loses 0.1 % at random does in all, and after it only the
// odd one as the connection probes for more.
type lossMeter struct {
	mu    sync.Mutex
	conns map[string]*lossBase
}

// lossBase is what a connection had sent and lost when its slow start
// was over.
type lossBase struct {
	sent, lost uint64
}

const (
	// lossSkipPackets are the packets a connection sends before its loss
	// is counted: its slow start, on a home link.
	lossSkipPackets = 300
	// lossMinPackets are the packets counted before a loss is reported.
	lossMinPackets = 1000
)

// loss is c's loss since its slow start, once lossMinPackets were counted;
// zero before and on any transport but QUIC.
func (m *lossMeter) loss(c network.Conn) float64 {
	var qc *quic.Conn
	if !c.As(&qc) {
		return 0
	}
	st := qc.ConnectionStats()
	m.mu.Lock()
	defer m.mu.Unlock()
	b := m.conns[c.ID()]
	if b == nil {
		if st.PacketsSent < lossSkipPackets {
			return 0
		}
		if m.conns == nil {
			m.conns = make(map[string]*lossBase)
		}
		m.conns[c.ID()] = &lossBase{sent: st.PacketsSent, lost: st.PacketsLost}
		return 0
	}
	n := st.PacketsSent - b.sent
	if n < lossMinPackets {
		return 0
	}
	// PacketsLost can fall: a packet declared lost may arrive after.
	return float64(max(st.PacketsLost, b.lost)-b.lost) / float64(n)
}

// forget drops what was kept of a closed connection.
func (m *lossMeter) forget(c network.Conn) {
	m.mu.Lock()
	delete(m.conns, c.ID())
	m.mu.Unlock()
}

// lossAtRandom says the loss on h's QUIC connection to id is of the kind
// more connections get around: a path long enough (lanesMinRTT) that one
// connection's loss-based congestion control holds it well below the
// link's rate, and round trips near the shortest seen (lanesMaxQueue), so
// the losses are not a queue overflowing. A queue's losses say the link is
// full, and more connections would only overfill it: ten viewers on one
// machine lose packets in its socket buffers, a millisecond apart.
func lossAtRandom(h host.Host, id peer.ID) bool {
	for _, c := range h.Network().ConnsToPeer(id) {
		var qc *quic.Conn
		if c.Stat().Limited || !c.As(&qc) {
			continue
		}
		st := qc.ConnectionStats()
		return st.MinRTT >= lanesMinRTT && float64(st.SmoothedRTT) <= lanesMaxQueue*float64(st.MinRTT)
	}
	return false
}

// lanes are a recording's connections to its sharer: its host's and those
// it dialled for lanes.
type lanes struct {
	// peer is the sharer.
	peer peer.ID
	// open starts a lane's host; nil when the recording's host has none
	// (a host of libp2p's own, or an emulated TCP link).
	open func() (*Host, error)
	// demand is the bytes a second the recording's readers play; nil or 0
	// when not known.
	demand func() float64
	log    *slog.Logger

	// ctx ends dialling; wg waits for the dialler.
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	// mu guards the fields below.
	mu sync.Mutex
	// list holds the lanes, the recording's own connection first.
	list []*lane
	// want is how many lanes the worst loss reported asks for.
	want int
	// loss is the worst loss reported.
	loss float64
	// dialling says the dialler runs; notBefore is when it may run again
	// after a lane failed to dial.
	dialling  bool
	notBefore time.Time
	closed    bool
	// outstanding is the bytes asked for on every lane that have not
	// arrived; carried measures what arrives while it is backlogMin or
	// more.
	outstanding int64
	carried     bandwidthMeter
}

// lane is one connection to the sharer, through its own host.
type lane struct {
	h host.Host
	// own is the lane's host, closed with it; nil for the recording's.
	own *Host
	// outstanding counts the bytes asked for on it that have not arrived,
	// by the order the sharer serves their priority in (serveOrder).
	outstanding [maxPriority + 2]atomic.Int64
}

// ahead is how many of the bytes outstanding on the lane the sharer sends
// before a new answer of priority p: those as urgent or more. Read-ahead
// waiting on a connection does not hold up an urgent answer there.
func (l *lane) ahead(p Priority) int64 {
	var n int64
	for o := 0; o <= p.serveOrder(); o++ {
		n += l.outstanding[o].Load()
	}
	return n
}

// newLanes starts with the recording's host h alone.
func newLanes(h host.Host, id peer.ID, log *slog.Logger) *lanes {
	ls := &lanes{peer: id, log: log, list: []*lane{{h: h}}, want: 1}
	if hh, ok := h.(*Host); ok {
		ls.open = hh.lane
	}
	ls.ctx, ls.cancel = context.WithCancel(context.Background())
	return ls
}

// count is how many lanes are open, the recording's own connection among
// them.
func (ls *lanes) count() int {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	return len(ls.list)
}

// observe takes in the loss a sharer reported, dialling lanes when it
// asks for more.
func (ls *lanes) observe(loss float64) {
	if !(loss > 0 && loss < 1) || ls.open == nil {
		return
	}
	// What the players play is asked for only where it can decide: every
	// answer reports the loss.
	ls.mu.Lock()
	ls.loss = max(ls.loss, loss)
	ask := ls.want < lanesOnLoss && ls.loss >= lossForLanes && ls.loss < lossHeavy && ls.demand != nil
	ls.mu.Unlock()
	var demand float64
	if ask {
		demand = ls.demand()
	}
	ls.mu.Lock()
	defer ls.mu.Unlock()
	var carried float64
	if ls.carried.busy >= minCarriedSample.Seconds() {
		carried = ls.carried.rate(time.Now())
	}
	if n := lanesFor(ls.loss, carried, demand); n > ls.want && lossAtRandom(ls.list[0].h, ls.peer) {
		ls.want = n
		ls.log.Info("the link loses packets at random", "loss", ls.loss, "carried_bps", int64(carried*8), "played_bps", int64(demand*8))
	}
	if len(ls.list) >= ls.want || ls.dialling || ls.closed || time.Now().Before(ls.notBefore) {
		return
	}
	ls.dialling = true
	ls.wg.Add(1)
	go ls.dial(ls.want - len(ls.list))
}

// dial opens n lanes side by side, each a handshake's round trip.
func (ls *lanes) dial(n int) {
	defer ls.wg.Done()
	ls.mu.Lock()
	main := ls.list[0].h
	ls.mu.Unlock()
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			l, err := ls.dialOne(main)
			ls.mu.Lock()
			defer ls.mu.Unlock()
			switch {
			case err != nil:
				ls.notBefore = time.Now().Add(laneRetry)
				ls.log.Info("could not open another connection to the sharer", "err", err)
			case ls.closed:
				l.own.Close()
			default:
				ls.list = append(ls.list, l)
				ls.log.Info("opened another connection to the sharer on a lossy link", "connections", len(ls.list))
			}
		})
	}
	wg.Wait()
	ls.mu.Lock()
	ls.dialling = false
	ls.mu.Unlock()
}

// dialOne starts a lane's host and connects it to the addresses the
// recording's own direct connections reached.
func (ls *lanes) dialOne(main host.Host) (*lane, error) {
	var addrs []ma.Multiaddr
	for _, c := range main.Network().ConnsToPeer(ls.peer) {
		if !c.Stat().Limited {
			addrs = append(addrs, c.RemoteMultiaddr())
		}
	}
	if len(addrs) == 0 {
		return nil, errNoLaneAddr
	}
	h, err := ls.open()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ls.ctx, laneDialTimeout)
	defer cancel()
	if err := h.Connect(ctx, peer.AddrInfo{ID: ls.peer, Addrs: addrs}); err != nil {
		h.Close()
		return nil, err
	}
	return &lane{h: h, own: h}, nil
}

// pick returns up to n lanes, those with the fewest bytes ahead of an
// answer of priority p first; a lane whose connection is gone is closed and
// left out. There is always one: the recording's own.
func (ls *lanes) pick(n int, p Priority) []*lane {
	looks := ls.look(n, p)
	out := make([]*lane, len(looks))
	for i, lk := range looks {
		out[i] = lk.l
	}
	return out
}

// laneLook is a lane and the bytes it had ahead of a new answer when
// looked at.
type laneLook struct {
	l     *lane
	ahead int64
}

// look is pick with what each lane had ahead. Other requests move the
// counts as they come and go, so each is read once and the lanes are
// ordered by that reading.
func (ls *lanes) look(n int, p Priority) []laneLook {
	ls.mu.Lock()
	var gone []*lane
	live := ls.list[:1]
	for _, l := range ls.list[1:] {
		if len(l.h.Network().ConnsToPeer(ls.peer)) == 0 {
			gone = append(gone, l)
		} else {
			live = append(live, l)
		}
	}
	ls.list = live
	looks := make([]laneLook, len(live))
	for i, l := range live {
		looks[i] = laneLook{l, l.ahead(p)}
	}
	ls.mu.Unlock()
	for _, l := range gone {
		ls.log.Info("a connection to the sharer closed", "connections", len(looks))
		l.own.Close()
	}
	slices.SortStableFunc(looks, func(a, b laneLook) int { return cmp.Compare(a.ahead, b.ahead) })
	return looks[:min(n, len(looks))]
}

// lanePart is one lane's part of a request: n bytes, counted as outstanding
// on the lane at the request's serve order from split until the part is
// done.
type lanePart struct {
	ls    *lanes
	l     *lane
	n     int
	order int
}

// split shares a request of n bytes and priority p among the lanes, those
// with the fewest bytes ahead of it first, so that what each has ahead
// comes out as even as it can: a lane with more ahead than the level the
// others reach gets no part, and no part is under splitMin. Equal parts on
// lanes with a backlog would keep every request waiting for the busiest.
// Each part's bytes count as outstanding on its lane until done is called
// with it.
func (ls *lanes) split(n int, p Priority) []lanePart {
	looks := ls.look(max(1, n/splitMin), p)
	ahead := make([]int64, len(looks))
	for i, lk := range looks {
		ahead[i] = lk.ahead
	}
	sizes := evenOut(ahead, n, splitMin)
	out := make([]lanePart, len(sizes))
	for i, size := range sizes {
		out[i] = lanePart{ls: ls, l: looks[i].l, n: size, order: p.serveOrder()}
		looks[i].l.outstanding[out[i].order].Add(int64(size))
	}
	ls.mu.Lock()
	ls.outstanding += int64(n)
	ls.carried.setBusy(time.Now(), ls.outstanding >= backlogMin)
	ls.mu.Unlock()
	return out
}

// landed counts n bytes of an answer that arrived, lifting them from the
// bytes outstanding; what arrives while backlogged is measured.
func (ls *lanes) landed(n int) {
	ls.mu.Lock()
	now := time.Now()
	if ls.carried.busyNow {
		ls.carried.add(now, int64(n))
	}
	ls.outstanding -= int64(n)
	ls.carried.setBusy(now, ls.outstanding >= backlogMin)
	ls.mu.Unlock()
}

// done stops counting s's bytes as outstanding on its lane; got of them
// arrived and were counted as they landed.
func (s lanePart) done(got int) {
	s.l.outstanding[s.order].Add(-int64(s.n))
	if rest := s.n - got; rest != 0 {
		s.ls.mu.Lock()
		s.ls.outstanding -= int64(rest)
		s.ls.carried.setBusy(time.Now(), s.ls.outstanding >= backlogMin)
		s.ls.mu.Unlock()
	}
}

// evenOut parts n bytes among lanes with busy bytes outstanding, in
// ascending order, raising the least busy to one level (water-filling):
// it returns the parts of the first lanes, each at least minPart, the
// first taking what rounding leaves. One lane takes all when no two can
// share with minPart each.
func evenOut(busy []int64, n, minPart int) []int {
	k := len(busy)
	var level int64
	for ; k > 1; k-- {
		sum := int64(n)
		for _, b := range busy[:k] {
			sum += b
		}
		level = sum / int64(k)
		if level-busy[k-1] >= int64(minPart) {
			break
		}
	}
	if k <= 1 {
		return []int{n}
	}
	parts := make([]int, k)
	rest := n
	for i := range parts {
		parts[i] = int(level - busy[i])
		rest -= parts[i]
	}
	parts[0] += rest
	return parts
}

// close stops dialling and closes the lanes' hosts, not the recording's.
// Calls after the first do nothing.
func (ls *lanes) close() {
	ls.mu.Lock()
	if ls.closed {
		ls.mu.Unlock()
		return
	}
	ls.closed = true
	list := ls.list
	ls.list = list[:1]
	ls.mu.Unlock()
	ls.cancel()
	ls.wg.Wait()
	for _, l := range list[1:] {
		l.own.Close()
	}
}
