// Command lokiz is the LOKIZ backend: one binary whose subcommands are the
// process roles (api, worker, scheduler, dashboard), the database migrator,
// the all-in-one development mode and the demo-data seeder.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// version is stamped at build time with -ldflags "-X main.version=...".
var version = "dev"

// errUsage marks a command-line mistake: exit code 2, usage already printed.
var errUsage = errors.New("usage")

type command struct {
	name    string
	summary string
	usage   string
	run     func(ctx context.Context, env *environment, args []string) error
}

// commands is filled in init: the run functions refer back to it for help.
var commands []command

func init() {
	commands = []command{
		{"api", "serve the HTTP API (HTTP_ADDR, default :8000)", "lokiz api", runAPI},
		{"worker", "run the task worker (asynq server) against Redis and Postgres", "lokiz worker", runWorker},
		{"scheduler", "enqueue periodic tasks and reconcilers on their schedule", "lokiz scheduler", runScheduler},
		{"dashboard", "serve asynqmon and queue metrics (DASHBOARD_ADDR, default :8081)", "lokiz dashboard", runDashboard},
		{"migrate", "apply or list database migrations", "lokiz migrate up|status", runMigrate},
		{"dev", "run migrations, then api, worker, scheduler and dashboard in one process", "lokiz dev", runDev},
		{"seed", "create demo accounts and videos (idempotent) for local development, or with -bulk a sized data set for load runs", "lokiz seed [-password P] [-bulk [-users N] [-videos N] [-likes N] [-follows N]]", runSeed},
		{"admin", "create an admin, or grant or revoke the role (each change is audited)", adminUsage, runAdmin},
		{"replicate-sim", "serve a Replicate-compatible simulator that makes real media with ffmpeg (development and tests)", "lokiz replicate-sim [-addr :8090]", runReplicateSim},
	}
}

// environment is what every subcommand receives: the process's view of the
// outside world, replaceable in tests.
type environment struct {
	getenv func(string) string
	stdout io.Writer
	stderr io.Writer
	// listen opens the TCP listeners of the HTTP servers (api, metrics,
	// dashboard, replicate-sim) on the configured address; nil means
	// net.Listen. Tests set it to hand over listeners they bound already,
	// so that no other listener of the process (the dev role's SMTP
	// capture or Toss simulator, a parallel test) can take the port
	// between choosing it and serving on it.
	listen func(addr string) (net.Listener, error)
	// spanExporter, when not nil, receives the spans of the roles that
	// trace (api, worker, dev) as they end, with tracing on whatever the
	// OTEL variables say: tests read them back from an in-memory exporter.
	spanExporter sdktrace.SpanExporter
}

// Listen opens a TCP listener on addr through env.listen, or net.Listen.
func (env *environment) Listen(addr string) (net.Listener, error) {
	if env.listen != nil {
		return env.listen(addr)
	}
	return net.Listen("tcp", addr)
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, &environment{getenv: os.Getenv, stdout: os.Stdout, stderr: os.Stderr}, os.Args[1:])
	stop()
	os.Exit(code)
}

// run dispatches to a subcommand and turns its result into an exit code.
func run(ctx context.Context, env *environment, args []string) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		printUsage(env.stdout)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, cmd := range commands {
		if cmd.name != args[0] {
			continue
		}
		err := cmd.run(ctx, env, args[1:])
		switch {
		case err == nil:
			return 0
		case errors.Is(err, flag.ErrHelp):
			return 0
		case errors.Is(err, errUsage):
			return 2
		default:
			fmt.Fprintf(env.stderr, "lokiz %s: %v\n", cmd.name, err)
			return 1
		}
	}
	fmt.Fprintf(env.stderr, "lokiz: unknown command %q\n\n", args[0])
	printUsage(env.stderr)
	return 2
}

func printUsage(w io.Writer) {
	fmt.Fprintf(w, "lokiz %s: the LOKIZ backend\n\nUsage: lokiz <command> [flags]\n\nCommands:\n", version)
	for _, c := range commands {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(w, "\nEvery command reads its configuration from the environment; see README.md.\n"+
		"Run 'lokiz <command> --help' for a command's own help.\n")
}

// newFlags returns a FlagSet whose --help prints the command's usage, its
// summary and its flags.
func newFlags(env *environment, name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(env.stdout)
	for _, c := range commands {
		if c.name == name {
			fs.Usage = func() {
				fmt.Fprintf(env.stdout, "Usage: %s\n\n%s.\n", c.usage, c.summary)
				hasFlags := false
				fs.VisitAll(func(*flag.Flag) { hasFlags = true })
				if hasFlags {
					fmt.Fprintln(env.stdout, "\nFlags:")
					fs.PrintDefaults()
				}
			}
		}
	}
	return fs
}

// parseFlags parses args, mapping a parse failure to errUsage.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	return nil
}

// newLogger builds the process logger from the config.
func newLogger(cfg Config, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.Log.Level}
	var h slog.Handler = slog.NewTextHandler(w, opts)
	if cfg.Log.Format == "json" {
		h = slog.NewJSONHandler(w, opts)
	}
	return slog.New(h).With("service", "lokiz")
}
