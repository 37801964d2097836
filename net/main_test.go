package net

import (
	"os"
	"testing"

	"reelay/net/leakcheck"
)

// TestMain fails the package's run if its tests, taken together, leave
// goroutines running or descriptors open.
func TestMain(m *testing.M) { os.Exit(leakcheck.Main(m)) }
