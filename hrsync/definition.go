// Package hrsync keeps the Data Manager in step with an HR system's
// exports: a sync definition (YAML) names a source, maps its columns to a
// kind's fields, and a run sends only what changed since the sync's last
// applied state, its snapshot, kept in the applied-state store.
//
// A run reads the source once through the mapping and the importers'
// validation, compares every row's fingerprint with the snapshot, and
// plans creates, updates and deactivations (of keys missing from enough
// consecutive runs). A plan over the sync's safety limits is refused.
// Otherwise the changes go out as one batch through ingest, worked by the
// usual workers, and each key advances in the snapshot only when its call
// succeeded.
package hrsync

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/bulksync/bulksync/importers"
	"github.com/bulksync/bulksync/mapping"
	"github.com/robfig/cron/v3"
	"go.yaml.in/yaml/v3"
)

// Config is a sync definition file: one or more syncs.
type Config struct {
	Syncs []Sync `yaml:"syncs"`
}

// Defaults of a sync's safety settings.
const (
	DefaultMaxChangePercent            = 20.0
	DefaultMissingRunsBeforeDeactivate = 1
)

// Sync is one sync's definition.
type Sync struct {
	Name     string         `yaml:"name"`
	Schedule string         `yaml:"schedule"` // cron, 5 fields; empty: run by hand only
	Timezone string         `yaml:"timezone"` // IANA name; default UTC
	Kind     importers.Kind `yaml:"kind"`
	Source   Source         `yaml:"source"`
	// The mapping, transforms, filter and defaults blocks.
	mapping.Spec `yaml:",inline"`
	// DeactivateMissing deactivates the keys missing from the source:
	// active=false for license kinds, remove for assignment kinds.
	DeactivateMissing bool `yaml:"deactivate_missing"`
	// MissingRunsBeforeDeactivate is how many consecutive runs a key must
	// be missing from before it is deactivated. Defaults to 1.
	MissingRunsBeforeDeactivate int `yaml:"missing_runs_before_deactivate"`
	// MaxChangePercent refuses a run whose creates, updates and
	// deactivations exceed this share of the keys in the snapshot.
	// Defaults to 20; the first run (no snapshot) is not limited.
	MaxChangePercent *float64 `yaml:"max_change_percent"`
	// MaxDeactivate refuses a run planning more deactivations. Unset: no
	// limit but MaxChangePercent.
	MaxDeactivate *int `yaml:"max_deactivate"`

	dir  string // the definition file's directory: relative paths start there
	line int    // where the sync starts in its file
}

// Source is where a sync reads its export: exactly one of File, Dir with
// Glob (the newest match), or URL (with BearerEnv or BasicEnv naming the
// environment variable holding a token, or user:password).
type Source struct {
	File      string `yaml:"file"`
	Dir       string `yaml:"dir"`
	Glob      string `yaml:"glob"`
	URL       string `yaml:"url"`
	BearerEnv string `yaml:"bearer_env"`
	BasicEnv  string `yaml:"basic_env"`
}

// Namespace is the applied-state namespace of the sync's snapshot.
func (s *Sync) Namespace() string { return "sync:" + s.Name }

// historyNamespace holds the sync's past runs.
func (s *Sync) historyNamespace() string { return "sync:" + s.Name + ":runs" }

// Location is the sync's time zone.
func (s *Sync) Location() *time.Location {
	loc, err := time.LoadLocation(s.Timezone)
	if err != nil {
		return time.UTC
	}
	return loc
}

// Cronspec is the schedule with its time zone, as the scheduler takes it.
func (s *Sync) Cronspec() string {
	return "CRON_TZ=" + s.Location().String() + " " + s.Schedule
}

// maxChangePercent and missingRuns apply the defaults.
func (s *Sync) maxChangePercent() float64 {
	if s.MaxChangePercent == nil {
		return DefaultMaxChangePercent
	}
	return *s.MaxChangePercent
}

func (s *Sync) missingRuns() int {
	return max(s.MissingRunsBeforeDeactivate, DefaultMissingRunsBeforeDeactivate)
}

// path resolves a path of the definition against its file's directory.
func (s *Sync) path(p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(s.dir, p)
}

// Find returns the sync called name.
func (c *Config) Find(name string) (*Sync, error) {
	var names []string
	for i := range c.Syncs {
		if c.Syncs[i].Name == name {
			return &c.Syncs[i], nil
		}
		names = append(names, c.Syncs[i].Name)
	}
	return nil, fmt.Errorf("no sync %q in the definition (its syncs: %s)", name, strings.Join(names, ", "))
}

// LoadFile reads and checks a definition file.
func LoadFile(path string) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	c, err := Parse(b, filepath.Dir(path))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// Parse reads and checks a definition; relative paths in it start at dir.
// A key the definition does not know is an error naming its line, and so
// is a sync whose settings do not hold together.
func Parse(b []byte, dir string) (*Config, error) {
	var c Config
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("the definition is empty")
		}
		return nil, err
	}
	// The lines where the syncs start, for the errors below.
	var root yaml.Node
	if err := yaml.Unmarshal(b, &root); err == nil && len(root.Content) == 1 {
		for i := 0; i+1 < len(root.Content[0].Content); i += 2 {
			if k, v := root.Content[0].Content[i], root.Content[0].Content[i+1]; k.Value == "syncs" {
				for j, item := range v.Content {
					if j < len(c.Syncs) {
						c.Syncs[j].line = item.Line
					}
				}
			}
		}
	}
	if len(c.Syncs) == 0 {
		return nil, errors.New("the definition has no syncs")
	}
	seen := map[string]int{}
	for i := range c.Syncs {
		s := &c.Syncs[i]
		s.dir = dir
		if err := s.check(); err != nil {
			return nil, fmt.Errorf("line %d: sync %q: %w", s.line, s.Name, err)
		}
		if first, dup := seen[s.Name]; dup {
			return nil, fmt.Errorf("line %d: sync %q: the name is taken by the sync on line %d", s.line, s.Name, first)
		}
		seen[s.Name] = s.line
	}
	return &c, nil
}

var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

// check validates one sync.
func (s *Sync) check() error {
	if !nameRE.MatchString(s.Name) {
		return errors.New("name: letters, digits, '.', '_' and '-' only, and not empty")
	}
	if s.Schedule != "" {
		if strings.Contains(s.Schedule, "TZ=") {
			return errors.New("schedule: give the time zone as timezone, not in the schedule")
		}
		if len(strings.Fields(s.Schedule)) != 5 {
			return fmt.Errorf("schedule %q: want 5 cron fields (minute hour day-of-month month day-of-week)", s.Schedule)
		}
		if _, err := cron.ParseStandard(s.Schedule); err != nil {
			return fmt.Errorf("schedule %q: %w", s.Schedule, err)
		}
	}
	if s.Timezone != "" {
		if _, err := time.LoadLocation(s.Timezone); err != nil {
			return fmt.Errorf("timezone: %w", err)
		}
	}
	schema, err := importers.Lookup(s.Kind)
	if err != nil {
		return fmt.Errorf("kind: %w", err)
	}
	if err := s.Source.check(); err != nil {
		return fmt.Errorf("source: %w", err)
	}
	if err := s.Spec.Validate(); err != nil {
		return err
	}
	for _, f := range s.Spec.Fields() {
		if !slices.ContainsFunc(schema.Fields, func(sf importers.Field) bool { return sf.Name == f }) {
			return fmt.Errorf("field %q is not a field of %s", f, s.Kind)
		}
	}
	if s.DeactivateMissing && deactivation(schema) == "" {
		return fmt.Errorf("deactivate_missing: %s rows have neither active nor a remove action", s.Kind)
	}
	if s.MissingRunsBeforeDeactivate < 0 {
		return errors.New("missing_runs_before_deactivate must be at least 1")
	}
	if p := s.MaxChangePercent; p != nil && (*p < 0 || *p > 100) {
		return errors.New("max_change_percent must be between 0 and 100")
	}
	if d := s.MaxDeactivate; d != nil && *d < 0 {
		return errors.New("max_deactivate must not be negative")
	}
	return nil
}

func (src Source) check() error {
	n := 0
	for _, set := range []bool{src.File != "", src.Dir != "", src.URL != ""} {
		if set {
			n++
		}
	}
	switch {
	case n != 1:
		return errors.New("give exactly one of file, dir (with glob) or url")
	case src.Dir != "" && src.Glob == "":
		return errors.New("dir needs a glob (the newest matching file is read)")
	case src.Glob != "" && src.Dir == "":
		return errors.New("glob needs a dir")
	case (src.BearerEnv != "" || src.BasicEnv != "") && src.URL == "":
		return errors.New("bearer_env and basic_env go with url")
	case src.BearerEnv != "" && src.BasicEnv != "":
		return errors.New("give bearer_env or basic_env, not both")
	}
	if src.Glob != "" {
		if _, err := filepath.Match(src.Glob, ""); err != nil {
			return fmt.Errorf("glob %q: %w", src.Glob, err)
		}
	}
	if src.URL != "" && !strings.HasPrefix(src.URL, "http://") && !strings.HasPrefix(src.URL, "https://") {
		return fmt.Errorf("url %q: want http:// or https://", src.URL)
	}
	return nil
}

// Deactivation kinds: how a missing key is deactivated.
const (
	deactivateActive = "active" // an update with active=false (license kinds)
	deactivateRemove = "remove" // a row with action remove (assignment kinds)
)

// deactivation tells how a kind's keys are deactivated, or "" when they
// cannot be.
func deactivation(schema *importers.Schema) string {
	for _, f := range schema.Fields {
		if f.Name == "action" && slices.Contains(f.Values, "remove") {
			return deactivateRemove
		}
	}
	for _, f := range schema.Fields {
		if f.Name == "active" && schema.Key != "" {
			return deactivateActive
		}
	}
	return ""
}
