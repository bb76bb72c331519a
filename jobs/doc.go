// Package jobs is bulksync's wire contract with Redis: the asynq task types
// and payloads that carry chunks of rows to workers, the deterministic ids of
// batches and tasks, and the [Store] that keeps each batch's metadata,
// progress counters and per-row ledger.
//
// # Keys
//
// With the default prefix "bulksync:", a batch with id B uses
//
//	bulksync:batch:B            hash: metadata and counters
//	bulksync:batch:B:rows       hash: row index -> the row as enqueued (JSON)
//	bulksync:batch:B:outcomes   hash: row index -> the row's final outcome (JSON)
//	bulksync:batches            sorted set: batch ids by creation time
//
// Every batch key expires after the store's retention (7 days by default).
//
// # Outcomes are final
//
// A row's outcome is written with HSETNX in the same script that updates
// the counters, so it is recorded once, whatever the number of deliveries
// of its chunk, and the counters always agree with the ledger. Workers skip
// the rows of a chunk that already have an outcome.
package jobs
