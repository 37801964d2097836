// Package assets holds what ships inside the binary: the built-in demo
// recording (made by make-demo.sh) and the icon.
package assets

import (
	"embed"
	"io/fs"
	"os"
)

// Demo is the built-in demo recording, under the folder "demo".
//
//go:embed demo
var Demo embed.FS

// CopyDemo writes the demo recording's files into dir, which must exist
// and hold none of them.
func CopyDemo(dir string) error {
	sub, err := fs.Sub(Demo, "demo")
	if err != nil {
		return err
	}
	return os.CopyFS(dir, sub)
}
