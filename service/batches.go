package service

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/bulksync/bulksync/jobs"
	"github.com/bulksync/bulksync/report"
)

// Status is a batch as GET /v1/batches/{id} shows it: the summary that
// import --summary writes, plus its progress.
type Status struct {
	report.Summary
	Done    int       `json:"done"`   // rows with an outcome
	Chunks  int       `json:"chunks"` // chunk tasks
	Source  string    `json:"source"` // the file's name, or "bulk suggestion request"
	Created time.Time `json:"created"`
}

// BatchItem is a batch in GET /v1/batches's list.
type BatchItem struct {
	BatchID     string    `json:"batch_id"`
	Kind        string    `json:"kind"`
	State       string    `json:"state"`
	Source      string    `json:"source"`
	Total       int       `json:"total"`
	Done        int       `json:"done"`
	Successes   int       `json:"successes"`
	Failed      int       `json:"failed"`
	Unprocessed int       `json:"unprocessed"` // rows without an outcome (yet)
	Created     time.Time `json:"created"`
}

// NewBatchItem is m as a list item.
func NewBatchItem(m jobs.Meta) BatchItem {
	return BatchItem{
		BatchID: m.ID, Kind: m.Kind, State: m.State, Source: m.Source, Total: m.Total, Done: m.Done,
		Successes: m.Successes, Failed: m.Failed, Unprocessed: m.Total - m.Done, Created: m.Created,
	}
}

// Batch list limits.
const (
	defaultListLimit = 20
	maxListLimit     = 1000
)

// listBatches serves GET /v1/batches?limit=N: the most recent batches
// first.
func (s *Service) listBatches(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		methodNotAllowed(w, r, http.MethodGet)
		return
	}
	limit := defaultListLimit
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxListLimit {
			writeError(w, http.StatusBadRequest, codeInvalidParameter, "limit must be a whole number from 1 to "+strconv.Itoa(maxListLimit))
			return
		}
		limit = n
	}
	metas, err := s.cfg.Store.Recent(r.Context(), limit)
	if err != nil {
		s.internal(w, err)
		return
	}
	items := make([]BatchItem, len(metas))
	for i, m := range metas {
		items[i] = NewBatchItem(m)
	}
	writeJSON(w, http.StatusOK, map[string]any{"batches": items})
}

// batch serves GET /v1/batches/{id} (its status) and DELETE (cancel).
func (s *Service) batch(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	switch r.Method {
	case http.MethodGet:
	case http.MethodDelete:
		prev, err := s.cfg.Store.Cancel(r.Context(), id)
		if err != nil {
			s.batchError(w, err)
			return
		}
		if prev == jobs.StateDone {
			writeError(w, http.StatusConflict, codeBatchFinished, "batch "+id+" is done: there is nothing to cancel")
			return
		}
	default:
		methodNotAllowed(w, r, "GET, DELETE")
		return
	}
	st, err := s.status(r, id)
	if err != nil {
		s.batchError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}

// status reads batch id's summary (one read of its ledger) and progress.
// A bulk suggestion request's rows are named as its answer names them,
// "item N: code", rather than by line; once the batch is finished, rows
// never attempted are listed too, as "item N: unprocessed".
func (s *Service) status(r *http.Request, id string) (Status, error) {
	var items itemCodes
	sum, err := report.Build(r.Context(), s.cfg.Store, id, &items)
	if err != nil {
		return Status{}, err
	}
	// Read after the summary, the counts are at least as far on as its
	// state: a batch that the summary calls done has every row done.
	m, err := s.cfg.Store.Get(r.Context(), id)
	if err != nil {
		return Status{}, err
	}
	if m.Source == bulkSource {
		sum.ErrorCodes = []string{}
		for _, o := range items {
			if o.Status == jobs.StatusFailed || m.Finished() {
				sum.ErrorCodes = append(sum.ErrorCodes, itemCode(o))
			}
		}
	}
	return Status{Summary: sum, Done: m.Done, Chunks: m.Chunks, Source: m.Source, Created: m.Created}, nil
}

// itemCodes collects a ledger's rows that did not succeed.
type itemCodes []jobs.Outcome

func (c *itemCodes) Row(o jobs.Outcome) error {
	if !o.OK() {
		*c = append(*c, o)
	}
	return nil
}

func (c *itemCodes) Close() error { return nil }

// results serves GET /v1/batches/{id}/results: one result per row, in
// input order, as CSV (the import --results columns), or as JSON lines
// when Accept asks for application/x-ndjson or application/jsonl.
func (s *Service) results(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		methodNotAllowed(w, r, http.MethodGet)
		return
	}
	id := r.PathValue("id")
	if _, err := s.cfg.Store.State(r.Context(), id); err != nil {
		s.batchError(w, err)
		return
	}
	accept := r.Header.Get("Accept")
	var sink report.Sink
	if strings.Contains(accept, "application/x-ndjson") || strings.Contains(accept, "application/jsonl") {
		w.Header().Set("Content-Type", "application/x-ndjson")
		sink = report.NewResultsJSONL(w)
	} else {
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		w.Header().Set("Content-Disposition", `attachment; filename="`+id+`-results.csv"`)
		sink = report.NewResultsCSV(w)
	}
	// The status is sent with the first row: an error past it can only
	// cut the stream short, which the log tells.
	if _, err := report.Build(r.Context(), s.cfg.Store, id, sink); err != nil && r.Context().Err() == nil {
		s.log.Error("results cut short", "batch", id, "err", err)
	}
}
