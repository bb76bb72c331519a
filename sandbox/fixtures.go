package sandbox

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Fixtures lists the users, groups and programs a Server knows. Assignments
// and suggestions naming an unknown user, group or program are rejected.
type Fixtures struct {
	// Groups are the known group ids.
	Groups []int `json:"groups"`
	// Users are the known users.
	Users []FixtureUser `json:"users"`
	// Programs are the known program keys. Empty means any program key.
	Programs []string `json:"programs"`
}

// FixtureUser is one known user. Username defaults to "user<ID>" and Name to
// "User <ID>".
type FixtureUser struct {
	ID       int    `json:"id"`
	Email    string `json:"email"`
	Username string `json:"username"`
	Name     string `json:"name"`
}

// LoadFixtures reads Fixtures from JSON such as
//
//	{"groups": [1, 2], "users": [{"id": 1, "email": "ada@example.com"}], "programs": ["program-v1:org+p+run"]}
//
// Unknown fields are an error.
func LoadFixtures(r io.Reader) (*Fixtures, error) {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	var fx Fixtures
	if err := dec.Decode(&fx); err != nil {
		return nil, fmt.Errorf("decode fixtures: %w", err)
	}
	if err := fx.validate(); err != nil {
		return nil, fmt.Errorf("validate fixtures: %w", err)
	}
	return &fx, nil
}

func (fx *Fixtures) validate() error {
	ids := make(map[int]bool, len(fx.Users))
	emails := make(map[string]bool, len(fx.Users))
	for i, u := range fx.Users {
		switch {
		case u.ID <= 0:
			return fmt.Errorf("users[%d]: id %d is not positive", i, u.ID)
		case ids[u.ID]:
			return fmt.Errorf("users[%d]: duplicate id %d", i, u.ID)
		case u.Email != "" && emails[strings.ToLower(u.Email)]:
			return fmt.Errorf("users[%d]: duplicate email %q", i, u.Email)
		}
		ids[u.ID] = true
		emails[strings.ToLower(u.Email)] = u.Email != ""
	}
	for i, g := range fx.Groups {
		if g <= 0 {
			return fmt.Errorf("groups[%d]: id %d is not positive", i, g)
		}
	}
	return nil
}

// directory resolves users, groups and programs.
type directory struct {
	defaultUsers int // when > 0, users 1..defaultUsers exist and users is unused
	users        map[int]FixtureUser
	emails       map[string]int
	usernames    map[string]int
	groups       map[int]bool
	programs     map[string]bool // empty means any program
}

func newDirectory(fx *Fixtures) *directory {
	if fx == nil {
		d := &directory{defaultUsers: DefaultUserCount, groups: make(map[int]bool, DefaultGroupCount)}
		for g := 1; g <= DefaultGroupCount; g++ {
			d.groups[g] = true
		}
		return d
	}
	d := &directory{
		users:     make(map[int]FixtureUser, len(fx.Users)),
		emails:    make(map[string]int, len(fx.Users)),
		usernames: make(map[string]int, len(fx.Users)),
		groups:    make(map[int]bool, len(fx.Groups)),
		programs:  make(map[string]bool, len(fx.Programs)),
	}
	for _, u := range fx.Users {
		u = completeUser(u)
		d.users[u.ID] = u
		d.usernames[u.Username] = u.ID
		if u.Email != "" {
			d.emails[strings.ToLower(u.Email)] = u.ID
		}
	}
	for _, g := range fx.Groups {
		d.groups[g] = true
	}
	for _, p := range fx.Programs {
		d.programs[p] = true
	}
	return d
}

func completeUser(u FixtureUser) FixtureUser {
	if u.Username == "" {
		u.Username = "user" + strconv.Itoa(u.ID)
	}
	if u.Name == "" {
		u.Name = "User " + strconv.Itoa(u.ID)
	}
	return u
}

func (d *directory) user(id int) (FixtureUser, bool) {
	if d.defaultUsers > 0 {
		if id < 1 || id > d.defaultUsers {
			return FixtureUser{}, false
		}
		return completeUser(FixtureUser{ID: id, Email: "user" + strconv.Itoa(id) + "@example.com"}), true
	}
	u, ok := d.users[id]
	return u, ok
}

func (d *directory) userByEmail(email string) (FixtureUser, bool) {
	email = strings.ToLower(email)
	if d.defaultUsers > 0 {
		local, ok := strings.CutSuffix(email, "@example.com")
		if !ok {
			return FixtureUser{}, false
		}
		return d.userByUsername(local)
	}
	id, ok := d.emails[email]
	if !ok {
		return FixtureUser{}, false
	}
	return d.user(id)
}

func (d *directory) userByUsername(name string) (FixtureUser, bool) {
	if d.defaultUsers > 0 {
		digits, ok := strings.CutPrefix(name, "user")
		id, err := strconv.Atoi(digits)
		if !ok || err != nil || strconv.Itoa(id) != digits {
			return FixtureUser{}, false
		}
		return d.user(id)
	}
	id, ok := d.usernames[name]
	if !ok {
		return FixtureUser{}, false
	}
	return d.user(id)
}

func (d *directory) group(id int) bool { return d.groups[id] }

func (d *directory) program(key string) bool { return len(d.programs) == 0 || d.programs[key] }

// groupName is the display name of a group.
func groupName(id int) string { return "Group " + strconv.Itoa(id) }
