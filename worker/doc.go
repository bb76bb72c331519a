// Package worker runs bulksync's asynq handlers: it takes a chunk of rows,
// skips the rows that already have an outcome, applies each other row to the
// API as an idempotent upsert, retries transient faults with exponential
// backoff and jitter (honouring Retry-After), and records each row's
// outcome in the batch ledger as soon as it is known.
//
// # Delivery
//
// asynq delivers a task at least once. A chunk that is delivered again
// (after a crash, a shutdown or a lost lease) re-applies only the rows
// without an outcome, and every write is preceded by a fresh look-up of the
// record, so a write whose answer was lost is found, not repeated.
//
// # Errors
//
// A row's transient failures (network, timeouts, 408, 429, 5xx) are
// retried up to Config.MaxAttempts; then the row fails with
// "retries_exhausted". Permanent failures (other 4xx) are recorded with the
// API's status and message and never retried. A 401 or 403 halts the whole
// batch: no further request could succeed with that key.
package worker
