// Package worker runs bulksync's asynq handlers: it takes a chunk of rows,
// skips the rows that already have an outcome, applies each other row to the
// API as an idempotent upsert, retries transient faults with exponential
// backoff and jitter (honouring Retry-After), and records each row's
// outcome in the batch ledger.
//
// # Recording
//
// A chunk hands each outcome, as soon as it is known, to the worker's
// recorder and goes on with the next row. The recorder stores what is
// queued at once, in one round trip per batch; outcomes handed over
// meanwhile go together in the next one (group commit, no timer). A chunk
// ends only when its outcomes are stored; when storing failed, it fails
// and is redelivered. Outcomes are stored even during shutdown: the API
// calls behind them were made.
//
// # Delivery
//
// asynq delivers a task at least once. A chunk that is delivered again
// (after a crash, a shutdown or a lost lease) re-applies only the rows
// without an outcome, and every write is preceded by a fresh look-up of the
// record, so a write whose answer was lost is found, not repeated.
//
// # Kinds
//
// The registry (registry.go) joins each kind's schema (importers) to the
// applier of its rows; New refuses to start when the two disagree. Every
// kind looks before it writes, so that re-running a file changes nothing
// and a write whose answer was lost is found by the next attempt. The
// kinds with a look-up share one helper, upsert, which also stores a
// create's write intent and the fingerprints of fields the API does not
// echo in the applied-state store (package applied):
//
//   - program-licenses, user-licenses: look the license up by external_id
//     (from a per-batch snapshot of the platform's licenses on the first
//     attempt); create it, update only the fields that differ, or report
//     unchanged.
//   - the four assignment kinds: resolve the license (license_id, or its
//     external_id once per batch); assign: look the assignment up by
//     (license, group or user), then create, update or report unchanged;
//     remove: delete it (by assignment_id, or the one found); one already
//     gone is unchanged.
//   - program-suggestions: one bulk call per chunk and platform, without
//     the rows that already match the platform's suggestions (read once per
//     batch); rows are "applied". When the answer counts fewer successes
//     than rows sent, the rows are replayed one by one through the single
//     create-or-update call, each with its own outcome.
//   - group-suggestions: look the suggestion up by (program_key, group_id)
//     (a per-batch snapshot first); create, update or unchanged; delete by
//     suggestion_id or the one found.
//   - issuers: look the issuer up by entityId; create, update the fields
//     that differ (email, name and url against what was last applied), or
//     unchanged; delete, 404 unchanged.
//   - uipath-group-licenses: UiPath has no read call; the PUT replaces the
//     group's allocation, so every run sends it and reports "applied".
//     Without Config.UiPath, rows fail with "not_configured".
//
// Dry runs look up the same way and report create, update, delete,
// unchanged (or apply, for writes that cannot be looked up), writing
// nothing.
//
// # Errors
//
// A request's transient failures (network, timeouts, 408, 429, 5xx) are
// retried on their own, a write's by a new attempt that looks up first,
// for Config.RetryFor from the chunk's first delivery (and at most
// Config.MaxAttempts attempts, when set); then the row fails with
// "retries_exhausted". Permanent failures (other 4xx) are recorded with the
// API's status and message and never retried. A 401 or 403 (or UiPath
// credentials refused at its token endpoint) halts the whole batch: no
// further request could succeed with that key; so does a license look-up
// whose answer shows that the API ignores its external_id filter
// ("lookup_unsupported").
//
// # Outages
//
// When the API client's circuit breaker is open (every recent request to
// the host failed), a chunk stops sending, marks its batch waiting, and
// goes back to the queue for Config.OutageDelay without spending one of
// its redeliveries; its rows without an outcome are applied when it comes
// back and the API answers.
package worker
