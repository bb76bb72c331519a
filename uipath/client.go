package uipath

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
	"strings"
	"sync"
	"time"

	"github.com/bulksync/bulksync/dmapi"
	"golang.org/x/sync/singleflight"
	"golang.org/x/time/rate"
)

// Config configures a [Client]. Set ClientID and ClientSecret for the
// client-credentials grant, or Username, Password and Tenant for ROPC.
type Config struct {
	// BaseURL is https://{yourDomain}. Required.
	BaseURL string
	// Organization is the {organizationName} path segment. Empty means the
	// older paths without it.
	Organization string
	// Tenant is the tenant ROPC logs in to (its TenancyName). Required for
	// ROPC.
	Tenant string
	// ClientID and ClientSecret are the external application's
	// credentials. When ClientID is set, tokens come from the
	// client-credentials grant.
	ClientID     string
	ClientSecret string
	// Scope is the space-separated scope asked for with client
	// credentials. Defaults to "PM.License.Write".
	Scope string
	// Username and Password are the ROPC credentials, used when ClientID is
	// empty.
	Username string
	Password string
	// Timeout bounds each request. Defaults to 30 seconds.
	Timeout time.Duration
	// RateLimit caps requests per second, token requests included; 0 means
	// no cap.
	RateLimit float64
	// HTTPClient sends the requests. Defaults to http.DefaultClient.
	HTTPClient *http.Client
	// Breaker configures the circuit breaker in front of UiPath's host.
	Breaker dmapi.BreakerConfig
}

// Client allocates UiPath user licenses to groups. It is safe for
// concurrent use.
type Client struct {
	base    *url.URL
	cfg     Config
	timeout time.Duration
	limiter *rate.Limiter
	breaker *dmapi.Breaker
	http    *http.Client
	now     func() time.Time

	flight  singleflight.Group // token fetches, keyed by the refused token
	mu      sync.Mutex
	token   string
	renewAt time.Time
}

// Allocation is a group's license allocation, as the API returns it.
type Allocation struct {
	GroupID            string   `json:"groupId"`
	OrganizationID     string   `json:"organizationId"`
	UseExternalLicense bool     `json:"useExternalLicense"`
	UserBundleCodes    []string `json:"userBundleCodes"`
}

const (
	defaultScope = "PM.License.Write"
	// defaultLifetime is assumed for tokens whose answer does not say how
	// long they last, such as ROPC's: UiPath documents 30 minutes.
	defaultLifetime = 30 * time.Minute
	// maxRenewEarly bounds how long before expiry a token is renewed: a
	// tenth of its lifetime, at most this.
	maxRenewEarly = time.Minute
	// maxAnswer bounds how much of an answer is read.
	maxAnswer = 1 << 20
	// maxMessage bounds how much of an error body is kept.
	maxMessage = 500
	tokenOp    = "get uipath token"
)

// New validates cfg and returns a client. It makes no request: the first
// call fetches the token.
func New(cfg Config) (*Client, error) {
	if cfg.BaseURL == "" {
		return nil, errors.New("uipath: BaseURL is required")
	}
	u, err := url.Parse(strings.TrimRight(cfg.BaseURL, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("uipath: BaseURL %q is not an http(s) URL", cfg.BaseURL)
	}
	switch {
	case cfg.ClientID != "" && cfg.ClientSecret == "":
		return nil, errors.New("uipath: ClientSecret is required with ClientID")
	case cfg.ClientID == "" && (cfg.Username == "" || cfg.Password == ""):
		return nil, errors.New("uipath: ClientID and ClientSecret, or Username and Password, are required")
	case cfg.ClientID == "" && cfg.Tenant == "":
		return nil, errors.New("uipath: Tenant is required with Username")
	case cfg.Timeout < 0:
		return nil, errors.New("uipath: Timeout cannot be negative")
	case cfg.RateLimit < 0:
		return nil, errors.New("uipath: RateLimit cannot be negative")
	}
	limiter := rate.NewLimiter(rate.Inf, 0)
	if cfg.RateLimit > 0 {
		limiter = rate.NewLimiter(rate.Limit(cfg.RateLimit), max(1, int(cfg.RateLimit/10)))
	}
	cfg.Scope = cmp.Or(cfg.Scope, defaultScope)
	return &Client{
		base:    u,
		cfg:     cfg,
		timeout: cmp.Or(cfg.Timeout, 30*time.Second),
		limiter: limiter,
		breaker: dmapi.NewBreaker(u.Host, cfg.Breaker),
		http:    cmp.Or(cfg.HTTPClient, http.DefaultClient),
		now:     time.Now,
	}, nil
}

// AllocateGroup sets the user bundle codes allocated to a group of an
// account (the organization's id), replacing its previous allocation, and
// returns the allocation the API answers. A nil codes clears it.
func (c *Client) AllocateGroup(ctx context.Context, accountID, groupID string, codes []string, useExternal bool) (*Allocation, error) {
	op := fmt.Sprintf("allocate uipath licenses to group %q of account %q", groupID, accountID)
	if accountID == "" || groupID == "" {
		return nil, fmt.Errorf("%s: account id and group id are required", op)
	}
	if codes == nil {
		codes = []string{} // the API requires the list
	}
	body, err := json.Marshal(struct {
		UserBundleCodes    []string `json:"userBundleCodes"`
		UseExternalLicense bool     `json:"useExternalLicense"`
	}{codes, useExternal})
	if err != nil {
		return nil, fmt.Errorf("%s: encode body: %w", op, err)
	}
	segments := []string{"lease_", "api", "account", accountID, "user-license", "group", groupID}
	if c.cfg.Organization != "" {
		segments = append([]string{c.cfg.Organization}, segments...)
	}
	a, err := c.authorized(ctx, op, http.MethodPut, c.url(segments...), body)
	if err != nil {
		return nil, err
	}
	var out Allocation
	if err := json.Unmarshal(a.body, &out); err != nil {
		// A 2xx we cannot read may hide a done write; repeating the PUT is
		// safe, so it is retryable.
		return nil, &dmapi.Error{Op: op, Err: fmt.Errorf("decode answer (HTTP %d): %w", a.status, err)}
	}
	return &out, nil
}

// authorized sends a JSON request with the bearer token and returns its 2xx
// answer. A 401 renews the token and sends the request once more.
func (c *Client) authorized(ctx context.Context, op, method, target string, body []byte) (answer, error) {
	tok, err := c.accessToken(ctx, "")
	if err != nil {
		return answer{}, fmt.Errorf("%s: %w", op, err)
	}
	a, err := c.roundTrip(ctx, op, method, target, "application/json", "Bearer "+tok, body)
	if err == nil && a.status == http.StatusUnauthorized {
		if tok, err = c.accessToken(ctx, tok); err != nil {
			return answer{}, fmt.Errorf("%s: %w", op, err)
		}
		a, err = c.roundTrip(ctx, op, method, target, "application/json", "Bearer "+tok, body)
	}
	if err != nil {
		return answer{}, err
	}
	if a.status < 200 || a.status > 299 {
		return answer{}, c.failure(op, a)
	}
	return a, nil
}

// accessToken returns the cached token unless it is stale (the one a 401
// refused) or due for renewal; then it fetches a new one. Concurrent
// callers share one fetch, which outlives a caller that gives up.
func (c *Client) accessToken(ctx context.Context, stale string) (string, error) {
	if tok, ok := c.cached(stale); ok {
		return tok, nil
	}
	// Callers refused the same token share a flight. Its first look at the
	// cache catches a fetch that ended since this caller's look.
	ch := c.flight.DoChan(stale, func() (any, error) {
		if tok, ok := c.cached(stale); ok {
			return tok, nil
		}
		tok, lifetime, err := c.fetchToken(context.WithoutCancel(ctx))
		if err != nil {
			return "", err
		}
		c.mu.Lock()
		c.token, c.renewAt = tok, c.now().Add(lifetime-min(maxRenewEarly, lifetime/10))
		c.mu.Unlock()
		return tok, nil
	})
	select {
	case <-ctx.Done():
		return "", &dmapi.Error{Op: tokenOp, Err: ctx.Err()}
	case r := <-ch:
		if r.Err != nil {
			return "", r.Err
		}
		return r.Val.(string), nil
	}
}

// cached returns the cached token when it is not stale and not due for
// renewal.
func (c *Client) cached(stale string) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.token, c.token != "" && c.token != stale && c.now().Before(c.renewAt)
}

// fetchToken gets a new token and its lifetime from the configured grant.
func (c *Client) fetchToken(ctx context.Context) (string, time.Duration, error) {
	if c.cfg.ClientID != "" {
		return c.clientCredentials(ctx)
	}
	return c.ropc(ctx)
}

// clientCredentials runs the external application's client-credentials
// grant.
func (c *Client) clientCredentials(ctx context.Context) (string, time.Duration, error) {
	form := url.Values{
		"grant_type":    {"client_credentials"},
		"client_id":     {c.cfg.ClientID},
		"client_secret": {c.cfg.ClientSecret},
		"scope":         {c.cfg.Scope},
	}
	a, err := c.roundTrip(ctx, tokenOp, http.MethodPost, c.url("identity_", "connect", "token"),
		"application/x-www-form-urlencoded", "", []byte(form.Encode()))
	if err != nil {
		return "", 0, err
	}
	if a.status < 200 || a.status > 299 {
		return "", 0, c.tokenFailure(a)
	}
	var t struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int64  `json:"expires_in"`
	}
	if err := json.Unmarshal(a.body, &t); err != nil || t.AccessToken == "" {
		return "", 0, &dmapi.Error{Op: tokenOp, Err: fmt.Errorf("the answer (HTTP %d) holds no access token", a.status)}
	}
	lifetime := defaultLifetime
	if t.ExpiresIn > 0 {
		lifetime = time.Duration(t.ExpiresIn) * time.Second
	}
	return t.AccessToken, lifetime, nil
}

// ropc logs in with the user name and password.
func (c *Client) ropc(ctx context.Context) (string, time.Duration, error) {
	body, err := json.Marshal(struct {
		TenancyName            string
		UsernameOrEmailAddress string
		Password               string
	}{c.cfg.Tenant, c.cfg.Username, c.cfg.Password})
	if err != nil {
		return "", 0, fmt.Errorf("%s: encode body: %w", tokenOp, err)
	}
	segments := []string{"api", "account", "authenticate"}
	if c.cfg.Organization != "" {
		segments = append([]string{c.cfg.Organization, c.cfg.Tenant}, segments...)
	}
	a, err := c.roundTrip(ctx, tokenOp, http.MethodPost, c.url(segments...), "application/json", "", body)
	if err != nil {
		return "", 0, err
	}
	if a.status < 200 || a.status > 299 {
		return "", 0, c.tokenFailure(a)
	}
	var r struct {
		Result  string `json:"result"`
		Success bool   `json:"success"`
	}
	if err := json.Unmarshal(a.body, &r); err != nil {
		return "", 0, &dmapi.Error{Op: tokenOp, Err: fmt.Errorf("decode answer (HTTP %d): %w", a.status, err)}
	}
	if !r.Success || r.Result == "" {
		e := c.failure(tokenOp, a)
		e.CredentialsRefused = true
		return "", 0, e
	}
	return r.Result, defaultLifetime, nil
}

// url is the URL of BaseURL followed by the path segments, each escaped.
func (c *Client) url(segments ...string) string {
	u := *c.base
	escaped := make([]string, len(segments))
	for i, s := range segments {
		escaped[i] = url.PathEscape(s)
	}
	u.Path += "/" + strings.Join(segments, "/")
	u.RawPath = c.base.EscapedPath() + "/" + strings.Join(escaped, "/")
	return u.String()
}

// answer is an HTTP answer, read whole.
type answer struct {
	status int
	header http.Header
	body   []byte
}

// roundTrip sends one request through the circuit breaker; auth, when not
// empty, is the Authorization header. Only network failures (and an open
// breaker) are errors: any status is an answer.
func (c *Client) roundTrip(ctx context.Context, op, method, target, contentType, auth string, body []byte) (answer, error) {
	done, err := c.breaker.Allow()
	if err != nil {
		return answer{}, &dmapi.Error{Op: op, Err: err}
	}
	a, err := c.send(ctx, op, method, target, contentType, auth, body)
	if err == nil && a.status >= 300 {
		done(&dmapi.Error{Op: op, Status: a.status})
	} else {
		done(err)
	}
	return a, err
}

// send is roundTrip without the circuit breaker.
func (c *Client) send(ctx context.Context, op, method, target, contentType, auth string, body []byte) (answer, error) {
	if err := c.limiter.Wait(ctx); err != nil {
		return answer{}, &dmapi.Error{Op: op, Err: err}
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, target, bytes.NewReader(body))
	if err != nil {
		return answer{}, fmt.Errorf("%s: %w", op, err)
	}
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("Accept", "application/json")
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return answer{}, &dmapi.Error{Op: op, Err: err}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return answer{}, &dmapi.Error{Op: op, Err: fmt.Errorf("read answer: %w", err)}
	}
	return answer{status: resp.StatusCode, header: resp.Header, body: data}, nil
}

// failure is the *dmapi.Error of an unsuccessful answer.
func (c *Client) failure(op string, a answer) *dmapi.Error {
	return &dmapi.Error{Op: op, Status: a.status, Message: message(a.body), RetryAfter: dmapi.RetryAfter(a.header, c.now())}
}

// tokenFailure is the *dmapi.Error of a token endpoint's unsuccessful
// answer. A 4xx other than 408 and 429 refuses the credentials, the scope or
// the grant: no request can succeed, so it is Fatal.
func (c *Client) tokenFailure(a answer) *dmapi.Error {
	e := c.failure(tokenOp, a)
	e.CredentialsRefused = a.status >= 400 && a.status <= 499 &&
		a.status != http.StatusRequestTimeout && a.status != http.StatusTooManyRequests
	return e
}
