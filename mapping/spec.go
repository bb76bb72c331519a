package mapping

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Spec is the mapping block of a sync definition, also the file of
// bulksync import --map:
//
//	mapping:                  # API field: source column
//	  email: Work Email
//	transforms: {email: [trim, lower]}
//	filter: {EmployeeStatus: [Active, Leave]}
//	defaults: {platform_key: acme}
type Spec struct {
	// Mapping maps an API field to the source column (CSV header cell or
	// JSON key, matched ignoring case and surrounding spaces) it comes from.
	Mapping map[string]string `yaml:"mapping"`
	// Transforms lists, per API field, the transforms applied in order to
	// the column's value (see [ParseTransform]).
	Transforms map[string][]string `yaml:"transforms"`
	// Filter keeps only the rows whose column holds one of the values
	// (ignoring case and surrounding spaces); every column must match.
	Filter map[string][]string `yaml:"filter"`
	// Defaults are constants for the fields a row leaves empty.
	Defaults map[string]string `yaml:"defaults"`
}

// Fields returns every API field the spec names (mapped, transformed or
// defaulted), sorted.
func (s Spec) Fields() []string {
	seen := map[string]bool{}
	for f := range s.Mapping {
		seen[f] = true
	}
	for f := range s.Transforms {
		seen[f] = true
	}
	for f := range s.Defaults {
		seen[f] = true
	}
	fields := make([]string, 0, len(seen))
	for f := range seen {
		fields = append(fields, f)
	}
	slices.Sort(fields)
	return fields
}

// Validate checks that every transform parses and that every transformed
// field is mapped or defaulted.
func (s Spec) Validate() error {
	if len(s.Mapping) == 0 {
		return errors.New("mapping: no field is mapped")
	}
	for _, f := range slices.Sorted(maps.Keys(s.Transforms)) {
		if _, mapped := s.Mapping[f]; !mapped {
			if _, def := s.Defaults[f]; !def {
				return fmt.Errorf("transforms: field %q is neither mapped nor defaulted", f)
			}
		}
		for _, t := range s.Transforms[f] {
			if _, err := ParseTransform(t); err != nil {
				return fmt.Errorf("transforms of %s: %w", f, err)
			}
		}
	}
	for f, col := range s.Mapping {
		if strings.TrimSpace(col) == "" {
			return fmt.Errorf("mapping: field %q names no column", f)
		}
	}
	return nil
}

func mapsKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	return keys
}

// Decode reads a spec from YAML. A key the spec does not know is an error
// naming its line.
func Decode(r io.Reader) (Spec, error) {
	var s Spec
	dec := yaml.NewDecoder(r)
	dec.KnownFields(true)
	if err := dec.Decode(&s); err != nil {
		if errors.Is(err, io.EOF) {
			return s, errors.New("the mapping file is empty")
		}
		return s, fmt.Errorf("mapping file: %w", err)
	}
	return s, s.Validate()
}

// LoadFile reads a spec from a YAML file.
func LoadFile(path string) (Spec, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Spec{}, err
	}
	s, err := Decode(bytes.NewReader(b))
	if err != nil {
		return s, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}

// ParseFlags reads the values of bulksync import --map. Each value is
// either a YAML file (see [Spec]) or pairs FIELD=COLUMN separated by
// commas, each pair optionally followed by transforms after '|':
//
//	--map 'external_id=Employee ID' --map 'email=Work Email|trim|lower'
//	--map 'external_id=Employee ID,email=Work Email|trim|lower'
//
// A value with '=' is always split on commas, so a column or date layout
// holding a comma needs a YAML file. Later values win over earlier ones
// for the same field.
func ParseFlags(values []string) (Spec, error) {
	s := Spec{Mapping: map[string]string{}, Transforms: map[string][]string{}, Defaults: map[string]string{}, Filter: map[string][]string{}}
	for _, v := range values {
		if !strings.Contains(v, "=") {
			f, err := LoadFile(v)
			if err != nil {
				return s, err
			}
			merge(&s, f)
			continue
		}
		for p := range strings.SplitSeq(v, ",") {
			field, rest, ok := strings.Cut(p, "=")
			field = strings.TrimSpace(field)
			if !ok || field == "" {
				return s, fmt.Errorf("--map %q: want FIELD=COLUMN", p)
			}
			parts := strings.Split(rest, "|")
			s.Mapping[field] = strings.TrimSpace(parts[0])
			delete(s.Transforms, field)
			for _, t := range parts[1:] {
				s.Transforms[field] = append(s.Transforms[field], strings.TrimSpace(t))
			}
		}
	}
	return s, s.Validate()
}

// merge copies f's entries into s.
func merge(s *Spec, f Spec) {
	for k, v := range f.Mapping {
		s.Mapping[k] = v
	}
	for k, v := range f.Transforms {
		s.Transforms[k] = v
	}
	for k, v := range f.Defaults {
		s.Defaults[k] = v
	}
	for k, v := range f.Filter {
		s.Filter[k] = v
	}
}
