package sandbox

import (
	"maps"
	"strings"
)

// Stats is a snapshot of the server's contents and traffic, also served as
// JSON by GET /_sandbox/stats.
type Stats struct {
	// Stored objects.
	ProgramLicenses         int `json:"program_licenses"`
	UserLicenses            int `json:"user_licenses"`
	ProgramGroupAssignments int `json:"program_group_assignments"`
	UserGroupAssignments    int `json:"user_group_assignments"`
	ProgramUserAssignments  int `json:"program_user_assignments"`
	UserUserAssignments     int `json:"user_user_assignments"`
	ProgramSuggestions      int `json:"program_suggestions"`
	GroupSuggestions        int `json:"group_suggestions"`
	Issuers                 int `json:"issuers"`
	UiPathGroupAllocations  int `json:"uipath_group_allocations"`
	// History is the number of license history records: one per license
	// create and one per license update.
	History int `json:"history"`

	// Creates, Updates and Deletes count successful writes of every kind,
	// including writes whose answer was lost to FailAfterWrite.
	Creates int64 `json:"creates"`
	Updates int64 `json:"updates"`
	Deletes int64 `json:"deletes"`
	// Requests counts every request to an API path, including those that
	// failed authentication or got an injected fault.
	Requests int64 `json:"requests"`
	// Faults counts injected failures, before and after writes.
	Faults int64 `json:"faults"`
	// OutageAnswers counts the 503 answers given during outages.
	OutageAnswers int64 `json:"outage_answers"`
	// Throttled counts the 429 answers to requests beyond
	// Config.RateLimit.
	Throttled int64 `json:"throttled"`
	// ByEndpoint counts requests per "METHOD /path/" of every endpoint the
	// server serves (0 until called), with path wildcards such as {org} left
	// in.
	ByEndpoint map[string]int64 `json:"by_endpoint"`
}

// counters are the traffic counters behind Stats, guarded by Server.mu.
type counters struct {
	creates, updates, deletes int64
	requests, faults, outages int64
	throttled                 int64
	byEndpoint                map[string]int64
}

// Stats returns a snapshot of the server's contents and traffic.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return Stats{
		ProgramLicenses:         len(s.licenses[kindProgram].all),
		UserLicenses:            len(s.licenses[kindUser].all),
		ProgramGroupAssignments: len(s.groupAssignments[kindProgram].byID),
		UserGroupAssignments:    len(s.groupAssignments[kindUser].byID),
		ProgramUserAssignments:  len(s.userAssignments[kindProgram].byID),
		UserUserAssignments:     len(s.userAssignments[kindUser].byID),
		ProgramSuggestions:      len(s.suggestions.byID),
		GroupSuggestions:        len(s.groupSuggestions.byID),
		Issuers:                 len(s.issuers.byEntityID),
		UiPathGroupAllocations:  len(s.allocations),
		History:                 len(s.history),
		Creates:                 s.counters.creates,
		Updates:                 s.counters.updates,
		Deletes:                 s.counters.deletes,
		Requests:                s.counters.requests,
		Faults:                  s.counters.faults,
		OutageAnswers:           s.counters.outages,
		Throttled:               s.counters.throttled,
		ByEndpoint:              maps.Clone(s.counters.byEndpoint),
	}
}

// countRequest counts an API request; pattern is the matched route pattern.
func (s *Server) countRequest(method, pattern string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.counters.requests++
	if pattern != "" && pattern != "/" {
		s.counters.byEndpoint[method+" "+strings.TrimSuffix(pattern, "{$}")]++
	}
}

func (s *Server) countFault() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.counters.faults++
}

func (s *Server) countOutage() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.counters.outages++
}

func (s *Server) countThrottled() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.counters.throttled++
}
