package importers_test

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/bulksync/bulksync/importers"
)

// ExampleReader reads a program-licenses CSV file: the kind is told from
// the header, each row comes with its line, and a bad row is returned
// with its error code while reading goes on.
func ExampleReader() {
	in := `platform_key,program_key,name,count,started,external_id
acme,program-v1:acme+ds+2024,Data Science,120,2024-01-15,acme-ds-2024
acme,program-v1:acme+lead+2024,"Leadership,
2024 cohort",twelve,2024-02-01,acme-lead-2024
globex,program-v1:globex+onb+2024,Onboarding,40,2024-03-01T09:00:00+02:00,globex-onb-2024
`
	r, err := importers.NewReader(strings.NewReader(in), importers.Options{})
	if err != nil {
		fmt.Println(err) // a *importers.FileError: the file cannot be read
		return
	}
	fmt.Println("kind:", r.Schema().Kind)
	for {
		row, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			fmt.Println(err)
			return
		}
		if row.Err != nil {
			fmt.Printf("line %d: %s (%s)\n", row.Line, row.Err.Code(), row.Err.Detail)
			continue
		}
		fmt.Printf("line %d: %s %s\n", row.Line, row.Key, row.Data)
	}
	// Output:
	// kind: program-licenses
	// line 2: acme-ds-2024 {"platform_key":"acme","program_key":"program-v1:acme+ds+2024","name":"Data Science","count":120,"started":"2024-01-15T00:00:00Z","external_id":"acme-ds-2024"}
	// line 3: invalid_integer:count ("twelve" is not a whole number)
	// line 5: globex-onb-2024 {"platform_key":"globex","program_key":"program-v1:globex+onb+2024","name":"Onboarding","count":40,"started":"2024-03-01T07:00:00Z","external_id":"globex-onb-2024"}
}

// ExampleReader_json reads NDJSON with the kind given: values are
// converted to the field types, and a key the kind does not know fails
// its row.
func ExampleReader_json() {
	in := `{"platform_key": "acme", "external_id": "u1", "count": 1E+2, "active": "yes"}
{"platform_key": "acme", "external_id": "u2", "seats": 5}
`
	r, err := importers.NewReader(strings.NewReader(in), importers.Options{Kind: importers.UserLicenses})
	if err != nil {
		fmt.Println(err)
		return
	}
	for {
		row, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			fmt.Println(err)
			return
		}
		if row.Err != nil {
			fmt.Printf("line %d: %s\n", row.Line, row.Err.Code())
			continue
		}
		fmt.Printf("line %d: %s\n", row.Line, row.Data)
	}
	// Output:
	// line 1: {"platform_key":"acme","count":100,"active":true,"external_id":"u1"}
	// line 2: unknown_field:seats
}
