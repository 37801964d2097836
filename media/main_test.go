package media_test

import (
	"os"
	"testing"

	"reelay/media"
	"reelay/net/leakcheck"
)

// TestMain fails the package if, taken together, its tests left
// goroutines running or descriptors open. The audio device is opened
// first: oto's context, and the sound server's connection under it, stay
// open for the process.
func TestMain(m *testing.M) {
	if out, err := media.OpenAudioOutput(media.AudioOutputOptions{}); err == nil {
		out.Close()
	}
	os.Exit(leakcheck.Main(m))
}
