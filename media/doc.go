// Package media is Reelay's FFmpeg room: it demuxes any io.ReadSeeker through
// a custom AVIOContext, decodes audio and video, converts video to RGBA at
// display size and audio to interleaved float32 stereo at 48 kHz, prints
// framemd5, and plays audio through oto.
//
// It never imports reelay/net: it reads bytes from whatever io.ReadSeeker it
// is given, a local file or a remote track alike.
package media
