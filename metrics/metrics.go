// Package metrics is bulksync's Prometheus instrumentation: the counters
// and histograms that bulksync serve and bulksync worker expose at
// /metrics, all named bulksync_*, registered on a registry the caller
// owns (no global state).
//
//	bulksync_rows_total{kind,status,code}                 row outcomes recorded by workers
//	bulksync_api_requests_total{endpoint,status}          Data Manager API requests, by answer
//	bulksync_api_request_duration_seconds{endpoint}       their latency
//	bulksync_api_retries_total                            API calls retried on a transient fault
//	bulksync_http_requests_total{route,status}            requests bulksync serve answered
//	bulksync_http_request_duration_seconds{route}         their latency
//	bulksync_batches{state}                               recent batches by state (read at scrape time)
//	bulksync_queue_tasks{queue,state}                     asynq tasks by queue and state (read at scrape time)
package metrics

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/bulksync/bulksync/jobs"
	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics holds bulksync's metrics. Its methods are safe for concurrent
// use; a nil *Metrics records nothing.
type Metrics struct {
	reg          *prometheus.Registry
	rows         *prometheus.CounterVec
	apiRequests  *prometheus.CounterVec
	apiDuration  *prometheus.HistogramVec
	retries      prometheus.Counter
	httpRequests *prometheus.CounterVec
	httpDuration *prometheus.HistogramVec
}

// New registers bulksync's metrics, and the Go runtime's and process's
// collectors, on reg.
func New(reg *prometheus.Registry) *Metrics {
	m := &Metrics{
		reg: reg,
		rows: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bulksync_rows_total", Help: "Row outcomes recorded by workers, by kind, status (ok, failed) and error code.",
		}, []string{"kind", "status", "code"}),
		apiRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bulksync_api_requests_total", Help: "Data Manager API requests, by endpoint (the operation) and HTTP status (0: no answer).",
		}, []string{"endpoint", "status"}),
		apiDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "bulksync_api_request_duration_seconds", Help: "Latency of Data Manager API requests, by endpoint.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 12),
		}, []string{"endpoint"}),
		retries: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "bulksync_api_retries_total", Help: "API calls retried by workers after a transient fault.",
		}),
		httpRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bulksync_http_requests_total", Help: "Requests bulksync serve answered, by route and HTTP status.",
		}, []string{"route", "status"}),
		httpDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "bulksync_http_request_duration_seconds", Help: "Latency of bulksync serve's answers, by route.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 14),
		}, []string{"route"}),
	}
	reg.MustRegister(m.rows, m.apiRequests, m.apiDuration, m.retries, m.httpRequests, m.httpDuration,
		prometheus.NewGoCollector(), prometheus.NewProcessCollector(prometheus.ProcessCollectorOpts{}))
	return m
}

// Handler serves the registry's metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// Row counts a row's outcome.
func (m *Metrics) Row(kind string, o jobs.Outcome) {
	if m != nil {
		m.rows.WithLabelValues(kind, o.Status, o.ErrorCode).Inc()
	}
}

// Retry counts an API call retried after a transient fault.
func (m *Metrics) Retry() {
	if m != nil {
		m.retries.Inc()
	}
}

// APIRequest counts a Data Manager API request: its operation ("upsert
// program suggestion"), the answer's status (0: none) and its latency.
// It is a dmapi.Config.Observe function.
func (m *Metrics) APIRequest(endpoint string, status int, d time.Duration) {
	if m != nil {
		m.apiRequests.WithLabelValues(endpoint, strconv.Itoa(status)).Inc()
		m.apiDuration.WithLabelValues(endpoint).Observe(d.Seconds())
	}
}

// HTTPRequest counts a request bulksync serve answered. It is a
// service.Config.Observe function.
func (m *Metrics) HTTPRequest(route string, status int, d time.Duration) {
	if m != nil {
		m.httpRequests.WithLabelValues(route, strconv.Itoa(status)).Inc()
		m.httpDuration.WithLabelValues(route).Observe(d.Seconds())
	}
}

// WatchRedis registers the gauges read from Redis at each scrape: the
// states of the most recent batches of store (up to RecentBatches) and
// the tasks of every asynq queue, by state.
func (m *Metrics) WatchRedis(store *jobs.Store, ins *asynq.Inspector) {
	m.reg.MustRegister(&redisCollector{store: store, ins: ins})
}

// RecentBatches is how many of the most recent batches bulksync_batches
// counts.
const RecentBatches = 500

// scrapeTimeout bounds the Redis reads of one scrape.
const scrapeTimeout = 5 * time.Second

var (
	batchesDesc = prometheus.NewDesc("bulksync_batches", "Batches by state, among the most recent ones (up to 500).", []string{"state"}, nil)
	queueDesc   = prometheus.NewDesc("bulksync_queue_tasks", "asynq tasks by queue and state (pending, active, scheduled, retry, archived).", []string{"queue", "state"}, nil)
)

// redisCollector reads batches and queues at scrape time.
type redisCollector struct {
	store *jobs.Store
	ins   *asynq.Inspector
}

// Describe implements prometheus.Collector.
func (c *redisCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- batchesDesc
	ch <- queueDesc
}

// Collect implements prometheus.Collector. A read that fails leaves its
// metrics out of the scrape.
func (c *redisCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
	defer cancel()
	if metas, err := c.store.Recent(ctx, RecentBatches); err == nil {
		counts := map[string]int{jobs.StateLoading: 0, jobs.StateRunning: 0, jobs.StateDone: 0, jobs.StateHalted: 0, jobs.StateCancelled: 0}
		for _, m := range metas {
			counts[m.State]++
		}
		for state, n := range counts {
			ch <- prometheus.MustNewConstMetric(batchesDesc, prometheus.GaugeValue, float64(n), state)
		}
	}
	queues, err := c.ins.Queues()
	if err != nil {
		return
	}
	for _, q := range queues {
		info, err := c.ins.GetQueueInfo(q)
		if err != nil {
			continue
		}
		for state, n := range map[string]int{"pending": info.Pending, "active": info.Active, "scheduled": info.Scheduled, "retry": info.Retry, "archived": info.Archived} {
			ch <- prometheus.MustNewConstMetric(queueDesc, prometheus.GaugeValue, float64(n), q, state)
		}
	}
}
