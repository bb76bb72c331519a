package sandbox

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// FailStatus says how an injected failure answers: with HTTP status Code, or,
// when Reset is set, by dropping the connection without an answer. The zero
// value means HTTP 503.
type FailStatus struct {
	Code  int
	Reset bool
}

// ParseFailStatus parses "reset" or an HTTP status code from 400 to 599, such
// as "503", "429" or "500".
func ParseFailStatus(s string) (FailStatus, error) {
	if s == "reset" {
		return FailStatus{Reset: true}, nil
	}
	code, err := strconv.Atoi(s)
	if err != nil {
		return FailStatus{}, fmt.Errorf("parse fail status %q: want an HTTP status code or \"reset\"", s)
	}
	fs := FailStatus{Code: code}
	if err := fs.validate(); err != nil {
		return FailStatus{}, fmt.Errorf("parse fail status %q: %w", s, err)
	}
	return fs, nil
}

// String returns "reset" or the status code, the form ParseFailStatus reads.
func (fs FailStatus) String() string {
	if fs.Reset {
		return "reset"
	}
	return strconv.Itoa(fs.code())
}

func (fs FailStatus) validate() error {
	if fs.Reset && fs.Code != 0 {
		return fmt.Errorf("code %d and reset are exclusive", fs.Code)
	}
	if fs.Code != 0 && (fs.Code < 400 || fs.Code > 599) {
		return fmt.Errorf("code %d is not a 4xx or 5xx status", fs.Code)
	}
	return nil
}

func (fs FailStatus) code() int {
	if fs.Code == 0 {
		return http.StatusServiceUnavailable
	}
	return fs.Code
}

// faults decides and performs injected failures.
type faults struct {
	latency    time.Duration
	failRate   float64
	afterWrite float64
	status     FailStatus

	mu          sync.Mutex
	rng         *rand.Rand
	outageFrom  time.Time // API requests in [outageFrom, outageUntil) answer 503
	outageUntil time.Time
}

// newFaults returns the faults of cfg for a server started at start.
func newFaults(cfg Config, start time.Time) *faults {
	seed := uint64(cfg.Seed)
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	f := &faults{
		latency:    cfg.Latency,
		failRate:   cfg.FailRate,
		afterWrite: cfg.FailAfterWrite,
		status:     cfg.FailStatus,
		rng:        rand.New(rand.NewPCG(seed, seed>>1|1)),
	}
	if cfg.OutageFor > 0 {
		f.outageFrom = start.Add(cfg.OutageAfter)
		f.outageUntil = f.outageFrom.Add(cfg.OutageFor)
	}
	return f
}

// Outage is an outage window: API requests from From until Until answer 503.
type Outage struct {
	From  time.Time `json:"from"`
	Until time.Time `json:"until"`
}

// startOutage replaces the outage window by one from now for d; a d of zero
// ends any outage.
func (f *faults) startOutage(now time.Time, d time.Duration) Outage {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.outageFrom, f.outageUntil = now, now.Add(d)
	return Outage{From: f.outageFrom, Until: f.outageUntil}
}

// inOutage reports whether now is inside the outage window.
func (f *faults) inOutage(now time.Time) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return !now.Before(f.outageFrom) && now.Before(f.outageUntil)
}

// answerOutage answers a request that arrived during an outage, as a proxy
// in front of a server being deployed would: 503 without Retry-After.
func answerOutage(w http.ResponseWriter) {
	writeJSON(w, http.StatusServiceUnavailable, detail("Service temporarily unavailable"))
}

// wait sleeps for the configured latency. It reports false when ctx ended
// first, in which case nobody is waiting for an answer.
func (f *faults) wait(ctx context.Context) bool {
	if f.latency <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(f.latency)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// roll reports true with probability p.
func (f *faults) roll(p float64) bool {
	if p <= 0 {
		return false
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.rng.Float64() < p
}

// failBefore reports whether the request about to be handled must fail.
func (f *faults) failBefore() bool { return f.roll(f.failRate) }

// failAfter reports whether the answer to a write that took effect must be lost.
func (f *faults) failAfter() bool { return f.roll(f.afterWrite) }

// answerBefore answers a request that failed before taking effect.
func (f *faults) answerBefore(w http.ResponseWriter) {
	if f.status.Reset {
		resetConnection(w)
		return
	}
	switch code := f.status.code(); code {
	case http.StatusTooManyRequests:
		w.Header().Set("Retry-After", "1")
		writeJSON(w, code, detail("Request was throttled. Expected available in 1 second."))
	case http.StatusServiceUnavailable:
		writeJSON(w, code, detail("Service temporarily unavailable"))
	default:
		writeJSON(w, code, detail(http.StatusText(code)))
	}
}

// answerAfter loses the answer to a write that took effect.
func (f *faults) answerAfter(w http.ResponseWriter) {
	if f.status.Reset {
		resetConnection(w)
		return
	}
	writeJSON(w, http.StatusServiceUnavailable, detail("Service temporarily unavailable"))
}

// resetConnection drops the client connection without writing an answer. When
// w cannot be hijacked it panics with http.ErrAbortHandler, which net/http
// turns into an aborted connection.
func resetConnection(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0) // send RST rather than FIN
	}
	_ = conn.Close()
}
