package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/bulksync/bulksync/sandbox"
)

func runSandbox(ctx context.Context, args []string, stderr io.Writer, getenv env, log *slog.Logger) error {
	fs := flag.NewFlagSet("sandbox", flag.ContinueOnError)
	flagUsage(fs, "bulksync sandbox [flags]")
	var (
		cfg        sandbox.Config
		addr       = fs.String("addr", "127.0.0.1:8080", "`HOST:PORT` to listen on")
		failStatus = fs.String("fail-status", "503", "how injected failures answer: an HTTP status `CODE`, or reset to drop the connection")
		fixtures   = fs.String("fixtures", "", "JSON `FILE` of the users, groups and programs the sandbox knows")
	)
	// The token's default is not the flag's: -h prints a flag's default.
	fs.StringVar(&cfg.Token, "token", "", "the API token clients must send (default $BULKSYNC_API_TOKEN)")
	fs.DurationVar(&cfg.Latency, "latency", 0, "`DURATION` added to every request")
	fs.Float64Var(&cfg.FailRate, "fail-rate", 0, "`FRACTION` of requests that fail before they take effect")
	fs.Float64Var(&cfg.FailAfterWrite, "fail-after-write", 0, "`FRACTION` of writes that take effect but whose answer is lost")
	fs.Float64Var(&cfg.RateLimit, "rate-limit", 0, "API requests per second taken; beyond, 429 with Retry-After (0: no limit)")
	fs.Int64Var(&cfg.Seed, "seed", 0, "random seed of the fault decisions (0: from the clock)")
	fs.DurationVar(&cfg.OutageAfter, "outage-after", 0, "start an outage `DURATION` after the sandbox starts (with --outage-for)")
	fs.DurationVar(&cfg.OutageFor, "outage-for", 0, "`DURATION` of the outage, during which every API request answers 503 (0: none)")
	fs.BoolVar(&cfg.IgnoreListFilters, "ignore-list-filters", false, "license lists ignore the external_id filter, like a server without it")
	fs.BoolVar(&cfg.IssuerSchemaForms, "issuer-schema-forms", false, "issuer answers take the OpenAPI schema's forms (bare object, DELETE 204) instead of the docstrings'")
	fs.StringVar(&cfg.AuthScheme, "auth-scheme", sandbox.AuthSchemeAPIToken, "the `SCHEME` of the Authorization header clients must send: Api-Token, Token, Api-Key or Bearer")
	fs.StringVar(&cfg.UiPath.ClientID, "uipath-client-id", sandbox.DefaultUiPathClientID, "UiPath external application `ID` of the client-credentials grant")
	fs.StringVar(&cfg.UiPath.ClientSecret, "uipath-client-secret", sandbox.DefaultUiPathClientSecret, "UiPath external application `SECRET`")
	fs.StringVar(&cfg.UiPath.Username, "uipath-username", sandbox.DefaultUiPathUsername, "UiPath ROPC `USER` name")
	fs.StringVar(&cfg.UiPath.Password, "uipath-password", sandbox.DefaultUiPathPassword, "UiPath ROPC `PASSWORD`")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("unexpected arguments %q", pos)
	}
	if cfg.Token = cmp.Or(cfg.Token, getenv("BULKSYNC_API_TOKEN")); cfg.Token == "" {
		return usagef("--token (or BULKSYNC_API_TOKEN) is required")
	}
	if cfg.FailStatus, err = sandbox.ParseFailStatus(*failStatus); err != nil {
		return usagef("--fail-status: %v", err)
	}
	if *fixtures != "" {
		f, err := os.Open(*fixtures)
		if err != nil {
			return usageError{err}
		}
		cfg.Fixtures, err = sandbox.LoadFixtures(f)
		f.Close()
		if err != nil {
			return usagef("--fixtures: %v", err)
		}
	}
	if err := cfg.Validate(); err != nil {
		return usageError{err}
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	srv := &http.Server{Handler: sandbox.New(cfg), ReadHeaderTimeout: 10 * time.Second}
	log.Info("sandbox listening", "addr", ln.Addr().String(), "auth_scheme", cfg.AuthScheme, "latency", cfg.Latency,
		"rate_limit", cfg.RateLimit, "fail_rate", cfg.FailRate, "fail_status", cfg.FailStatus.String(), "fail_after_write", cfg.FailAfterWrite,
		"outage_after", cfg.OutageAfter, "outage_for", cfg.OutageFor, "ignore_list_filters", cfg.IgnoreListFilters,
		"issuer_schema_forms", cfg.IssuerSchemaForms)
	log.Info("sandbox UiPath credentials", "client_id", cfg.UiPath.ClientID,
		"client_secret", shownSecret(cfg.UiPath.ClientSecret, sandbox.DefaultUiPathClientSecret),
		"username", cfg.UiPath.Username, "password", shownSecret(cfg.UiPath.Password, sandbox.DefaultUiPathPassword))
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	log.Info("sandbox stopped")
	return nil
}

// shownSecret is secret when it is the documented default def, which is no
// secret, else a mention that it was set.
func shownSecret(secret, def string) string {
	if secret == def {
		return secret
	}
	return "(set)"
}
