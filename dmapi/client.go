package dmapi

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Config configures a [Client].
type Config struct {
	// BaseURL is the API root, e.g. https://base.manager.iblai.app or
	// https://api.iblai.app/dm. Required.
	BaseURL string
	// Token is the platform API key, sent as "Authorization: <AuthScheme>
	// <Token>". It is never logged or put in errors.
	Token string
	// AuthScheme is the Authorization header's scheme: one of AuthSchemes.
	// Defaults to "Api-Token".
	AuthScheme string
	// Timeout bounds each request. Defaults to 30 seconds.
	Timeout time.Duration
	// Limiter paces the requests to the API host: Wait is called before
	// every request, Throttled after every 429 answer. Defaults to none:
	// requests go as fast as the callers send them. Package ratelimit
	// has one shared by every worker process through Redis.
	Limiter Limiter
	// HTTPClient sends the requests. Defaults to a client with keep-alive
	// connections sized for concurrent workers.
	HTTPClient *http.Client
	// UserAgent is sent with every request. Defaults to "bulksync".
	UserAgent string
	// Breaker configures the circuit breaker in front of the API host.
	Breaker BreakerConfig
	// Observe, when set, is told of every request sent: its operation
	// ("list program licenses"), the answer's status (0: no answer) and
	// how long it took. metrics.Metrics.APIRequest is one.
	Observe func(op string, status int, d time.Duration)
}

// Limiter paces the requests to the API host. Its methods are called
// from many goroutines at once.
type Limiter interface {
	// Wait blocks until one request may be sent. It returns an error when
	// ctx ends first or the limiter cannot tell (its store is down); the
	// request is then not sent.
	Wait(ctx context.Context) error
	// Throttled reports a 429 answer and its Retry-After (0 when it had
	// none), so that the limiter slows down. Its error only says the
	// limiter could not adapt: the request's own error is the 429.
	Throttled(ctx context.Context, retryAfter time.Duration) error
}

// AuthSchemes are the Authorization schemes the vendor's material names
// for platform API keys; the first is the default.
var AuthSchemes = []string{"Api-Token", "Token", "Api-Key", "Bearer"}

// Client calls the Data Manager API. It is safe for concurrent use.
type Client struct {
	base    *url.URL
	auth    string // the Authorization header's value
	breaker *Breaker
	timeout time.Duration
	limiter Limiter // nil: no pacing
	http    *http.Client
	agent   string
	observe func(op string, status int, d time.Duration) // nil: not observed
}

// New validates cfg and returns a client.
func New(cfg Config) (*Client, error) {
	if cfg.BaseURL == "" {
		return nil, errors.New("dmapi: BaseURL is required")
	}
	u, err := url.Parse(strings.TrimRight(cfg.BaseURL, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("dmapi: BaseURL %q is not an http(s) URL", cfg.BaseURL)
	}
	scheme := cmp.Or(cfg.AuthScheme, AuthSchemes[0])
	if !slices.Contains(AuthSchemes, scheme) {
		return nil, fmt.Errorf("dmapi: AuthScheme %q is not one of %s", scheme, strings.Join(AuthSchemes, ", "))
	}
	hc := cfg.HTTPClient
	if hc == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxIdleConnsPerHost = 256
		hc = &http.Client{Transport: t}
	}
	return &Client{
		base:    u,
		auth:    scheme + " " + cfg.Token,
		breaker: NewBreaker(u.Host, cfg.Breaker),
		timeout: cmp.Or(cfg.Timeout, 30*time.Second),
		limiter: cfg.Limiter,
		http:    hc,
		agent:   cmp.Or(cfg.UserAgent, "bulksync"),
		observe: cfg.Observe,
	}, nil
}

// BaseURL returns the API root the client calls.
func (c *Client) BaseURL() string { return c.base.String() }

// do sends one request and decodes a 2xx JSON answer into out (when not
// nil). Any other answer becomes an *Error. path is relative to the base URL
// and in escaped form: callers escape variable segments with url.PathEscape.
func (c *Client) do(ctx context.Context, op, method, path string, query url.Values, body, out any) error {
	_, err := c.doStatus(ctx, op, method, path, query, body, out)
	return err
}

// doStatus is do that also returns the status of a 2xx answer, for
// endpoints whose status carries meaning (201 created, 200 updated).
func (c *Client) doStatus(ctx context.Context, op, method, path string, query url.Values, body, out any) (int, error) {
	// The wait comes before the breaker: a request waiting for its turn
	// is not in flight, and a limiter that cannot tell says nothing of
	// the API.
	if c.limiter != nil {
		if err := c.limiter.Wait(ctx); err != nil {
			return 0, &Error{Op: op, Err: err}
		}
	}
	done, err := c.breaker.Allow()
	if err != nil {
		return 0, &Error{Op: op, Err: err}
	}
	status, err := c.send(ctx, op, method, path, query, body, out)
	done(err)
	return status, err
}

// send is doStatus without the circuit breaker.
func (c *Client) send(ctx context.Context, op, method, path string, query url.Values, body, out any) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	u := *c.base
	u.RawPath = c.base.EscapedPath() + path
	p, err := url.PathUnescape(u.RawPath)
	if err != nil {
		return 0, fmt.Errorf("%s: path: %w", op, err)
	}
	u.Path = p
	u.RawQuery = query.Encode()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, fmt.Errorf("%s: encode body: %w", op, err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), rd)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", op, err)
	}
	req.Header.Set("Authorization", c.auth)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.agent)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	start := time.Now()
	resp, err := c.http.Do(req)
	if c.observe != nil {
		status := 0
		if err == nil {
			status = resp.StatusCode
		}
		c.observe(op, status, time.Since(start))
	}
	if err != nil {
		return 0, &Error{Op: op, Err: redact(err)}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return 0, &Error{Op: op, Err: fmt.Errorf("read answer: %w", err)}
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		e := &Error{Op: op, Status: resp.StatusCode, Message: message(data), RetryAfter: RetryAfter(resp.Header, time.Now())}
		if e.Status == http.StatusTooManyRequests && c.limiter != nil {
			// The request's error is the 429 whether or not the limiter
			// could slow down.
			_ = c.limiter.Throttled(context.WithoutCancel(ctx), e.RetryAfter)
		}
		return 0, e
	}
	if out == nil || len(bytes.TrimSpace(data)) == 0 {
		return resp.StatusCode, nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		// A 2xx we cannot read is a broken answer (a proxy page, a cut
		// body): the write may have happened, so it is retryable.
		return 0, &Error{Op: op, Err: fmt.Errorf("decode answer (HTTP %d): %w", resp.StatusCode, err)}
	}
	return resp.StatusCode, nil
}

// redact drops the URL from transport errors: it is safe, but keeping
// errors short and free of query strings keeps reports readable.
func redact(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s: %w", strings.ToLower(ue.Op), ue.Err)
	}
	return err
}
