// Command consentdesk-bench is ConsentDesk's benchmark tooling, apart
// from the store's binary so that a store's machine carries none of it:
//
//	consentdesk-bench load     [--dir DIR] [--duration 10s] [--workers 8] [--burst 300] [--json]
//	                           [--db postgres://… --files PATH --server CONSENTDESK --servers N --stores N]
//	consentdesk-bench generate --db NEW.db [--customers 1000000] [--events 10000000]
//
// Run it from the module with go run ./cmd/consentdesk-bench, or build it.
// The figures and the exact commands are in BENCHMARKS.md. Every flag
// also reads CONSENTDESK_<FLAG> from the environment, as consentdesk's do.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, nil)))
	if err := Run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "consentdesk-bench:", err)
		os.Exit(1)
	}
}

const usage = "usage: consentdesk-bench load|generate [flags] (BENCHMARKS.md)"

// Run executes one subcommand; tests call it directly.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return fmt.Errorf("no command given; %s", usage)
	}
	cmd, args := args[0], args[1:]
	switch cmd {
	case "load":
		return load(ctx, args, stdout, stderr)
	case "generate":
		return generate(ctx, args, stdout, stderr)
	case "load-traffic": // the load command's generator process
		return loadTraffic(ctx, os.Stdin, stdout)
	case "help", "-h", "--help":
		fmt.Fprintln(stdout, usage)
		return nil
	}
	return fmt.Errorf("unknown command %q; %s", cmd, usage)
}

// parseFlags reads CONSENTDESK_<FLAG> from the environment first, then
// the flags, which win: as consentdesk does, so that a setting exported
// for the store's binary means the same here.
func parseFlags(fs *flag.FlagSet, args []string) error {
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		env := "CONSENTDESK_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v, ok := os.LookupEnv(env); ok && err == nil {
			if e := f.Value.Set(v); e != nil {
				err = fmt.Errorf("%s: %w", env, e)
			}
		}
	})
	if err != nil {
		return err
	}
	return fs.Parse(args)
}

// newHTTPServer has the timeouts of consentdesk serve's servers, so that
// load measures the server as a store runs it.
func newHTTPServer(h http.Handler) *http.Server {
	return &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 60 * time.Second, WriteTimeout: 60 * time.Second, IdleTimeout: 120 * time.Second}
}
