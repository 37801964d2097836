package sync

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	gosync "sync"
	"sync/atomic"
	"time"

	"reelay/media"
	"reelay/net/track"
)

// Bounds of a pipeline's work.
const (
	// maxQueuedBytes caps the compressed bytes a track holds, whatever its
	// streams' timestamps say (a stream whose packets stop coming would
	// otherwise keep the demuxer reading).
	maxQueuedBytes = 64 << 20
	// demuxPoll is how often an idle demuxer looks at the clock again; it is
	// mostly woken by its decoders taking packets.
	demuxPoll = 250 * time.Millisecond
	// maxReadFailures is how many failed reads in a row make a track fail;
	// FFmpeg reports some damaged packets as read errors and reads on.
	maxReadFailures = 16
	// maxDecodeFailures is how many packets in a row may fail to decode,
	// with no picture or sound coming out, before the track fails.
	maxDecodeFailures = 32
	// audioSeekPreroll is how far before a seek target a track with audio
	// starts decoding: audio codecs overlap frames (AAC, Opus, MP3's bit
	// reservoir), so the first frame after a flush is not exact; decoding
	// from a little earlier makes the sample at the target exact.
	audioSeekPreroll = 100 * time.Millisecond
)

// bufferLevel is how far a track has demuxed, as the player sees it.
type bufferLevel struct {
	// epoch is the seek generation the level is about.
	epoch uint64
	// until is the timeline time every stream has been demuxed to.
	until time.Duration
	// eof says the whole file has been demuxed.
	eof bool
	// thinned says the track shows keyframes only (thin.go), and until
	// leaves its picture out.
	thinned bool
}

// pipeEventKind says what a pipeEvent reports.
type pipeEventKind int

const (
	// pipeOpened: the track is probed and its outputs are ready.
	pipeOpened pipeEventKind = iota + 1
	// pipeFailed: the track cannot play; err says why.
	pipeFailed
	// pipeNotice: something the user should know; the track plays on.
	pipeNotice
)

// pipeEvent is a pipeline's report to the player's goroutine.
type pipeEvent struct {
	// pl is the pipeline reporting; events of a pipeline the player has
	// let go are ignored.
	pl *pipeline
	// kind says what happened.
	kind pipeEventKind
	// err is the failure or the notice's cause.
	err error
	// opened describes the track once opened.
	opened *trackOutputs
}

// trackOutputs are what an opened pipeline hands the player.
type trackOutputs struct {
	// streams are the elementary streams played.
	streams []media.StreamInfo
	// end is the track's end on the timeline (0 if unknown).
	end time.Duration
	// video is the picture output, nil without video.
	video *videoOutput
	// audio is the sound output, nil without audio.
	audio <-chan audioBlock
	// thinnable says the track can show keyframes only (thin.go).
	thinnable bool
	// cues are the track's subtitles, nil without a subtitle stream;
	// subtitlesOnly says they are all it holds, and all read
	// (subtitles.go).
	cues          *cueList
	subtitlesOnly bool
	// chapters are the file's chapters on the timeline.
	chapters []Chapter
}

// stream is what every played elementary stream has in the demux loop.
type stream struct {
	// info describes the stream.
	info media.StreamInfo
	// q carries its packets to its decoder.
	q *packetQueue
	// last is the latest packet time demuxed since the seek (timeline);
	// seen says there was one.
	last time.Duration
	seen bool
	// skipping drops the packets up to skipUntil (timeline): they were
	// queued before the demuxer went back to read them again.
	skipping  bool
	skipUntil time.Duration
	// end is where the stream ends on the timeline, 0 if unknown.
	end time.Duration
}

// pipeline plays one subscribed track: it opens the track's reader and
// demuxer, keeps BufferTarget of compressed packets queued ahead of the
// clock, and runs one decode goroutine per played stream. Its goroutine
// (run) owns the reader's position and the demuxer, and owns the decoders
// while their goroutines are stopped (to seek and flush them), so no FFmpeg
// object is ever used by two goroutines at once.
type pipeline struct {
	// name and info are the track's.
	name string
	info track.Info
	// src opens the reader.
	src Source
	// opts are the player's options, defaults filled in.
	opts *Options
	// clockPos is the player's position, read to know how far ahead the
	// buffer is.
	clockPos *atomic.Int64
	// events reports to the player's goroutine.
	events chan<- pipeEvent
	// wake nudges the player's goroutine when output is ready.
	wake func()

	// ctx ends the pipeline; done is closed when every goroutine of it has
	// returned and the reader is closed.
	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}

	// seekMu guards seekNext and seekHas: the newest target replaces any
	// not yet started, which is how rapid seeks coalesce.
	seekMu   gosync.Mutex
	seekNext seekTarget
	seekHas  bool
	// seekSignal wakes the demux loop for a new target.
	seekSignal chan struct{}
	// consumed wakes the demux loop when a decoder took a packet.
	consumed chan struct{}

	// readerMu guards reader, readerClosed, active and rank.
	readerMu gosync.Mutex
	// reader is the open track reader, nil before it is opened.
	reader *countingReader
	// readerClosed says the reader was closed (or must be, once opened).
	readerClosed bool
	// active is what SetActive was last asked to be, applied when the
	// reader opens.
	active bool
	// rank is the track's rank among the recording's tracks (the player's
	// rankTracks), applied when the reader opens; -1 until ranked.
	rank int

	// levelMu guards level.
	levelMu gosync.Mutex
	// level is the latest buffer level published.
	level bufferLevel

	// mediaRate is the track's bytes per second of media (0 if unknown),
	// set once opened, so the player can weigh the network's throughput
	// against what playing consumes.
	mediaRate atomic.Int64
	// firstOut says the track delivered its first picture or sound,
	// mayRead that the player allows reading ahead, and readahead that the
	// reader reads ahead by the media's rate (openReadahead).
	firstOut, mayRead, readahead atomic.Bool
	// aheadCap, when not zero, holds the track's buffer and readahead
	// below BufferTarget (capReadahead).
	aheadCap atomic.Int64
	// speed is the playback speed (math.Float64bits; 0 reads as 1): the
	// buffer and the reader's readahead cover BufferTarget of playing
	// time, speed times that of media.
	speed atomic.Uint64

	// thinWant is what the player last asked (setThin).
	thinWant atomic.Bool
	// thinRate is the bytes per second the track reads thinned, known once
	// it was.
	thinRate atomic.Int64

	// decodeErrors counts packets that failed to decode; seeks counts seeks
	// worked on (coalesced ones are not); framesDecoded counts the
	// pictures decoded.
	decodeErrors  atomic.Int64
	seeks         atomic.Int64
	framesDecoded atomic.Int64

	// Owned by run.

	// demux reads the file.
	demux *media.Demuxer
	// offset maps the file's timestamps onto the timeline: the track's
	// start minus the file's start time.
	offset time.Duration
	// fresh says nothing was read since opening, so a seek to the start
	// needs no demuxer seek.
	fresh bool
	// joined is the join point the demuxer was opened at, for a track
	// read by its sharer's index (joinable); -1 otherwise.
	joined int64
	// eof says the demuxer reached the end in this epoch.
	eof bool
	// readFailures counts failed reads in a row.
	readFailures int
	// video and audio are the played streams, nil when absent.
	video *videoStream
	audio *audioStream
	// subtitle is the subtitle stream read, nil when absent; its cues go
	// to cues.
	subtitle *media.StreamInfo
	cues     *cueList
	// indexes are the streams' indexes, by stream, read when first
	// needed and again once the demuxer learns how late keyframes show
	// (prefetch.go).
	indexes map[int]streamIndex
	// packets recycles packets.
	packets packetPool
	// thin is the place in the index while the track is thinned, nil
	// while it plays whole.
	thin *thinning
	// urgent is what the reader was last told (SetUrgent), or its own
	// start, urgent; guarded by readerMu.
	urgent bool
	// epoch and target are the seek being played; keep is what its
	// decoder keeps before the target for stepping (stepcache.go).
	epoch  uint64
	target time.Duration
	keep   stepKeep
	// stopDecode ends the current decode goroutines; decodeWG waits for
	// them.
	stopDecode context.CancelFunc
	decodeWG   gosync.WaitGroup
}

func newPipeline(parent context.Context, info track.Info, src Source, opts *Options,
	clockPos *atomic.Int64, events chan<- pipeEvent, wake func(), start seekTarget, active bool,
) *pipeline {
	ctx, cancel := context.WithCancel(parent)
	pl := &pipeline{
		name: info.Name, info: info, src: src, opts: opts, clockPos: clockPos,
		events: events, wake: wake, ctx: ctx, cancel: cancel, done: make(chan struct{}),
		seekSignal: make(chan struct{}, 1), consumed: make(chan struct{}, 1),
		active: active, fresh: true, rank: -1, urgent: true, joined: -1,
	}
	pl.seek(start)
	go pl.run()
	return pl
}

// setActive tells the reader whether to read ahead (playing) or not
// (paused), now or as soon as it is open.
func (pl *pipeline) setActive(on bool) {
	pl.readerMu.Lock()
	defer pl.readerMu.Unlock()
	pl.active = on
	if pl.reader != nil && !pl.readerClosed {
		if a, ok := pl.reader.r.(activeSetter); ok {
			a.SetActive(on)
		}
	}
}

// setSpeed sizes the buffer and the reader's readahead for playing at
// speed r.
func (pl *pipeline) setSpeed(r float64) {
	pl.speed.Store(math.Float64bits(r))
	pl.sizeReadahead()
}

// delivered is told by the decoders of every picture or sound they hand
// the player; the first one may open the readahead (openReadahead).
func (pl *pipeline) delivered() {
	if !pl.firstOut.Load() {
		pl.firstOut.Store(true)
		pl.openReadahead()
	}
}

// allowReadahead lets the reader read ahead once the track delivered: the
// player allows it when every track showed its first picture or sound,
// so that no track's readahead shares the link with another's first
// keyframe.
func (pl *pipeline) allowReadahead() {
	if !pl.mayRead.Swap(true) {
		pl.openReadahead()
	}
}

// openReadahead turns the reader from fetching what the demuxer reads to
// reading ahead by the media's rate, once the track delivered and the
// player allowed it.
func (pl *pipeline) openReadahead() {
	if !pl.firstOut.Load() || !pl.mayRead.Load() || pl.readahead.Swap(true) {
		return
	}
	if !pl.thinWant.Load() {
		pl.setSparse(false)
	}
	pl.sizeReadahead()
}

// capReadahead holds the track's buffer and its reader's readahead to d
// where that is under BufferTarget, or lets them grow to BufferTarget
// again when d is 0. The demuxing loop notices at its next look.
func (pl *pipeline) capReadahead(d time.Duration) {
	if time.Duration(pl.aheadCap.Swap(int64(d))) != d {
		pl.sizeReadahead()
	}
}

// aheadTarget is BufferTarget, or less under capReadahead.
func (pl *pipeline) aheadTarget() time.Duration {
	if c := time.Duration(pl.aheadCap.Load()); c > 0 {
		return min(pl.opts.BufferTarget, c)
	}
	return pl.opts.BufferTarget
}

// sizeReadahead tells the reader the media's rate at the current speed,
// so it reads aheadTarget() ahead of what the track demuxed, once the
// readahead is open.
func (pl *pipeline) sizeReadahead() {
	rate := pl.mediaRate.Load()
	if !pl.readahead.Load() || rate <= 0 {
		return
	}
	pl.readerMu.Lock()
	defer pl.readerMu.Unlock()
	if pl.reader == nil || pl.readerClosed {
		return
	}
	if br, ok := pl.reader.r.(byteRateSetter); ok {
		br.SetByteRate(int64(float64(rate)*pl.playSpeed()), pl.aheadTarget())
	}
}

// playSpeed is the playback speed setSpeed gave, 1 before.
func (pl *pipeline) playSpeed() float64 {
	if b := pl.speed.Load(); b != 0 {
		return math.Float64frombits(b)
	}
	return 1
}

// bufferAhead is how much media the track keeps demuxed ahead of the
// clock: aheadTarget() of playing time at the current speed.
func (pl *pipeline) bufferAhead() time.Duration {
	return time.Duration(float64(pl.aheadTarget()) * pl.playSpeed())
}

// setRank orders the reader's requests against the other tracks' (0
// first), now or as soon as it is open.
func (pl *pipeline) setRank(rank int) {
	pl.readerMu.Lock()
	defer pl.readerMu.Unlock()
	pl.rank = rank
	if pl.reader != nil && !pl.readerClosed {
		if r, ok := pl.reader.r.(rankSetter); ok {
			r.SetRank(rank)
		}
	}
}

// readerStats returns the reader's network figures, if it has any, and the
// bytes the demuxer read.
func (pl *pipeline) readerStats() (*track.ReaderStats, int64) {
	pl.readerMu.Lock()
	defer pl.readerMu.Unlock()
	if pl.reader == nil {
		return nil, 0
	}
	n := pl.reader.n.Load()
	if s, ok := pl.reader.r.(readerStatser); ok && !pl.readerClosed {
		st := s.Stats()
		return &st, n
	}
	return nil, n
}

// markRoundTrips starts counting the reader's round trips afresh: a seek's
// are counted from the seek.
func (pl *pipeline) markRoundTrips() {
	pl.readerMu.Lock()
	defer pl.readerMu.Unlock()
	if pl.reader != nil && !pl.readerClosed {
		if m, ok := pl.reader.r.(tripCounter); ok {
			m.MarkRoundTrips()
		}
	}
}

// roundTrips is how many round trips the reader's reads have waited for
// in sequence since the track opened or the last markRoundTrips (0 for
// a reader that does not count them).
func (pl *pipeline) roundTrips() int {
	pl.readerMu.Lock()
	defer pl.readerMu.Unlock()
	if pl.reader != nil && !pl.readerClosed {
		if c, ok := pl.reader.r.(tripCounter); ok {
			return c.RoundTrips()
		}
	}
	return 0
}

// cachedRanges returns the byte ranges the reader holds, if it can tell:
// ok is false for a reader that has every byte at hand (a local file).
func (pl *pipeline) cachedRanges() (_ []track.ByteRange, ok bool) {
	pl.readerMu.Lock()
	defer pl.readerMu.Unlock()
	if pl.reader == nil || pl.readerClosed {
		return nil, true
	}
	if c, ok := pl.reader.r.(cachedRanger); ok {
		return c.Cached(), true
	}
	return nil, false
}

// readerConnection is the connection the reader reads over, if it knows.
func (pl *pipeline) readerConnection() track.Connection {
	pl.readerMu.Lock()
	defer pl.readerMu.Unlock()
	if pl.reader == nil || pl.readerClosed {
		return track.Connection{}
	}
	if c, ok := pl.reader.r.(connectionReporter); ok {
		return c.Connection()
	}
	return track.Connection{}
}

func (pl *pipeline) bufferLevel() bufferLevel {
	pl.levelMu.Lock()
	defer pl.levelMu.Unlock()
	return pl.level
}

// close stops the pipeline without waiting: the reader is closed at once,
// which unblocks a read in progress, and done closes once everything
// stopped.
func (pl *pipeline) close() { pl.cancel() }

func (pl *pipeline) send(ev pipeEvent) {
	ev.pl = pl
	select {
	case pl.events <- ev:
	case <-pl.ctx.Done():
	}
}

func notify(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

func (pl *pipeline) run() {
	defer close(pl.done)
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		<-pl.ctx.Done()
		pl.closeReader()
	}()
	defer func() { <-readerDone }()
	defer pl.teardown()

	err := pl.open()
	if err == nil && pl.video == nil && pl.audio == nil {
		// Subtitles alone, all read: nothing more to do.
		<-pl.ctx.Done()
		return
	}
	if err == nil {
		err = pl.loop()
	}
	if err != nil && pl.ctx.Err() == nil {
		pl.stopDecoders()
		pl.send(pipeEvent{kind: pipeFailed, err: err})
		<-pl.ctx.Done()
	}
}

func (pl *pipeline) closeReader() {
	pl.readerMu.Lock()
	defer pl.readerMu.Unlock()
	pl.readerClosed = true
	if pl.reader != nil {
		pl.reader.Close()
	}
}

// demuxerOptions are Options.Demuxer, an MP4's header trusted: the
// player learns what only decoding tells as it decodes. joined says the
// demuxer starts at a join point.
func (pl *pipeline) demuxerOptions(joined bool) media.DemuxerOptions {
	o := pl.opts.Demuxer
	o.TrustHeader = true
	o.FromJoinPoint = joined
	if pl.info.Live {
		// Probing reads ahead of the first packet, and at the live edge
		// what it would read is not written yet.
		o.ProbeSize = min(o.ProbeSize, liveProbeSize)
		o.AnalyzeDuration = min(o.AnalyzeDuration, liveAnalyzeDuration)
		if o.ProbeSize == 0 {
			o.ProbeSize = liveProbeSize
		}
		if o.AnalyzeDuration == 0 {
			o.AnalyzeDuration = liveAnalyzeDuration
		}
	}
	return o
}

// open opens the reader and the demuxer and picks the streams to play: the
// first video and the first audio stream that can be decoded.
func (pl *pipeline) open() error {
	r, err := pl.src.OpenTrack(pl.name)
	if err != nil {
		return fmt.Errorf("opening track %q failed: %w", pl.name, err)
	}
	cr := &countingReader{r: r}
	pl.readerMu.Lock()
	pl.reader, pl.urgent = cr, true
	if pl.readerClosed {
		pl.readerMu.Unlock()
		cr.Close()
		return pl.ctx.Err()
	}
	if a, ok := r.(activeSetter); ok {
		a.SetActive(pl.active)
	}
	if rs, ok := r.(rankSetter); ok && pl.rank >= 0 {
		rs.SetRank(pl.rank)
	}
	// Until every track delivered its first picture or sound, only what
	// the demuxer reads is fetched, in the pieces it reads
	// (openReadahead ends it).
	if s, ok := r.(sparseSetter); ok {
		s.SetSparse(true)
	}
	pl.readerMu.Unlock()

	// A track read by its sharer's index opens at the join point for the
	// first target (near the live edge), not at its first byte.
	var in io.ReadSeeker = cr
	if t, ok := pl.peekSeek(); ok && pl.joinable() {
		if jp, err := pl.joinPoint(t.t); err == nil {
			in, pl.joined = newJoinView(cr, jp), jp.Offset
			pl.prefetchJoin(jp)
		}
	}
	if pl.joined < 0 {
		pl.prefetchOpening()
	}
	d, err := media.OpenDemuxer(in, pl.demuxerOptions(pl.joined >= 0))
	if err != nil {
		if pl.ctx.Err() != nil {
			return pl.ctx.Err()
		}
		return fmt.Errorf("track %q is not playable media: %w", pl.name, err)
	}
	pl.demux = d
	pl.offset = pl.info.Start - d.StartTime()
	if pl.joinable() {
		pl.offset = pl.info.Start - pl.info.First
	}

	var problems []error
	for _, s := range d.Streams() {
		switch {
		case s.Kind == media.KindVideo && pl.video == nil:
			dec, err := media.NewVideoDecoder(d, s.Index)
			if err != nil {
				problems = append(problems, fmt.Errorf("video stream %d (%s): %w", s.Index, s.Codec, err))
				continue
			}
			pl.video = newVideoStream(pl.streamOf(s), dec)
		case s.Kind == media.KindAudio && pl.audio == nil:
			dec, err := media.NewAudioDecoder(d, s.Index)
			if err != nil {
				problems = append(problems, fmt.Errorf("audio stream %d (%s): %w", s.Index, s.Codec, err))
				continue
			}
			pl.audio = newAudioStream(pl.streamOf(s), dec)
		case s.Kind == media.KindSubtitle && pl.subtitle == nil:
			pl.subtitle = &s
			pl.cues = &cueList{}
		}
	}
	if pl.video == nil && pl.audio == nil && pl.subtitle != nil {
		if err := pl.readCues(); err != nil {
			return err
		}
		pl.send(pipeEvent{kind: pipeOpened, opened: &trackOutputs{
			streams: []media.StreamInfo{*pl.subtitle}, cues: pl.cues, subtitlesOnly: true,
		}})
		return nil
	}
	if pl.video == nil && pl.audio == nil {
		if len(problems) == 0 {
			return fmt.Errorf("track %q has no audio or video stream", pl.name)
		}
		return fmt.Errorf("track %q has no stream that can be played: %w", pl.name, errors.Join(problems...))
	}
	for _, p := range problems {
		pl.send(pipeEvent{kind: pipeNotice, err: fmt.Errorf("track %q: skipping %w", pl.name, p)})
	}
	// The reader learns the media's rate, and with it the readahead, once
	// every track delivered its first picture or sound (openReadahead):
	// until then it fetches exactly what the demuxer reads, so that no
	// first keyframe shares the link with seconds of readahead.
	pl.mediaRate.Store(pl.byteRate())

	out := &trackOutputs{}
	// A file its sharer indexes may grow: what its demuxer says of its
	// length is what was there when it opened, and its end is the
	// index's (track.Info.End).
	if d.Duration() > 0 && !pl.joinable() {
		out.end = pl.info.Start + d.Duration()
	}
	if v := pl.video; v != nil {
		out.streams = append(out.streams, v.info)
		out.video = &videoOutput{frames: v.frames, pool: v.pool}
	}
	if a := pl.audio; a != nil {
		out.streams = append(out.streams, a.info)
		out.audio = a.blocks
	}
	out.thinnable = pl.thinnable()
	if pl.subtitle != nil {
		out.streams = append(out.streams, *pl.subtitle)
		out.cues = pl.cues
	}
	out.chapters = pl.chapters()
	pl.send(pipeEvent{kind: pipeOpened, opened: out})
	return nil
}

func (pl *pipeline) streamOf(s media.StreamInfo) stream {
	st := stream{info: s, q: newPacketQueue()}
	if s.Duration > 0 && !pl.joinable() {
		st.end = s.Start + s.Duration + pl.offset
	}
	return st
}

// byteRate is the track's bytes per second, for the reader's readahead.
func (pl *pipeline) byteRate() int64 {
	if br := pl.demux.BitRate(); br > 0 {
		return br / 8
	}
	if d := pl.demux.Duration(); d > 0 && pl.info.Size > 0 {
		return int64(float64(pl.info.Size) / d.Seconds())
	}
	return 0
}

// loop demuxes until the pipeline is closed: it works on the newest seek,
// reads while some stream is less than BufferTarget ahead of the clock, and
// otherwise waits for a decoder to take a packet, a seek or the clock.
func (pl *pipeline) loop() error {
	poll := time.NewTimer(demuxPoll)
	defer poll.Stop()
	for {
		if pl.ctx.Err() != nil {
			return nil
		}
		if t, ok := pl.takeSeek(); ok {
			if err := pl.applySeek(t); err != nil {
				return err
			}
			continue
		}
		if want := pl.thinWant.Load(); want != (pl.thin != nil) {
			if err := pl.applyThin(want); err != nil {
				return err
			}
			if want == (pl.thin != nil) {
				continue
			}
		}
		idle := pl.eof || pl.satisfied()
		if pl.thin != nil {
			worked, err := pl.thinStep()
			if err != nil {
				return err
			}
			idle = !worked
		}
		if idle {
			poll.Reset(demuxPoll)
			select {
			case <-pl.ctx.Done():
			case <-pl.seekSignal:
			case <-pl.consumed:
			case <-poll.C:
			}
			continue
		}
		if pl.thin != nil {
			continue
		}
		if err := pl.readPacket(); err != nil {
			return err
		}
	}
}

func (pl *pipeline) streams() []*stream {
	var s []*stream
	if pl.video != nil {
		s = append(s, &pl.video.stream)
	}
	if pl.audio != nil {
		s = append(s, &pl.audio.stream)
	}
	return s
}

// reached is how far s has been demuxed since the seek.
func (pl *pipeline) reached(s *stream) time.Duration {
	if !s.seen {
		return pl.target
	}
	return max(s.last, pl.target)
}

// lagging says s is left out of the buffer level: it has ended by its
// duration, or it is so far behind the others that its packets are sparse
// (a cover picture) or over (a stream shorter than the file).
func (pl *pipeline) lagging(s *stream, lead time.Duration) bool {
	if pl.thin != nil && pl.video != nil && s == &pl.video.stream {
		// A thinned picture never holds the clock.
		return true
	}
	r := pl.reached(s)
	if s.seen && s.end > 0 && r >= s.end-100*time.Millisecond {
		return true
	}
	return r < lead-2*pl.opts.BufferTarget
}

func (pl *pipeline) levelUntil() time.Duration {
	ss := pl.streams()
	lead := pl.target
	for _, s := range ss {
		lead = max(lead, pl.reached(s))
	}
	until := lead
	for _, s := range ss {
		if !pl.lagging(s, lead) {
			until = min(until, pl.reached(s))
		}
	}
	return until
}

// satisfied says every stream is BufferTarget ahead of the clock (of the
// track's start, while the clock is before it: a track starting later
// than the clock must still queue enough to decode its first picture), or
// the queues hold as much memory as a track may.
func (pl *pipeline) satisfied() bool {
	bytes := 0
	for _, s := range pl.streams() {
		bytes += s.q.size()
	}
	if bytes >= maxQueuedBytes {
		return true
	}
	from := max(time.Duration(pl.clockPos.Load()), pl.info.Start)
	return pl.levelUntil()-from >= pl.bufferAhead()
}

func (pl *pipeline) publishLevel() {
	l := bufferLevel{epoch: pl.epoch, until: pl.levelUntil(), eof: pl.eof, thinned: pl.thin != nil}
	pl.levelMu.Lock()
	pl.level = l
	pl.levelMu.Unlock()
	// What the track reads is urgent until it has ResumeLevel past the
	// clock (its frame at a seek's target included).
	pl.setUrgent(l.until-time.Duration(pl.clockPos.Load()) < pl.opts.ResumeLevel)
}

// setUrgent tells the reader whether what it reads is needed now. The
// demux goroutine calls it as packets come, and the player's as the clock
// runs the buffer down while a read waits.
func (pl *pipeline) setUrgent(urgent bool) {
	pl.readerMu.Lock()
	defer pl.readerMu.Unlock()
	if urgent == pl.urgent || pl.reader == nil || pl.readerClosed {
		return
	}
	pl.urgent = urgent
	if u, ok := pl.reader.r.(urgentSetter); ok {
		u.SetUrgent(urgent)
	}
}

func (pl *pipeline) readPacket() error {
	p := pl.packets.get()
	err := pl.demux.ReadPacket(p)
	pl.fresh = false
	switch {
	case errors.Is(err, io.EOF):
		pl.packets.put(p)
		pl.eof = true
		for _, s := range pl.streams() {
			s.q.put(queuedPacket{end: true})
		}
		pl.publishLevel()
		return nil
	case err != nil:
		pl.packets.put(p)
		if pl.ctx.Err() != nil {
			return nil
		}
		pl.readFailures++
		if pl.readFailures >= maxReadFailures {
			return fmt.Errorf("reading track %q failed: %w", pl.name, err)
		}
		return nil
	}
	pl.readFailures = 0
	var s *stream
	switch i := p.StreamIndex(); {
	case pl.video != nil && i == pl.video.info.Index:
		s = &pl.video.stream
	case pl.audio != nil && i == pl.audio.info.Index:
		s = &pl.audio.stream
	case pl.subtitle != nil && i == pl.subtitle.Index:
		pl.keepCue(p)
		pl.packets.put(p)
		return nil
	default:
		pl.packets.put(p)
		return nil
	}
	pl.queue(s, p, false)
	pl.publishLevel()
	return nil
}

// queue hands p to s's decoder, and notes how far s has been demuxed;
// alone says p is a keyframe decoded by itself (thin.go). A packet s
// already queued once (skipUntil) is dropped.
func (pl *pipeline) queue(s *stream, p *media.Packet, alone bool) {
	if p.HasPTS() {
		t := p.PTS() + pl.offset
		if s.skipping && t <= s.skipUntil {
			pl.packets.put(p)
			return
		}
		s.skipping = false
		if !s.seen || t > s.last {
			s.last = t
		}
		s.seen = true
	}
	s.q.put(queuedPacket{pkt: p, alone: alone, trips: pl.roundTrips()})
}

// closeDecoders releases the decoders; their goroutines must be stopped.
func (pl *pipeline) closeDecoders() {
	if v := pl.video; v != nil && v.dec != nil {
		v.dec.Close()
		v.dec = nil
	}
	if a := pl.audio; a != nil && a.dec != nil {
		a.dec.Close()
		a.dec = nil
	}
}

func (pl *pipeline) startDecoders() {
	ctx, cancel := context.WithCancel(pl.ctx)
	pl.stopDecode = cancel
	if v := pl.video; v != nil {
		pl.decodeWG.Add(1)
		go pl.decodeVideo(ctx, v, pl.epoch, pl.target, pl.keep)
	}
	if a := pl.audio; a != nil {
		pl.decodeWG.Add(1)
		go pl.decodeAudio(ctx, a, pl.epoch, pl.target)
	}
}

// stopDecoders ends the decode goroutines and waits for them; the decoders
// are the demux goroutine's again.
func (pl *pipeline) stopDecoders() {
	if pl.stopDecode == nil {
		return
	}
	pl.stopDecode()
	pl.decodeWG.Wait()
	pl.stopDecode = nil
}

// flushOutputs drops every queued packet and every decoded frame and block
// not yet taken by the player.
func (pl *pipeline) flushOutputs() {
	for _, s := range pl.streams() {
		s.q.flush(pl.packets.put)
	}
	if v := pl.video; v != nil {
		v.drain()
	}
	if a := pl.audio; a != nil {
		a.drain()
	}
}

// signalConsumed tells the demux loop a packet left a queue.
func (pl *pipeline) signalConsumed() { notify(pl.consumed) }

// decodePackets hands the stream's packets to decode, which says whether a
// packet gave a frame, until the end of the stream or ctx. Failures are
// counted; after maxDecodeFailures packets in a row fail, the track fails,
// naming what ("audio", "video") does not decode. It returns true at the
// end of the stream, false when ctx ended or the track failed.
func (pl *pipeline) decodePackets(ctx context.Context, s *stream, what string, decode func(queuedPacket) (produced bool, err error)) bool {
	failures := 0
	for {
		e, err := s.q.get(ctx)
		if err != nil {
			return false
		}
		pl.signalConsumed()
		produced, err := decode(e)
		if e.pkt != nil {
			pl.packets.put(e.pkt)
		}
		if ctx.Err() != nil {
			return false
		}
		if err != nil {
			pl.decodeErrors.Add(1)
			if failures++; failures >= maxDecodeFailures {
				pl.send(pipeEvent{kind: pipeFailed, err: fmt.Errorf("track %q: %s does not decode: %w", pl.name, what, err)})
				return false
			}
		} else if produced {
			failures = 0
		}
		if e.end {
			return true
		}
	}
}

func (pl *pipeline) teardown() {
	pl.stopDecoders()
	for _, s := range pl.streams() {
		s.q.flush(func(p *media.Packet) { p.Free() })
	}
	pl.closeDecoders()
	if pl.demux != nil {
		pl.demux.Close()
	}
	pl.packets.close()
}

// countingReader counts the bytes the demuxer reads, and makes Close safe to
// call twice (from the closer and at teardown).
type countingReader struct {
	// r is the track's reader.
	r TrackReader
	// n counts bytes read.
	n atomic.Int64
	// once makes Close idempotent.
	once gosync.Once
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// ReadAt reads at off when the track's reader can, counting the bytes.
func (c *countingReader) ReadAt(p []byte, off int64) (int, error) {
	ra, ok := c.r.(io.ReaderAt)
	if !ok {
		return 0, errors.New("the track's reader cannot read at an offset")
	}
	n, err := ra.ReadAt(p, off)
	c.n.Add(int64(n))
	return n, err
}

func (c *countingReader) Seek(off int64, whence int) (int64, error) { return c.r.Seek(off, whence) }

// Size lets the demuxer learn the length without seeking, when the reader
// knows it (a remote track does); -1 otherwise.
func (c *countingReader) Size() int64 {
	if s, ok := c.r.(interface{ Size() int64 }); ok {
		return s.Size()
	}
	return -1
}

// Live says the track is still being written, when the reader can tell.
func (c *countingReader) Live() bool {
	l, ok := c.r.(interface{ Live() bool })
	return ok && l.Live()
}

func (c *countingReader) Close() error {
	var err error
	c.once.Do(func() { err = c.r.Close() })
	return err
}
