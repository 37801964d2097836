package sync

import (
	"container/list"
	"errors"
	"fmt"
	"image"
	"io"
	"slices"
	"sort"
	gosync "sync"
	"time"

	"reelay/media"
	"reelay/net/track"
)

// ErrNoThumbnails is what OpenThumbnails fails with for a track whose
// keyframes cannot be located without reading it all: Matroska, MPEG-TS
// and Ogg have no index that says where each packet lies.
var ErrNoThumbnails = errors.New("sync: the track's container has no index of its keyframes")

// maxThumbnails bounds the pictures Thumbnails keeps.
const maxThumbnails = 256

// maxLeadPackets bounds the packets read before the first keyframe of the
// picture (the sound's, interleaved).
const maxLeadPackets = 200

// Thumbnails makes the small pictures a seek bar shows under the pointer:
// the keyframe at or before a time of one video track, fetched alone by
// the track's index (one keyframe's bytes, where seeking the player there
// would fetch seconds of media), decoded alone and scaled. Over a network
// this is what makes hovering the bar cheap; mpv, whose seeks are local,
// has no need of it. It reads the track through a reader of its own,
// sparse (no readahead), and keeps the last maxThumbnails pictures. Safe
// for concurrent use; requests are served one at a time.
type Thumbnails struct {
	// mu serializes requests: the demuxer and decoder are not safe for
	// concurrent use.
	mu gosync.Mutex
	// r is the track's reader, ra the same at an offset.
	r  TrackReader
	ra io.ReaderAt
	// d holds the track's index; dec decodes its pictures.
	d   *media.Demuxer
	dec *media.VideoDecoder
	// stream is the video stream's index; keys its keyframes, in order.
	stream int
	keys   []media.IndexEntry
	// offset turns the file's timestamps into the timeline's.
	offset time.Duration
	// width and height are the pictures' size.
	width, height int
	// cache maps a keyframe's number to its picture; lru orders them,
	// newest first.
	cache map[int]*list.Element
	lru   *list.List
	// pkt is reused for every keyframe.
	pkt *media.Packet
}

// Thumbnail is one picture: the keyframe shown at PTS on the timeline.
type Thumbnail struct {
	Image *image.RGBA
	PTS   time.Duration
}

// thumbEntry is a cached picture with its keyframe's number.
type thumbEntry struct {
	key int
	th  Thumbnail
}

// OpenThumbnails opens the track name of src for pictures width pixels
// wide (the height follows the picture's shape).
func OpenThumbnails(src Source, name string, width int) (_ *Thumbnails, err error) {
	var info *track.Info
	for _, t := range src.Tracks() {
		if t.Name == name {
			info = &t
			break
		}
	}
	if info == nil {
		return nil, fmt.Errorf("sync: recording %q has no track %q", src.Name(), name)
	}
	r, err := src.OpenTrack(name)
	if err != nil {
		return nil, err
	}
	t := &Thumbnails{r: r, cache: map[int]*list.Element{}, lru: list.New()}
	defer func() {
		if err != nil {
			t.Close()
		}
	}()
	ra, ok := r.(io.ReaderAt)
	if !ok {
		return nil, fmt.Errorf("sync: track %q cannot be read at an offset", name)
	}
	t.ra = ra
	// Only what is read is fetched: the header and index, the first
	// keyframe, then the keyframes asked for.
	if s, ok := r.(sparseSetter); ok {
		s.SetSparse(true)
	}
	if t.d, err = media.OpenDemuxer(r, media.DemuxerOptions{TrustHeader: true}); err != nil {
		return nil, err
	}
	video := slices.IndexFunc(t.d.Streams(), func(s media.StreamInfo) bool { return s.Kind == media.KindVideo })
	if video < 0 {
		return nil, fmt.Errorf("sync: track %q has no picture", name)
	}
	vs := t.d.Streams()[video]
	t.stream = vs.Index
	if !t.d.Indexed(t.stream) {
		return nil, ErrNoThumbnails
	}
	// The index holds decoding times; the first keyframe read teaches the
	// demuxer how much later keyframes show (B-frames).
	t.pkt = media.NewPacket()
	for range maxLeadPackets {
		if err := t.d.ReadPacket(t.pkt); err != nil {
			return nil, err
		}
		key := t.pkt.StreamIndex() == t.stream && t.pkt.IsKey()
		t.pkt.Unref()
		if key {
			break
		}
	}
	if t.keys = t.d.Keyframes(t.stream); len(t.keys) == 0 {
		return nil, ErrNoThumbnails
	}
	if t.dec, err = media.NewVideoDecoder(t.d, t.stream); err != nil {
		return nil, err
	}
	t.width = max(width, 2) &^ 1
	t.height = t.width * 9 / 16
	if vs.Width > 0 && vs.Height > 0 {
		t.height = max(t.width*vs.Height/vs.Width, 2) &^ 1
	}
	t.offset = info.Start - t.d.StartTime()
	return t, nil
}

// Size is the pictures' size in pixels.
func (t *Thumbnails) Size() (w, h int) { return t.width, t.height }

// At returns the picture of the keyframe at or before pos (the first one
// before the track's first keyframe).
func (t *Thumbnails) At(pos time.Duration) (Thumbnail, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.d == nil {
		return Thumbnail{}, errors.New("sync: thumbnails are closed")
	}
	// The last keyframe at or before pos, the first if none is.
	at := pos - t.offset
	k := max(sort.Search(len(t.keys), func(i int) bool { return t.keys[i].PTS > at })-1, 0)
	if el, ok := t.cache[k]; ok {
		t.lru.MoveToFront(el)
		return el.Value.(thumbEntry).th, nil
	}
	e := t.keys[k]
	if err := t.d.ReadIndexed(t.ra, t.stream, e, t.pkt); err != nil {
		return Thumbnail{}, err
	}
	img := image.NewRGBA(image.Rect(0, 0, t.width, t.height))
	th := Thumbnail{PTS: e.PTS + t.offset}
	got := false
	keep := func(vf *media.VideoFrame) error {
		if got {
			return nil
		}
		got = true
		return t.dec.Convert(vf, img)
	}
	// The keyframe alone: decoded, drained, and the decoder started
	// afresh for the next.
	err := t.dec.Decode(t.pkt, keep)
	if err == nil {
		err = t.dec.Decode(nil, keep)
	}
	t.dec.Flush()
	t.pkt.Unref()
	if err != nil {
		return Thumbnail{}, err
	}
	if !got {
		return Thumbnail{}, fmt.Errorf("sync: the keyframe at %v gave no picture", th.PTS)
	}
	th.Image = img
	t.cache[k] = t.lru.PushFront(thumbEntry{key: k, th: th})
	if t.lru.Len() > maxThumbnails {
		old := t.lru.Remove(t.lru.Back()).(thumbEntry)
		delete(t.cache, old.key)
	}
	return th, nil
}

// Stats are the network figures of the thumbnails' reader, nil for a
// track on this machine.
func (t *Thumbnails) Stats() *track.ReaderStats {
	if s, ok := t.r.(readerStatser); ok {
		st := s.Stats()
		return &st
	}
	return nil
}

// Close releases the reader, the demuxer and the decoder; it unblocks a
// request waiting for the network, which then fails.
func (t *Thumbnails) Close() error {
	t.r.Close()
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.dec != nil {
		t.dec.Close()
		t.dec = nil
	}
	if t.d != nil {
		t.d.Close()
		t.d = nil
	}
	if t.pkt != nil {
		t.pkt.Free()
		t.pkt = nil
	}
	return nil
}
