package mediatest

import (
	"testing"

	"reelay/media"
	"reelay/net/leakcheck"
)

// Main runs a package's tests and fails it if, taken together, they left
// goroutines running or descriptors open (leakcheck.Main), for the
// packages whose tests play sound: the audio device is opened first, as
// oto's context and the sound server's connection under it stay open for
// the process once opened. A package's TestMain is then
//
//	func TestMain(m *testing.M) { os.Exit(mediatest.Main(m)) }
func Main(m *testing.M) int {
	if out, err := media.OpenAudioOutput(media.AudioOutputOptions{}); err == nil {
		out.Close()
	}
	return leakcheck.Main(m)
}
