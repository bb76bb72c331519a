package jobs

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
