package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/bulksync/bulksync/service"
	"github.com/hibiken/asynq"
)

func runServe(ctx context.Context, args []string, getenv env, log *slog.Logger) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	flagUsage(fs, "bulksync serve [flags]")
	var (
		cfg             service.Config
		addr            string
		shutdownTimeout time.Duration
		maxUpload       = byteSize(service.DefaultMaxUpload)
	)
	fs.StringVar(&addr, "addr", "127.0.0.1:8080", "listen on `HOST:PORT`")
	fs.IntVar(&cfg.SyncLimit, "sync-limit", service.DefaultSyncLimit, "most items of a bulk suggestion request answered once done (200); larger ones get 202")
	fs.DurationVar(&cfg.SyncTimeout, "sync-timeout", service.DefaultSyncTimeout, "longest wait of a request answered once done; past it, 202")
	fs.Var(&maxUpload, "max-upload", "largest request body, in bytes or with a unit (KiB, MiB, GiB); larger ones get 413")
	fs.BoolVar(&cfg.InsecureNoAuth, "insecure-no-auth", false, "serve without authentication (BULKSYNC_SERVE_TOKEN unset)")
	fs.DurationVar(&shutdownTimeout, "shutdown-timeout", 10*time.Second, "how long a shutdown waits for requests in progress")
	fs.StringVar(&cfg.SpoolDir, "spool-dir", "", "where uploads are kept while they are imported (default: the system's temporary directory)")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("unexpected arguments %q", pos)
	}
	cfg.MaxUpload = int64(maxUpload)
	cfg.Token = getenv("BULKSYNC_SERVE_TOKEN")
	if cfg.Token == "" && !cfg.InsecureNoAuth {
		return usagef("BULKSYNC_SERVE_TOKEN is not set: clients must send it as Authorization: Bearer <token> (--insecure-no-auth serves without it)")
	}
	rt := &runtime{}
	defer rt.close()
	if err := openRedis(ctx, rt, getenv, false); err != nil {
		return err
	}
	q := asynq.NewClient(rt.redisOpt)
	defer q.Close()
	m := newMetrics(rt)
	cfg.Store, cfg.Queue, cfg.Logger = rt.store, q, log
	cfg.Metrics, cfg.Observe = m.Handler(), m.HTTPRequest
	svc, err := service.New(cfg)
	if err != nil {
		return usageError{err}
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return usagef("--addr: %v", err)
	}
	srv := &http.Server{Handler: svc, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	log.Info("serving", "addr", ln.Addr().String(), "auth", !cfg.InsecureNoAuth, "sync_limit", cfg.SyncLimit, "max_upload", cfg.MaxUpload)
	select {
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	// Shutdown order: waiting requests answer 202 at once, the listener
	// closes, then requests in progress get shutdownTimeout to end.
	log.Info("shutting down", "timeout", shutdownTimeout)
	svc.Stop()
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		_ = srv.Close()
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	log.Info("stopped")
	return nil
}

// byteSize is a flag of a size in bytes, given as a number with an
// optional unit: KiB, MiB, GiB (or KB, MB, GB, as powers of 1000).
type byteSize int64

var byteUnits = []struct {
	suffix string
	n      int64
}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"B", 1}}

func (b *byteSize) String() string {
	n := int64(*b)
	for _, u := range []struct {
		suffix string
		n      int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n >= u.n && n%u.n == 0 {
			return strconv.FormatInt(n/u.n, 10) + u.suffix
		}
	}
	return strconv.FormatInt(n, 10)
}

func (b *byteSize) Set(s string) error {
	num, mult := strings.TrimSpace(s), int64(1)
	for _, u := range byteUnits {
		if rest, ok := strings.CutSuffix(num, u.suffix); ok {
			num, mult = strings.TrimSpace(rest), u.n
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n <= 0 {
		return fmt.Errorf("%q is not a size (such as 1GiB, 512MiB or 1048576)", s)
	}
	*b = byteSize(n * mult)
	return nil
}
