//go:build linux && !android

package media

// #cgo pkg-config: alsa
// #include <alsa/asoundlib.h>
//
// static void reelayALSASilent(const char *file, int line, const char *function, int err, const char *fmt, ...) {}
//
// static void reelayQuietALSA(void) { snd_lib_error_set_handler(reelayALSASilent); }
import "C"

// quietALSA stops libasound printing to stderr while oto probes devices:
// without a sound card it prints a dozen lines per start, and oto's error
// already says what failed.
func quietALSA() { C.reelayQuietALSA() }
