package importers

import (
	"strconv"
	"strings"
)

// The kinds beyond licenses: assignments, suggestions, issuers, UiPath.
const (
	ProgramGroupAssignments Kind = "program-group-assignments"
	UserGroupAssignments    Kind = "user-group-assignments"
	ProgramUserAssignments  Kind = "program-user-assignments"
	UserUserAssignments     Kind = "user-user-assignments"
	ProgramSuggestions      Kind = "program-suggestions"
	GroupSuggestions        Kind = "group-suggestions"
	Issuers                 Kind = "issuers"
	UiPathGroupLicenses     Kind = "uipath-group-licenses"
)

// maxID bounds the API's integer ids.
const maxID = 1<<63 - 1

func idField(name string) Field { return Field{Name: name, Type: Integer, Min: 1, Max: maxID} }

// assignmentFields are the leading fields of every assignment kind.
func assignmentFields() []Field {
	return []Field{
		{Name: "action", Type: Enum, Values: []string{"assign", "remove"}},
		{Name: "platform_key", Type: String, Required: true},
		idField("license_id"),
		{Name: "license_external_id", Type: String},
	}
}

// assignmentTail are the fields every assignment kind ends with.
func assignmentTail() []Field {
	return []Field{
		idField("assignment_id"),
		{Name: "active", Type: Boolean},
		{Name: "fulfilled", Type: Boolean},
		{Name: "metadata", Type: Object},
	}
}

// groupAssignmentSchema assigns licenses to groups (seeds 000, 001).
func groupAssignmentSchema(kind Kind, program bool) *Schema {
	fields := append(assignmentFields(), idField("group_id"))
	fields = append(fields, assignmentTail()...)
	if program {
		fields = append(fields, Field{Name: "remove_user_assignments", Type: Boolean})
	}
	return &Schema{
		Kind:   kind,
		Fields: fields,
		Check: func(r *rowValues) *RowError {
			if err := r.requireOne("license_id", "license_external_id"); err != nil {
				return err
			}
			if r.get("action").s == "assign" {
				return r.requireOne("group_id")
			}
			return r.requireOne("assignment_id", "group_id")
		},
		KeyFunc: func(r *rowValues) string {
			return licenseRef(r) + "/" + r.ref("group_id", "assignment_id")
		},
	}
}

// userAssignmentSchema assigns licenses to single users.
func userAssignmentSchema(kind Kind) *Schema {
	fields := append(assignmentFields(), idField("user_id"), Field{Name: "email", Type: String})
	fields = append(fields, assignmentTail()...)
	return &Schema{
		Kind:   kind,
		Fields: fields,
		Check: func(r *rowValues) *RowError {
			if err := r.requireOne("license_id", "license_external_id"); err != nil {
				return err
			}
			if err := r.checkEmail("email"); err != nil {
				return err
			}
			if r.get("action").s == "assign" {
				return r.requireOne("user_id", "email")
			}
			return r.requireOne("assignment_id", "user_id", "email")
		},
		KeyFunc: func(r *rowValues) string {
			return licenseRef(r) + "/" + r.ref("user_id", "email", "assignment_id")
		},
	}
}

// licenseRef names the license of an assignment row.
// license_id wins over license_external_id, as in the worker.
func licenseRef(r *rowValues) string {
	if id := r.get("license_id"); id.set {
		return "license_id=" + strconv.FormatInt(id.i, 10)
	}
	return r.get("license_external_id").s
}

// programSuggestionSchema suggests programs to users (seed 002, bulk).
func programSuggestionSchema() *Schema {
	return &Schema{
		Kind: ProgramSuggestions,
		Fields: []Field{
			{Name: "platform_key", Type: String, Required: true},
			{Name: "program_key", Type: String, Required: true},
			{Name: "user_id", Type: String, Required: true},
			{Name: "accepted", Type: Boolean},
			{Name: "visible", Type: Boolean},
			{Name: "metadata", Type: Object},
		},
		KeyFunc: func(r *rowValues) string {
			return r.get("platform_key").s + "/" + r.get("program_key").s + "/user_id=" + r.get("user_id").s
		},
	}
}

// groupSuggestionSchema suggests programs to groups (seed 002).
func groupSuggestionSchema() *Schema {
	return &Schema{
		Kind: GroupSuggestions,
		Fields: []Field{
			{Name: "action", Type: Enum, Values: []string{"create", "delete"}},
			{Name: "platform_key", Type: String, Required: true},
			{Name: "program_key", Type: String},
			idField("group_id"),
			idField("suggestion_id"),
			{Name: "accepted", Type: Boolean},
			{Name: "visible", Type: Boolean},
			{Name: "metadata", Type: Object},
		},
		Check: func(r *rowValues) *RowError {
			if r.get("action").s == "create" || !r.get("suggestion_id").set {
				if err := r.requireOne("program_key"); err != nil {
					return err
				}
				return r.requireOne("group_id")
			}
			return nil
		},
		KeyFunc: func(r *rowValues) string {
			if id := r.get("suggestion_id"); id.set && r.get("action").s == "delete" {
				return r.get("platform_key").s + "/suggestion_id=" + strconv.FormatInt(id.i, 10)
			}
			return r.get("platform_key").s + "/" + r.get("program_key").s + "/group_id=" + strconv.FormatInt(r.get("group_id").i, 10)
		},
	}
}

// issuerSchema manages credential issuers (seed 003). The API's issuer
// request requires entityId and iconImage on create and update; a delete
// names its issuer by entityId.
func issuerSchema() *Schema {
	return &Schema{
		Kind: Issuers,
		Fields: []Field{
			{Name: "action", Type: Enum, Values: []string{"create", "update", "delete"}},
			{Name: "org", Type: String, Required: true},
			{Name: "user_id", Type: String, Required: true},
			{Name: "entityId", Type: String, Required: true},
			{Name: "name", Type: String},
			{Name: "iconImage", Type: String},
			{Name: "email", Type: String},
			{Name: "url", Type: String},
			{Name: "allowed_template_tags", Type: List},
		},
		Check: func(r *rowValues) *RowError {
			if err := r.checkEmail("email"); err != nil {
				return err
			}
			if r.get("action").s != "delete" {
				return r.requireOne("iconImage")
			}
			return nil
		},
		KeyFunc: func(r *rowValues) string {
			return r.get("org").s + "/" + r.ref("entityId")
		},
	}
}

// uipathSchema allocates UiPath user licenses to groups (seed 004).
func uipathSchema() *Schema {
	return &Schema{
		Kind: UiPathGroupLicenses,
		Fields: []Field{
			{Name: "account_id", Type: String, Required: true},
			{Name: "group_id", Type: String, Required: true},
			{Name: "user_bundle_codes", Type: List, Required: true},
			{Name: "use_external_license", Type: Boolean},
		},
		KeyFunc: func(r *rowValues) string {
			return r.get("account_id").s + "/group=" + r.get("group_id").s
		},
	}
}

// requireOne fails unless at least one of the fields is set; the code
// names them all: missing_field:license_id|license_external_id.
func (r *rowValues) requireOne(fields ...string) *RowError {
	for _, f := range fields {
		if r.get(f).set {
			return nil
		}
	}
	name := strings.Join(fields, "|")
	if len(fields) == 1 {
		return rowErr(r.line, name, ErrMissingField, "%s is required for action %q", name, r.get("action").s)
	}
	return rowErr(r.line, name, ErrMissingField, "one of %s is required", strings.Join(fields, ", "))
}

// ref names a row's target by the first of the fields that is set.
func (r *rowValues) ref(fields ...string) string {
	for _, f := range fields {
		v := r.get(f)
		if !v.set {
			continue
		}
		if fi := r.schema.index(f); r.schema.Fields[fi].Type == Integer {
			return f + "=" + strconv.FormatInt(v.i, 10)
		}
		return f + "=" + v.s
	}
	return ""
}

// checkEmail rejects an address without a local part and a domain.
func (r *rowValues) checkEmail(field string) *RowError {
	v := r.get(field)
	if !v.set {
		return nil
	}
	at := strings.LastIndexByte(v.s, '@')
	if at <= 0 || at == len(v.s)-1 || strings.ContainsAny(v.s, " \t<>") {
		return rowErr(r.line, field, ErrInvalidValue, "%q is not an email address", v.s)
	}
	return nil
}
