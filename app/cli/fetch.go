package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	p2pnet "reelay/net"
)

func runFetch(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("fetch", flag.ContinueOnError)
	out := fs.String("o", "", "output file")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 2 || *out == "" {
		return fmt.Errorf("%w: fetch takes a link, a track and -o FILE", errUsage)
	}
	h, rec, err := openLink(ctx, pos[0])
	if err != nil {
		return err
	}
	defer h.Close()
	n, elapsed, err := fetchTrack(ctx, rec, pos[1], *out, e.stderr)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stderr, "%s: %d bytes in %.2f s (%.1f MB/s)\n", pos[1], n, elapsed.Seconds(), float64(n)/elapsed.Seconds()/1e6)
	return nil
}

// fetchTrack copies a whole track through the remote reader into path. It
// writes a temporary file and renames it at the end, so a failed fetch
// never leaves a truncated file under the requested name.
func fetchTrack(ctx context.Context, rec *p2pnet.Recording, track, path string, progressTo io.Writer) (int64, time.Duration, error) {
	r, err := rec.OpenTrack(track, p2pnet.RangeReaderOptions{})
	if err != nil {
		return 0, 0, err
	}
	defer r.Close()
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".part-*")
	if err != nil {
		return 0, 0, err
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()

	start := time.Now()
	bar := startProgress(progressTo, track, r.Size())
	n, err := io.Copy(tmp, io.TeeReader(readerWithContext{ctx, r}, bar))
	bar.Stop()
	if err != nil {
		return n, 0, fmt.Errorf("fetching %q failed after %d bytes: %w", track, n, err)
	}
	if err := tmp.Close(); err != nil {
		return n, 0, err
	}
	return n, time.Since(start), os.Rename(tmp.Name(), path)
}

// readerWithContext stops a copy once ctx is done (Ctrl+C).
type readerWithContext struct {
	ctx context.Context
	r   io.Reader
}

func (r readerWithContext) Read(p []byte) (int, error) {
	if err := r.ctx.Err(); err != nil {
		return 0, err
	}
	return r.r.Read(p)
}
