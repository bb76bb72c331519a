// Command bulksync turns roster files into idempotent API calls.
//
// Usage:
//
//	bulksync import [flags] FILE      validate, enqueue, wait and report
//	bulksync worker [flags]           work the queued chunks (needs REDIS_URL)
//	bulksync report [flags] BATCH_ID  report on a batch (needs REDIS_URL)
//	bulksync sandbox [flags]          serve the sandbox Data Manager API
//
// Exit codes: 0 every row succeeded, 1 some row failed or was not
// processed, 2 a usage error or an unreadable file, 3 bulksync itself could
// not run (Redis or the network).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/bulksync/bulksync/ingest"
)

// Exit codes.
const (
	exitOK      = 0
	exitFailed  = 1
	exitUsage   = 2
	exitRuntime = 3
)

// usageError is a problem with the command line or the input file.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

// exitError carries an exit code without a message (the report said it).
type exitError int

func (e exitError) Error() string { return fmt.Sprintf("exit %d", int(e)) }

const usage = `bulksync turns roster files into idempotent API calls.

Usage:
  bulksync import [flags] FILE      validate FILE, enqueue it, wait for the workers, report
  bulksync worker [flags]           work queued chunks (needs REDIS_URL, BULKSYNC_API_URL)
  bulksync report [flags] BATCH_ID  write a batch's summary and results (needs REDIS_URL)
  bulksync sandbox [flags]          serve the sandbox Data Manager API
  bulksync serve [flags]            serve the HTTP API: bulk suggestions, uploads, batches (needs REDIS_URL)
  bulksync cancel BATCH_ID          cancel a batch: rows not yet attempted stay unprocessed (needs REDIS_URL)
  bulksync batches [--limit N]      list recent batches (needs REDIS_URL)
  bulksync sync plan|run|apply|history ... --config FILE   scheduled HRIS syncs (docs/syncs.md)
  bulksync scheduler --config FILE  fire the syncs' schedules (needs REDIS_URL)

Run "bulksync COMMAND -h" for a command's flags.

Environment:
  REDIS_URL             Redis for the queue and batches; unset: an in-process Redis (import only)
  BULKSYNC_API_URL      the Data Manager base URL; unset: the in-process sandbox (import only)
  BULKSYNC_API_TOKEN    the platform API key (never logged)

  UiPath, for uipath-group-licenses files (secrets never logged):
  UIPATH_URL            https://{yourDomain}; unset: the in-process sandbox when BULKSYNC_API_URL
                        is unset too (import only), else UiPath rows fail with not_configured
  UIPATH_ORG            the {organizationName} path segment (unset: the older paths without it)
  UIPATH_CLIENT_ID      external application credentials (client credentials grant) ...
  UIPATH_CLIENT_SECRET
  UIPATH_SCOPE          ... and its scope (default PM.License.Write)
  UIPATH_USERNAME       or ROPC credentials, used when UIPATH_CLIENT_ID is unset ...
  UIPATH_PASSWORD
  UIPATH_TENANT         ... and the tenant they log in to
`

func main() {
	// An import against REDIS_URL runs alone in this process: hold its heap
	// near what is live (GOMEMLIMIT, when set, has the last word).
	if len(os.Args) > 1 && os.Args[1] == "import" && os.Getenv("REDIS_URL") != "" && os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(ingest.MemoryLimit)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Getenv)
	stop()
	os.Exit(code)
}

// env reads an environment variable.
type env func(string) string

func run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv env) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	log := newLogger(stderr, getenv)
	var err error
	switch args[0] {
	case "import":
		err = runImport(ctx, args[1:], stdout, stderr, getenv, log)
	case "worker":
		err = runWorker(ctx, args[1:], stderr, getenv, log)
	case "report":
		err = runReport(ctx, args[1:], stdout, stderr, getenv)
	case "sandbox":
		err = runSandbox(ctx, args[1:], stderr, getenv, log)
	case "serve":
		err = runServe(ctx, args[1:], getenv, log)
	case "cancel":
		err = runCancel(ctx, args[1:], stdout, getenv)
	case "batches":
		err = runBatches(ctx, args[1:], stdout, getenv)
	case "sync":
		err = runSync(ctx, args[1:], stdout, stderr, getenv, log)
	case "scheduler":
		err = runScheduler(ctx, args[1:], getenv, log)
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return exitOK
	default:
		fmt.Fprintf(stderr, "bulksync: unknown command %q\n\n%s", args[0], usage)
		return exitUsage
	}
	var ue usageError
	var ee exitError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &ee):
		return int(ee)
	case errors.Is(err, flag.ErrHelp):
		return exitOK
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "bulksync %s: %v\n", args[0], err)
		return exitUsage
	default:
		fmt.Fprintf(stderr, "bulksync %s: %v\n", args[0], err)
		return exitRuntime
	}
}

func logLevel(s string) slog.Level {
	var l slog.Level
	if l.UnmarshalText([]byte(s)) != nil {
		return slog.LevelInfo
	}
	return l
}

// parseFlags parses flags that may come before or after the positional
// arguments ("import FILE --summary s.json") and returns the positionals.
func parseFlags(fs *flag.FlagSet, args []string) ([]string, error) {
	fs.SetOutput(io.Discard)
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fs.SetOutput(os.Stderr)
				fs.Usage()
				return nil, err
			}
			return nil, usageError{err}
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		if args[0] == "--" {
			return append(pos, args[1:]...), nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// flagUsage sets a flag set's usage text.
// batchArg parses a command's flags and its one argument, a batch id.
func batchArg(fs *flag.FlagSet, args []string) (string, error) {
	pos, err := parseFlags(fs, args)
	if err != nil {
		return "", err
	}
	if len(pos) != 1 {
		return "", usagef("want exactly one BATCH_ID, got %d arguments", len(pos))
	}
	return pos[0], nil
}

func flagUsage(fs *flag.FlagSet, synopsis string) {
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: %s\n\nFlags:\n", synopsis)
		fs.PrintDefaults()
	}
}
