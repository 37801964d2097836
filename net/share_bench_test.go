package net

import (
	"path/filepath"
	"testing"
	"time"
)

// BenchmarkShareLook measures one look at a shared folder of four media
// files, as the share makes every 0.1 s while a file grows: the folder
// listed and every file stat'ed.
func BenchmarkShareLook(b *testing.B) {
	dir := b.TempDir()
	for i, name := range []string{"screen.mp4", "camera.mkv", "mic.ogg", "talk.ts"} {
		writeRandomFile(b, filepath.Join(dir, name), 256<<10, uint64(i+1))
	}
	f, err := OpenFolder(dir)
	if err != nil {
		b.Fatal(err)
	}
	sh := newShare(dir, f, 0)
	defer sh.close()
	for b.Loop() {
		sh.look(time.Now())
	}
}
