package net

import (
	"bytes"
	"context"
	"fmt"
	"time"
)

// A paced pull plays a track the way sync.Player consumes it, without
// decoding. Its demuxer reads the track in pieces of pullTick of media
// through a RangeReader with 3 s of readahead (SetByteRate), and keeps at
// most bufferTarget of media read ahead of the clock: it reads while it
// holds less, and otherwise waits for the clock's next tick, so once
// filled it reads one piece a tick, at the media rate. The clock starts
// once prerollMedia is read and runs at the media rate.
//
// A read is due when the clock reaches the media it holds. A stall is a
// read that returns more than stallThreshold after it was due: the player
// ran dry and stopped to wait, as a user would see. The clock then moves
// by the delay, as a player's clock stops while it waits, so one slow read
// counts once. bufferTarget and prerollMedia are sync's defaults
// (DefaultBufferTarget, DefaultLowWater).
const (
	pullTick       = 100 * time.Millisecond
	bufferTarget   = 3 * time.Second
	prerollMedia   = 500 * time.Millisecond
	stallThreshold = 200 * time.Millisecond
)

// Media byte rates of the test recordings' tracks.
const (
	videoRate = 2_000_000 / 8 // 2 Mbit/s
	audioRate = 128_000 / 8   // 128 kbit/s
)

// pullResult is what a paced pull saw.
type pullResult struct {
	track string
	// reads counts the reads made once the clock ran.
	reads int
	// stalls counts reads later than stallThreshold.
	stalls int
	// worst is the latest a read returned after it was due (negative when
	// every read came early).
	worst time.Duration
	// longest is the longest a single read took once the clock ran: how
	// close the readahead came to running dry.
	longest time.Duration
	// stallNotes say when each stall happened and how long its read took.
	stallNotes []string
	// bytes counts the bytes read.
	bytes int64
	err   error
}

// pullPaced plays r, which holds want, at rate bytes per second until its
// clock reaches dur (or the track ends), checking every byte.
func pullPaced(ctx context.Context, r *RangeReader, track string, want []byte, rate int64, dur time.Duration) pullResult {
	res := pullResult{track: track, worst: -bufferTarget}
	r.SetByteRate(rate, 3*time.Second)
	piece := rate * int64(pullTick) / int64(time.Second)
	buf := make([]byte, piece)
	var off int64
	mediaAt := func(off int64) time.Duration { return time.Duration(off * int64(time.Second) / rate) }
	read := func() error {
		n := min(piece, int64(len(want))-off)
		if _, err := r.ReadAt(buf[:n], off); err != nil {
			return fmt.Errorf("reading %d+%d: %w", off, n, err)
		}
		if !bytes.Equal(buf[:n], want[off:off+n]) {
			return fmt.Errorf("wrong bytes at %d+%d", off, n)
		}
		off += n
		res.bytes += n
		return nil
	}
	size := int64(len(want))
	for off < size && mediaAt(off) < prerollMedia {
		if res.err = read(); res.err != nil {
			return res
		}
	}
	start := time.Now()
	tk := time.NewTicker(pullTick)
	defer tk.Stop()
	for off < size && time.Since(start) < dur {
		if mediaAt(off)-time.Since(start) >= bufferTarget {
			select {
			case <-ctx.Done():
				res.err = context.Cause(ctx)
				return res
			case <-tk.C:
			}
			continue
		}
		due := start.Add(mediaAt(off))
		began := time.Now()
		if res.err = read(); res.err != nil {
			return res
		}
		res.reads++
		res.longest = max(res.longest, time.Since(began))
		late := time.Since(due)
		res.worst = max(res.worst, late)
		if late > stallThreshold {
			res.stalls++
			res.stallNotes = append(res.stallNotes, fmt.Sprintf("at %v of media: %v late, the read took %v",
				(due.Sub(start)).Round(time.Millisecond), late.Round(time.Millisecond), time.Since(began).Round(time.Millisecond)))
			start = start.Add(late)
		}
	}
	return res
}
