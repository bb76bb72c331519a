package importers_test

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/bulksync/bulksync/importers"
)

func dump(in string, opts importers.Options) string {
	var sb strings.Builder
	r, err := importers.NewReader(strings.NewReader(in), opts)
	if err != nil {
		return fmt.Sprintf("NewReader: %v", err)
	}
	for i := 0; i < 100; i++ {
		row, err := r.Next()
		if errors.Is(err, io.EOF) {
			sb.WriteString("EOF\n")
			break
		}
		if err != nil {
			fmt.Fprintf(&sb, "ERR %v\n", err)
			break
		}
		if row.Err != nil {
			fmt.Fprintf(&sb, "%d key=%q %s\n", row.Line, row.Key, row.Err.Code())
		} else {
			fmt.Fprintf(&sb, "%d key=%q %s\n", row.Line, row.Key, row.Data)
		}
	}
	return sb.String()
}

func TestProbe(t *testing.T) {
	big := `{"platform_key":"acme","external_id":"x` + strings.Repeat("a", 600) + `"}`
	ins := []string{
		"[\n  {\n    \"platform_key\": \"acme\",\n    \"external_id\": \"a\"\n  },\n  {\"platform_key\": \"acme\", \"external_id\": \"b\"},\n" + strings.Repeat("  "+big+",\n", 3) + "  {\"platform_key\": \"acme\", \"external_id\": \"c\"}\n]\n",
		"[{\"platform_key\": \"acme\", \"external_id\": \"caf\xe9\", \"metadata\": {\"a\": \"\xe9\"}}]",
		"[{\"platform_key\": \"acme\", \"external_id\": \"b\", \"count\": 1e99}]",
		"[{\"platform_key\": \"acme\", \"external_id\": \"b\"}] x",
	}
	for _, in := range ins {
		t.Log("\n" + dump(in, importers.Options{}))
	}
}
