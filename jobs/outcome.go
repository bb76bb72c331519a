package jobs

// The outcome vocabulary: the actions, statuses and API error codes a
// row's outcome can report, as users see them in results files and
// summaries (docs/error-codes.md lists them with the importers' input
// codes). They are a contract: never rename one.

// Actions a row's outcome can report.
const (
	ActionCreated   = "created"   // the API created the record
	ActionUpdated   = "updated"   // the API updated the record
	ActionDeleted   = "deleted"   // the API deleted the record
	ActionApplied   = "applied"   // a write whose effect the API does not tell: a bulk call, a replacing PUT
	ActionUnchanged = "unchanged" // the record already matched (or was already absent); nothing was sent
	ActionSkipped   = "skipped"   // the row was not sent (invalid, or failed)
	ActionCreate    = "create"    // dry run: would create
	ActionUpdate    = "update"    // dry run: would update (the message names the fields)
	ActionDelete    = "delete"    // dry run: would delete
	ActionApply     = "apply"     // dry run: would send a write that cannot be looked up first
)

// Row statuses.
const (
	StatusOK          = "ok"
	StatusFailed      = "failed"
	StatusUnprocessed = "unprocessed" // never attempted (a cancelled or halted batch)
)

// Error codes of rows that failed at the API (or could not be sent).
const (
	CodeRejected          = "rejected"           // 400: the API refused the row; see the message
	CodeNotFound          = "not_found"          // 404, or a reference (a license by external_id) that resolves to nothing
	CodeConflict          = "conflict"           // 409: e.g. a UiPath allocation beyond the account's quantities
	CodeUnauthorized      = "unauthorized"       // 401, or refused credentials: wrong or missing token; halts the batch
	CodeForbidden         = "forbidden"          // 403: the key lacks the role; halts the batch
	CodeLookupUnsupported = "lookup_unsupported" // a look-up whose answer cannot be trusted (a list that ignores its filter); halts the batch
	CodeRetriesExhausted  = "retries_exhausted"  // transient faults outlived the row's retry budget
	CodeTaskFailed        = "task_failed"        // the chunk's task failed past its redeliveries
	CodeImmutablePrefix   = "immutable_field:"   // the record exists with a value of the named field that cannot change
	CodeInvalidPayload    = "invalid_payload"    // the row cannot be read or sent as it is (a producer and a worker out of step)
	CodeNotConfigured     = "not_configured"     // the kind's API client is not configured (UiPath)
)

// Outcome is one row's entry in a batch's ledger.
type Outcome struct {
	Row           int    `json:"row"`  // the row's index in the file, from 1: the ledger's key
	Line          int    `json:"line"` // the physical line where the row starts
	ExternalID    string `json:"external_id"`
	TransactionID string `json:"transaction_id"`
	Action        string `json:"action"`
	Status        string `json:"status"`
	HTTPStatus    int    `json:"http_status,omitempty"`
	ErrorCode     string `json:"error_code,omitempty"`
	Message       string `json:"message,omitempty"`
	Attempts      int    `json:"attempts"`
}

// OK reports whether the row succeeded.
func (o Outcome) OK() bool { return o.Status == StatusOK }
