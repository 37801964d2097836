// Package live finds where a reader can join a recording file that a
// recorder (OBS, ffmpeg) may still be writing: the join points of a
// fragmented MP4, a Matroska/WebM file or an MPEG-TS stream, like a segment
// index of HLS or DASH. The sharer scans the file on its own disk as it
// grows and tells viewers the points, so a viewer starts near the live edge
// or seeks back to any point without downloading the whole file.
//
// Scanning walks container structure only (box, element and packet
// headers), never media data, and keeps its place between scans so a rescan
// reads only what was added. It is pure Go with the standard library only.
//
// A viewer presents the file to its demuxer through a Splice: the header,
// a filler element the demuxer skips, and the file from the point on.
package live

import (
	"errors"
	"fmt"
	"io"
	"time"
)

// Format is the kind of container a Scanner found.
type Format uint8

const (
	// FormatUnknown is a file not (yet) recognised: too short to tell, or
	// of a kind this package does not index. It is the zero value.
	FormatUnknown Format = iota
	// FormatFragmentedMP4 is an MP4 whose moov announces fragments (mvex):
	// ftyp, moov, then moof+mdat pairs, as ffmpeg's frag_keyframe and OBS's
	// "Fragmented MP4" write.
	FormatFragmentedMP4
	// FormatPlainMP4 is an MP4 whose media data has no fragments: it plays
	// only once its moov is written (Index.Finished), which a recorder does
	// when it stops; it has no join points.
	FormatPlainMP4
	// FormatMatroska is a Matroska or WebM file, indexed by its Clusters.
	FormatMatroska
	// FormatMPEGTS is an MPEG transport stream of 188-byte packets, indexed
	// by its keyframes' packets.
	FormatMPEGTS
)

// String names the format for logs and messages.
func (f Format) String() string {
	switch f {
	case FormatUnknown:
		return "unknown"
	case FormatFragmentedMP4:
		return "fragmented MP4"
	case FormatPlainMP4:
		return "MP4"
	case FormatMatroska:
		return "Matroska"
	case FormatMPEGTS:
		return "MPEG-TS"
	}
	return fmt.Sprintf("Format(%d)", uint8(f))
}

// Point is a place where a demuxer can start reading the file.
type Point struct {
	// Offset is where the demuxer starts reading: the offset of a moof box,
	// a Cluster element or the TS packet that starts a keyframe's PES.
	Offset int64
	// Time is the presentation time of the first picture (or, with no
	// video, the first sound) a decoder joining here gets, on the
	// container's own timeline (not rebased to 0), as ffprobe reports it.
	Time time.Duration
}

// Index is what a scan found in the file so far.
type Index struct {
	// Format is the container the file is in, FormatUnknown until it is
	// known.
	Format Format
	// Header is how many bytes from the start a demuxer must read before
	// it can jump to any point: the offset of the first moof (fragmented
	// MP4) or Cluster (Matroska), and 0 for MPEG-TS or while no fragment or
	// cluster has been seen.
	Header int64
	// Points are the join points in file order, each within a whole unit
	// (below Whole), rising in time at least half a second apart (a
	// second with no video), so a viewer finds a time by binary search. The slice is shared with the Scanner, which never changes
	// the elements it returned: the caller may keep it but not modify it.
	Points []Point
	// Whole is the end of the last whole fragment, cluster or packet (or
	// other whole top-level unit): the bytes after it belong to a unit
	// still being written, or left unfinished by a recorder that stopped.
	Whole int64
	// End is the best known time at which the newest whole data ends, on
	// the timeline of Point.Time: the end of the latest sample of the
	// indexed track (with its duration where the container gives one;
	// the last PES's PTS for MPEG-TS). It lets a viewer show the live edge.
	End time.Duration
	// Finished reports that the container says its recorder closed it: a
	// plain MP4's moov is whole (so it can be played), a fragmented MP4's
	// closing mfra is whole, or a Matroska Segment's final size is set and
	// all of it is there. MPEG-TS never says so, nor do recorders that
	// write no closing structure; a sharer may stop rescanning a Finished
	// file.
	Finished bool
}

// Scanner indexes one file as it grows. Its zero value is not ready: use
// NewScanner. A Scanner is not safe for concurrent use.
type Scanner struct {
	kind    kind          // the container family recognised, kindNone until then
	seen    int64         // the size passed to the previous Scan, to notice a file that shrank
	points  []Point       // Index.Points, appended to only, so the slices returned stay as they were
	header  int64         // Index.Header
	whole   int64         // Index.Whole
	end     time.Duration // Index.End
	endSet  bool          // end holds a time (it may be 0 or negative: times are the container's own)
	done    bool          // Index.Finished
	video   bool          // the indexed track is video: points half a second apart, else a second
	scratch [64]byte      // header reads, without an allocation each
	buf     []byte        // moof, Info, Tracks and TS packet reads, reused, at most maxRead
	mp4     mp4State      // where the MP4 walk stands
	mkv     mkvState      // where the Matroska walk stands
	ts      tsState       // where the MPEG-TS walk stands
}

// kind is the container family the first bytes show, before the Format can
// be told (an MP4 is fragmented or plain only once its moov or mdat shows).
type kind uint8

const (
	kindNone kind = iota
	kindMP4
	kindMKV
	kindTS
)

// Limits that keep a corrupt size field from costing memory: a unit larger
// than these ends the scan as malformed.
const (
	// maxRead is the most the scanner reads into memory at once: a moof
	// box, or Matroska's Info or Tracks element.
	maxRead = 16 << 20
	// tsChunk is how many bytes of TS packets one read takes.
	tsChunk = 1024 * tsPacket
)

// Minimum spacing of points: a join point every keyframe of a 1-frame GOP
// would only bloat the index.
const (
	videoGap = 500 * time.Millisecond
	audioGap = time.Second
)

// errMalformed ends a scan at the last whole unit; Scan does not return it.
var errMalformed = errors.New("live: malformed structure")

// NewScanner returns a Scanner for one file, to be called with the same
// file each time it has grown.
func NewScanner() *Scanner {
	s := &Scanner{}
	s.reset()
	return s
}

func (s *Scanner) reset() {
	buf := s.buf
	*s = Scanner{buf: buf[:0]}
	s.mp4.reset()
	s.mkv.reset()
	s.ts.reset()
}

// Scan reads r, the file, up to size bytes, and returns the index so far.
// It continues where the previous call stopped: only what was added since
// is read, except the parts a container leaves open (the box or element
// being written is read again from its header). A file smaller than at the
// previous call is scanned anew from the start.
//
// Malformed structure is not an error: the index stops at the last whole
// unit before it. The error is only that of a read that failed (or came
// short of size); the index returned with it is the one so far, and the
// next Scan tries again.
func (s *Scanner) Scan(r io.ReaderAt, size int64) (Index, error) {
	if size < s.seen {
		s.reset()
	}
	s.seen = size
	var err error
	if s.kind == kindNone {
		err = s.detect(r, size)
	}
	if err == nil {
		switch s.kind {
		case kindMP4:
			err = s.scanMP4(r, size)
		case kindMKV:
			err = s.scanMKV(r, size)
		case kindTS:
			err = s.scanTS(r, size)
		}
	}
	if errors.Is(err, errMalformed) {
		err = nil
	}
	return s.index(), err
}

// index is the Index as it stands.
func (s *Scanner) index() Index {
	idx := Index{
		Header:   s.header,
		Points:   s.points[:len(s.points):len(s.points)],
		Whole:    s.whole,
		End:      s.end,
		Finished: s.done,
	}
	switch s.kind {
	case kindMP4:
		idx.Format = s.mp4.format()
	case kindMKV:
		if s.mkv.inSegment {
			idx.Format = FormatMatroska
		}
	case kindTS:
		idx.Format = FormatMPEGTS
	}
	if len(idx.Points) == 0 {
		idx.Points = nil
	}
	return idx
}

// detect tells the container family from the first bytes, or leaves
// kindNone when there are too few bytes to tell or none it knows.
func (s *Scanner) detect(r io.ReaderAt, size int64) error {
	n := min(size, 8)
	if n < 4 {
		return nil
	}
	b := s.scratch[:n]
	if err := readAt(r, b, 0); err != nil {
		return err
	}
	switch {
	case b[0] == 0x1A && b[1] == 0x45 && b[2] == 0xDF && b[3] == 0xA3:
		s.kind = kindMKV
	case n == 8 && string(b[4:8]) == "ftyp":
		s.kind = kindMP4
	case b[0] == tsSync:
		// Three packets in step tell TS from a file that starts with 'G'.
		if size < 2*tsPacket+1 {
			return nil
		}
		var c [1]byte
		for _, off := range []int64{tsPacket, 2 * tsPacket} {
			if err := readAt(r, c[:], off); err != nil {
				return err
			}
			if c[0] != tsSync {
				return nil
			}
		}
		s.kind = kindTS
	}
	return nil
}

// addPoint appends a join point unless it comes too soon after the last
// (or before it: a timeline that jumps back has no points until it passes
// the last one's time, so points rise in time as in offset).
func (s *Scanner) addPoint(off int64, t time.Duration) {
	if n := len(s.points); n > 0 {
		gap := audioGap
		if s.video {
			gap = videoGap
		}
		if last := s.points[n-1].Time; t < last || t-last < gap {
			return
		}
	}
	s.points = append(s.points, Point{Offset: off, Time: t})
}

// seeEnd records the end time of whole data, keeping the latest.
func (s *Scanner) seeEnd(t time.Duration) {
	if !s.endSet || t > s.end {
		s.end, s.endSet = t, true
	}
}

// readAt reads exactly len(b) bytes at off, which the caller knows are
// within the size it was given: a short read is an error.
func readAt(r io.ReaderAt, b []byte, off int64) error {
	n, err := r.ReadAt(b, off)
	if n == len(b) {
		return nil
	}
	if err == nil || err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return fmt.Errorf("live: reading %d bytes at %d: %w", len(b), off, err)
}

// grow returns s.buf resized to n bytes (n ≤ maxRead), reusing its memory.
func (s *Scanner) grow(n int) []byte {
	if cap(s.buf) < n {
		s.buf = make([]byte, n)
	}
	return s.buf[:n]
}

// ticks converts t ticks of a timescale of hz per second to a duration
// without overflowing for any 32-bit timescale and sane tick counts.
func ticks(t int64, hz uint32) time.Duration {
	if hz == 0 {
		return 0
	}
	h := int64(hz)
	q, r := t/h, t%h
	return time.Duration(q)*time.Second + time.Duration(r*int64(time.Second)/h)
}
