package importers

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
)

// Kind names a type of roster file. Kind names are part of the CLI contract.
type Kind string

// The kinds this package knows.
const (
	ProgramLicenses Kind = "program-licenses"
	UserLicenses    Kind = "user-licenses"
)

// FieldType is how a field's value is read and written.
type FieldType int

// Field types.
const (
	String   FieldType = iota // any UTF-8 text
	Integer                   // a whole number within [Field.Min, Field.Max]
	Boolean                   // true/false/1/0/yes/no
	Datetime                  // RFC 3339, or YYYY-MM-DD (midnight UTC)
	Object                    // a JSON object (in CSV, a cell holding one)
	Enum                      // one of Field.Values (any case); defaults to Values[0]
	List                      // strings: a JSON array, or in CSV separated by ';'
)

// Field describes one column (CSV) or key (JSON) of a kind.
type Field struct {
	Name     string
	Type     FieldType
	Required bool
	Min, Max int64    // bounds for Integer fields
	Values   []string // allowed values of an Enum field, the default first
}

// Schema is the row layout and validation table of one kind.
type Schema struct {
	Kind   Kind
	Fields []Field
	// Key is the field that identifies a row's target and must be unique
	// within a file (a repeat is duplicate_external_id).
	Key string
	// KeyFunc, for kinds without a Key field, names a valid row's target
	// (a license and a group, say); it too must be unique within a file (a
	// repeat is duplicate_target), so that no two rows race for one target.
	KeyFunc func(r *rowValues) string
	// TxField is the field carrying a caller-chosen transaction id, if any.
	TxField string
	// Check runs cross-field checks on a row whose fields are all valid.
	Check func(r *rowValues) *RowError
}

// Lookup returns the schema of a kind.
func Lookup(k Kind) (*Schema, error) {
	for _, s := range Schemas() {
		if s.Kind == k {
			return s, nil
		}
	}
	return nil, fmt.Errorf("%w: %q (known: %s)", ErrUnknownKind, k, strings.Join(kindNames(), ", "))
}

// Schemas returns the schemas of every kind, in a stable order.
func Schemas() []*Schema {
	return []*Schema{
		programLicenseSchema(),
		userLicenseSchema(),
		groupAssignmentSchema(ProgramGroupAssignments, true),
		groupAssignmentSchema(UserGroupAssignments, false),
		userAssignmentSchema(ProgramUserAssignments),
		userAssignmentSchema(UserUserAssignments),
		programSuggestionSchema(),
		groupSuggestionSchema(),
		issuerSchema(),
		uipathSchema(),
	}
}

func kindNames() []string {
	var names []string
	for _, s := range Schemas() {
		names = append(names, string(s.Kind))
	}
	return names
}

// index returns the position of the named field, or -1.
func (s *Schema) index(name string) int {
	return slices.IndexFunc(s.Fields, func(f Field) bool { return f.Name == name })
}

// canonical maps a column name as written in a file (any case, surrounding
// spaces) to the schema's spelling of it, or "" when unknown.
func (s *Schema) canonical(name string) string {
	name = strings.TrimSpace(name)
	for _, f := range s.Fields {
		if strings.EqualFold(f.Name, name) {
			return f.Name
		}
	}
	return ""
}

// Detect picks the kind whose schema fits a set of column names: every name
// must be known to it and every required field present. It fails unless
// exactly one kind fits.
func Detect(columns []string) (*Schema, error) { return detect(columns, "") }

// detect is Detect, with a tie broken by the file's name: when several
// kinds fit and the name (without its directory) starts with exactly one
// of their names, that kind is taken ("user-group-assignments-2024.csv").
func detect(columns []string, name string) (*Schema, error) {
	var fits, named []*Schema
	name = strings.ToLower(filepath.Base(name))
	for _, s := range Schemas() {
		if s.fits(columns) {
			fits = append(fits, s)
			if name != "" && strings.HasPrefix(name, string(s.Kind)) {
				named = append(named, s)
			}
		}
	}
	if len(fits) > 1 && len(named) > 0 {
		// The longest kind name that starts the file name wins.
		slices.SortFunc(named, func(a, b *Schema) int { return len(b.Kind) - len(a.Kind) })
		fits = named[:1]
	}
	switch len(fits) {
	case 1:
		return fits[0], nil
	case 0:
		return nil, fmt.Errorf("%w: no kind has exactly the columns %s; pass --kind", ErrUnknownKind, strings.Join(columns, ", "))
	default:
		var names []string
		for _, s := range fits {
			names = append(names, string(s.Kind))
		}
		return nil, fmt.Errorf("%w: the columns fit %s; pass --kind", ErrUnknownKind, strings.Join(names, " and "))
	}
}

func (s *Schema) fits(columns []string) bool {
	seen := make(map[string]bool, len(columns))
	for _, c := range columns {
		name := s.canonical(c)
		if name == "" {
			return false
		}
		seen[name] = true
	}
	for _, f := range s.Fields {
		if f.Required && !seen[f.Name] {
			return false
		}
	}
	return true
}

// String returns the kind's name.
func (k Kind) String() string { return string(k) }
