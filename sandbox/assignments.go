package sandbox

import (
	"encoding/json"
	"net/http"
	"strings"
	"time"
)

// subjectKind says whom an assignment or suggestion is for.
type subjectKind int

const (
	userSubject subjectKind = iota
	groupSubject
)

// assignment gives a license to a user or a group.
type assignment struct {
	id         int
	licenseID  int
	subjectID  int // user id or group id
	active     bool
	fulfilled  bool
	direct     bool // program user assignments
	redirectTo string
	metadata   json.RawMessage
	created    time.Time
	modified   time.Time
}

// assignmentTable holds the assignments of one license kind to one subject
// kind, keyed by id and by (license, subject).
type assignmentTable struct {
	lastID    int
	byID      map[int]*assignment
	byKey     map[[2]int]*assignment
	byLicense map[int]map[int]*assignment // license id -> assignment id -> assignment
}

func newAssignmentTable() *assignmentTable {
	return &assignmentTable{
		byID:      map[int]*assignment{},
		byKey:     map[[2]int]*assignment{},
		byLicense: map[int]map[int]*assignment{},
	}
}

func (t *assignmentTable) add(a *assignment) {
	t.lastID++
	a.id = t.lastID
	t.byID[a.id] = a
	t.byKey[[2]int{a.licenseID, a.subjectID}] = a
	if t.byLicense[a.licenseID] == nil {
		t.byLicense[a.licenseID] = map[int]*assignment{}
	}
	t.byLicense[a.licenseID][a.id] = a
}

func (t *assignmentTable) remove(a *assignment) {
	delete(t.byID, a.id)
	delete(t.byKey, [2]int{a.licenseID, a.subjectID})
	delete(t.byLicense[a.licenseID], a.id)
	if len(t.byLicense[a.licenseID]) == 0 {
		delete(t.byLicense, a.licenseID)
	}
}

func (s *Server) assignmentTable(kind licenseKind, subject subjectKind) *assignmentTable {
	if subject == groupSubject {
		return s.groupAssignments[kind]
	}
	return s.userAssignments[kind]
}

// userAssignmentDetail is the user license assignment shape
// (UserLicenseAssignmentDetail; ProgramLicenseAssignmentDetail with the
// program fields instead of platform_key).
type userAssignmentDetail struct {
	ID          int             `json:"id"`
	UserID      int             `json:"user_id"`
	Username    string          `json:"username"`
	Email       string          `json:"email"`
	Active      bool            `json:"active"`
	Fulfilled   bool            `json:"fulfilled"`
	RedirectTo  string          `json:"redirect_to"`
	Metadata    json.RawMessage `json:"metadata"`
	LicenseID   int             `json:"license_id"`
	LicenseName string          `json:"license_name"`
	PlatformKey string          `json:"platform_key,omitempty"` // user licenses only
	*programUserAssignmentFields
}

// programUserAssignmentFields are the extra fields of program assignments.
type programUserAssignmentFields struct {
	Name       string `json:"name"`
	Direct     bool   `json:"direct"`
	Created    string `json:"created"`
	Modified   string `json:"modified"`
	ProgramKey string `json:"program_key"`
}

// groupAssignmentDetail is the group license assignment shape
// (UserLicenseGroupAssignmentDetail; ProgramLicenseGroupAssignmentDetail
// with the program fields instead of platform_key).
type groupAssignmentDetail struct {
	ID          int             `json:"id"`
	GroupID     int             `json:"group_id"`
	GroupName   string          `json:"group_name"`
	Active      bool            `json:"active"`
	Fulfilled   bool            `json:"fulfilled"`
	RedirectTo  string          `json:"redirect_to"`
	Metadata    json.RawMessage `json:"metadata"`
	LicenseID   int             `json:"license_id"`
	LicenseName string          `json:"license_name"`
	PlatformKey string          `json:"platform_key,omitempty"` // user licenses only
	*programGroupAssignmentFields
}

// programGroupAssignmentFields are the extra fields of program group
// assignments. Sandbox groups have no members, so the counts are 0.
type programGroupAssignmentFields struct {
	Created       string `json:"created"`
	Modified      string `json:"modified"`
	ProgramKey    string `json:"program_key"`
	ProgramName   string `json:"program_name"`
	UserCount     int    `json:"user_count"`
	AssignedCount int    `json:"assigned_count"`
}

// renderAssignment builds the detail of a, a user or group assignment of l.
// Callers hold s.mu.
func (s *Server) renderAssignment(kind licenseKind, subject subjectKind, l *license, a *assignment) any {
	if subject == groupSubject {
		d := groupAssignmentDetail{
			ID: a.id, GroupID: a.subjectID, GroupName: groupName(a.subjectID),
			Active: a.active, Fulfilled: a.fulfilled, RedirectTo: a.redirectTo, Metadata: a.metadata,
			LicenseID: l.id, LicenseName: l.name, PlatformKey: l.platformKey,
		}
		if kind == kindProgram {
			d.PlatformKey = ""
			d.programGroupAssignmentFields = &programGroupAssignmentFields{
				Created: formatTime(a.created), Modified: formatTime(a.modified),
				ProgramKey: l.programKey, ProgramName: l.programKey,
			}
		}
		return d
	}
	u, _ := s.dir.user(a.subjectID)
	d := userAssignmentDetail{
		ID: a.id, UserID: u.ID, Username: u.Username, Email: u.Email,
		Active: a.active, Fulfilled: a.fulfilled, RedirectTo: a.redirectTo, Metadata: a.metadata,
		LicenseID: l.id, LicenseName: l.name, PlatformKey: l.platformKey,
	}
	if kind == kindProgram {
		d.PlatformKey = ""
		d.programUserAssignmentFields = &programUserAssignmentFields{
			Name: u.Name, Direct: a.direct, Created: formatTime(a.created), Modified: formatTime(a.modified),
			ProgramKey: l.programKey,
		}
	}
	return d
}

// findLicense returns license id of kind, or nil when it does not exist or,
// when platform is not empty, belongs to another platform. Callers hold s.mu.
func (s *Server) findLicense(kind licenseKind, id int, platform string) *license {
	l := s.licenses[kind].get(id)
	if l == nil || (platform != "" && l.platformKey != platform) {
		return nil
	}
	return l
}

// readPlatformFilter reads the optional platform_key (or platform_org) that
// scopes a request to one platform.
func readPlatformFilter(f *fields) string {
	if key, ok := f.str("platform_key", false); ok && key != "" {
		return key
	}
	org, _ := f.str("platform_org", false)
	return org
}

// userRef identifies a user by id, email or username.
type userRef struct {
	id              int
	email, username string
}

// readUserRef reads user_id, email and (for program licenses) username; one
// is required.
func readUserRef(f *fields, withUsername bool) userRef {
	var ref userRef
	ref.id, _ = f.integer("user_id", false)
	ref.email, _ = f.str("email", false)
	if withUsername {
		ref.username, _ = f.str("username", false)
	}
	if ref.id == 0 && ref.email == "" && ref.username == "" && f.failed() == nil {
		f.fail("non_field_errors", "Either user_id or email is required.")
	}
	return ref
}

func (s *Server) resolveUser(ref userRef) (FixtureUser, bool) {
	switch {
	case ref.id != 0:
		return s.dir.user(ref.id)
	case ref.email != "":
		return s.dir.userByEmail(ref.email)
	}
	return s.dir.userByUsername(ref.username)
}

// assignmentInput holds the optional fields of an assignment upsert.
type assignmentInput struct {
	active, fulfilled, direct *bool
	redirectTo                *string
	metadata                  json.RawMessage
}

func readAssignmentInput(f *fields) assignmentInput {
	var in assignmentInput
	optBool := func(name string) *bool {
		if v, ok := f.boolean(name); ok {
			return &v
		}
		return nil
	}
	in.active = optBool("active")
	in.fulfilled = optBool("fulfilled")
	in.direct = optBool("direct")
	if v, ok := f.str("redirect_to", false); ok {
		in.redirectTo = &v
	}
	in.metadata, _ = f.object("metadata")
	return in
}

// apply copies the present fields of in to a.
func (in assignmentInput) apply(a *assignment) {
	if in.active != nil {
		a.active = *in.active
	}
	if in.fulfilled != nil {
		a.fulfilled = *in.fulfilled
	}
	if in.direct != nil {
		a.direct = *in.direct
	}
	if in.redirectTo != nil {
		a.redirectTo = *in.redirectTo
	}
	if in.metadata != nil {
		a.metadata = in.metadata
	}
}

// upsertAssignment creates or updates the assignment of a license to a user
// (by user_id, email or, for programs, username) or a group (by group_id).
func (s *Server) upsertAssignment(kind licenseKind, subject subjectKind) handlerFunc {
	return func(r *http.Request) response {
		f, errResp := bodyFields(r)
		if errResp != nil {
			return *errResp
		}
		f.fallBack(r.URL.Query(), "license_id")
		licenseID, _ := f.integer("license_id", true)
		platform := readPlatformFilter(f)
		var groupID int
		var ref userRef
		if subject == groupSubject {
			groupID, _ = f.integer("group_id", true)
		} else {
			ref = readUserRef(f, kind == kindProgram)
		}
		in := readAssignmentInput(f)
		if errResp := f.failed(); errResp != nil {
			return *errResp
		}

		s.mu.Lock()
		defer s.mu.Unlock()
		l := s.findLicense(kind, licenseID, platform)
		if l == nil {
			return notFound("License not found.")
		}
		subjectID := groupID
		if subject == groupSubject && !s.dir.group(groupID) {
			return notFound("Group not found.")
		}
		if subject == userSubject {
			u, ok := s.resolveUser(ref)
			if !ok {
				return notFound("User not found.")
			}
			subjectID = u.ID
		}
		t := s.assignmentTable(kind, subject)
		now := now()
		a := t.byKey[[2]int{l.id, subjectID}]
		if a == nil {
			a = &assignment{
				licenseID: l.id, subjectID: subjectID, active: true, direct: true,
				metadata: json.RawMessage("{}"), created: now,
			}
			t.add(a)
			s.counters.creates++
		} else {
			s.counters.updates++
		}
		in.apply(a)
		a.modified = now
		return written(http.StatusOK, s.renderAssignment(kind, subject, l, a))
	}
}

// assignmentFilter is the parsed query of an assignment list. Only program
// lists filter on subject, email, active and fulfilled.
type assignmentFilter struct {
	subjectID         int
	email             string
	active, fulfilled *bool
}

func (s *Server) matchAssignment(af assignmentFilter, a *assignment) bool {
	if af.email != "" {
		u, _ := s.dir.user(a.subjectID)
		if !strings.EqualFold(u.Email, af.email) {
			return false
		}
	}
	return (af.subjectID == 0 || a.subjectID == af.subjectID) &&
		(af.active == nil || a.active == *af.active) &&
		(af.fulfilled == nil || a.fulfilled == *af.fulfilled)
}

func readAssignmentFilter(f *fields, subject subjectKind) assignmentFilter {
	var af assignmentFilter
	if subject == groupSubject {
		af.subjectID, _ = f.integer("group_id", false)
	} else {
		af.subjectID, _ = f.integer("user_id", false)
		af.email, _ = f.str("email", false)
	}
	if v, ok := f.boolean("active"); ok {
		af.active = &v
	}
	if v, ok := f.boolean("fulfilled"); ok {
		af.fulfilled = &v
	}
	return af
}

func (s *Server) listAssignments(kind licenseKind, subject subjectKind) handlerFunc {
	return func(r *http.Request) response {
		q := r.URL.Query()
		f := queryFields(q)
		licenseID, _ := f.integer("license_id", true)
		platform := readPlatformFilter(f)
		var af assignmentFilter
		if kind == kindProgram {
			af = readAssignmentFilter(f, subject)
		}
		descending, errResp := readSort(q, false)
		if errResp != nil {
			return *errResp
		}
		if errResp := f.failed(); errResp != nil {
			return *errResp
		}

		s.mu.Lock()
		defer s.mu.Unlock()
		l := s.findLicense(kind, licenseID, platform)
		if l == nil {
			return notFound("License not found.")
		}
		var matches []*assignment
		for _, a := range s.assignmentTable(kind, subject).byLicense[l.id] {
			if s.matchAssignment(af, a) {
				matches = append(matches, a)
			}
		}
		sortByID(matches, func(a *assignment) int { return a.id }, descending)
		p, errResp := paginate(r, matches, func(a *assignment) any { return s.renderAssignment(kind, subject, l, a) })
		if errResp != nil {
			return *errResp
		}
		return ok(p)
	}
}

// deleteAssignment removes an assignment given by the assignment_id and
// license_id query parameters. Success is a 200 without a body, as
// documented.
func (s *Server) deleteAssignment(kind licenseKind, subject subjectKind) handlerFunc {
	return func(r *http.Request) response {
		f := queryFields(r.URL.Query())
		assignmentID, _ := f.integer("assignment_id", true)
		licenseID, _ := f.integer("license_id", true)
		platform := readPlatformFilter(f)
		if kind == kindProgram && subject == groupSubject {
			// Sandbox groups have no members, so there are never user
			// assignments to remove; the flag is only validated.
			f.boolean("remove_user_assignments")
		}
		if errResp := f.failed(); errResp != nil {
			return *errResp
		}

		s.mu.Lock()
		defer s.mu.Unlock()
		t := s.assignmentTable(kind, subject)
		a := t.byID[assignmentID]
		if a == nil || a.licenseID != licenseID || s.findLicense(kind, licenseID, platform) == nil {
			return notFound("Assignment not found.")
		}
		t.remove(a)
		s.counters.deletes++
		return written(http.StatusOK, nil)
	}
}
