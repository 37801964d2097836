package media

import "time"

// StreamKind says what an elementary stream carries.
type StreamKind int

const (
	// KindUnknown is a stream the player does not play (data,
	// attachments, pictures of subtitles) or whose type FFmpeg could not
	// tell.
	KindUnknown StreamKind = iota
	// KindVideo is a stream of pictures.
	KindVideo
	// KindAudio is a stream of sound.
	KindAudio
	// KindSubtitle is a stream of text subtitles (SubRip, WebVTT, ASS,
	// MP4's timed text); Demuxer.Cue reads its packets.
	KindSubtitle
)

func (k StreamKind) String() string {
	switch k {
	case KindVideo:
		return "video"
	case KindAudio:
		return "audio"
	case KindSubtitle:
		return "subtitle"
	default:
		return "unknown"
	}
}

// StreamInfo describes one elementary stream of a demuxed file.
type StreamInfo struct {
	// Index is the FFmpeg stream index in the file; packets carry it.
	Index int
	// Kind says whether the stream is video, audio or neither.
	Kind StreamKind
	// Codec is FFmpeg's codec name, e.g. "h264", "aac", "opus".
	Codec string
	// Start is the stream's first timestamp on the file's own timeline
	// (0 if unknown).
	Start time.Duration
	// Duration is the stream's length (0 if unknown, as in Matroska).
	Duration time.Duration
	// Width and Height are the coded picture size of a video stream.
	Width, Height int
	// FrameRate is a video stream's average frames per second (0 if unknown).
	FrameRate float64
	// Delay is how many pictures a video stream's decoder takes in before
	// it shows the first (B-frames), as the container tells (MP4's
	// composition offsets); 0 without B-frames or when it does not say.
	Delay int
	// SampleRate and Channels describe an audio stream as stored.
	SampleRate, Channels int
	// BitRate is the stream's bits per second (0 if unknown).
	BitRate int64
	// Language is the stream's language as the file tags it (ISO 639,
	// e.g. "eng"), "" if untagged; Title is its title tag.
	Language, Title string
}
