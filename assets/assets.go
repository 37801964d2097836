// Package assets holds what ships inside the binary: the built-in demo
// recording (made by make-demo.sh) and the icon.
package assets

import "embed"

// Demo is the built-in demo recording, under the folder "demo".
//
//go:embed demo
var Demo embed.FS
