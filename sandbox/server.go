package sandbox

import (
	"cmp"
	"crypto/subtle"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

// Server is the fake API. It implements http.Handler and is safe for
// concurrent use. Create one with New.
type Server struct {
	token             []byte
	authScheme        string
	ignoreListFilters bool
	issuerSchemaForms bool
	uipath            UiPathConfig
	dir               *directory
	faults            *faults
	throttle          throttle
	mux               *http.ServeMux // API paths
	inspect           *http.ServeMux // inspectPrefix paths

	mu               sync.Mutex
	counters         counters
	licenses         map[licenseKind]*licenseStore
	history          []HistoryEntry
	groupAssignments map[licenseKind]*assignmentTable
	userAssignments  map[licenseKind]*assignmentTable
	suggestions      *suggestionTable
	groupSuggestions *suggestionTable
	issuers          *issuerStore
	uipathTokens     map[string]time.Time       // access token -> expiry
	allocations      map[allocationKey][]string // bundle codes allocated to a group
}

// New returns a Server for cfg. It panics when cfg is invalid; use
// Config.Validate to check it first.
func New(cfg Config) *Server {
	if err := cfg.Validate(); err != nil {
		panic(fmt.Sprintf("sandbox: invalid config: %v", err))
	}
	s := &Server{
		token:             []byte(cfg.Token),
		authScheme:        cmp.Or(canonicalAuthScheme(cfg.AuthScheme), AuthSchemeAPIToken),
		ignoreListFilters: cfg.IgnoreListFilters,
		issuerSchemaForms: cfg.IssuerSchemaForms,
		uipath:            cfg.UiPath.withDefaults(),
		dir:               newDirectory(cfg.Fixtures),
		faults:            newFaults(cfg, time.Now()),
		throttle:          newThrottle(cfg.RateLimit),
		mux:               http.NewServeMux(),
		inspect:           http.NewServeMux(),
		counters:          counters{byEndpoint: map[string]int64{}},
		licenses:          map[licenseKind]*licenseStore{},
		groupAssignments:  map[licenseKind]*assignmentTable{},
		userAssignments:   map[licenseKind]*assignmentTable{},
		suggestions:       newSuggestionTable(),
		groupSuggestions:  newSuggestionTable(),
		issuers:           newIssuerStore(),
		uipathTokens:      map[string]time.Time{},
		allocations:       map[allocationKey][]string{},
	}
	for _, kind := range licenseKinds {
		s.licenses[kind] = newLicenseStore()
		s.groupAssignments[kind] = newAssignmentTable()
		s.userAssignments[kind] = newAssignmentTable()
	}
	s.routes()
	return s
}

// maxBodyBytes bounds request bodies.
const maxBodyBytes = 32 << 20

// authScheme is how an endpoint authenticates requests.
type authScheme int

const (
	authAPIToken authScheme = iota // Data Manager: "Authorization: <Config.AuthScheme> <token>"
	authBearer                     // UiPath: "Authorization: Bearer <access token>"
	authNone
)

// handlerFunc handles one method of an endpoint.
type handlerFunc func(r *http.Request) response

// endpoint serves one path: it authenticates, then dispatches on the method.
type endpoint struct {
	s       *Server
	auth    authScheme
	methods map[string]handlerFunc
}

func (e endpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if resp := e.s.authenticate(e.auth, r); resp != nil {
		e.s.send(w, *resp)
		return
	}
	h, ok := e.methods[r.Method]
	if !ok {
		allowed := slices.Sorted(maps.Keys(e.methods))
		resp := errorDetail(http.StatusMethodNotAllowed, fmt.Sprintf("Method %q not allowed.", r.Method))
		resp.header = http.Header{"Allow": {strings.Join(allowed, ", ")}}
		e.s.send(w, resp)
		return
	}
	e.s.send(w, h(r))
}

// handle registers an API endpoint. Patterns ending in "/" match only that
// path.
// Stats lists every endpoint, with a count of 0 until it is called.
func (s *Server) handle(path string, auth authScheme, methods map[string]handlerFunc) {
	handleOn(s.mux, path, endpoint{s: s, auth: auth, methods: methods})
	for method := range methods {
		s.counters.byEndpoint[method+" "+path] = 0
	}
}

func handleOn(mux *http.ServeMux, path string, e endpoint) {
	pattern := path
	if strings.HasSuffix(path, "/") {
		pattern += "{$}"
	}
	mux.Handle(pattern, e)
}

// ServeHTTP serves the API and the sandbox's own inspection paths under
// /_sandbox/. API requests are counted, delayed by Config.Latency, answered
// 503 during an outage, 429 beyond Config.RateLimit, and may fail as
// configured.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, inspectPrefix) {
		s.inspect.ServeHTTP(w, r)
		return
	}
	_, pattern := s.mux.Handler(r)
	s.countRequest(r.Method, pattern)
	if !s.faults.wait(r.Context()) {
		return
	}
	if s.faults.inOutage(time.Now()) {
		s.countOutage()
		answerOutage(w)
		return
	}
	if ok, wait := s.throttle.allow(time.Now()); !ok {
		s.countThrottled()
		answerThrottled(w, wait)
		return
	}
	if s.faults.failBefore() {
		s.countFault()
		s.faults.answerBefore(w)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxBodyBytes)
	s.mux.ServeHTTP(w, r)
}

// send writes resp, unless it answers a write whose answer must be lost.
func (s *Server) send(w http.ResponseWriter, resp response) {
	if resp.wrote && s.faults.failAfter() {
		s.countFault()
		s.faults.answerAfter(w)
		return
	}
	for k, v := range resp.header {
		w.Header()[k] = v
	}
	writeJSON(w, resp.status, resp.body)
}

// authenticate returns a 401 response when r lacks the credentials auth
// requires. Messages follow DRF's TokenAuthentication; none echoes the token.
func (s *Server) authenticate(auth authScheme, r *http.Request) *response {
	switch auth {
	case authAPIToken:
		msg := s.checkAPIToken(r.Header.Get("Authorization"))
		if msg == "" {
			return nil
		}
		resp := errorDetail(http.StatusUnauthorized, msg)
		resp.header = http.Header{"Www-Authenticate": {s.authScheme}}
		return &resp
	case authBearer:
		return s.checkBearer(r.Header.Get("Authorization"))
	}
	return nil
}

// checkAPIToken returns the 401 message for header, or "" when it is valid.
func (s *Server) checkAPIToken(header string) string {
	parts := strings.Fields(header)
	switch {
	case len(parts) == 0 || !strings.EqualFold(parts[0], s.authScheme):
		return "Authentication credentials were not provided."
	case len(parts) == 1:
		return "Invalid token header. No credentials provided."
	case len(parts) > 2:
		return "Invalid token header. Token string should not contain spaces."
	case subtle.ConstantTimeCompare([]byte(parts[1]), s.token) != 1:
		return "Invalid token."
	}
	return ""
}

// routes registers every endpoint.
func (s *Server) routes() {
	for _, kind := range licenseKinds {
		base := "/api/catalog/licenses/" + string(kind) + "/"
		s.handle(base, authAPIToken, map[string]handlerFunc{http.MethodGet: s.listLicenses(kind)})
		s.handle(base+"create/", authAPIToken, map[string]handlerFunc{http.MethodPost: s.createLicense(kind)})
		s.handle(base+"update/", authAPIToken, map[string]handlerFunc{http.MethodPost: s.updateLicense(kind)})
		s.handle(base+"assignment/", authAPIToken, map[string]handlerFunc{
			http.MethodGet:    s.listAssignments(kind, userSubject),
			http.MethodPost:   s.upsertAssignment(kind, userSubject),
			http.MethodDelete: s.deleteAssignment(kind, userSubject),
		})
		s.handle(base+"assignment/group/", authAPIToken, map[string]handlerFunc{
			http.MethodGet:    s.listAssignments(kind, groupSubject),
			http.MethodPost:   s.upsertAssignment(kind, groupSubject),
			http.MethodDelete: s.deleteAssignment(kind, groupSubject),
		})
	}
	s.handle("/api/catalog/suggestions/program/manage/", authAPIToken, map[string]handlerFunc{
		http.MethodGet:    s.listSuggestions,
		http.MethodPost:   s.upsertSuggestion,
		http.MethodDelete: s.deleteSuggestion,
	})
	s.handle("/api/catalog/suggestions/program/manage/bulk/", authAPIToken, map[string]handlerFunc{
		http.MethodPost: s.bulkSuggestions,
	})
	s.handle("/api/catalog/suggestions/program/manage/group/", authAPIToken, map[string]handlerFunc{
		http.MethodGet:    s.listGroupSuggestions,
		http.MethodPost:   s.upsertGroupSuggestion,
		http.MethodDelete: s.deleteGroupSuggestion,
	})
	s.handle("/api/credentials/orgs/{org}/users/{user}/issuers/", authAPIToken, map[string]handlerFunc{
		http.MethodGet:  s.listIssuers,
		http.MethodPost: s.createIssuer,
	})
	s.handle("/api/credentials/orgs/{org}/users/{user}/issuers/{entity_id}", authAPIToken, map[string]handlerFunc{
		http.MethodGet:    s.getIssuer,
		http.MethodPut:    s.updateIssuer,
		http.MethodDelete: s.deleteIssuer,
	})
	s.handle("/identity_/connect/token", authNone, map[string]handlerFunc{http.MethodPost: s.uipathToken})
	s.handle("/api/account/authenticate", authNone, map[string]handlerFunc{http.MethodPost: s.uipathAuthenticate})
	s.handle("/{org}/{tenant}/api/account/authenticate", authNone, map[string]handlerFunc{http.MethodPost: s.uipathAuthenticate})
	allocate := map[string]handlerFunc{http.MethodPut: s.allocateGroupLicenses}
	s.handle("/{org}/lease_/api/account/{accountId}/user-license/group/{groupId}", authBearer, allocate)
	s.handle("/lease_/api/account/{accountId}/user-license/group/{groupId}", authBearer, allocate)
	s.mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) { s.send(w, notFound("Not found.")) })
	s.inspectRoutes()
}
