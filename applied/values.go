package applied

import "context"

// ValueStore is a [Store] that also keeps short byte values: a namespace
// of values is read in one pass without decoding a record (a scheduled
// sync's fingerprints, beside its records). A namespace holds records or
// values, never both. Values are written with [Batcher.Apply] ([Write.Value]).
type ValueStore interface {
	Store
	Batcher
	// GetValue returns the value of key, and false when there is none.
	GetValue(ctx context.Context, ns, key string) ([]byte, bool, error)
	// ScanValues calls fn with every key of ns and its value, in no
	// particular order, until fn returns an error, which ScanValues
	// returns. key and value are valid only during the call and must not
	// be modified; fn must not use the store.
	ScanValues(ctx context.Context, ns string, fn func(key, value []byte) error) error
}

var (
	_ ValueStore = (*File)(nil)
	_ ValueStore = (*Redis)(nil)
)
