// Package cli is Reelay's command line: it parses arguments and runs a
// command (share, probe, fetch, demo, …) over the engine and the network.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"reelay/media"
)

// command is one subcommand: its name, a one-line summary and its body.
type command struct {
	name    string
	usage   string
	summary string
	run     func(ctx context.Context, env *env, args []string) error
}

// env is what a command may touch, so tests can run commands in-process
// with their own output streams.
type env struct {
	stdout, stderr io.Writer
	log            *slog.Logger
}

var commands []command

func init() {
	commands = []command{
		{"share", "share DIR [--listen MULTIADDR ...] [--identity FILE] [REACH FLAGS]", "share a recording folder and print its link", runShare},
		{"probe", "probe LINK [REACH FLAGS]", "print a shared recording's tracks as JSON", runProbe},
		{"fetch", "fetch LINK TRACK -o FILE", "copy a whole track to a file", runFetch},
		{"framemd5", "framemd5 SOURCE TRACK", "print a track's decoded frames as ffmpeg -f framemd5 does", runFrameMD5},
		{"demo", "demo [--headless] [--link 50ms,1mbit,1%] [--for DUR] [--report json]", "share the built-in demo on loopback and watch it (--headless: no window;\n      --link: across an emulated home link)", runDemo},
		{"play", playUsage, "play without a window and print a JSON report (--help: details)", runPlay},
		{"relay", "relay [--listen MULTIADDR ...] [--identity FILE] [--unlimited] [--bootstrap MULTIADDR ...]", "run a public relay, DHT bootstrap and AutoNAT server for peers behind NATs", runRelay},
		{"bench", "bench [--runs N] [--link 50ms,20mbit,0.1%]", "time seeks and first frames over loopback (or an emulated home link) against a local folder", runBench},
	}
}

// errUsage marks errors whose fix is reading the usage line.
var errUsage = errors.New("usage")

// Main runs Reelay with the given arguments and returns the exit code.
func Main(args []string) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	e := &env{stdout: os.Stdout, stderr: os.Stderr}
	e.log = slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: logLevel()}))
	// With REELAY_DEBUG, FFmpeg's own warnings too.
	media.LogFFmpeg(logLevel() == slog.LevelDebug)
	return run(ctx, e, args)
}

func logLevel() slog.Level {
	if os.Getenv("REELAY_DEBUG") != "" {
		return slog.LevelDebug
	}
	return slog.LevelInfo
}

func run(ctx context.Context, e *env, args []string) int {
	if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
		printUsage(e.stderr)
		return 0
	}
	for _, c := range commands {
		if len(args) > 0 && c.name == args[0] {
			return exitCode(e, c.usage, c.run(ctx, e, args[1:]))
		}
	}
	// No command: the window, on Home or on the link or folder named.
	if len(args) == 0 || opensWindow(args[0]) {
		return exitCode(e, windowUsage, runWindow(ctx, e, args))
	}
	if msg := notAFolder(args[0]); msg != "" {
		fmt.Fprintf(e.stderr, "reelay: %s\n", msg)
		return 1
	}
	fmt.Fprintf(e.stderr, "reelay: unknown command %q\n", args[0])
	printUsage(e.stderr)
	return 2
}

// notAFolder says, in plain words, why arg, meant as a recording folder,
// cannot be played: it names a file, or nothing at all. It is "" when arg
// reads as a command instead (a word without a path's marks).
func notAFolder(arg string) string {
	fi, err := os.Stat(arg)
	switch {
	case err == nil && !fi.IsDir():
		return fmt.Sprintf("%s is a file, not a recording folder: play or share the folder that holds it", arg)
	case err == nil:
		return ""
	case strings.ContainsRune(arg, os.PathSeparator) || strings.HasPrefix(arg, ".") || strings.HasPrefix(arg, "~"):
		return fmt.Sprintf("no such folder: %s", arg)
	}
	return ""
}

// exitCode reports a command's error and says the exit code.
func exitCode(e *env, usage string, err error) int {
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		var h helpError
		if errors.As(err, &h) {
			fmt.Fprintf(e.stderr, "usage: reelay %s\n%s", usage, h.flags)
		}
		return 0
	case errors.Is(err, errUsage):
		fmt.Fprintf(e.stderr, "reelay: %v\nusage: reelay %s\n", err, usage)
		return 2
	default:
		fmt.Fprintf(e.stderr, "reelay: %v\n", err)
		return 1
	}
}

func printUsage(w io.Writer) {
	fmt.Fprintf(w, `Reelay: watch a friend's recording straight from their machine.

  reelay %s
      open the window: Home, or the player on a link or a local folder
`, windowUsage)
	for _, c := range commands {
		fmt.Fprintf(w, "  reelay %s\n      %s\n", c.usage, c.summary)
	}
	fmt.Fprint(w, `
REACH FLAGS (share, probe; or the environment for the other commands):
  --bootstrap MULTIADDR   DHT bootstrap peer ($REELAY_BOOTSTRAP)
  --relay MULTIADDR       circuit relay to meet through ($REELAY_RELAY)
  --no-dht, --no-mdns     no DHT lookups / no local-network discovery
                          ($REELAY_NO_DHT=1, $REELAY_NO_MDNS=1)
`)
}

// parseFlags parses flags that may come before or after positional
// arguments (reelay share DIR --listen X), returning the positionals.
func parseFlags(fs *flag.FlagSet, args []string) ([]string, error) {
	fs.SetOutput(io.Discard)
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				var b strings.Builder
				fs.SetOutput(&b)
				fs.PrintDefaults()
				return nil, helpError{flags: b.String()}
			}
			return nil, fmt.Errorf("%w: %v", errUsage, err)
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// helpError answers -h: the command's flags, printed under its usage line.
type helpError struct{ flags string }

func (helpError) Error() string { return "help requested" }
func (helpError) Unwrap() error { return flag.ErrHelp }

// stringList is a repeatable string flag.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }
