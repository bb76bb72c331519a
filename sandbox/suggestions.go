package sandbox

import (
	"encoding/json"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// suggestion suggests a program to a user or a group on a platform.
type suggestion struct {
	id          int
	platformKey string
	programKey  string
	subjectID   int // user id or group id
	accepted    bool
	visible     bool
	metadata    json.RawMessage
	created     time.Time
	modified    time.Time
}

// suggestionKey is the upsert key of a suggestion.
type suggestionKey struct {
	platform, program string
	subjectID         int
}

// suggestionTable holds the suggestions to one subject kind.
type suggestionTable struct {
	lastID int
	byID   map[int]*suggestion
	byKey  map[suggestionKey]*suggestion
}

func newSuggestionTable() *suggestionTable {
	return &suggestionTable{byID: map[int]*suggestion{}, byKey: map[suggestionKey]*suggestion{}}
}

// suggestionInput holds the fields of a suggestion upsert.
type suggestionInput struct {
	programKey        string
	accepted, visible *bool
	metadata          json.RawMessage
}

func readSuggestionInput(f *fields) suggestionInput {
	var in suggestionInput
	in.programKey, _ = f.str("program_key", true)
	if v, ok := f.boolean("accepted"); ok {
		in.accepted = &v
	}
	if v, ok := f.boolean("visible"); ok {
		in.visible = &v
	}
	in.metadata, _ = f.object("metadata")
	return in
}

// upsertSuggestionIn creates or updates the suggestion of in.programKey to subjectID on
// platform and reports whether it was created. Callers hold s.mu.
func (s *Server) upsertSuggestionIn(t *suggestionTable, platform string, subjectID int, in suggestionInput) (*suggestion, bool) {
	now := now()
	key := suggestionKey{platform: platform, program: in.programKey, subjectID: subjectID}
	sg := t.byKey[key]
	created := sg == nil
	if created {
		t.lastID++
		sg = &suggestion{
			id: t.lastID, platformKey: platform, programKey: in.programKey, subjectID: subjectID,
			visible: true, metadata: json.RawMessage("{}"), created: now,
		}
		t.byID[sg.id] = sg
		t.byKey[key] = sg
		s.counters.creates++
	} else {
		s.counters.updates++
	}
	if in.accepted != nil {
		sg.accepted = *in.accepted
	}
	if in.visible != nil {
		sg.visible = *in.visible
	}
	if in.metadata != nil {
		sg.metadata = in.metadata
	}
	sg.modified = now
	return sg, created
}

// deleteSuggestionIn removes the suggestion named by the suggestion_id query
// parameter, checking platform_key when required or given. Success is a 200
// without a body, as documented.
func (s *Server) deleteSuggestionIn(t *suggestionTable, r *http.Request, platformRequired bool) response {
	f := queryFields(r.URL.Query())
	id, _ := f.integer("suggestion_id", true)
	platform, _ := f.str("platform_key", platformRequired)
	if errResp := f.failed(); errResp != nil {
		return *errResp
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sg := t.byID[id]
	if sg == nil || (platform != "" && sg.platformKey != platform) {
		return notFound("Suggestion does not exist.")
	}
	delete(t.byID, sg.id)
	delete(t.byKey, suggestionKey{platform: sg.platformKey, program: sg.programKey, subjectID: sg.subjectID})
	s.counters.deletes++
	return written(http.StatusOK, nil)
}

// listSuggestionsIn returns the suggestions on the platform_key of r's query
// whose program key or subject name contains its query parameter, ordered by
// sort (defaultDescending when absent). Callers hold s.mu.
func (s *Server) listSuggestionsIn(t *suggestionTable, r *http.Request, name func(*suggestion) string, defaultDescending bool) ([]*suggestion, *response) {
	q := r.URL.Query()
	f := queryFields(q)
	platform, _ := f.str("platform_key", true)
	if errResp := f.failed(); errResp != nil {
		return nil, errResp
	}
	descending, errResp := readSort(q, defaultDescending)
	if errResp != nil {
		return nil, errResp
	}
	search := strings.ToLower(q.Get("query"))
	var matches []*suggestion
	for _, sg := range t.byID {
		if sg.platformKey != platform {
			continue
		}
		if search != "" && !strings.Contains(strings.ToLower(sg.programKey), search) &&
			!strings.Contains(strings.ToLower(name(sg)), search) {
			continue
		}
		matches = append(matches, sg)
	}
	sortByID(matches, func(sg *suggestion) int { return sg.id }, descending)
	return matches, nil
}

// suggestionDetail is the program suggestion shape.
type suggestionDetail struct {
	ID          int             `json:"id"`
	UserID      int             `json:"user_id"`
	Username    string          `json:"username"`
	Name        string          `json:"name"`
	PlatformKey string          `json:"platform_key"`
	Accepted    bool            `json:"accepted"`
	Visible     bool            `json:"visible"`
	Created     string          `json:"created"`
	Modified    string          `json:"modified"`
	Metadata    json.RawMessage `json:"metadata"`
	ProgramKey  string          `json:"program_key"`
	ProgramName string          `json:"program_name"`
}

func (s *Server) renderSuggestion(sg *suggestion) suggestionDetail {
	u, _ := s.dir.user(sg.subjectID)
	return suggestionDetail{
		ID: sg.id, UserID: u.ID, Username: u.Username, Name: u.Name, PlatformKey: sg.platformKey,
		Accepted: sg.accepted, Visible: sg.visible, Created: formatTime(sg.created), Modified: formatTime(sg.modified),
		Metadata: sg.metadata, ProgramKey: sg.programKey, ProgramName: sg.programKey,
	}
}

// suggestionUser resolves a suggestion's user_id: a numeric id, or a username.
func (s *Server) suggestionUser(userID string) (FixtureUser, bool) {
	if id, err := strconv.Atoi(userID); err == nil {
		return s.dir.user(id)
	}
	return s.dir.userByUsername(userID)
}

// upsertSuggestion creates (201) or updates (200) the suggestion keyed by
// (platform_key, program_key, user_id).
func (s *Server) upsertSuggestion(r *http.Request) response {
	f, errResp := bodyFields(r)
	if errResp != nil {
		return *errResp
	}
	f.fallBack(r.URL.Query(), "platform_key")
	platform, _ := f.str("platform_key", true)
	userID, _ := f.str("user_id", true)
	in := readSuggestionInput(f)
	if errResp := f.failed(); errResp != nil {
		return *errResp
	}
	u, ok := s.suggestionUser(userID)
	if !ok {
		return fieldError("user_id", "User not found.")
	}
	if !s.dir.program(in.programKey) {
		return fieldError("program_key", "Program not found.")
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	sg, created := s.upsertSuggestionIn(s.suggestions, platform, u.ID, in)
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	return written(status, s.renderSuggestion(sg))
}

func (s *Server) listSuggestions(r *http.Request) response {
	s.mu.Lock()
	defer s.mu.Unlock()
	matches, errResp := s.listSuggestionsIn(s.suggestions, r, func(sg *suggestion) string {
		u, _ := s.dir.user(sg.subjectID)
		return u.Username
	}, true)
	if errResp != nil {
		return *errResp
	}
	p, errResp := paginate(r, matches, s.renderSuggestion)
	if errResp != nil {
		return *errResp
	}
	return ok(p)
}

func (s *Server) deleteSuggestion(r *http.Request) response {
	return s.deleteSuggestionIn(s.suggestions, r, false)
}

// bulkResult is the answer of the bulk endpoint.
type bulkResult struct {
	Successes  int      `json:"successes"`
	ErrorCodes []string `json:"error_codes"`
}

// bulkSuggestions upserts each item of suggestion_data on platform_key. Items
// that fail are skipped and reported as error codes (see the package doc).
func (s *Server) bulkSuggestions(r *http.Request) response {
	f, errResp := bodyFields(r)
	if errResp != nil {
		return *errResp
	}
	platform, _ := f.str("platform_key", true)
	items, _ := f.list("suggestion_data", true)
	if errResp := f.failed(); errResp != nil {
		return *errResp
	}

	type valid struct {
		userID int
		in     suggestionInput
	}
	res := bulkResult{ErrorCodes: []string{}}
	var valids []valid
	for _, raw := range items {
		item := &fields{}
		if raw[0] != '{' || json.Unmarshal(raw, &item.raw) != nil {
			res.ErrorCodes = append(res.ErrorCodes, "invalid_item")
			continue
		}
		if key, _ := item.str("platform_key", false); key != "" && key != platform {
			return fieldError("suggestion_data", "All items must belong to platform_key.")
		}
		userID, _ := item.str("user_id", true)
		in := readSuggestionInput(item)
		if len(item.errs) > 0 {
			for _, name := range slices.Sorted(maps.Keys(item.errs)) {
				code := "invalid_field:" + name
				if item.errs[name][0] == msgRequired {
					code = "missing_field:" + name
				}
				res.ErrorCodes = append(res.ErrorCodes, code)
			}
			continue
		}
		u, found := s.suggestionUser(userID)
		switch {
		case !found:
			res.ErrorCodes = append(res.ErrorCodes, "user_not_found:"+userID)
		case !s.dir.program(in.programKey):
			res.ErrorCodes = append(res.ErrorCodes, "program_not_found:"+in.programKey)
		default:
			valids = append(valids, valid{userID: u.ID, in: in})
		}
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	for _, v := range valids {
		s.upsertSuggestionIn(s.suggestions, platform, v.userID, v.in)
	}
	res.Successes = len(valids)
	return response{status: http.StatusOK, body: res, wrote: res.Successes > 0}
}
