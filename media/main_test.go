package media_test

import (
	"os"
	"testing"

	"reelay/media/mediatest"
)

func TestMain(m *testing.M) { os.Exit(mediatest.Main(m)) }
