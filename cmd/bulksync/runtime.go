package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/bulksync/bulksync/applied"
	"github.com/bulksync/bulksync/dmapi"
	"github.com/bulksync/bulksync/jobs"
	"github.com/bulksync/bulksync/ratelimit"
	"github.com/bulksync/bulksync/sandbox"
	"github.com/bulksync/bulksync/uipath"
	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
)

// runtime is the Redis and API an import or worker uses: the ones named
// by the environment, or in-process ones.
type runtime struct {
	redisOpt   asynq.RedisConnOpt
	rdb        redis.UniversalClient
	store      *jobs.Store
	api        *dmapi.Client
	apiURL     string
	applied    applied.Store  // nil: Redis, beside the batches
	uipath     *uipath.Client // nil: UiPath is not configured
	uipathURL  string
	embedRedis bool
	embedAPI   bool
	closers    []func()
}

func (r *runtime) close() {
	for i := len(r.closers) - 1; i >= 0; i-- {
		r.closers[i]()
	}
}

// openRedis connects to REDIS_URL (a Redis or a Sentinel set, see
// dialRedis), or starts an in-process Redis when it is unset and embedded
// is allowed.
func openRedis(ctx context.Context, r *runtime, getenv env, embedded bool) error {
	url := getenv("REDIS_URL")
	if url == "" {
		if !embedded {
			return usagef("REDIS_URL is not set")
		}
		mr, err := miniredis.Run()
		if err != nil {
			return fmt.Errorf("start in-process redis: %w", err)
		}
		r.closers = append(r.closers, mr.Close)
		url = "redis://" + mr.Addr()
		r.embedRedis = true
	}
	conn, err := dialRedis(url)
	if err != nil {
		return usagef("REDIS_URL: %v", err)
	}
	rdb := conn.rdb
	r.closers = append(r.closers, func() { _ = rdb.Close() })
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := rdb.Ping(pctx).Err(); err != nil {
		return fmt.Errorf("redis at %s: %w", conn.where, err)
	}
	r.redisOpt, r.rdb = conn.opt, rdb
	r.store = jobs.NewStore(rdb, jobs.StoreConfig{})
	return nil
}

// checkURL parses a URL, and leaves the URL out of the error: url.Parse
// quotes it whole, password included (and asynq's parser passes that on).
func checkURL(s string) error {
	_, err := url.Parse(s)
	if ue := (*url.Error)(nil); errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// redacted returns the URL s with its password, if any, masked, for logs.
func redacted(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unreadable URL)"
	}
	return u.Redacted()
}

// hostOf returns the host of the URL s, or "" when s is not a URL (the
// API client then says so).
func hostOf(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return ""
	}
	return u.Host
}

// apiFlags are the API client's settings.
type apiFlags struct {
	timeout   time.Duration
	rateLimit float64
	observe   func(op string, status int, d time.Duration) // told of every API request (metrics); nil: none
}

// openAPI builds the client for BULKSYNC_API_URL, or starts the sandbox
// in-process when it is unset and embedded is allowed. A rate limit is
// shared through the Redis of openRedis, run before it.
func openAPI(r *runtime, getenv env, embedded bool, f apiFlags, log *slog.Logger) error {
	url, token := getenv("BULKSYNC_API_URL"), getenv("BULKSYNC_API_TOKEN")
	if url == "" {
		if !embedded {
			return usagef("BULKSYNC_API_URL is not set")
		}
		b := make([]byte, 16)
		_, _ = rand.Read(b)
		token = hex.EncodeToString(b)
		sb := sandbox.New(sandbox.Config{Token: token})
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return fmt.Errorf("start in-process sandbox: %w", err)
		}
		srv := &http.Server{Handler: sb, ReadHeaderTimeout: 10 * time.Second}
		go func() {
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				log.Error("sandbox stopped", "err", err)
			}
		}()
		r.closers = append(r.closers, func() { _ = srv.Close() })
		url = "http://" + ln.Addr().String()
		r.embedAPI = true
	} else if token == "" {
		return usagef("BULKSYNC_API_TOKEN is not set")
	}
	cfg := dmapi.Config{BaseURL: url, Token: token, AuthScheme: getenv("BULKSYNC_API_AUTH_SCHEME"), Timeout: f.timeout, Observe: f.observe}
	switch {
	case cfg.AuthScheme != "" && !slices.Contains(dmapi.AuthSchemes, cfg.AuthScheme):
		return usagef("BULKSYNC_API_AUTH_SCHEME: %q is not one of %s", cfg.AuthScheme, strings.Join(dmapi.AuthSchemes, ", "))
	case f.rateLimit < 0:
		return usagef("--rate-limit cannot be negative")
	case f.rateLimit > 0:
		// One budget per API host, shared by every process on this Redis.
		lim, err := ratelimit.New(r.rdb, hostOf(url), ratelimit.Config{Rate: f.rateLimit})
		if err != nil {
			return usageError{err}
		}
		cfg.Limiter = lim
	}
	api, err := dmapi.New(cfg)
	if err != nil {
		return usageError{err}
	}
	r.api, r.apiURL = api, url
	return nil
}

// openApplied opens the applied-state store. It lives in Redis beside the
// batches, except when Redis is in-process and the API is not: then in the
// state file (file, or the default place), so that two runs on one
// machine agree. Run it after openRedis and openAPI.
func openApplied(r *runtime, getenv env, file string) error {
	if !r.embedRedis || r.embedAPI {
		return nil
	}
	if file == "" {
		var err error
		if file, err = applied.DefaultPath(getenv); err != nil {
			return err
		}
	}
	f, err := applied.OpenFile(file)
	if err != nil {
		return err
	}
	r.closers = append(r.closers, func() { _ = f.Close() })
	r.applied = f
	return nil
}

// openUiPath builds the UiPath client from UIPATH_URL and its credentials.
// With UIPATH_URL unset it points at the in-process sandbox when the Data
// Manager is the in-process sandbox too (an embedded import), and leaves
// UiPath unconfigured otherwise: uipath-group-licenses rows then fail with
// not_configured. Run it after openAPI. The secrets are never logged.
func openUiPath(r *runtime, getenv env, f apiFlags) error {
	cfg := uipath.Config{
		BaseURL:      getenv("UIPATH_URL"),
		Organization: getenv("UIPATH_ORG"),
		Tenant:       getenv("UIPATH_TENANT"),
		ClientID:     getenv("UIPATH_CLIENT_ID"),
		ClientSecret: getenv("UIPATH_CLIENT_SECRET"),
		Scope:        getenv("UIPATH_SCOPE"),
		Username:     getenv("UIPATH_USERNAME"),
		Password:     getenv("UIPATH_PASSWORD"),
		Timeout:      f.timeout,
		RateLimit:    f.rateLimit,
	}
	switch {
	case cfg.BaseURL == "" && !r.embedAPI:
		return nil
	case cfg.BaseURL == "":
		cfg = uipath.Config{
			BaseURL:      r.apiURL,
			ClientID:     sandbox.DefaultUiPathClientID,
			ClientSecret: sandbox.DefaultUiPathClientSecret,
			Timeout:      f.timeout,
			RateLimit:    f.rateLimit,
		}
	}
	c, err := uipath.New(cfg)
	if err != nil {
		return usagef("UiPath settings (UIPATH_*): %v", err)
	}
	r.uipath, r.uipathURL = c, cfg.BaseURL
	return nil
}
