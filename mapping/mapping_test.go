package mapping_test

import (
	"io"
	"strings"
	"testing"

	"github.com/bulksync/bulksync/mapping"
	"github.com/stretchr/testify/require"
)

func TestTransforms(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		spec, in, want string
	}{
		{"trim", "  a b  ", "a b"},
		{"lower", "USER@EXAMPLE.COM", "user@example.com"},
		{"upper", "de", "DE"},
		{"date:1/2/2006", "3/7/2024", "2024-03-07"},
		{"date:1/2/2006", "12/31/1999", "1999-12-31"},
		{"date:1/2/2006", "not a date", "not a date"},
		{"date:1/2/2006", "", ""},
		{"date:2006-01-02 15:04", "2024-03-07 09:30", "2024-03-07T09:30:00Z"},
		{"default:acme", "", "acme"},
		{"default:acme", "  ", "acme"},
		{"default:acme", "globex", "globex"},
		{"default:a:b c", "", "a:b c"},
	} {
		t.Run(tc.spec+"/"+tc.in, func(t *testing.T) {
			t.Parallel()
			tr, err := mapping.ParseTransform(tc.spec)
			require.NoError(t, err)
			require.Equal(t, tc.want, tr.Apply(tc.in))
			require.Equal(t, tc.spec, tr.String())
		})
	}
	for _, bad := range []string{"title", "date", "date:", "trim:x", "default"} {
		_, err := mapping.ParseTransform(bad)
		require.Error(t, err, bad)
	}
}

func TestParseFlags(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		values  []string
		want    map[string]string
		wantErr string
	}{
		{"Repeated", []string{"external_id=Employee ID", "email=Work Email|trim|lower"}, map[string]string{"external_id": "Employee ID", "email": "Work Email"}, ""},
		{"CommaSeparated", []string{"external_id=Employee ID, email = Work Email"}, map[string]string{"external_id": "Employee ID", "email": "Work Email"}, ""},
		{"NoColumn", []string{"external_id="}, nil, "names no column"},
		{"NoField", []string{"=ID"}, nil, "want FIELD=COLUMN"},
		{"BadTransform", []string{"email=Mail|shout"}, nil, "unknown transform"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, err := mapping.ParseFlags(tc.values)
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, s.Mapping)
		})
	}
}

func TestDecodeUnknownKey(t *testing.T) {
	t.Parallel()
	_, err := mapping.Decode(strings.NewReader("mapping:\n  email: Mail\ntransform:\n  email: [lower]\n"))
	require.ErrorContains(t, err, "line 3: field transform not found")
}

// TestStream: BOM, CRLF, padded cells, a quoted line break, a filtered
// row; each object starts on its source row's line.
func TestStream(t *testing.T) {
	t.Parallel()
	m, err := mapping.New(mapping.Spec{
		Mapping:    map[string]string{"email": " work email ", "external_id": "Employee ID"},
		Transforms: map[string][]string{"email": {"lower"}},
		Filter:     map[string][]string{"Status": {"active"}},
	})
	require.NoError(t, err)
	src := "\ufeffEmployee ID, Work Email ,Status,Note\r\n" +
		" E1 , USER1@EXAMPLE.COM ,Active,\"two\r\nlines\"\r\n" +
		"E2,user2@example.com,Terminated,\r\n" +
		"E3,,ACTIVE\r\n"
	st, err := m.Open(strings.NewReader(src), mapping.FormatAuto)
	require.NoError(t, err)
	out, err := io.ReadAll(st)
	require.NoError(t, err)
	require.Equal(t, "\n{\"email\":\"user1@example.com\",\"external_id\":\"E1\"}\n\n\n{\"external_id\":\"E3\"}\n", string(out))
	require.Equal(t, mapping.Stats{Rows: 3, Filtered: 1}, st.Stats())

	_, err = m.Open(strings.NewReader("ID,Mail\n1,a\n"), mapping.FormatCSV)
	var ce *mapping.ColumnError
	require.ErrorAs(t, err, &ce)
	_, err = m.Open(strings.NewReader(" \r\n"), mapping.FormatAuto)
	require.ErrorIs(t, err, io.EOF)
}

// FuzzMapping: whatever the spec and source, the stream is read to its
// end without a panic, one object a kept row.
func FuzzMapping(f *testing.F) {
	f.Add("email=Mail|trim|lower", "Mail,Status\n A@B.C ,x\n")
	f.Add("d=When|date:1/2/2006|default:none", "[{\"When\":\"1/2/2024\"},{\"When\":null}]")
	f.Add("a=b,c=d", "{\"b\":1}\n{\"d\":[1]}")
	f.Fuzz(func(t *testing.T, flagValue, src string) {
		if !strings.Contains(flagValue, "=") {
			return // a file name: not the parser under test
		}
		s, err := mapping.ParseFlags([]string{flagValue})
		if err != nil {
			return
		}
		m, err := mapping.New(s)
		if err != nil {
			return
		}
		st, err := m.Open(strings.NewReader(src), mapping.FormatAuto)
		if err != nil {
			return
		}
		_, _ = io.ReadAll(st)
		_ = st.Stats()
	})
}
