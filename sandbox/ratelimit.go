package sandbox

import (
	"math"
	"net/http"
	"strconv"
	"time"

	"golang.org/x/time/rate"
)

// throttle answers 429 beyond Config.RateLimit requests per second, as an
// API's throttling does. It is a token bucket holding one second's worth
// of requests: like Django REST Framework's throttles, it lets RateLimit
// requests go in any one second, then one every 1/RateLimit seconds.
type throttle struct {
	lim *rate.Limiter // nil: no limit
}

func newThrottle(perSecond float64) throttle {
	if perSecond <= 0 {
		return throttle{}
	}
	return throttle{lim: rate.NewLimiter(rate.Limit(perSecond), max(1, int(math.Ceil(perSecond))))}
}

// allow takes a token for a request arriving at now. When there is none,
// it returns false and how long until there is.
func (t throttle) allow(now time.Time) (bool, time.Duration) {
	if t.lim == nil {
		return true, 0
	}
	r := t.lim.ReserveN(now, 1)
	d := r.DelayFrom(now)
	if d == 0 {
		return true, 0
	}
	r.CancelAt(now)
	return false, d
}

// answerThrottled answers a throttled request as DRF does: 429 with a
// Retry-After of whole seconds (at least 1) and the same wait in its
// detail.
func answerThrottled(w http.ResponseWriter, wait time.Duration) {
	secs := max(1, int(math.Ceil(wait.Seconds())))
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	writeJSON(w, http.StatusTooManyRequests, detail("Request was throttled. Expected available in "+strconv.Itoa(secs)+" second"+plural(secs)+"."))
}

// plural is "s" unless n is 1.
func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
