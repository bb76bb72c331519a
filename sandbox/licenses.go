package sandbox

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// licenseKind is a license family: its path segment.
type licenseKind string

const (
	kindProgram licenseKind = "program"
	kindUser    licenseKind = "user"
)

var licenseKinds = []licenseKind{kindProgram, kindUser}

// license is a stored seat pool.
type license struct {
	id               int
	created          time.Time
	started          time.Time
	expired          *time.Time
	name             string
	count            int
	active           bool
	metadata         json.RawMessage
	enrollmentConfig json.RawMessage
	source           string
	externalID       *string
	platformKey      string
	programKey       string // program licenses only
	transactionID    string
}

// licenseStore holds the licenses of one kind. Ids are 1-based indexes into
// all; licenses are never deleted.
type licenseStore struct {
	all          []*license
	byExternalID map[string]*license
}

func newLicenseStore() *licenseStore {
	return &licenseStore{byExternalID: map[string]*license{}}
}

func (st *licenseStore) get(id int) *license {
	if id < 1 || id > len(st.all) {
		return nil
	}
	return st.all[id-1]
}

// HistoryEntry is a license history record. One is written for every license
// create (ChangeType defaults to "create") and update (defaults to "update").
type HistoryEntry struct {
	Kind          string    `json:"kind"` // "program" or "user"
	LicenseID     int       `json:"license_id"`
	TransactionID string    `json:"transaction_id"`
	ChangeType    string    `json:"change_type"`
	Changed       []string  `json:"changed"` // fields whose value changed; nil on create
	At            time.Time `json:"at"`
}

// History returns a copy of the license history records, oldest first.
func (s *Server) History() []HistoryEntry {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]HistoryEntry, len(s.history))
	copy(out, s.history)
	return out
}

// licenseDetail is the license detail shape of the API (ProgramLicenseDetail,
// UserLicenseDetail). It holds neither enrollment_config nor transaction_id:
// the API does not echo them (see StoredLicense).
type licenseDetail struct {
	ID          int               `json:"id"`
	Created     string            `json:"created"`
	Started     string            `json:"started"`
	Expired     *string           `json:"expired"`
	Name        string            `json:"name"`
	Count       int               `json:"count"`
	Active      bool              `json:"active"`
	Metadata    json.RawMessage   `json:"metadata"`
	Source      string            `json:"source"`
	ExternalID  *string           `json:"external_id"`
	PlatformKey string            `json:"platform_key"`
	ProgramID   string            `json:"program_id,omitempty"`
	ProgramKey  string            `json:"program_key,omitempty"`
	ProgramName string            `json:"program_name,omitempty"`
	UsageCount  int               `json:"usage_count"`
	Assignments *assignmentCounts `json:"assignments,omitempty"`
}

// assignmentCounts are the verbose list's counts of a license's user
// assignments: all of them, the active and fulfilled ones, and the active
// ones not yet fulfilled.
type assignmentCounts struct {
	Total   int `json:"total"`
	Active  int `json:"active"`
	Pending int `json:"pending"`
}

// renderLicense builds the detail of l, with its assignment counts when
// verbose. Callers hold s.mu.
func (s *Server) renderLicense(kind licenseKind, l *license, verbose bool) licenseDetail {
	assigned := s.userAssignments[kind].byLicense[l.id]
	d := licenseDetail{
		ID:          l.id,
		Created:     formatTime(l.created),
		Started:     formatTime(l.started),
		Expired:     formatTimePtr(l.expired),
		Name:        l.name,
		Count:       l.count,
		Active:      l.active,
		Metadata:    l.metadata,
		Source:      l.source,
		ExternalID:  l.externalID,
		PlatformKey: l.platformKey,
		ProgramID:   l.programKey,
		ProgramKey:  l.programKey,
		ProgramName: l.programKey,
		UsageCount:  len(assigned),
	}
	if verbose {
		d.Assignments = &assignmentCounts{Total: len(assigned)}
		for _, a := range assigned {
			switch {
			case a.active && a.fulfilled:
				d.Assignments.Active++
			case a.active:
				d.Assignments.Pending++
			}
		}
	}
	return d
}

// StoredLicense is a license as the sandbox stores it, with the fields the
// API takes but does not answer (EnrollmentConfig, TransactionID). It is
// served by GET /_sandbox/licenses/{kind} and returned by Server.License.
type StoredLicense struct {
	ID               int             `json:"id"`
	Created          time.Time       `json:"created"`
	Started          time.Time       `json:"started"`
	Expired          *time.Time      `json:"expired"`
	Name             string          `json:"name"`
	Count            int             `json:"count"`
	Active           bool            `json:"active"`
	Metadata         json.RawMessage `json:"metadata"`
	EnrollmentConfig json.RawMessage `json:"enrollment_config"`
	Source           string          `json:"source"`
	ExternalID       *string         `json:"external_id"`
	PlatformKey      string          `json:"platform_key"`
	// ProgramKey is empty for user licenses.
	ProgramKey string `json:"program_key,omitempty"`
	// TransactionID is the transaction_id of the last write that sent one.
	TransactionID string `json:"transaction_id"`
}

// License returns the stored license of kind ("program" or "user") whose
// external_id is externalID.
func (s *Server) License(kind, externalID string) (StoredLicense, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.licenses[licenseKind(kind)]
	if st == nil || st.byExternalID[externalID] == nil {
		return StoredLicense{}, false
	}
	return st.byExternalID[externalID].stored(), true
}

// stored copies l. Callers hold s.mu.
func (l *license) stored() StoredLicense {
	return StoredLicense{
		ID: l.id, Created: l.created, Started: l.started, Expired: l.expired, Name: l.name,
		Count: l.count, Active: l.active, Metadata: l.metadata, EnrollmentConfig: l.enrollmentConfig,
		Source: l.source, ExternalID: l.externalID, PlatformKey: l.platformKey, ProgramKey: l.programKey,
		TransactionID: l.transactionID,
	}
}

// licenseInput holds the optional license fields of a create or update
// request; nil means absent.
type licenseInput struct {
	name             *string
	count            *int
	started          *time.Time
	expiredSet       bool
	expired          *time.Time
	active           *bool
	metadata         json.RawMessage
	enrollmentConfig json.RawMessage
	source           *string
	transactionID    string
	changeType       string
}

// readLicenseInput reads the shared license fields. Program creates require
// name, count and started.
func readLicenseInput(f *fields, required bool) licenseInput {
	var in licenseInput
	if v, ok := f.str("name", required); ok {
		in.name = &v
	}
	if v, ok := f.count("count", required); ok {
		in.count = &v
	}
	if v, ok := f.datetime("started", required); ok {
		in.started = &v
	}
	in.expired, in.expiredSet = f.nullableDatetime("expired")
	if v, ok := f.boolean("active"); ok {
		in.active = &v
	}
	in.metadata, _ = f.object("metadata")
	in.enrollmentConfig, _ = f.object("enrollment_config")
	if v, ok := f.str("source", false); ok {
		in.source = &v
	}
	in.transactionID, _ = f.str("transaction_id", false)
	in.changeType, _ = f.str("change_type", false)
	return in
}

// readProgramKey reads program_key, or its alternative name program_id.
func readProgramKey(f *fields, required bool) (string, bool) {
	if !f.has("program_key") && f.has("program_id") {
		return f.str("program_id", required)
	}
	return f.str("program_key", required)
}

// checkPeriod records an error when expired is not after started.
func checkPeriod(f *fields, started time.Time, expired *time.Time) {
	if expired != nil && !expired.After(started) {
		f.fail("expired", "Ensure expired is after started.")
	}
}

// createLicense creates a license of kind; see the package doc for the rules.
func (s *Server) createLicense(kind licenseKind) handlerFunc {
	return func(r *http.Request) response {
		f, errResp := bodyFields(r)
		if errResp != nil {
			return *errResp
		}
		platform := readPlatform(f, kind == kindProgram)
		var programKey string
		if kind == kindProgram {
			var ok bool
			if programKey, ok = readProgramKey(f, true); ok && !s.dir.program(programKey) {
				f.fail("program_key", "Program not found.")
			}
		}
		in := readLicenseInput(f, kind == kindProgram)
		externalID, _ := f.nullableStr("external_id")
		now := now()
		started := now
		if in.started != nil {
			started = *in.started
		}
		checkPeriod(f, started, in.expired)
		if errResp := f.failed(); errResp != nil {
			return *errResp
		}

		s.mu.Lock()
		defer s.mu.Unlock()
		st := s.licenses[kind]
		if externalID != nil && st.byExternalID[*externalID] != nil {
			return fieldError("external_id", "license with this external id already exists.")
		}
		l := &license{
			id:               len(st.all) + 1,
			created:          now,
			started:          started,
			expired:          in.expired,
			active:           true,
			metadata:         json.RawMessage("{}"),
			enrollmentConfig: json.RawMessage("{}"),
			source:           "api",
			externalID:       externalID,
			platformKey:      platform,
			programKey:       programKey,
			transactionID:    in.transactionID,
		}
		in.apply(l)
		st.all = append(st.all, l)
		if externalID != nil {
			st.byExternalID[*externalID] = l
		}
		s.recordHistory(kind, l, in, "create", nil)
		s.counters.creates++
		return written(http.StatusOK, s.renderLicense(kind, l, false))
	}
}

// readPlatform reads the platform of a create: platform_key, platform_org or
// platform_id (as "platform-<id>"), in that order. Program licenses accept any
// of them; user licenses require platform_key.
func readPlatform(f *fields, anyForm bool) string {
	if !anyForm || f.has("platform_key") {
		key, _ := f.str("platform_key", true)
		return key
	}
	if f.has("platform_org") {
		org, _ := f.str("platform_org", true)
		return org
	}
	if f.has("platform_id") {
		id, _ := f.integer("platform_id", true)
		return "platform-" + strconv.Itoa(id)
	}
	f.fail("platform_key", "One of platform_key, platform_org or platform_id is required.")
	return ""
}

// apply copies the present fields of in to l and returns the names of those
// whose value changed.
func (in licenseInput) apply(l *license) []string {
	var changed []string
	set := func(name string, differs bool, assign func()) {
		if differs {
			changed = append(changed, name)
			assign()
		}
	}
	if in.name != nil {
		set("name", *in.name != l.name, func() { l.name = *in.name })
	}
	if in.count != nil {
		set("count", *in.count != l.count, func() { l.count = *in.count })
	}
	if in.started != nil {
		set("started", !in.started.Equal(l.started), func() { l.started = *in.started })
	}
	if in.expiredSet {
		differs := (in.expired == nil) != (l.expired == nil) || (in.expired != nil && !in.expired.Equal(*l.expired))
		set("expired", differs, func() { l.expired = in.expired })
	}
	if in.active != nil {
		set("active", *in.active != l.active, func() { l.active = *in.active })
	}
	if in.metadata != nil {
		set("metadata", string(in.metadata) != string(l.metadata), func() { l.metadata = in.metadata })
	}
	if in.enrollmentConfig != nil {
		set("enrollment_config", string(in.enrollmentConfig) != string(l.enrollmentConfig), func() { l.enrollmentConfig = in.enrollmentConfig })
	}
	if in.source != nil {
		set("source", *in.source != l.source, func() { l.source = *in.source })
	}
	return changed
}

// recordHistory appends a history record for a write to l. Callers hold s.mu.
func (s *Server) recordHistory(kind licenseKind, l *license, in licenseInput, defaultChange string, changed []string) {
	changeType := in.changeType
	if changeType == "" {
		changeType = defaultChange
	}
	s.history = append(s.history, HistoryEntry{
		Kind:          string(kind),
		LicenseID:     l.id,
		TransactionID: in.transactionID,
		ChangeType:    changeType,
		Changed:       changed,
		At:            now(),
	})
}

// updateLicense updates the license named by license_id or external_id. With
// license_id, an external_id that differs from the stored one (null included)
// replaces it.
func (s *Server) updateLicense(kind licenseKind) handlerFunc {
	return func(r *http.Request) response {
		f, errResp := bodyFields(r)
		if errResp != nil {
			return *errResp
		}
		licenseID, byID := f.integer("license_id", false)
		externalID, hasExternalID := f.nullableStr("external_id")
		if !byID && externalID == nil && f.failed() == nil {
			return nonFieldError("Either license_id or external_id is required.")
		}
		var programKey string
		if kind == kindProgram {
			programKey, _ = readProgramKey(f, false)
		}
		in := readLicenseInput(f, false)
		if errResp := f.failed(); errResp != nil {
			return *errResp
		}

		s.mu.Lock()
		defer s.mu.Unlock()
		st := s.licenses[kind]
		var l *license
		if byID {
			l = st.get(licenseID)
		} else {
			l = st.byExternalID[*externalID]
		}
		if l == nil {
			return notFound("License not found.")
		}
		if programKey != "" && programKey != l.programKey {
			return fieldError("program_key", "Cannot update the program associated with a license.")
		}
		started, expired := l.started, l.expired
		if in.started != nil {
			started = *in.started
		}
		if in.expiredSet {
			expired = in.expired
		}
		checkPeriod(f, started, expired)
		if errResp := f.failed(); errResp != nil {
			return *errResp
		}
		// With license_id, a differing external_id is a new value for it.
		newExternalID := byID && hasExternalID && !sameString(externalID, l.externalID)
		if newExternalID && externalID != nil && st.byExternalID[*externalID] != nil {
			return fieldError("external_id", "license with this external id already exists.")
		}

		changed := in.apply(l)
		if newExternalID {
			if l.externalID != nil {
				delete(st.byExternalID, *l.externalID)
			}
			l.externalID = externalID
			if externalID != nil {
				st.byExternalID[*externalID] = l
			}
			changed = append(changed, "external_id")
		}
		if in.transactionID != "" {
			l.transactionID = in.transactionID
		}
		s.recordHistory(kind, l, in, "update", changed)
		s.counters.updates++
		return written(http.StatusOK, s.renderLicense(kind, l, false))
	}
}

func sameString(a, b *string) bool {
	return (a == nil && b == nil) || (a != nil && b != nil && *a == *b)
}

// licenseFilter is the parsed query of a license list.
type licenseFilter struct {
	platform, org, program, name, query, source string
	active                                      *bool
	descending, verbose                         bool
}

func (lf licenseFilter) match(l *license) bool {
	return (lf.platform == "" || l.platformKey == lf.platform) &&
		(lf.org == "" || l.platformKey == lf.org) &&
		(lf.program == "" || l.programKey == lf.program) &&
		(lf.name == "" || l.name == lf.name) &&
		(lf.query == "" || strings.Contains(strings.ToLower(l.name), lf.query)) &&
		(lf.source == "" || l.source == lf.source) &&
		(lf.active == nil || l.active == *lf.active)
}

// readLicenseFilter parses a license list query.
func readLicenseFilter(q url.Values) (licenseFilter, *response) {
	lf := licenseFilter{
		platform: firstOf(q, "platform_key", "key"),
		org:      firstOf(q, "platform_org", "org"),
		program:  firstOf(q, "program_key", "program_id"),
		name:     q.Get("name"),
		query:    strings.ToLower(q.Get("query")),
		source:   q.Get("source"),
	}
	qf := queryFields(q)
	if v, ok := qf.boolean("active"); ok {
		lf.active = &v
	}
	lf.verbose, _ = qf.boolean("verbose")
	var errResp *response
	lf.descending, errResp = readSort(q, true)
	if errResp != nil {
		return lf, errResp
	}
	return lf, qf.failed()
}

// listLicenses lists the licenses of kind matching the query's filters. An
// external_id filter is answered from the index, or ignored with
// Config.IgnoreListFilters.
func (s *Server) listLicenses(kind licenseKind) handlerFunc {
	return func(r *http.Request) response {
		q := r.URL.Query()
		lf, errResp := readLicenseFilter(q)
		if errResp != nil {
			return *errResp
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		st := s.licenses[kind]
		var matches []*license
		if ext := q.Get("external_id"); ext != "" && !s.ignoreListFilters {
			if l := st.byExternalID[ext]; l != nil && lf.match(l) {
				matches = append(matches, l)
			}
		} else {
			for i := range st.all {
				l := st.all[i]
				if lf.descending {
					l = st.all[len(st.all)-1-i]
				}
				if lf.match(l) {
					matches = append(matches, l)
				}
			}
		}
		p, errResp := paginate(r, matches, func(l *license) licenseDetail { return s.renderLicense(kind, l, lf.verbose) })
		if errResp != nil {
			return *errResp
		}
		return ok(p)
	}
}
