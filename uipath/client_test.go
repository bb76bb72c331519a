package uipath

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bulksync/bulksync/dmapi"
	"github.com/bulksync/bulksync/sandbox"
	"github.com/stretchr/testify/require"
)

// Sandbox endpoint keys, as sandbox.Stats.ByEndpoint counts them.
const (
	tokenEndpoint    = "POST /identity_/connect/token"
	ropcEndpoint     = "POST /{org}/{tenant}/api/account/authenticate"
	ropcNoOrg        = "POST /api/account/authenticate"
	allocateEndpoint = "PUT /{org}/lease_/api/account/{accountId}/user-license/group/{groupId}"
	allocateNoOrg    = "PUT /lease_/api/account/{accountId}/user-license/group/{groupId}"
)

// testBundle is a sandbox served over loopback HTTP.
type testBundle struct {
	srv *sandbox.Server
	url string
}

func setup(t *testing.T, cfg sandbox.Config) *testBundle {
	t.Helper()
	cfg.Token = "dm-token"
	cfg.Seed = 1
	srv := sandbox.New(cfg)
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	return &testBundle{srv: srv, url: ts.URL}
}

// client returns a client of the sandbox for cfg.
func (b *testBundle) client(t *testing.T, cfg Config) *Client {
	t.Helper()
	cfg.BaseURL = b.url
	c, err := New(cfg)
	require.NoError(t, err)
	return c
}

// requests returns the number of requests to each endpoint.
func (b *testBundle) requests(endpoints ...string) int64 {
	st := b.srv.Stats()
	var n int64
	for _, e := range endpoints {
		n += st.ByEndpoint[e]
	}
	return n
}

func clientCredentials(org string) Config {
	return Config{Organization: org, ClientID: sandbox.DefaultUiPathClientID, ClientSecret: sandbox.DefaultUiPathClientSecret}
}

func ropc(org string) Config {
	return Config{Organization: org, Tenant: "default", Username: sandbox.DefaultUiPathUsername, Password: sandbox.DefaultUiPathPassword}
}

// fakeClock is the real time moved forward by an offset.
type fakeClock struct{ offset atomic.Int64 }

func (f *fakeClock) now() time.Time          { return time.Now().Add(time.Duration(f.offset.Load())) }
func (f *fakeClock) advance(d time.Duration) { f.offset.Add(int64(d)) }

// requireClass checks that err is a *dmapi.Error with status and class.
func requireClass(t *testing.T, err error, status int, class dmapi.Class) *dmapi.Error {
	t.Helper()
	var e *dmapi.Error
	require.ErrorAs(t, err, &e)
	require.Equal(t, status, e.Status, "%v", err)
	require.Equal(t, class, dmapi.ClassOf(err), "%v", err)
	return e
}

func TestAllocateGroup(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name          string
		cfg           Config
		tokenEndpoint string
		allocEndpoint string
	}{
		{"ClientCredentials", clientCredentials("acme"), tokenEndpoint, allocateEndpoint},
		{"ClientCredentialsNoOrg", clientCredentials(""), tokenEndpoint, allocateNoOrg},
		{"ROPC", ropc("acme"), ropcEndpoint, allocateEndpoint},
		{"ROPCNoOrg", ropc(""), ropcNoOrg, allocateNoOrg},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, sandbox.Config{})
			c := b.client(t, tt.cfg)
			ctx := t.Context()

			a, err := c.AllocateGroup(ctx, "acct 1", "group-01/a", []string{"RPADEVPRONU", "IDU"}, false)
			require.NoError(t, err)
			require.Equal(t, &Allocation{GroupID: "group-01/a", OrganizationID: "acct 1", UserBundleCodes: []string{"RPADEVPRONU", "IDU"}}, a)

			// The allocation is replaced; nil clears it.
			a, err = c.AllocateGroup(ctx, "acct 1", "group-01/a", []string{"CTZDEVCU"}, true)
			require.NoError(t, err)
			require.Equal(t, &Allocation{GroupID: "group-01/a", OrganizationID: "acct 1", UseExternalLicense: true, UserBundleCodes: []string{"CTZDEVCU"}}, a)
			a, err = c.AllocateGroup(ctx, "acct 1", "group-01/a", nil, false)
			require.NoError(t, err)
			require.Empty(t, a.UserBundleCodes)

			require.Equal(t, int64(1), b.requests(tt.tokenEndpoint), "the token is cached")
			require.Equal(t, int64(1), b.requests(tokenEndpoint, ropcEndpoint, ropcNoOrg))
			require.Equal(t, int64(3), b.requests(tt.allocEndpoint))
			require.Equal(t, 1, b.srv.Stats().UiPathGroupAllocations)
		})
	}
}

func TestAllocateGroupErrors(t *testing.T) {
	t.Parallel()
	b := setup(t, sandbox.Config{UiPath: sandbox.UiPathConfig{Quantities: map[string]int{"IDU": 1, "ATTUU": 5}}})
	c := b.client(t, clientCredentials("acme"))
	ctx := t.Context()
	_, err := c.AllocateGroup(ctx, "acct-1", "g1", []string{"IDU"}, false)
	require.NoError(t, err)

	for _, tt := range []struct {
		name    string
		account string
		codes   []string
		status  int
		message string
	}{
		{"QuantitiesExceeded", "acct-1", []string{"ATTUU", "IDU"}, http.StatusConflict, "The license allocation is not allowed because it exceeds the account license quantities"},
		{"NoAccountLicense", "nolicense-7", []string{"IDU"}, http.StatusNotFound, "No account license is allocated for the indicated organization"},
		{"UnknownCode", "acct-1", []string{"NOPE"}, http.StatusBadRequest, `Unknown user bundle code "NOPE".`},
	} {
		_, err := c.AllocateGroup(ctx, tt.account, "g2", tt.codes, false)
		e := requireClass(t, err, tt.status, dmapi.Permanent)
		require.Equal(t, tt.message, e.Message, tt.name)
	}
	// Another account has its own quantities.
	_, err = c.AllocateGroup(ctx, "acct-2", "g2", []string{"IDU"}, false)
	require.NoError(t, err)

	_, err = c.AllocateGroup(ctx, "", "g2", []string{"IDU"}, false)
	require.ErrorContains(t, err, "account id and group id are required")
	require.Equal(t, dmapi.Permanent, dmapi.ClassOf(err))
	require.Equal(t, int64(5), b.requests(allocateEndpoint))
}

func TestTokenRenewal(t *testing.T) {
	t.Parallel()

	t.Run("BeforeExpiry", func(t *testing.T) {
		t.Parallel()
		b := setup(t, sandbox.Config{}) // tokens last an hour
		c := b.client(t, clientCredentials("acme"))
		var clock fakeClock
		c.now = clock.now
		allocate := func() {
			t.Helper()
			_, err := c.AllocateGroup(t.Context(), "acct-1", "g", []string{"IDU"}, false)
			require.NoError(t, err)
		}

		allocate()
		clock.advance(time.Hour - 2*time.Minute)
		allocate()
		require.Equal(t, int64(1), b.requests(tokenEndpoint))
		clock.advance(90 * time.Second) // within the last minute
		allocate()
		require.Equal(t, int64(2), b.requests(tokenEndpoint))
		require.Equal(t, int64(3), b.requests(allocateEndpoint), "no request was refused")
	})

	t.Run("On401", func(t *testing.T) {
		t.Parallel()
		// The client assumes ROPC tokens last 30 minutes; these last 50 ms.
		b := setup(t, sandbox.Config{UiPath: sandbox.UiPathConfig{TokenTTL: 50 * time.Millisecond}})
		c := b.client(t, ropc("acme"))
		_, err := c.AllocateGroup(t.Context(), "acct-1", "g", []string{"IDU"}, false)
		require.NoError(t, err)
		time.Sleep(80 * time.Millisecond)
		_, err = c.AllocateGroup(t.Context(), "acct-1", "g", []string{"IDU"}, false)
		require.NoError(t, err)
		require.Equal(t, int64(2), b.requests(ropcEndpoint))
		require.Equal(t, int64(3), b.requests(allocateEndpoint), "one request was refused and sent again")
	})

	t.Run("Second401IsFatal", func(t *testing.T) {
		t.Parallel()
		// Tokens are dead on arrival; expires_in is 0, so the client
		// assumes the default lifetime.
		b := setup(t, sandbox.Config{UiPath: sandbox.UiPathConfig{TokenTTL: time.Nanosecond}})
		c := b.client(t, clientCredentials("acme"))
		_, err := c.AllocateGroup(t.Context(), "acct-1", "g", []string{"IDU"}, false)
		requireClass(t, err, http.StatusUnauthorized, dmapi.Fatal)
		require.Equal(t, int64(2), b.requests(tokenEndpoint))
		require.Equal(t, int64(2), b.requests(allocateEndpoint))
		c.mu.Lock()
		token := c.token
		c.mu.Unlock()
		require.NotEmpty(t, token)
		require.NotContains(t, err.Error(), token)
	})
}

func TestConcurrentCallersShareOneFetch(t *testing.T) {
	t.Parallel()
	b := setup(t, sandbox.Config{UiPath: sandbox.UiPathConfig{TokenTTL: 300 * time.Millisecond}})
	c := b.client(t, ropc("acme"))
	const callers = 32
	round := func() {
		t.Helper()
		var wg sync.WaitGroup
		errs := make(chan error, callers)
		for i := range callers {
			wg.Go(func() {
				_, err := c.AllocateGroup(t.Context(), "acct-1", "g"+string(rune('A'+i)), []string{"ATTUU"}, false)
				errs <- err
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			require.NoError(t, err)
		}
	}

	round()
	require.Equal(t, int64(1), b.requests(ropcEndpoint))
	time.Sleep(350 * time.Millisecond) // the token expires at the server only
	round()
	require.Equal(t, int64(2), b.requests(ropcEndpoint), "the callers refused with the old token shared one fetch")
}

func TestCredentialsRefused(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name    string
		cfg     Config
		message string
	}{
		{"WrongSecret", Config{ClientID: sandbox.DefaultUiPathClientID, ClientSecret: "hunter2"}, "invalid_client"},
		{"WrongScope", Config{ClientID: sandbox.DefaultUiPathClientID, ClientSecret: sandbox.DefaultUiPathClientSecret, Scope: "PM.License.Read"}, "invalid_scope"},
		{"WrongPassword", Config{Tenant: "default", Username: sandbox.DefaultUiPathUsername, Password: "hunter2"}, "Login failed!: Invalid user name or password"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, sandbox.Config{})
			c := b.client(t, tt.cfg)
			_, err := c.AllocateGroup(t.Context(), "acct-1", "g", []string{"IDU"}, false)
			e := requireClass(t, err, http.StatusBadRequest, dmapi.Fatal)
			require.True(t, e.CredentialsRefused)
			require.Equal(t, tt.message, e.Message)
			require.NotContains(t, err.Error(), "hunter2")
			require.Zero(t, b.requests(allocateNoOrg))
		})
	}
}

func TestTransientFailures(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name       string
		status     int
		retryAfter time.Duration
	}{
		{"Unavailable", http.StatusServiceUnavailable, 0},
		{"Throttled", http.StatusTooManyRequests, time.Second},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, sandbox.Config{FailRate: 1, FailStatus: sandbox.FailStatus{Code: tt.status}})
			c := b.client(t, clientCredentials("acme"))
			_, err := c.AllocateGroup(t.Context(), "acct-1", "g", []string{"IDU"}, false)
			e := requireClass(t, err, tt.status, dmapi.Retryable)
			require.False(t, e.CredentialsRefused)
			require.Equal(t, tt.retryAfter, e.RetryAfter)
		})
	}

	t.Run("Network", func(t *testing.T) {
		t.Parallel()
		ts := httptest.NewServer(http.NotFoundHandler())
		ts.Close()
		c, err := New(Config{BaseURL: ts.URL, ClientID: "id", ClientSecret: "secret"})
		require.NoError(t, err)
		_, err = c.AllocateGroup(t.Context(), "acct-1", "g", nil, false)
		requireClass(t, err, 0, dmapi.Retryable)
	})

	t.Run("Cancelled", func(t *testing.T) {
		t.Parallel()
		release := make(chan struct{})
		ts := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { <-release }))
		t.Cleanup(ts.Close)
		t.Cleanup(func() { close(release) })
		c, err := New(Config{BaseURL: ts.URL, ClientID: "id", ClientSecret: "secret"})
		require.NoError(t, err)
		ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
		defer cancel()
		_, err = c.AllocateGroup(ctx, "acct-1", "g", nil, false)
		require.ErrorIs(t, err, context.DeadlineExceeded)
		requireClass(t, err, 0, dmapi.Retryable)
	})
}

func TestNewValidates(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"NoBaseURL", Config{ClientID: "id", ClientSecret: "s"}, "BaseURL is required"},
		{"BadBaseURL", Config{BaseURL: "ftp://x", ClientID: "id", ClientSecret: "s"}, `BaseURL "ftp://x" is not an http(s) URL`},
		{"NoSecret", Config{BaseURL: "https://x", ClientID: "id"}, "ClientSecret is required with ClientID"},
		{"NoCredentials", Config{BaseURL: "https://x"}, "ClientID and ClientSecret, or Username and Password, are required"},
		{"NoTenant", Config{BaseURL: "https://x", Username: "u", Password: "p"}, "Tenant is required with Username"},
		{"NegativeTimeout", Config{BaseURL: "https://x", ClientID: "id", ClientSecret: "s", Timeout: -1}, "Timeout cannot be negative"},
		{"NegativeRate", Config{BaseURL: "https://x", ClientID: "id", ClientSecret: "s", RateLimit: -1}, "RateLimit cannot be negative"},
	} {
		_, err := New(tt.cfg)
		require.ErrorContains(t, err, tt.want, tt.name)
	}
	c, err := New(Config{BaseURL: "https://x/", ClientID: "id", ClientSecret: "s"})
	require.NoError(t, err)
	require.Equal(t, "PM.License.Write", c.cfg.Scope)
	require.Equal(t, 30*time.Second, c.timeout)
}
