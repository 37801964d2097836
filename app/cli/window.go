package cli

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"
	gosync "sync"
	"time"

	"reelay/app"
	p2pnet "reelay/net"
	avsync "reelay/sync"
)

// windowUsage is how the window is opened from the command line.
const windowUsage = "[LINK | DIR] [--for DUR] [--report json]"

// noDisplayHint follows the message when there is no display.
const noDisplayHint = "; without a window, try `reelay demo --headless` (or `reelay share DIR`, `reelay play SOURCE --headless`)"

// opensWindow says a first argument names something to watch: a link or
// a recording folder.
func opensWindow(arg string) bool {
	if strings.HasPrefix(arg, "reelay://") {
		return true
	}
	fi, err := os.Stat(arg)
	return err == nil && fi.IsDir()
}

// windowFlags are the flags every window command takes.
type windowFlags struct {
	// forDur closes the window after that much playback.
	forDur time.Duration
	// report is the report's format ("json"), "" for none.
	report string
}

func (f *windowFlags) register(fs *flag.FlagSet) {
	fs.DurationVar(&f.forDur, "for", 0, "close the window after this much playback (or at the end)")
	fs.StringVar(&f.report, "report", "", "print figures measured during playback when the window closes: json")
}

// options turns the flags into the window's options.
func (f *windowFlags) options(e *env) (app.Options, error) {
	o := app.Options{Dial: dialRemote, For: f.forDur}
	switch f.report {
	case "":
	case "json":
		o.Report = e.stdout
	default:
		return o, fmt.Errorf("%w: --report takes json", errUsage)
	}
	if os.Getenv("REELAY_UI_DEBUG") != "" {
		o.Debug = e.stderr
	}
	return o, nil
}

// runWindow opens the window: Home without arguments, the player on a
// link or on a local recording folder.
func runWindow(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("reelay", flag.ContinueOnError)
	var wf windowFlags
	wf.register(fs)
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 1 {
		return fmt.Errorf("%w: the window opens one link or folder", errUsage)
	}
	o, err := wf.options(e)
	if err != nil {
		return err
	}
	if len(pos) == 1 {
		if strings.HasPrefix(pos[0], "reelay://") {
			o.Link = pos[0]
		} else {
			o.Folder = pos[0]
		}
	}
	if err := app.CheckDisplay(); err != nil {
		return fmt.Errorf("%w%s", err, noDisplayHint)
	}
	hs := &homeSharer{log: e}
	defer hs.close()
	o.Share = hs.share
	o.StartDemo = func() (string, func(), error) {
		_, link, stop, err := shareDemo(e.log)
		if err != nil {
			return "", nil, err
		}
		return link.String(), stop, nil
	}
	return app.Run(ctx, o)
}

// runDemoWindow shares the built-in demo on loopback and opens the player
// on its link, through the real libp2p path.
func runDemoWindow(ctx context.Context, e *env, wf windowFlags, across *p2pnet.EmulatedLink) error {
	o, err := wf.options(e)
	if err != nil {
		return err
	}
	if err := app.CheckDisplay(); err != nil {
		return fmt.Errorf("%w%s", err, noDisplayHint)
	}
	var link p2pnet.Link
	var stop func()
	if across == nil {
		_, link, stop, err = shareDemo(e.log)
	} else {
		// The sharer and the viewer meet only across the emulated link.
		var pair *p2pnet.EmulatedPair
		if pair, err = p2pnet.NewEmulatedPair(*across, p2pnet.TransportQUIC); err != nil {
			return err
		}
		defer pair.Close()
		_, link, stop, err = shareDemoFrom(pair.Sharer, e.log)
		o.Dial = func(ctx context.Context, s string) (app.Remote, error) {
			l, err := p2pnet.ParseLink(s)
			if err != nil {
				return nil, err
			}
			rec, err := p2pnet.Dial(ctx, pair.Viewer, l)
			if err != nil {
				return nil, err
			}
			return &remoteRecording{Source: rec.Source(), rec: rec}, nil
		}
		fmt.Fprintf(e.stderr, "the viewer reaches the sharer across an emulated link: %s\n", across)
	}
	if err != nil {
		return err
	}
	defer stop()
	fmt.Fprintf(e.stderr, "sharing the demo recording at\n  %s\n", link)
	o.Link, o.Demo = link.String(), true
	return app.Run(ctx, o)
}

// dialRemote connects to a link's sharer from a fresh viewer host.
func dialRemote(ctx context.Context, link string) (app.Remote, error) {
	h, rec, err := openLink(ctx, link)
	if err != nil {
		return nil, err
	}
	return &remoteRecording{Source: rec.Source(), h: h, rec: rec}, nil
}

// remoteRecording is a dialled recording with the host that dialled it.
type remoteRecording struct {
	avsync.Source
	// h is the viewer's host, closed with the recording; nil when the
	// host outlives it (a demo across an emulated link).
	h   *p2pnet.Host
	rec *p2pnet.Recording
}

func (r *remoteRecording) RTT() time.Duration { return r.rec.RTT() }

// Updated tells the engine when a live track grew or a track appeared.
func (r *remoteRecording) Updated() <-chan struct{} { return r.rec.Updated() }

func (r *remoteRecording) Path() string {
	if p := r.rec.Path(); p != p2pnet.PathUnknown {
		return p.String()
	}
	return ""
}

// Close ends the recording, and the viewer's host when it has its own.
func (r *remoteRecording) Close() error {
	if r.h == nil {
		return r.rec.Close()
	}
	return r.h.Close()
}

// homeSharer shares folders chosen on Home with the user's identity, so
// links survive a restart: from this process, made a sharer on first use,
// or through the Reelay already sharing with that identity.
type homeSharer struct {
	log *env
	// once makes ss on first use, or sets err.
	once gosync.Once
	ss   *shareService
	err  error
}

func (hs *homeSharer) share(dir string) (app.Sharing, error) {
	hs.once.Do(func() {
		id, err := identityPath("")
		if err != nil {
			hs.err = err
			return
		}
		hs.ss = newShareService(hs.log, id, func() (p2pnet.HostOptions, error) {
			// As `reelay share` does: reachable through NATs.
			rf := &reachFlags{noDHT: envBool("REELAY_NO_DHT"), noMDNS: envBool("REELAY_NO_MDNS")}
			ro, err := rf.options(hs.log.log)
			if err != nil {
				return p2pnet.HostOptions{}, err
			}
			ro.Rendezvous = true
			return p2pnet.HostOptions{Reach: ro}, nil
		})
	})
	if hs.err != nil {
		return nil, hs.err
	}
	sf, err := hs.ss.share(dir, false)
	if err != nil {
		return nil, err
	}
	hs.log.log.Info("sharing", "folder", dir, "link", sf.Link())
	return sf, nil
}

func (hs *homeSharer) close() {
	if hs.ss != nil {
		hs.ss.close()
	}
}
