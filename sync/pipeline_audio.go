package sync

import (
	"context"
	"time"

	"reelay/media"
)

// audioQueueSize is how many decoded blocks (about 20 ms each) wait for the
// mixer: enough to ride out a busy moment of the player's goroutine.
const audioQueueSize = 24

// audioStream is an audio stream in the pipeline.
type audioStream struct {
	stream
	// dec decodes to 48 kHz stereo float32.
	dec *media.AudioDecoder
	// blocks carries decoded audio to the mixer.
	blocks chan audioBlock
}

func newAudioStream(s stream, dec *media.AudioDecoder) *audioStream {
	return &audioStream{stream: s, dec: dec, blocks: make(chan audioBlock, audioQueueSize)}
}

// drain drops the blocks the mixer has not taken.
func (a *audioStream) drain() {
	for {
		select {
		case <-a.blocks:
		default:
			return
		}
	}
}

// decodeAudio decodes packets until the end of the stream or ctx and
// delivers the audio from the seek target on; the mixer cuts the first
// block at the exact sample.
func (pl *pipeline) decodeAudio(ctx context.Context, a *audioStream, epoch uint64, target time.Duration) {
	defer pl.decodeWG.Done()
	first := sampleAt(target)
	send := func(b audioBlock) error {
		select {
		case a.blocks <- b:
			pl.wake()
			pl.delivered()
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	trips := 0
	if pl.decodePackets(ctx, &a.stream, "audio", func(e queuedPacket) (produced bool, err error) {
		trips = max(trips, e.trips)
		err = a.dec.Decode(e.pkt, func(pts time.Duration, samples []float32) error {
			produced = true
			start := sampleAt(pts + pl.offset)
			if start+int64(len(samples)/channels) <= first {
				return nil
			}
			return send(audioBlock{epoch: epoch, start: start, samples: append([]float32(nil), samples...), trips: trips})
		})
		return produced, err
	}) {
		send(audioBlock{epoch: epoch, end: true})
	}
}
