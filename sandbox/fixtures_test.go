package sandbox

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestLoadFixtures(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      string
		want    *Fixtures
		wantErr string
	}{
		{
			name: "Valid",
			in:   `{"groups": [1, 2], "users": [{"id": 3, "email": "a@x.io", "username": "a", "name": "A"}], "programs": ["p"]}`,
			want: &Fixtures{Groups: []int{1, 2}, Users: []FixtureUser{{ID: 3, Email: "a@x.io", Username: "a", Name: "A"}}, Programs: []string{"p"}},
		},
		{name: "UnknownField", in: `{"teams": []}`, wantErr: `decode fixtures: json: unknown field "teams"`},
		{name: "NotJSON", in: `groups: 1`, wantErr: "decode fixtures: invalid character 'g' looking for beginning of value"},
		{name: "DuplicateID", in: `{"users": [{"id": 1}, {"id": 1}]}`, wantErr: "validate fixtures: users[1]: duplicate id 1"},
		{name: "DuplicateEmail", in: `{"users": [{"id": 1, "email": "A@x.io"}, {"id": 2, "email": "a@X.io"}]}`, wantErr: `validate fixtures: users[1]: duplicate email "a@X.io"`},
		{name: "BadUserID", in: `{"users": [{"id": 0}]}`, wantErr: "validate fixtures: users[0]: id 0 is not positive"},
		{name: "BadGroup", in: `{"groups": [-1]}`, wantErr: "validate fixtures: groups[0]: id -1 is not positive"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := LoadFixtures(strings.NewReader(tt.in))
			if tt.wantErr != "" {
				require.EqualError(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestDirectory(t *testing.T) {
	t.Parallel()

	t.Run("Defaults", func(t *testing.T) {
		t.Parallel()
		d := newDirectory(nil)
		u, ok := d.user(42)
		require.True(t, ok)
		require.Equal(t, FixtureUser{ID: 42, Email: "user42@example.com", Username: "user42", Name: "User 42"}, u)
		_, ok = d.user(DefaultUserCount + 1)
		require.False(t, ok)
		u, ok = d.userByEmail("User7@Example.com")
		require.True(t, ok)
		require.Equal(t, 7, u.ID)
		for _, email := range []string{"user07@example.com", "user0@example.com", "user7@other.com", "bob@example.com"} {
			_, ok = d.userByEmail(email)
			require.False(t, ok, email)
		}
		require.True(t, d.group(DefaultGroupCount))
		require.False(t, d.group(DefaultGroupCount+1))
		require.True(t, d.program("anything"))
	})

	t.Run("Fixtures", func(t *testing.T) {
		t.Parallel()
		d := newDirectory(&Fixtures{Users: []FixtureUser{{ID: 9, Email: "Ada@x.io"}}, Groups: []int{5}, Programs: []string{"p"}})
		u, ok := d.userByEmail("ada@X.io")
		require.True(t, ok)
		require.Equal(t, FixtureUser{ID: 9, Email: "Ada@x.io", Username: "user9", Name: "User 9"}, u)
		_, ok = d.userByUsername("user9")
		require.True(t, ok)
		_, ok = d.user(1)
		require.False(t, ok)
		require.True(t, d.group(5))
		require.False(t, d.group(1))
		require.True(t, d.program("p"))
		require.False(t, d.program("q"))
	})
}
