package sandbox

import (
	"encoding/json"
	"net/http"
)

// groupSuggestionDetail is the program group suggestion shape. Sandbox groups
// have no members, so UserCount is 0.
type groupSuggestionDetail struct {
	ID          int             `json:"id"`
	GroupID     int             `json:"group_id"`
	GroupName   string          `json:"group_name"`
	PlatformKey string          `json:"platform_key"`
	Accepted    bool            `json:"accepted"`
	Visible     bool            `json:"visible"`
	Created     string          `json:"created"`
	Modified    string          `json:"modified"`
	Metadata    json.RawMessage `json:"metadata"`
	ProgramKey  string          `json:"program_key"`
	ProgramName string          `json:"program_name"`
	UserCount   int             `json:"user_count"`
}

func renderGroupSuggestion(sg *suggestion) groupSuggestionDetail {
	return groupSuggestionDetail{
		ID: sg.id, GroupID: sg.subjectID, GroupName: groupName(sg.subjectID), PlatformKey: sg.platformKey,
		Accepted: sg.accepted, Visible: sg.visible, Created: formatTime(sg.created), Modified: formatTime(sg.modified),
		Metadata: sg.metadata, ProgramKey: sg.programKey, ProgramName: sg.programKey,
	}
}

// upsertGroupSuggestion creates or updates the suggestion keyed by
// (platform_key, program_key, group_id). Both answer 200, as documented.
func (s *Server) upsertGroupSuggestion(r *http.Request) response {
	f, errResp := bodyFields(r)
	if errResp != nil {
		return *errResp
	}
	f.fallBack(r.URL.Query(), "platform_key")
	platform, _ := f.str("platform_key", true)
	groupID, _ := f.integer("group_id", true)
	in := readSuggestionInput(f)
	if errResp := f.failed(); errResp != nil {
		return *errResp
	}
	if !s.dir.group(groupID) {
		return fieldError("group_id", "Group not found.")
	}
	if !s.dir.program(in.programKey) {
		return fieldError("program_key", "Program not found.")
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	sg, _ := s.upsertSuggestionIn(s.groupSuggestions, platform, groupID, in)
	return written(http.StatusOK, renderGroupSuggestion(sg))
}

// listGroupSuggestions lists the group suggestions on platform_key.
func (s *Server) listGroupSuggestions(r *http.Request) response {
	s.mu.Lock()
	defer s.mu.Unlock()
	matches, errResp := s.listSuggestionsIn(s.groupSuggestions, r, func(sg *suggestion) string {
		return groupName(sg.subjectID)
	}, false)
	if errResp != nil {
		return *errResp
	}
	p, errResp := paginate(r, matches, renderGroupSuggestion)
	if errResp != nil {
		return *errResp
	}
	return ok(p)
}

// deleteGroupSuggestion removes the suggestion given by the suggestion_id and
// platform_key query parameters.
func (s *Server) deleteGroupSuggestion(r *http.Request) response {
	return s.deleteSuggestionIn(s.groupSuggestions, r, true)
}
