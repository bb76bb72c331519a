package hrsync

import (
	"encoding/hex"
	"encoding/json"
	"hash/fnv"
	"slices"
	"strconv"

	"github.com/bulksync/bulksync/applied"
	"github.com/bulksync/bulksync/importers"
)

// A key's snapshot record (an applied.Record) holds fingerprints, not
// rows: per field of the row last applied the fingerprint of its value,
// and three entries of its own:
//
//	@fp    the fingerprint of the whole row (what a run compares first)
//	@id    the few fields that name the target (the key's fields and the
//	       kind's required ones), from which a deactivation row is built
//	@miss  how many consecutive runs the key has been missing from (absent: 0)
const (
	fpEntry   = "@fp"
	idEntry   = "@id"
	missEntry = "@miss"
)

// identityFields name a target beyond a kind's required fields.
var identityFields = []string{"external_id", "license_id", "license_external_id", "group_id", "user_id", "email", "assignment_id", "platform_org"}

// fingerprint is a row's or value's 64-bit FNV-1a digest. The importers
// write rows canonically (fields in the schema's order, values in one
// form), so equal rows have equal bytes.
func fingerprint(b []byte) uint64 {
	h := fnv.New64a()
	_, _ = h.Write(b)
	return h.Sum64()
}

func hexFP(v uint64) string { return strconv.FormatUint(v, 16) }

// rowFP reads a record's row fingerprint.
func rowFP(r applied.Record) uint64 {
	v, _ := strconv.ParseUint(r.Fields[fpEntry], 16, 64)
	return v
}

// misses reads a record's count of runs missed.
func misses(r applied.Record) int {
	n, _ := strconv.Atoi(r.Fields[missEntry])
	return n
}

// newRecord is the snapshot record of a row applied.
func newRecord(schema *importers.Schema, data json.RawMessage) (applied.Record, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(data, &fields); err != nil {
		return applied.Record{}, err
	}
	r := applied.Record{Fields: make(map[string]string, len(fields)+2)}
	id := map[string]json.RawMessage{}
	for k, v := range fields {
		r.Fields[k] = hexFP(fingerprint(v))
		if slices.Contains(identityFields, k) || required(schema, k) {
			id[k] = v
		}
	}
	b, err := json.Marshal(id)
	if err != nil {
		return applied.Record{}, err
	}
	r.Fields[idEntry] = string(b)
	r.Fields[fpEntry] = hexFP(fingerprint(data))
	return r, nil
}

func required(schema *importers.Schema, field string) bool {
	for _, f := range schema.Fields {
		if f.Name == field {
			return f.Required
		}
	}
	return false
}

// changedFields lists the fields of data whose fingerprints differ from
// rec's, and the fields rec has that data lacks, sorted.
func changedFields(rec applied.Record, data json.RawMessage) []string {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(data, &fields); err != nil {
		return nil
	}
	var changed []string
	for k, v := range fields {
		if rec.Fields[k] != hexFP(fingerprint(v)) {
			changed = append(changed, k)
		}
	}
	for k := range rec.Fields {
		if _, ok := fields[k]; !ok && k[0] != '@' {
			changed = append(changed, k)
		}
	}
	slices.Sort(changed)
	return changed
}

// deactivationRow builds the row that deactivates a record's target:
// its identity with active=false (license kinds) or action remove
// (assignment kinds).
func deactivationRow(how string, rec applied.Record) (json.RawMessage, error) {
	id := map[string]json.RawMessage{}
	if s := rec.Fields[idEntry]; s != "" {
		if err := json.Unmarshal([]byte(s), &id); err != nil {
			return nil, err
		}
	}
	switch how {
	case deactivateActive:
		id["active"] = json.RawMessage("false")
	case deactivateRemove:
		id["action"] = json.RawMessage(`"remove"`)
	}
	return json.Marshal(id)
}

// digestEntry is a snapshot entry's share of the snapshot's digest.
func digestEntry(key string, r applied.Record) uint64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(key))
	_, _ = h.Write([]byte{0})
	_, _ = h.Write([]byte(r.Fields[fpEntry]))
	_, _ = h.Write([]byte{0})
	_, _ = h.Write([]byte(r.Fields[missEntry]))
	return h.Sum64()
}

// digestString renders a snapshot digest (an order-free sum of its
// entries' digests) with the number of entries.
func digestString(sum uint64, n int) string {
	var b [8]byte
	for i := range b {
		b[i] = byte(sum >> (56 - 8*i))
	}
	return strconv.Itoa(n) + ":" + hex.EncodeToString(b[:])
}
