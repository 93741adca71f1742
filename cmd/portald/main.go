// Command portald is the portal access backend: it serves the command and read APIs over an
// event store and read models, and carries the operator's tools.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
)

const usage = `portald — portal access backend

Usage:
  portald serve [flags]            run the service (embedded event store and read-model store by default)
  portald tenant create [flags]    bootstrap a tenant and invite its first admin
  portald token [flags]            mint a development token (development authentication only)
  portald rebuild [flags]          drop and rebuild every read model in Redis from the event log
  portald bench [flags]            start the system in-process on a real Redis, measure it and print one report
  portald eventstore [flags]       run the embedded event store alone (EventStoreDB gRPC protocol), for serve --eventstore
  portald help                     show this help

Run 'portald <command> -h' for the flags of a command.
`

// exitError carries the process exit code of a failed command.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		code := 1
		var ee *exitError
		if errors.As(err, &ee) {
			code = ee.code
		}
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintf(os.Stderr, "portald: %v\n", err)
		} else {
			code = 0
		}
		os.Exit(code)
	}
}

func run(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return &exitError{code: 2, err: errors.New("no command given")}
	}
	switch args[0] {
	case "serve":
		return serve(args[1:], stdout, stderr)
	case "token":
		return token(args[1:], stdout, stderr)
	case "tenant":
		return tenant(args[1:], stdout, stderr)
	case "rebuild":
		return rebuild(args[1:], stdout, stderr)
	case "bench":
		return bench(args[1:], stdout, stderr)
	case "eventstore":
		return runEventStore(args[1:], stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	return &exitError{code: 2, err: fmt.Errorf("unknown command %q (try 'portald help')", args[0])}
}

// newFlagSet returns a flag set that reports errors as one line instead of printing usage.
func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return fs
}

// parseFlags parses args, printing the defaults for -h and wrapping errors with exit code 2.
func parseFlags(fs *flag.FlagSet, args []string, stderr io.Writer) error {
	err := fs.Parse(args)
	if errors.Is(err, flag.ErrHelp) {
		fs.SetOutput(stderr)
		fmt.Fprintf(stderr, "Usage of portald %s:\n", fs.Name())
		fs.PrintDefaults()
		return err
	}
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	if fs.NArg() > 0 {
		return &exitError{code: 2, err: fmt.Errorf("unexpected argument %q", fs.Arg(0))}
	}
	return nil
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

func newLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, &exitError{code: 2, err: fmt.Errorf("bad --log-level %q: use debug, info, warn or error", level)}
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch strings.ToLower(format) {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, &exitError{code: 2, err: fmt.Errorf("bad --log-format %q: use text or json", format)}
}

// usageErr is a usage error: a one-line message and exit code 2.
func usageErr(format string, args ...any) error {
	return &exitError{code: 2, err: fmt.Errorf(format, args...)}
}

// given reports whether the flag was set on the command line.
func given(fs *flag.FlagSet, name string) bool {
	found := false
	fs.Visit(func(f *flag.Flag) {
		if f.Name == name {
			found = true
		}
	})
	return found
}

// splitList splits a comma-separated flag value, dropping blanks.
func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
