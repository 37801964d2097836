package cli

import (
	"context"
	"crypto/sha256"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"reelay/assets"
	p2pnet "reelay/net"
)

// extractDemo copies the built-in demo recording into a new temporary
// folder, which the caller removes.
func extractDemo() (string, error) {
	dir, err := os.MkdirTemp("", "reelay-demo-")
	if err != nil {
		return "", err
	}
	if err := assets.CopyDemo(dir); err != nil {
		os.RemoveAll(dir)
		return "", fmt.Errorf("unpacking the demo recording failed: %w", err)
	}
	return dir, nil
}

// runDemo shares the built-in demo on loopback and watches it through the
// real libp2p path: in the window, or with --headless by pulling every
// track back and checking each is byte-identical.
func runDemo(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	headless := fs.Bool("headless", false, "no window: pull every track back and check it")
	linkSpec := fs.String("link", "", "watch across an emulated home link over QUIC: round trip, rate, loss (50ms,1mbit,1%)")
	var wf windowFlags
	wf.register(fs)
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return fmt.Errorf("%w: demo takes no arguments", errUsage)
	}
	var link *p2pnet.EmulatedLink
	if *linkSpec != "" {
		l, err := p2pnet.ParseEmulatedLink(*linkSpec)
		if err != nil {
			return fmt.Errorf("%w: %v", errUsage, err)
		}
		link = &l
	}
	if *headless {
		if link != nil {
			return fmt.Errorf("%w: --link is for the window (reelay bench --link measures a link headless)", errUsage)
		}
		return runDemoHeadless(ctx, e)
	}
	return runDemoWindow(ctx, e, wf, link)
}

// shareDemo unpacks the built-in demo and shares it from a host on
// loopback; stop ends the share and removes the folder.
func shareDemo(log *slog.Logger) (dir string, link p2pnet.Link, stop func(), err error) {
	h, err := p2pnet.NewHost(p2pnet.HostOptions{ListenAddrs: p2pnet.LoopbackListenAddrs})
	if err != nil {
		return "", p2pnet.Link{}, nil, err
	}
	return shareDemoFrom(h, log)
}

// shareDemoFrom unpacks the built-in demo and shares it from h; stop
// ends the share, closes h and removes the folder.
func shareDemoFrom(h *p2pnet.Host, log *slog.Logger) (dir string, link p2pnet.Link, stop func(), err error) {
	if dir, err = extractDemo(); err != nil {
		h.Close()
		return "", p2pnet.Link{}, nil, err
	}
	sharer := p2pnet.NewSharer(h, p2pnet.SharerOptions{Logger: log})
	stop = func() {
		sharer.Close()
		h.Close()
		os.RemoveAll(dir)
	}
	if link, err = sharer.Share(dir); err != nil {
		stop()
		return "", p2pnet.Link{}, nil, err
	}
	return dir, link, stop, nil
}

// runDemoHeadless shares the built-in demo on loopback and pulls every
// track back through the real libp2p path, checking each is
// byte-identical.
func runDemoHeadless(ctx context.Context, e *env) error {
	dir, link, stop, err := shareDemo(e.log)
	if err != nil {
		return err
	}
	defer stop()
	fmt.Fprintf(e.stdout, "sharing the demo recording at\n  %s\n", link)

	vh, rec, err := openLink(ctx, link.String())
	if err != nil {
		return err
	}
	defer vh.Close()
	fmt.Fprintf(e.stdout, "watching %q: %d tracks\n", rec.Name(), len(rec.Tracks()))
	folder, err := p2pnet.OpenFolder(dir)
	if err != nil {
		return err
	}
	for _, t := range rec.Tracks() {
		out := filepath.Join(dir, ".fetched-"+t.Name)
		n, elapsed, err := fetchTrack(ctx, rec, t.Name, out, io.Discard)
		if err != nil {
			return err
		}
		got, err := fileSHA256(out)
		if err != nil {
			return err
		}
		src, err := folder.OpenTrack(t.Name)
		if err != nil {
			return err
		}
		want, err := readerSHA256(src)
		src.Close()
		if err != nil {
			return err
		}
		verdict := "identical"
		if got != want {
			verdict = "DIFFERENT"
		}
		fmt.Fprintf(e.stdout, "  %-8s %9d bytes  %6.1f MB/s  sha256 %x… %s\n", t.Name, n, float64(n)/elapsed.Seconds()/1e6, got[:6], verdict)
		if got != want {
			return fmt.Errorf("track %q arrived different from the shared file", t.Name)
		}
	}
	return nil
}

func fileSHA256(path string) ([sha256.Size]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return [sha256.Size]byte{}, err
	}
	defer f.Close()
	return readerSHA256(f)
}

func readerSHA256(r io.Reader) ([sha256.Size]byte, error) {
	h := sha256.New()
	if _, err := io.Copy(h, r); err != nil {
		return [sha256.Size]byte{}, err
	}
	return [sha256.Size]byte(h.Sum(nil)), nil
}
