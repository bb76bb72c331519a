package sandbox

import (
	"net/http"
	"time"
)

// inspectPrefix starts the sandbox's own paths. They need no
// authentication, are not counted as API requests and get no latency, faults
// or outages.
const inspectPrefix = "/_sandbox/"

// statsPath serves Stats as JSON.
const statsPath = inspectPrefix + "stats"

// inspectRoutes registers the inspection endpoints.
func (s *Server) inspectRoutes() {
	handleOn(s.inspect, statsPath, endpoint{s: s, auth: authNone, methods: map[string]handlerFunc{
		http.MethodGet: func(*http.Request) response { return ok(s.Stats()) },
	}})
	handleOn(s.inspect, inspectPrefix+"outage", endpoint{s: s, auth: authNone, methods: map[string]handlerFunc{
		http.MethodPost: s.postOutage,
	}})
	handleOn(s.inspect, inspectPrefix+"licenses/{kind}", endpoint{s: s, auth: authNone, methods: map[string]handlerFunc{
		http.MethodGet: s.inspectLicense,
	}})
	handleOn(s.inspect, inspectPrefix+"issuers/{entity_id}", endpoint{s: s, auth: authNone, methods: map[string]handlerFunc{
		http.MethodGet: s.inspectIssuer,
	}})
	s.inspect.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) { s.send(w, notFound("Not found.")) })
}

// StartOutage makes every API request answer 503 from now for d, replacing
// any outage under way; a d of zero ends it. It returns the outage window.
func (s *Server) StartOutage(d time.Duration) Outage {
	return s.faults.startOutage(time.Now(), d)
}

// postOutage starts an outage of the duration in the "for" query parameter
// (a Go duration such as "90s"; "0s" ends an outage) and answers its window.
func (s *Server) postOutage(r *http.Request) response {
	d, err := time.ParseDuration(r.URL.Query().Get("for"))
	if err != nil || d < 0 {
		return fieldError("for", "Enter a non-negative duration such as 90s.")
	}
	return ok(s.StartOutage(d))
}

// inspectLicense answers the StoredLicense of kind named by the external_id
// query parameter.
func (s *Server) inspectLicense(r *http.Request) response {
	kind := r.PathValue("kind")
	if s.licenses[licenseKind(kind)] == nil {
		return notFound("Not found.")
	}
	ext := r.URL.Query().Get("external_id")
	if ext == "" {
		return fieldError("external_id", msgRequired)
	}
	l, found := s.License(kind, ext)
	if !found {
		return notFound("License not found.")
	}
	return ok(l)
}

// inspectIssuer answers the StoredIssuer of the path's entity id.
func (s *Server) inspectIssuer(r *http.Request) response {
	is, found := s.Issuer(r.PathValue("entity_id"))
	if !found {
		return notFound("Issuer not found.")
	}
	return ok(is)
}
