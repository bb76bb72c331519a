package mapping

import (
	"fmt"
	"strings"
	"time"
)

// Transform changes one mapped value. Transforms are named in a
// definition as trim, lower, upper, date:<layout> or default:<value>
// ([ParseTransform]).
type Transform struct {
	name string // trim, lower, upper, date or default
	arg  string // the layout of date, the value of default
}

// ParseTransform reads one transform's name as written in a definition.
// The argument of date and default follows the first colon and is kept as
// written (a default may hold colons and spaces).
func ParseTransform(spec string) (Transform, error) {
	name, arg, hasArg := strings.Cut(spec, ":")
	switch strings.TrimSpace(name) {
	case "trim", "lower", "upper":
		if hasArg {
			return Transform{}, fmt.Errorf("transform %q takes no argument", spec)
		}
		return Transform{name: strings.TrimSpace(name)}, nil
	case "date":
		if !hasArg || strings.TrimSpace(arg) == "" {
			return Transform{}, fmt.Errorf("transform %q needs a Go layout, as in date:1/2/2006", spec)
		}
		return Transform{name: "date", arg: strings.TrimSpace(arg)}, nil
	case "default":
		if !hasArg {
			return Transform{}, fmt.Errorf("transform %q needs a value, as in default:acme", spec)
		}
		return Transform{name: "default", arg: arg}, nil
	}
	return Transform{}, fmt.Errorf("unknown transform %q (trim, lower, upper, date:<layout>, default:<value>)", spec)
}

// String returns the transform as written in a definition.
func (t Transform) String() string {
	if t.name == "date" || t.name == "default" {
		return t.name + ":" + t.arg
	}
	return t.name
}

// Apply returns v transformed. date reads v with its layout and writes
// it as YYYY-MM-DD (RFC 3339 when the layout holds a clock); an empty
// value stays empty, and a value that does not fit the layout is kept as
// it is, so that the kind's validation reports it with its line. default
// replaces an empty value.
func (t Transform) Apply(v string) string {
	switch t.name {
	case "trim":
		return strings.TrimSpace(v)
	case "lower":
		return strings.ToLower(v)
	case "upper":
		return strings.ToUpper(v)
	case "date":
		s := strings.TrimSpace(v)
		if s == "" {
			return v
		}
		tm, err := time.Parse(t.arg, s)
		if err != nil {
			return v
		}
		if tm.Hour() == 0 && tm.Minute() == 0 && tm.Second() == 0 && tm.Nanosecond() == 0 && tm.Location() == time.UTC {
			return tm.Format(time.DateOnly)
		}
		return tm.Format(time.RFC3339Nano)
	case "default":
		if strings.TrimSpace(v) == "" {
			return t.arg
		}
	}
	return v
}
