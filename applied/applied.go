// Package applied remembers what bulksync applied to an API: per API base
// URL and target (a kind and a row's key), the fingerprints of the field
// values it last wrote that the API does not echo back, and the
// transaction id of the last create it sent (its write intent).
//
// A worker compares a row's field with the API's answer when the answer
// holds the field, else with the stored fingerprint, else (never applied)
// sends it. The intent tells a create that took effect in an earlier
// delivery, whose outcome was lost, from a record that existed before.
//
// Records live in a [Store]: Redis ([NewRedis]) where the batches live, or
// a local file ([OpenFile]) when Redis is in-process. A namespace groups
// the records of one API and kind ([Namespace]), or any other owner's (a
// scheduled sync's snapshot). Both stores also keep short byte values
// ([ValueStore]), which a scan reads without decoding a record.
package applied

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/url"
	"strings"
)

// Record is what is remembered of one target.
type Record struct {
	// Fields maps a field name to the fingerprint of the value last
	// applied (see [Fingerprint]).
	Fields map[string]string `json:"fields,omitempty"`
	// Intent is the transaction id of the last create sent for the target,
	// written before the create is sent.
	Intent string `json:"intent,omitempty"`
}

// Store keeps records by namespace and key. Implementations are safe for
// concurrent use.
type Store interface {
	// Get returns the record of key, and false when there is none.
	Get(ctx context.Context, ns, key string) (Record, bool, error)
	// Put replaces the record of key.
	Put(ctx context.Context, ns, key string, r Record) error
	// Swap replaces the record of key and returns the one it replaced,
	// and false when there was none, in one step.
	Swap(ctx context.Context, ns, key string, r Record) (Record, bool, error)
	// SwapMany is Swap of several keys of ns in one step: it returns the
	// records it replaced by key (a key that had none is absent).
	SwapMany(ctx context.Context, ns string, recs map[string]Record) (map[string]Record, error)
	// Delete forgets key; forgetting an unknown key is not an error.
	Delete(ctx context.Context, ns, key string) error
	// Scan calls fn with every record of ns, in no particular order, until
	// fn returns an error, which Scan returns.
	Scan(ctx context.Context, ns string, fn func(key string, r Record) error) error
}

// Namespace names the records of one kind on one API: the kind and a hash
// of the API's base URL without its credentials, query or trailing slash,
// so that two spellings of one URL share their records.
func Namespace(baseURL, kind string) string {
	u, err := url.Parse(strings.TrimRight(baseURL, "/"))
	if err == nil {
		u.User, u.RawQuery, u.Fragment = nil, "", ""
		u.Host = strings.ToLower(u.Host)
		baseURL = u.String()
	}
	sum := sha256.Sum256([]byte(baseURL))
	return "api:" + hex.EncodeToString(sum[:8]) + ":" + kind
}

// Fingerprint is a short, stable digest of a JSON value: equal values give
// equal fingerprints whatever their spacing or key order.
func Fingerprint(raw json.RawMessage) string {
	var v any
	if err := json.Unmarshal(raw, &v); err == nil {
		if canon, err := json.Marshal(v); err == nil {
			raw = canon
		}
	}
	sum := sha256.Sum256(raw)
	return hex.EncodeToString(sum[:16])
}

// ErrInUse is the error of OpenFile when another process holds the file.
var ErrInUse = errors.New("the state file is in use by another bulksync process")
