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

// issuer is a credential issuer of an org.
type issuer struct {
	seq                 int // creation order
	org                 string
	entityID            string
	name                string
	iconImage           string
	email               string
	url                 string
	allowedTemplateTags json.RawMessage // null or a list of strings
}

// issuerStore holds issuers by entityId, which is unique across orgs.
type issuerStore struct {
	lastSeq    int
	byEntityID map[string]*issuer
}

func newIssuerStore() *issuerStore { return &issuerStore{byEntityID: map[string]*issuer{}} }

// issuerDetail is the issuer shape of the credentials API.
type issuerDetail struct {
	Name                string            `json:"name"`
	Org                 string            `json:"org"`
	EntityID            string            `json:"entityId"`
	Signatories         map[string]string `json:"signatories"`
	URL                 string            `json:"url"`
	IconImage           string            `json:"iconImage"`
	Email               string            `json:"email"`
	AllowedTemplateTags json.RawMessage   `json:"allowed_template_tags"`
}

func (is *issuer) detail() issuerDetail {
	return issuerDetail{
		Name: is.name, Org: is.org, EntityID: is.entityID, Signatories: map[string]string{},
		URL: is.url, IconImage: is.iconImage, Email: is.email, AllowedTemplateTags: is.allowedTemplateTags,
	}
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

// issuerInput holds the writable issuer fields; nil means absent.
type issuerInput struct {
	entityID, name, iconImage, email, url *string
	allowedTemplateTags                   json.RawMessage
}

func readIssuerInput(f *fields) issuerInput {
	var in issuerInput
	opt := func(name string) *string {
		if v, ok := f.str(name, false); ok {
			return &v
		}
		return nil
	}
	in.entityID = opt("entityId")
	in.name = opt("name")
	in.iconImage = opt("iconImage")
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
	if in.name != nil {
		is.name = *in.name
	}
	if in.iconImage != nil {
		is.iconImage = *in.iconImage
	}
	if in.email != nil {
		is.email = *in.email
	}
	if in.url != nil {
		is.url = *in.url
	}
	if in.allowedTemplateTags != nil {
		is.allowedTemplateTags = in.allowedTemplateTags
	}
}

// createIssuer accepts both documented bodies: the schema's entityId +
// iconImage, or the docstring's name + iconImage/email/url. One of name and
// entityId is required; a missing entityId is generated, a missing name is the
// entityId.
func (s *Server) createIssuer(r *http.Request) response {
	f, errResp := bodyFields(r)
	if errResp != nil {
		return *errResp
	}
	in := readIssuerInput(f)
	if errResp := f.failed(); errResp != nil {
		return *errResp
	}
	if (in.entityID == nil || *in.entityID == "") && (in.name == nil || *in.name == "") {
		return fieldError("name", msgRequired)
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.issuers
	st.lastSeq++
	is := &issuer{seq: st.lastSeq, org: r.PathValue("org"), allowedTemplateTags: json.RawMessage("null")}
	if in.entityID != nil && *in.entityID != "" {
		if st.byEntityID[*in.entityID] != nil {
			return fieldError("entityId", "issuer with this entityId already exists.")
		}
		is.entityID = *in.entityID
	} else {
		for n := is.seq; is.entityID == "" || st.byEntityID[is.entityID] != nil; n++ {
			is.entityID = "issuer-" + strconv.Itoa(n)
		}
	}
	is.name = is.entityID
	in.apply(is)
	st.byEntityID[is.entityID] = is
	s.counters.creates++
	return written(http.StatusOK, wrapped{Status: credentialsStatus{Success: true, Description: "Created"}, Result: is.detail()})
}

// listIssuers lists the org's issuers whose name contains q, paged by limit
// and offset.
func (s *Server) listIssuers(r *http.Request) response {
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
		if is.org == org && strings.Contains(strings.ToLower(is.name), search) {
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

// getIssuer answers the bare issuer object (the schema's form).
func (s *Server) getIssuer(r *http.Request) response {
	s.mu.Lock()
	defer s.mu.Unlock()
	is := s.findIssuer(r)
	if is == nil {
		return notFound("Issuer not found.")
	}
	return ok(is.detail())
}

// updateIssuer changes the given fields; entityId cannot change. It answers
// the bare issuer object.
func (s *Server) updateIssuer(r *http.Request) response {
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
	if in.entityID != nil && *in.entityID != is.entityID {
		return fieldError("entityId", "entityId cannot be changed.")
	}
	in.apply(is)
	s.counters.updates++
	return written(http.StatusOK, is.detail())
}

// deleteIssuer answers 204 with no body.
func (s *Server) deleteIssuer(r *http.Request) response {
	s.mu.Lock()
	defer s.mu.Unlock()
	is := s.findIssuer(r)
	if is == nil {
		return notFound("Issuer not found.")
	}
	delete(s.issuers.byEntityID, is.entityID)
	s.counters.deletes++
	return written(http.StatusNoContent, nil)
}
