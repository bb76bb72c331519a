package main

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/bulksync/bulksync/metrics"
	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
)

// newMetrics registers bulksync's metrics on a registry of their own,
// with the gauges read from rt's Redis at each scrape. The inspector is
// closed with rt.
func newMetrics(rt *runtime) *metrics.Metrics {
	m := metrics.New(prometheus.NewRegistry())
	ins := asynq.NewInspector(rt.redisOpt)
	rt.closers = append(rt.closers, func() { _ = ins.Close() })
	m.WatchRedis(rt.store, ins)
	return m
}

// serveMetrics serves GET /metrics on addr until ctx ends (a worker's
// --metrics-addr). It returns once it listens.
func serveMetrics(ctx context.Context, addr string, m *metrics.Metrics, log *slog.Logger) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return usagef("--metrics-addr: %v", err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", m.Handler())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics server stopped", "err", err)
		}
	}()
	context.AfterFunc(ctx, func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	})
	log.Info("serving metrics", "addr", ln.Addr().String())
	return nil
}
