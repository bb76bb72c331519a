package service

import (
	"cmp"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/bulksync/bulksync/jobs"
	"github.com/hibiken/asynq"
)

// Defaults of Config.
const (
	DefaultSyncLimit   = 500
	DefaultSyncTimeout = 60 * time.Second
	DefaultMaxUpload   = 1 << 30
)

// Observer is told of every request the service answered: its route (the
// pattern it matched, such as "/v1/batches/{id}", without the "{$}" that
// anchors the bulk endpoint's; "/" for no endpoint), status and time
// taken. metrics.Metrics.HTTPRequest is one.
type Observer func(route string, status int, d time.Duration)

// Config configures a [Service].
type Config struct {
	// Store keeps the batches. Required.
	Store *jobs.Store
	// Queue enqueues the batches' chunks. Required.
	Queue *asynq.Client
	// Token is what clients must send as "Authorization: Bearer <token>"
	// or "Authorization: Api-Token <token>". Required unless
	// InsecureNoAuth. It is never logged.
	Token string
	// InsecureNoAuth serves every endpoint without authentication.
	InsecureNoAuth bool
	// SyncLimit is the most items of a bulk suggestion request answered
	// once done (200); larger ones are answered 202 at once. Defaults to
	// DefaultSyncLimit.
	SyncLimit int
	// SyncTimeout bounds the wait of a request answered once done; past
	// it the answer is 202. Defaults to DefaultSyncTimeout.
	SyncTimeout time.Duration
	// MaxUpload bounds a request's body in bytes; larger bodies get 413.
	// Defaults to DefaultMaxUpload (1 GiB).
	MaxUpload int64
	// SpoolDir holds uploads while they are imported. Defaults to
	// os.TempDir().
	SpoolDir string
	// BulkQueue is the asynq queue of bulk suggestion requests' chunks,
	// which someone waits for: it defaults to jobs.InteractiveQueue, which
	// workers take before the others. ImportQueue is that of uploaded
	// files' chunks; it defaults to jobs.DefaultQueue.
	BulkQueue, ImportQueue string
	// PollEvery is how often a waiting request reads its batch. Defaults
	// to 50 ms.
	PollEvery time.Duration
	// Metrics, when set, is served at GET /metrics (without auth).
	Metrics http.Handler
	// Observe, when set, is told of every request answered.
	Observe Observer
	// Logger receives the service's logs. Defaults to slog.Default().
	Logger *slog.Logger
}

// Service serves bulksync's HTTP API. Create it with [New]; it is an
// http.Handler.
type Service struct {
	cfg      Config
	mux      *http.ServeMux
	log      *slog.Logger
	stopping chan struct{} // closed by Stop: waiting requests answer at once
	stopOnce sync.Once
}

// New validates cfg and returns the service.
func New(cfg Config) (*Service, error) {
	switch {
	case cfg.Store == nil:
		return nil, errors.New("service: Store is required")
	case cfg.Queue == nil:
		return nil, errors.New("service: Queue is required")
	case cfg.Token == "" && !cfg.InsecureNoAuth:
		return nil, errors.New("service: Token is required (or InsecureNoAuth)")
	case cfg.SyncLimit < 0 || cfg.SyncTimeout < 0 || cfg.MaxUpload < 0:
		return nil, errors.New("service: SyncLimit, SyncTimeout and MaxUpload cannot be negative")
	}
	cfg.SyncLimit = cmp.Or(cfg.SyncLimit, DefaultSyncLimit)
	cfg.SyncTimeout = cmp.Or(cfg.SyncTimeout, DefaultSyncTimeout)
	cfg.MaxUpload = cmp.Or(cfg.MaxUpload, DefaultMaxUpload)
	cfg.SpoolDir = cmp.Or(cfg.SpoolDir, os.TempDir())
	cfg.BulkQueue = cmp.Or(cfg.BulkQueue, jobs.InteractiveQueue)
	cfg.ImportQueue = cmp.Or(cfg.ImportQueue, jobs.DefaultQueue)
	cfg.PollEvery = cmp.Or(cfg.PollEvery, 50*time.Millisecond)
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	s := &Service{cfg: cfg, mux: http.NewServeMux(), log: cfg.Logger, stopping: make(chan struct{})}
	s.routes()
	return s, nil
}

// routes registers the endpoints. Patterns name no method: each handler
// answers a wrong method itself, in JSON.
func (s *Service) routes() {
	s.handle("/healthz", false, s.healthz)
	s.handle("/readyz", false, s.readyz)
	if s.cfg.Metrics != nil {
		s.handle("/metrics", false, s.cfg.Metrics.ServeHTTP)
	}
	s.handle(BulkPath+"{$}", true, s.bulk)
	// Without it, the mux would answer the path without its trailing
	// slash with a redirect page, which a POST cannot follow.
	s.handle(strings.TrimSuffix(BulkPath, "/"), true, func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, codeNotFound, "no endpoint at "+r.URL.Path+": the bulk endpoint's path ends with a slash, "+BulkPath)
	})
	s.handle("/v1/imports", true, s.imports)
	s.handle("/v1/batches", true, s.listBatches)
	s.handle("/v1/batches/{id}", true, s.batch)
	s.handle("/v1/batches/{id}/results", true, s.results)
	s.handle("/", true, func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, codeNotFound, "no endpoint at "+r.URL.Path)
	})
}

// ServeHTTP implements http.Handler.
func (s *Service) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// Stop makes requests waiting for their batch answer at once (202), so
// that a graceful shutdown need not wait for them. The server's own
// Shutdown stops accepting requests.
func (s *Service) Stop() { s.stopOnce.Do(func() { close(s.stopping) }) }

// handle registers h at pattern, behind the token check when auth is
// set, and tells Observe of each answer.
func (s *Service) handle(pattern string, auth bool, h http.HandlerFunc) {
	route := strings.TrimSuffix(pattern, "{$}")
	s.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		defer func() {
			if s.cfg.Observe != nil {
				s.cfg.Observe(route, sw.status, time.Since(start))
			}
		}()
		if auth && !s.authorized(r) {
			sw.Header().Set("WWW-Authenticate", `Bearer realm="bulksync"`)
			writeError(sw, http.StatusUnauthorized, codeUnauthorized, "Authentication credentials were not provided or are wrong: send Authorization: Bearer <token>.")
			return
		}
		h(sw, r)
	})
}

// authorized reports whether r carries the token, as "Bearer <token>" or
// "Api-Token <token>", compared in constant time.
func (s *Service) authorized(r *http.Request) bool {
	if s.cfg.InsecureNoAuth {
		return true
	}
	h := r.Header.Get("Authorization")
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || (!strings.EqualFold(scheme, "Bearer") && !strings.EqualFold(scheme, "Api-Token")) {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(strings.TrimSpace(token)), []byte(s.cfg.Token)) == 1
}

// statusWriter remembers the status a handler wrote.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// healthz answers 200 while the process serves.
func (s *Service) healthz(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// ReadyTimeout is how long GET /readyz waits for Redis's answer to a
// ping before it answers 503.
const ReadyTimeout = 2 * time.Second

// readyz answers 200 when Redis answers a ping within ReadyTimeout, else
// 503. The wait is bounded here: go-redis leaves a context's deadline
// off the connection (its own read timeout, and retries, apply), so a
// Redis that accepts but does not answer would hold the ping longer.
func (s *Service) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), ReadyTimeout)
	defer cancel()
	pinged := make(chan error, 1)
	go func() { pinged <- s.cfg.Store.Client().Ping(ctx).Err() }()
	var err error
	select {
	case err = <-pinged:
	case <-ctx.Done():
		err = fmt.Errorf("no answer to a ping within %s", ReadyTimeout)
	}
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, codeUnavailable, "Redis is not reachable: "+err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// writeJSON writes v as the JSON answer with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
