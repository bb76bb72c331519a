package sandbox

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"math"
	"strings"
	"time"
)

// Defaults used when the matching Config or UiPathConfig field is zero.
const (
	// DefaultUserCount is the number of users (ids 1..DefaultUserCount, email
	// user<N>@example.com, username user<N>) when Config.Fixtures is nil.
	DefaultUserCount = 100000
	// DefaultGroupCount is the number of groups (ids 1..DefaultGroupCount) when
	// Config.Fixtures is nil.
	DefaultGroupCount = 1000

	// DefaultUiPathClientID is the external application's client id.
	DefaultUiPathClientID = "sandbox-client"
	// DefaultUiPathClientSecret is the external application's client secret.
	DefaultUiPathClientSecret = "sandbox-secret"
	// DefaultUiPathUsername is the ROPC user name.
	DefaultUiPathUsername = "admin"
	// DefaultUiPathPassword is the ROPC password.
	DefaultUiPathPassword = "sandbox-password"
	// DefaultUiPathTokenTTL is the lifetime of issued UiPath access tokens.
	DefaultUiPathTokenTTL = time.Hour
	// DefaultUiPathQuantity is the per-account quantity of each default bundle code.
	DefaultUiPathQuantity = 1000
)

// The Authorization schemes a Server can accept for Data Manager paths
// (Config.AuthScheme).
const (
	// AuthSchemeAPIToken is "Authorization: Api-Token <token>", the default.
	AuthSchemeAPIToken = "Api-Token"
	// AuthSchemeToken is "Authorization: Token <token>".
	AuthSchemeToken = "Token"
	// AuthSchemeAPIKey is "Authorization: Api-Key <token>".
	AuthSchemeAPIKey = "Api-Key"
	// AuthSchemeBearer is "Authorization: Bearer <token>".
	AuthSchemeBearer = "Bearer"
)

// DefaultBundleCodes are the UiPath user bundle codes an account holds when
// UiPathConfig.Quantities is empty, each with DefaultUiPathQuantity licenses.
var DefaultBundleCodes = []string{"RPADEVPRONU", "IDU", "CTZDEVCU", "ATTUU"}

// Config configures a Server. The zero value of every field except Token is
// usable.
type Config struct {
	// Token is the Data Manager API token. Requests to Data Manager paths must
	// send "Authorization: <AuthScheme> <Token>". Required.
	Token string

	// AuthScheme is the Authorization scheme Data Manager paths accept: one
	// of AuthSchemeAPIToken, AuthSchemeToken, AuthSchemeAPIKey and
	// AuthSchemeBearer, matched case-insensitively. Defaults to
	// AuthSchemeAPIToken.
	AuthScheme string

	// Latency is added to every API request before it is handled. The wait
	// ends early when the request's context is done. Defaults to none.
	Latency time.Duration

	// FailRate is the fraction, in [0, 1], of API requests that fail before
	// taking effect, answered as FailStatus says. Defaults to 0.
	FailRate float64

	// FailStatus is how injected failures answer. Defaults to HTTP 503.
	FailStatus FailStatus

	// FailAfterWrite is the fraction, in [0, 1], of successful writes whose
	// answer is lost after the write took effect: the client gets a 503, or a
	// reset connection when FailStatus.Reset is set. Defaults to 0.
	FailAfterWrite float64

	// RateLimit, when positive, is how many API requests per second the
	// server takes: beyond it, requests answer 429 with a Retry-After,
	// before taking effect. RateLimit requests may go in any one second
	// (a token bucket holding a second's worth). Stats.Throttled counts
	// the 429s. Defaults to no limit.
	RateLimit float64

	// OutageAfter and OutageFor schedule an outage: from OutageAfter after New
	// until OutageFor later, every API request answers 503 before taking
	// effect. No outage is scheduled when OutageFor is zero. Server.StartOutage
	// (or POST /_sandbox/outage) starts one at any time.
	OutageAfter time.Duration
	OutageFor   time.Duration

	// IgnoreListFilters makes the license lists ignore the external_id
	// filter: they answer every license matching the other filters, paged,
	// like a server that does not support the filter. Defaults to false.
	IgnoreListFilters bool

	// IssuerSchemaForms makes the issuer endpoints answer in the forms of the
	// OpenAPI schema instead of those of the endpoints' docstrings: create
	// answers the bare issuer instead of {"status", "result"}, GET and PUT
	// the issuer object instead of a one-element array, and DELETE 204
	// without a body instead of 200 {"status"}. Defaults to false.
	IssuerSchemaForms bool

	// Seed seeds the random source of fault decisions, so that a run can be
	// replayed. Defaults to a time-based seed.
	Seed int64

	// Fixtures lists the users, groups and programs the server knows. Nil
	// means DefaultUserCount users, DefaultGroupCount groups and any program
	// key.
	Fixtures *Fixtures

	// UiPath configures the fake UiPath identity and license endpoints.
	UiPath UiPathConfig
}

// UiPathConfig configures the fake UiPath Automation Suite endpoints.
type UiPathConfig struct {
	// ClientID and ClientSecret are the external application's credentials
	// for the client-credentials grant. Default to DefaultUiPathClientID and
	// DefaultUiPathClientSecret.
	ClientID     string
	ClientSecret string

	// Username and Password are the credentials of the ROPC endpoint. Default
	// to DefaultUiPathUsername and DefaultUiPathPassword.
	Username string
	Password string

	// TokenTTL is the lifetime of issued access tokens. Defaults to
	// DefaultUiPathTokenTTL.
	TokenTTL time.Duration

	// Quantities is the number of licenses each account holds per user
	// bundle code. A group allocation of a code uses one of them. Defaults to
	// DefaultUiPathQuantity for each of DefaultBundleCodes.
	Quantities map[string]int

	// Accounts lists the account ids that hold a license. Empty means every
	// account except ids starting with "nolicense".
	Accounts []string
}

// Validate reports the first invalid field of c, naming it. New panics on the
// same errors; call Validate first to handle them.
func (c Config) Validate() error {
	switch {
	case c.Token == "":
		return errors.New("Token is required")
	case c.AuthScheme != "" && canonicalAuthScheme(c.AuthScheme) == "":
		return fmt.Errorf("AuthScheme %q is not one of Api-Token, Token, Api-Key and Bearer", c.AuthScheme)
	case c.OutageAfter < 0:
		return errors.New("OutageAfter cannot be negative")
	case c.OutageFor < 0:
		return errors.New("OutageFor cannot be negative")
	case c.Latency < 0:
		return errors.New("Latency cannot be negative")
	case c.RateLimit < 0 || math.IsInf(c.RateLimit, 0) || math.IsNaN(c.RateLimit):
		return fmt.Errorf("RateLimit %v is not a rate: want 0 (no limit) or a positive number of requests per second", c.RateLimit)
	case c.FailRate < 0 || c.FailRate > 1:
		return fmt.Errorf("FailRate %v is outside [0, 1]", c.FailRate)
	case c.FailAfterWrite < 0 || c.FailAfterWrite > 1:
		return fmt.Errorf("FailAfterWrite %v is outside [0, 1]", c.FailAfterWrite)
	case c.UiPath.TokenTTL < 0:
		return errors.New("UiPath.TokenTTL cannot be negative")
	}
	if err := c.FailStatus.validate(); err != nil {
		return fmt.Errorf("FailStatus: %w", err)
	}
	for code, n := range c.UiPath.Quantities {
		if n < 0 {
			return fmt.Errorf("UiPath.Quantities[%q] cannot be negative", code)
		}
	}
	if c.Fixtures != nil {
		if err := c.Fixtures.validate(); err != nil {
			return fmt.Errorf("Fixtures: %w", err)
		}
	}
	return nil
}

// withDefaults returns c with zero fields replaced by their defaults.
func (c UiPathConfig) withDefaults() UiPathConfig {
	c.ClientID = cmp.Or(c.ClientID, DefaultUiPathClientID)
	c.ClientSecret = cmp.Or(c.ClientSecret, DefaultUiPathClientSecret)
	c.Username = cmp.Or(c.Username, DefaultUiPathUsername)
	c.Password = cmp.Or(c.Password, DefaultUiPathPassword)
	c.TokenTTL = cmp.Or(c.TokenTTL, DefaultUiPathTokenTTL)
	if len(c.Quantities) == 0 {
		c.Quantities = make(map[string]int, len(DefaultBundleCodes))
		for _, code := range DefaultBundleCodes {
			c.Quantities[code] = DefaultUiPathQuantity
		}
	} else {
		c.Quantities = maps.Clone(c.Quantities)
	}
	return c
}

// canonicalAuthScheme returns the spelling of the accepted scheme that
// matches scheme case-insensitively, or "" when none does.
func canonicalAuthScheme(scheme string) string {
	for _, s := range []string{AuthSchemeAPIToken, AuthSchemeToken, AuthSchemeAPIKey, AuthSchemeBearer} {
		if strings.EqualFold(s, scheme) {
			return s
		}
	}
	return ""
}
