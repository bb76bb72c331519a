package hrsync

import (
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"slices"
	"strconv"

	"github.com/bulksync/bulksync/applied"
	"github.com/bulksync/bulksync/importers"
)

// A sync's snapshot is kept in two namespaces of the applied-state
// store, per key:
//
//   - a value (sync:NAME:fp): the fingerprint of the whole row last
//     applied, 8 bytes big-endian, then, when the key has been missing
//     from consecutive runs, their count as a uvarint. A plan reads these
//     alone, in one pass, without decoding a record.
//   - a record (sync:NAME, an applied.Record): per field of the row the
//     fingerprint of its value, and @id, the few fields that name the
//     target (the key's fields and the kind's required ones), from which
//     a deactivation row is built. A plan reads the records of the keys
//     it updates or deactivates.
//
// Snapshots written before the values existed kept the row's fingerprint
// and the missing count in the record, as @fp and @miss; a plan that finds
// no values copies them once (see Planner.upgrade).
const (
	idEntry   = "@id"
	fpEntry   = "@fp"   // before the values: the row's fingerprint
	missEntry = "@miss" // before the values: runs missing
)

// encodeValue is a key's value in the snapshot's values namespace.
func encodeValue(fp uint64, misses int) []byte {
	v := binary.BigEndian.AppendUint64(make([]byte, 0, 8+binary.MaxVarintLen64), fp)
	if misses > 0 {
		v = binary.AppendUvarint(v, uint64(misses))
	}
	return v
}

var errBadValue = errors.New("not a snapshot value")

// decodeValue reads a value of the snapshot's values namespace.
func decodeValue(v []byte) (fp uint64, misses int, err error) {
	if len(v) < 8 {
		return 0, 0, errBadValue
	}
	fp = binary.BigEndian.Uint64(v)
	if len(v) > 8 {
		n, k := binary.Uvarint(v[8:])
		if k != len(v)-8 {
			return 0, 0, errBadValue
		}
		misses = int(min(n, 1<<31-1))
	}
	return fp, misses, nil
}

// identityFields name a target beyond a kind's required fields.
var identityFields = []string{"external_id", "license_id", "license_external_id", "group_id", "user_id", "email", "assignment_id", "platform_org"}

// fingerprint is a row's or value's 64-bit FNV-1a digest. The importers
// write rows canonically (fields in the schema's order, values in one
// form), so equal rows have equal bytes.
func fingerprint(b []byte) uint64 { return fnvMore(fnvOffset, b) }

// FNV-1a's 64-bit parameters.
const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

func hexFP(v uint64) string { return strconv.FormatUint(v, 16) }

// legacyValue is the value of a record written before the values
// existed, and false for a record without a row fingerprint.
func legacyValue(r applied.Record) ([]byte, bool) {
	fp, err := strconv.ParseUint(r.Fields[fpEntry], 16, 64)
	if err != nil {
		return nil, false
	}
	n, _ := strconv.Atoi(r.Fields[missEntry])
	return encodeValue(fp, n), true
}

// newRecord is the snapshot record of a row applied (its value is
// encodeValue(fingerprint(data), 0)).
func newRecord(schema *importers.Schema, data json.RawMessage) (applied.Record, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(data, &fields); err != nil {
		return applied.Record{}, err
	}
	r := applied.Record{Fields: make(map[string]string, len(fields)+1)}
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

// digestEntry is a snapshot key's share of the snapshot's digest: the
// FNV-1a of its name, its row fingerprint in hex and its runs missed
// (empty for none), separated by zero bytes.
func digestEntry(key []byte, fp uint64, misses int) uint64 {
	var buf [40]byte
	b := append(buf[:0], 0)
	b = strconv.AppendUint(b, fp, 16)
	b = append(b, 0)
	if misses > 0 {
		b = strconv.AppendInt(b, int64(misses), 10)
	}
	return fnvMore(fingerprint(key), b)
}

// fnvMore continues the FNV-1a digest h over b.
func fnvMore(h uint64, b []byte) uint64 {
	for _, c := range b {
		h ^= uint64(c)
		h *= fnvPrime
	}
	return h
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
