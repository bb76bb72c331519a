// Package service is bulksync's HTTP API, served by bulksync serve: the
// backend of the Data Manager's bulk suggestion endpoint, file uploads,
// and the batches they make (status, results, cancel, list), with health
// checks and Prometheus metrics.
//
// # Endpoints
//
//	POST   /api/catalog/suggestions/program/manage/bulk/   a bulk suggestion request (seed 002's body)
//	POST   /v1/imports?kind=KIND                           a CSV or JSON file, raw or multipart
//	GET    /v1/batches?limit=N                             recent batches
//	GET    /v1/batches/{id}                                a batch's summary and progress
//	DELETE /v1/batches/{id}                                cancel a batch
//	GET    /v1/batches/{id}/results                        its per-row results (CSV or JSON lines)
//	GET    /healthz, /readyz, /metrics                     liveness, Redis, Prometheus (no auth)
//
// The service only enqueues: bulksync worker processes apply the rows.
// A bulk suggestion request becomes a batch of kind program-suggestions
// whose items are validated by the importers' schema (fed to the JSON
// reader, one item a line) and applied by the workers through the single
// create-or-update call, never the bulk one (that would loop back). Its
// batch id is derived from the request's content, as an import's is from
// its file's, so a client's retry of the same body finds the first
// request's batch and applies nothing twice; an Idempotency-Key header
// names the first request's batch whatever the body.
//
// # Errors
//
// Every error answer is JSON with a stable "code" beside the message:
// {"detail": "...", "code": "..."}, or, for the fields of a bulk
// suggestion request, the Data Manager's own DRF shape {"field":
// ["message"], "code": "invalid_request"}. docs/http-api.md lists them.
package service
