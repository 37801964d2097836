package cli

import (
	"bufio"
	"context"
	"flag"
	"fmt"

	"reelay/media"
)

// runFrameMD5 prints a track's decoded frames in FFmpeg's framemd5 format,
// the lines `ffmpeg -i FILE -f framemd5 -` prints for the same file.
func runFrameMD5(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("framemd5", flag.ContinueOnError)
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 2 {
		return fmt.Errorf("%w: framemd5 takes a source (link or folder) and a track", errUsage)
	}
	src, closeSrc, err := openSource(ctx, pos[0])
	if err != nil {
		return err
	}
	defer closeSrc()
	r, err := src.OpenTrack(pos[1])
	if err != nil {
		return err
	}
	defer r.Close()
	w := bufio.NewWriter(e.stdout)
	if err := media.WriteFrameMD5(w, r, nil); err != nil {
		return fmt.Errorf("track %q: %w", pos[1], err)
	}
	return w.Flush()
}
