package sandbox

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
)

// Issuer list pagination (limit/offset).
const (
	defaultIssuerLimit = 50
	maxIssuerLimit     = 1000
)

// issuer is a credential issuer of an org. name, url and email hold what
// requests sent (nil when never sent): the API stores them but answers its
// own name and url and no email.
type issuer struct {
	seq                 int // creation order
	org                 string
	entityID            string
	iconImage           string
	allowedTemplateTags json.RawMessage // null or a list of strings
	name, url, email    *string
}

// issuerStore holds issuers by entityId, which is unique across orgs.
type issuerStore struct {
	lastSeq    int
	byEntityID map[string]*issuer
}

func newIssuerStore() *issuerStore { return &issuerStore{byEntityID: map[string]*issuer{}} }

// issuerDetail is the Issuer schema. name, org, signatories and url are
// read-only: the sandbox's orgs have no display name, site or signatories of
// their own, so name is the org key, url is empty and signatories is {}.
type issuerDetail struct {
	Name                string            `json:"name"`
	Org                 string            `json:"org"`
	EntityID            string            `json:"entityId"`
	Signatories         map[string]string `json:"signatories"`
	URL                 string            `json:"url"`
	IconImage           string            `json:"iconImage"`
	AllowedTemplateTags json.RawMessage   `json:"allowed_template_tags"`
}

func (is *issuer) detail() issuerDetail {
	return issuerDetail{
		Name: is.org, Org: is.org, EntityID: is.entityID, Signatories: map[string]string{},
		URL: "", IconImage: is.iconImage, AllowedTemplateTags: is.allowedTemplateTags,
	}
}

// StoredIssuer is an issuer as the sandbox stores it, with the fields the
// API takes but does not answer: Name, URL and Email as last sent (nil when
// never sent). It is served by GET /_sandbox/issuers/{entity_id} and
// returned by Server.Issuer.
type StoredIssuer struct {
	Org                 string          `json:"org"`
	EntityID            string          `json:"entityId"`
	IconImage           string          `json:"iconImage"`
	AllowedTemplateTags json.RawMessage `json:"allowed_template_tags"`
	Name                *string         `json:"name"`
	URL                 *string         `json:"url"`
	Email               *string         `json:"email"`
}

// Issuer returns the stored issuer whose entityId is entityID.
func (s *Server) Issuer(entityID string) (StoredIssuer, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	is := s.issuers.byEntityID[entityID]
	if is == nil {
		return StoredIssuer{}, false
	}
	return StoredIssuer{
		Org: is.org, EntityID: is.entityID, IconImage: is.iconImage, AllowedTemplateTags: is.allowedTemplateTags,
		Name: is.name, URL: is.url, Email: is.email,
	}, true
}

// credentialsStatus is the status part of wrapped credentials answers.
type credentialsStatus struct {
	Success     bool   `json:"success"`
	Description string `json:"description"`
}

// wrapped is the {"status": {...}, "result": ...} envelope.
type wrapped struct {
	Status credentialsStatus `json:"status"`
	Result any               `json:"result"`
}

// statusOnly is the {"status": {...}} answer of an issuer delete.
type statusOnly struct {
	Status credentialsStatus `json:"status"`
}

// issuerPage is the result of the issuer list.
type issuerPage struct {
	Next        *string        `json:"next"`
	Previous    *string        `json:"previous"`
	Count       int            `json:"count"`
	Data        []issuerDetail `json:"data"`
	NumPages    int            `json:"num_pages"`
	PageNumber  int            `json:"page_number"`
	MaxPageSize int            `json:"max_page_size"`
}

// issuerInput holds the issuer fields of a create or update; nil means
// absent.
type issuerInput struct {
	entityID, iconImage string
	name, email, url    *string
	allowedTemplateTags json.RawMessage
}

// readIssuerInput reads the Issuer schema's writable fields, entityId and
// iconImage required, and the docstring's name, email and url.
func readIssuerInput(f *fields) issuerInput {
	var in issuerInput
	in.entityID, _ = f.str("entityId", true)
	in.iconImage, _ = f.str("iconImage", true)
	opt := func(name string) *string {
		if v, ok := f.str(name, false); ok {
			return &v
		}
		return nil
	}
	in.name = opt("name")
	in.email = opt("email")
	in.url = opt("url")
	if f.isNull("allowed_template_tags") {
		in.allowedTemplateTags = json.RawMessage("null")
	} else if tags, ok := f.list("allowed_template_tags", false); ok {
		for _, tag := range tags {
			if tag[0] != '"' {
				f.fail("allowed_template_tags", "Not a valid string.")
				break
			}
		}
		in.allowedTemplateTags, _ = json.Marshal(tags)
	}
	return in
}

func (in issuerInput) apply(is *issuer) {
	is.iconImage = in.iconImage
	if in.name != nil {
		is.name = in.name
	}
	if in.email != nil {
		is.email = in.email
	}
	if in.url != nil {
		is.url = in.url
	}
	if in.allowedTemplateTags != nil {
		is.allowedTemplateTags = in.allowedTemplateTags
	}
}

// knownIssuerUser answers 404 unless the path's {user} is a known user: a
// numeric user id or a username.
func (s *Server) knownIssuerUser(r *http.Request) *response {
	if _, ok := s.suggestionUser(r.PathValue("user")); ok {
		return nil
	}
	resp := notFound("Not found.")
	return &resp
}

// issuerAnswer is the answer holding one issuer: the bare object in the
// schema's form, else wrapped as description says (create) or a one-element
// array (GET, PUT).
func (s *Server) issuerAnswer(d issuerDetail, description string) any {
	switch {
	case s.issuerSchemaForms:
		return d
	case description != "":
		return wrapped{Status: credentialsStatus{Success: true, Description: description}, Result: d}
	}
	return []issuerDetail{d}
}

// createIssuer creates an issuer under the entityId the request gives; a
// duplicate answers 400.
func (s *Server) createIssuer(r *http.Request) response {
	if errResp := s.knownIssuerUser(r); errResp != nil {
		return *errResp
	}
	f, errResp := bodyFields(r)
	if errResp != nil {
		return *errResp
	}
	in := readIssuerInput(f)
	if errResp := f.failed(); errResp != nil {
		return *errResp
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.issuers
	if st.byEntityID[in.entityID] != nil {
		return fieldError("entityId", "issuer with this entityId already exists.")
	}
	st.lastSeq++
	is := &issuer{seq: st.lastSeq, org: r.PathValue("org"), entityID: in.entityID, allowedTemplateTags: json.RawMessage("null")}
	in.apply(is)
	st.byEntityID[is.entityID] = is
	s.counters.creates++
	return written(http.StatusOK, s.issuerAnswer(is.detail(), "Created"))
}

// listIssuers lists the org's issuers whose name contains q, paged by limit
// and offset. Both forms answer the docstring's wrapped page: the schema's
// answer for the list is a single Issuer.
func (s *Server) listIssuers(r *http.Request) response {
	if errResp := s.knownIssuerUser(r); errResp != nil {
		return *errResp
	}
	q := r.URL.Query()
	limit, offset := defaultIssuerLimit, 0
	if n, err := strconv.Atoi(q.Get("limit")); err == nil && n > 0 {
		limit = min(n, maxIssuerLimit)
	}
	if n, err := strconv.Atoi(q.Get("offset")); err == nil && n > 0 {
		offset = n
	}
	search := strings.ToLower(q.Get("q"))
	org := r.PathValue("org")

	s.mu.Lock()
	defer s.mu.Unlock()
	var matches []*issuer
	for _, is := range s.issuers.byEntityID {
		if is.org == org && strings.Contains(strings.ToLower(is.detail().Name), search) {
			matches = append(matches, is)
		}
	}
	sortByID(matches, func(is *issuer) int { return is.seq }, false)
	res := issuerPage{
		Count:       len(matches),
		Data:        []issuerDetail{},
		NumPages:    max(1, (len(matches)+limit-1)/limit),
		PageNumber:  offset/limit + 1,
		MaxPageSize: maxIssuerLimit,
	}
	for _, is := range matches[min(offset, len(matches)):min(offset+limit, len(matches))] {
		res.Data = append(res.Data, is.detail())
	}
	if offset+limit < len(matches) {
		res.Next = offsetURL(r, limit, offset+limit)
	}
	if offset > 0 {
		res.Previous = offsetURL(r, limit, max(0, offset-limit))
	}
	return ok(wrapped{Status: credentialsStatus{Success: true, Description: "Ok"}, Result: res})
}

// offsetURL is r's absolute URL with limit and offset set.
func offsetURL(r *http.Request, limit, offset int) *string {
	return pageURL(r, map[string]string{"limit": strconv.Itoa(limit), "offset": strconv.Itoa(offset)})
}

// findIssuer returns the issuer in the path, or nil. Callers hold s.mu.
func (s *Server) findIssuer(r *http.Request) *issuer {
	is := s.issuers.byEntityID[r.PathValue("entity_id")]
	if is == nil || is.org != r.PathValue("org") {
		return nil
	}
	return is
}

// getIssuer answers the issuer as a one-element array, or the object in the
// schema's form.
func (s *Server) getIssuer(r *http.Request) response {
	if errResp := s.knownIssuerUser(r); errResp != nil {
		return *errResp
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	is := s.findIssuer(r)
	if is == nil {
		return notFound("Issuer not found.")
	}
	return ok(s.issuerAnswer(is.detail(), ""))
}

// updateIssuer replaces the issuer's writable fields; entityId cannot change.
// It answers like getIssuer.
func (s *Server) updateIssuer(r *http.Request) response {
	if errResp := s.knownIssuerUser(r); errResp != nil {
		return *errResp
	}
	f, errResp := bodyFields(r)
	if errResp != nil {
		return *errResp
	}
	in := readIssuerInput(f)
	if errResp := f.failed(); errResp != nil {
		return *errResp
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	is := s.findIssuer(r)
	if is == nil {
		return notFound("Issuer not found.")
	}
	if in.entityID != is.entityID {
		return fieldError("entityId", "entityId cannot be changed.")
	}
	in.apply(is)
	s.counters.updates++
	return written(http.StatusOK, s.issuerAnswer(is.detail(), ""))
}

// deleteIssuer answers 200 {"status": {"success": true, "description":
// "Deleted"}}, or 204 without a body in the schema's form.
func (s *Server) deleteIssuer(r *http.Request) response {
	if errResp := s.knownIssuerUser(r); errResp != nil {
		return *errResp
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	is := s.findIssuer(r)
	if is == nil {
		return notFound("Issuer not found.")
	}
	delete(s.issuers.byEntityID, is.entityID)
	s.counters.deletes++
	if s.issuerSchemaForms {
		return written(http.StatusNoContent, nil)
	}
	return written(http.StatusOK, statusOnly{Status: credentialsStatus{Success: true, Description: "Deleted"}})
}
