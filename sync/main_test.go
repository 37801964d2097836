package sync

import (
	"os"
	"testing"

	"reelay/media"
	"reelay/net/leakcheck"
)

// TestMain fails the package's run if its tests, taken together, leave
// goroutines running or descriptors open. The audio device is opened
// first: once open it stays open for the process (oto has one context
// per process), so its sockets and pipes belong in the snapshot.
func TestMain(m *testing.M) {
	if out, err := media.OpenAudioOutput(media.AudioOutputOptions{}); err == nil {
		out.Close()
	}
	os.Exit(leakcheck.Main(m))
}
