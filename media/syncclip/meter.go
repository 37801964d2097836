package syncclip

import (
	"image"
	"math"
	"slices"
	"sync"
	"time"

	"reelay/media"
)

// Meter measures how far picture and sound are apart where they leave
// the player, on a sync clip (a picture that flashes white exactly when a
// beep starts, every SyncPeriod: the test fixtures and the built-in
// demo are such clips). It sees every sample written to the audio device
// and every frame handed to the video sinks; for each flash shown it
// compares what the device had played at that moment with where the beep
// starts in what was written to it.
//
// Both sides are counted in the device's own terms, audio written and
// played since its last Clear, so the offset is what a viewer would see and
// hear, whatever the timeline says. Flashes shown before anything was heard
// (the picture a seek shows while paused) are not measured.
type Meter struct {
	// mu guards everything below: the sinks are called on the player's
	// goroutine, Report on any.
	mu sync.Mutex
	// sink is the device whose Played is read when a flash is shown; nil
	// until the player opened one.
	sink media.AudioSink
	// clears counts the device's Clears; a flash is only compared with a
	// beep written since the same Clear.
	clears int
	// written counts the sample frames written since the last Clear.
	written int64
	// detector finds beep onsets across the blocks written.
	detector *BeepDetector
	// beeps are the onsets found, oldest first.
	beeps []meterBeep
	// flashes are the flash onsets shown while the device played.
	flashes []meterFlash
	// inFlash says a track's last picture was a flash, so that a flash
	// lasting several frames counts once, at its first.
	inFlash map[string]bool
}

// meterBeep is a beep onset written to the device.
type meterBeep struct {
	// clears is the device's Clear count when it was written; at is its
	// time in the audio written since that Clear.
	clears int
	at     time.Duration
}

// meterFlash is a flash onset shown.
type meterFlash struct {
	// track showed it; pts is its time on the timeline.
	track string
	pts   time.Duration
	// clears and played are the device's Clear count and Played when it
	// was shown.
	clears int
	played time.Duration
}

// Report is what a Meter measured.
type Report struct {
	// Offsets are the flashes measured, in the order shown.
	Offsets []Offset
	// Unmatched counts flashes shown while sound played but with no beep
	// written within half a period of them: not a sync clip, or an offset
	// beyond measure.
	Unmatched int
	// TrackSkew is the largest gap between two video tracks showing the
	// same flash (0 with one video track).
	TrackSkew time.Duration
}

// Offset is one flash measured.
type Offset struct {
	// Track showed the flash; PTS is the flash's time on the timeline.
	Track string
	PTS   time.Duration
	// Offset is how long after its beep was heard the flash was shown
	// (negative: before).
	Offset time.Duration
}

// NewMeter returns a meter with nothing measured.
func NewMeter() *Meter {
	return &Meter{detector: NewBeepDetector(media.OutputSampleRate, media.OutputChannels), inFlash: map[string]bool{}}
}

// OpenAudio wraps an Options.OpenAudio (nil: the default device) so the
// meter sees what is written to the device and reads its clock.
func (m *Meter) OpenAudio(open func() (media.AudioSink, error)) func() (media.AudioSink, error) {
	if open == nil {
		open = openDevice
	}
	return func() (media.AudioSink, error) {
		s, err := open()
		if err != nil {
			return nil, err
		}
		m.mu.Lock()
		m.sink = s
		m.clears++
		m.written = 0
		m.detector = NewBeepDetector(media.OutputSampleRate, media.OutputChannels)
		m.mu.Unlock()
		return meterSink{AudioSink: s, m: m}, nil
	}
}

// VideoSink returns a sink for track that notes its flashes and passes
// every frame on to next (nil: nowhere).
func (m *Meter) VideoSink(track string, next VideoSink) VideoSink {
	return meterVideo{m: m, track: track, next: next}
}

// VideoSink is where a player shows pictures (as a player's own VideoSink).
type VideoSink interface {
	Show(img *image.RGBA, pts time.Duration)
}

// meterVideo is a video sink as the player sees it through a Meter.
type meterVideo struct {
	m     *Meter
	track string
	next  VideoSink
}

func (v meterVideo) Show(img *image.RGBA, pts time.Duration) {
	v.m.noteFrame(v.track, img, pts)
	if v.next != nil {
		v.next.Show(img, pts)
	}
}

func (m *Meter) noteFrame(track string, img *image.RGBA, pts time.Duration) {
	flash := IsFlash(img)
	m.mu.Lock()
	defer m.mu.Unlock()
	onset := flash && !m.inFlash[track]
	m.inFlash[track] = flash
	if !onset || m.sink == nil {
		return
	}
	if played := m.sink.Played(); played > 0 {
		m.flashes = append(m.flashes, meterFlash{track: track, pts: pts, clears: m.clears, played: played})
	}
}

func (m *Meter) noteWritten(samples []float32) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, at := range m.detector.Feed(time.Duration(m.written)*time.Second/media.OutputSampleRate, samples) {
		m.beeps = append(m.beeps, meterBeep{clears: m.clears, at: at})
	}
	m.written += int64(len(samples) / media.OutputChannels)
}

func (m *Meter) noteClear() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.clears++
	m.written = 0
	m.detector = NewBeepDetector(media.OutputSampleRate, media.OutputChannels)
}

// Report pairs every flash with the nearest beep written since the same
// Clear and returns the offsets.
func (m *Meter) Report() Report {
	m.mu.Lock()
	defer m.mu.Unlock()
	var r Report
	// shown is when each beep's flash was shown, per track, for the skew.
	type beepKey struct {
		clears int
		at     time.Duration
	}
	shown := map[beepKey][]time.Duration{}
	var keys []beepKey
	for _, f := range m.flashes {
		best, found := meterBeep{}, false
		for _, b := range m.beeps {
			if b.clears == f.clears && (!found || (f.played-b.at).Abs() < (f.played-best.at).Abs()) {
				best, found = b, true
			}
		}
		if !found || (f.played-best.at).Abs() >= SyncPeriod/2 {
			r.Unmatched++
			continue
		}
		r.Offsets = append(r.Offsets, Offset{Track: f.track, PTS: f.pts, Offset: f.played - best.at})
		k := beepKey{best.clears, best.at}
		if shown[k] == nil {
			keys = append(keys, k)
		}
		shown[k] = append(shown[k], f.played)
	}
	for _, k := range keys {
		if at := shown[k]; len(at) > 1 {
			r.TrackSkew = max(r.TrackSkew, slices.Max(at)-slices.Min(at))
		}
	}
	return r
}

// Quantile is the q-quantile (0 to 1, nearest rank) of the offsets'
// magnitudes, 0 without offsets.
func (r Report) Quantile(q float64) time.Duration {
	if len(r.Offsets) == 0 {
		return 0
	}
	abs := make([]time.Duration, len(r.Offsets))
	for i, o := range r.Offsets {
		abs[i] = o.Offset.Abs()
	}
	slices.Sort(abs)
	i := int(math.Ceil(q * float64(len(abs))))
	return abs[min(max(i-1, 0), len(abs)-1)]
}

// meterSink is the audio device as the player sees it through a Meter.
type meterSink struct {
	media.AudioSink
	// m notes what is written and cleared.
	m *Meter
}

func (s meterSink) Write(samples []float32) int {
	n := s.AudioSink.Write(samples)
	s.m.noteWritten(samples[:n])
	return n
}

func (s meterSink) Clear() {
	s.AudioSink.Clear()
	s.m.noteClear()
}

// Latency and Err pass on what the player asks the device, when it can
// answer.
func (s meterSink) Latency() time.Duration {
	if l, ok := s.AudioSink.(interface{ Latency() time.Duration }); ok {
		return l.Latency()
	}
	return 0
}

func (s meterSink) Err() error {
	if f, ok := s.AudioSink.(interface{ Err() error }); ok {
		return f.Err()
	}
	return nil
}

// openDevice opens the default audio device.
func openDevice() (media.AudioSink, error) {
	out, err := media.OpenAudioOutput(media.AudioOutputOptions{})
	if err != nil {
		return nil, err
	}
	return out, nil
}
