package service

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/bulksync/bulksync/importers"
	"github.com/bulksync/bulksync/ingest"
	"github.com/bulksync/bulksync/jobs"
)

// BulkPath is the path of the Data Manager's bulk suggestion endpoint,
// which the service stands behind.
const BulkPath = "/api/catalog/suggestions/program/manage/bulk/"

// DRF's messages, as the Data Manager words its field errors.
const (
	msgRequired   = "This field is required."
	msgBlank      = "This field may not be blank."
	msgNotString  = "Not a valid string."
	msgNotBoolean = "Must be a valid boolean."
	msgSamePlat   = "All items must belong to platform_key."
)

// BulkAnswer is the Data Manager's answer to a bulk suggestion request
// (seed 002): how many items succeeded, and one "item N: code" entry per
// item that did not (N counts from 0, in request order).
type BulkAnswer struct {
	Successes  int      `json:"successes"`
	ErrorCodes []string `json:"error_codes"`
}

// Accepted is the answer of a request whose batch goes on after it: 202,
// with a Location header naming GET /v1/batches/{id}.
type Accepted struct {
	BatchID  string `json:"batch_id"`
	State    string `json:"state"`
	Existing bool   `json:"existing,omitempty"` // the request's batch existed before it
}

// bulkRequest is what the top level of a bulk suggestion request said;
// its items are spooled as NDJSON, one a line.
type bulkRequest struct {
	platformKey    *string
	platformOrg    *string
	departmentMode *bool
	sawItems       bool
	items          int
	itemPlatforms  map[string]bool // the distinct platform_key values items carry
	fieldErrs      map[string][]string
}

// bulk serves POST BulkPath: the items become a program-suggestions batch
// applied through the single create-or-update call; the answer is seed
// 002's, once the batch is done, for up to SyncLimit items.
func (s *Service) bulk(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		methodNotAllowed(w, r, http.MethodPost)
		return
	}
	ctx := r.Context()
	// A keyed retry is answered before its body is read.
	if id, ok, err := s.idempotent(ctx, r); err != nil {
		s.internal(w, err)
		return
	} else if ok {
		s.answerBulk(w, r, id, true)
		return
	}
	body := http.MaxBytesReader(w, r.Body, s.cfg.MaxUpload)
	sp, err := newSpool(s.cfg.SpoolDir)
	if err != nil {
		s.internal(w, err)
		return
	}
	defer sp.remove()
	req, err := readBulk(body, sp.f)
	switch {
	case tooLarge(err):
		writeTooLarge(w, s.cfg.MaxUpload)
		return
	case err != nil:
		writeError(w, http.StatusBadRequest, codeInvalidJSON, "JSON parse error - "+err.Error())
		return
	case len(req.fieldErrs) > 0:
		writeFieldErrors(w, req.fieldErrs)
		return
	}
	if req.items == 0 {
		writeJSON(w, http.StatusOK, BulkAnswer{ErrorCodes: []string{}})
		return
	}
	extra := map[string]any{}
	if req.platformOrg != nil && *req.platformOrg != "" {
		extra["platform_org"] = *req.platformOrg
	}
	if req.departmentMode != nil {
		extra["department_mode"] = *req.departmentMode
	}
	opts := ingest.Options{
		Reader: importers.Options{
			Kind: importers.ProgramSuggestions, Format: importers.FormatJSON,
			Defaults: map[string]string{"platform_key": *req.platformKey},
		},
		Source: bulkSource,
		Queue:  s.cfg.BulkQueue,
		Single: true,
	}
	if len(extra) > 0 {
		opts.Extra, _ = json.Marshal(extra) // sorted keys: the same request gives the same batch id
	}
	res, err := ingest.Import(ctx, sp.open, s.cfg.Store, s.cfg.Queue, opts)
	var fe *importers.FileError
	switch {
	case errors.As(err, &fe):
		writeFieldErrors(w, map[string][]string{"suggestion_data": {fe.Error()}})
		return
	case err != nil:
		s.internal(w, err)
		return
	}
	id, err := s.remember(ctx, r, res.Meta.ID)
	if err != nil {
		s.internal(w, err)
		return
	}
	if id != res.Meta.ID {
		s.withdraw(ctx, res.Meta.ID, res.Existing)
	}
	s.answerBulk(w, r, id, res.Existing || id != res.Meta.ID)
}

// answerBulk answers for batch id: seed 002's answer once it is done when
// it has at most SyncLimit rows and ends within SyncTimeout, else 202.
func (s *Service) answerBulk(w http.ResponseWriter, r *http.Request, id string, existing bool) {
	ctx := r.Context()
	m, err := s.cfg.Store.Get(ctx, id)
	if err != nil {
		s.batchError(w, err)
		return
	}
	if m.Total <= s.cfg.SyncLimit && !m.Finished() {
		m, err = s.wait(ctx, id)
		if err != nil && ctx.Err() != nil {
			return // the client is gone
		}
		if err != nil {
			s.batchError(w, err)
			return
		}
	}
	if !m.Finished() || m.Total > s.cfg.SyncLimit {
		writeAccepted(w, m, existing)
		return
	}
	ans, err := bulkAnswer(ctx, s.cfg.Store, id)
	if err != nil {
		s.internal(w, err)
		return
	}
	writeJSON(w, http.StatusOK, ans)
}

// wait waits up to SyncTimeout for batch id to finish, or until Stop. It
// returns the batch as it last saw it.
func (s *Service) wait(ctx context.Context, id string) (jobs.Meta, error) {
	wctx, cancel := context.WithTimeout(ctx, s.cfg.SyncTimeout)
	defer cancel()
	go func() {
		select {
		case <-s.stopping:
			cancel()
		case <-wctx.Done():
		}
	}()
	m, err := ingest.Wait(wctx, s.cfg.Store, id, s.cfg.PollEvery, nil)
	if err != nil && wctx.Err() != nil && ctx.Err() == nil {
		return m, nil // the wait is over, not the request: answer 202
	}
	return m, err
}

// bulkSource is the source of the batches of bulk suggestion requests.
const bulkSource = "bulk suggestion request"

// itemCode is the "item N: code" entry of a bulk request's row that did
// not succeed: N its index in the request from 0; a row never attempted (a
// cancelled or halted batch) has the code unprocessed.
func itemCode(o jobs.Outcome) string {
	code := o.ErrorCode
	if o.Status != jobs.StatusFailed {
		code = jobs.StatusUnprocessed
	}
	return "item " + strconv.Itoa(o.Row-1) + ": " + code
}

// bulkAnswer reads a finished batch's ledger into seed 002's answer:
// each row that did not succeed is "item N: code", N its index in the
// request from 0; a row never attempted (a cancelled or halted batch) has
// the code unprocessed.
func bulkAnswer(ctx context.Context, store *jobs.Store, id string) (BulkAnswer, error) {
	ans := BulkAnswer{ErrorCodes: []string{}}
	err := store.Ledger(ctx, id, func(o jobs.Outcome) error {
		if o.Status == jobs.StatusOK {
			ans.Successes++
		} else {
			ans.ErrorCodes = append(ans.ErrorCodes, itemCode(o))
		}
		return nil
	})
	return ans, err
}

// writeAccepted answers 202 for a batch that goes on.
func writeAccepted(w http.ResponseWriter, m jobs.Meta, existing bool) {
	w.Header().Set("Location", "/v1/batches/"+m.ID)
	writeJSON(w, http.StatusAccepted, Accepted{BatchID: m.ID, State: m.State, Existing: existing})
}

// readBulk reads a bulk suggestion request's body as a stream: its
// top-level fields are checked as the Data Manager's serializer checks
// them, and each suggestion_data item goes to items as one compact JSON
// line, unvalidated (the importers' schema judges it). A body that is not
// JSON is an error; fields that are wrong are fieldErrs.
func readBulk(body io.Reader, items io.Writer) (bulkRequest, error) {
	req := bulkRequest{fieldErrs: map[string][]string{}, itemPlatforms: map[string]bool{}}
	dec := json.NewDecoder(body)
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return req, err
	}
	if tok != json.Delim('{') {
		req.fieldErrs["non_field_errors"] = []string{fmt.Sprintf("Invalid data. Expected a dictionary, but got %s.", jsonType(tok))}
		return req, nil
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return req, err
		}
		key, _ := tok.(string)
		switch key {
		case "platform_key", "platform_org":
			var v any
			if err := dec.Decode(&v); err != nil {
				return req, err
			}
			str, ok := v.(string)
			if !ok && v != nil {
				req.fieldErrs[key] = []string{msgNotString}
				continue
			}
			if key == "platform_key" {
				req.platformKey = &str
			} else {
				req.platformOrg = &str
			}
		case "department_mode":
			var v any
			if err := dec.Decode(&v); err != nil {
				return req, err
			}
			b, ok := v.(bool)
			if str, isStr := v.(string); isStr {
				b, err = strconv.ParseBool(str)
				ok = err == nil
			}
			if !ok {
				req.fieldErrs[key] = []string{msgNotBoolean}
				continue
			}
			req.departmentMode = &b
		case "suggestion_data":
			if err := req.readItems(dec, items); err != nil {
				return req, err
			}
		default:
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return req, err
			}
		}
	}
	if _, err := dec.Token(); err != nil {
		return req, err
	}
	// Anything but white space after the object is not JSON (Python's
	// json.loads, behind DRF's parser, calls it "Extra data").
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		if err == nil {
			err = fmt.Errorf("extra data after the JSON object at offset %d", dec.InputOffset())
		}
		return req, err
	}
	switch {
	case req.platformKey == nil && req.fieldErrs["platform_key"] == nil:
		req.fieldErrs["platform_key"] = []string{msgRequired}
	case req.platformKey != nil && *req.platformKey == "":
		req.fieldErrs["platform_key"] = []string{msgBlank}
	case req.platformKey != nil:
		for p := range req.itemPlatforms {
			if p != *req.platformKey {
				req.fieldErrs["suggestion_data"] = []string{msgSamePlat}
			}
		}
	}
	if !req.sawItems && req.fieldErrs["suggestion_data"] == nil {
		req.fieldErrs["suggestion_data"] = []string{msgRequired}
	}
	return req, nil
}

// readItems reads the suggestion_data value: a list whose items are
// written to items, one compact JSON value a line.
func (req *bulkRequest) readItems(dec *json.Decoder, items io.Writer) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if tok != json.Delim('[') {
		req.fieldErrs["suggestion_data"] = []string{fmt.Sprintf("Expected a list of items but got type %q.", jsonType(tok))}
		return skipRest(dec, tok)
	}
	req.sawItems = true
	var raw json.RawMessage
	var line bytes.Buffer
	for dec.More() {
		raw = raw[:0]
		if err := dec.Decode(&raw); err != nil {
			return err
		}
		line.Reset()
		if err := json.Compact(&line, raw); err != nil {
			return err
		}
		line.WriteByte('\n')
		if _, err := items.Write(line.Bytes()); err != nil {
			return err
		}
		req.items++
		var it struct {
			PlatformKey string `json:"platform_key"`
		}
		// An item that is not an object, or whose platform_key is not a
		// string, is the schema's to report.
		if json.Unmarshal(raw, &it) == nil && it.PlatformKey != "" && len(req.itemPlatforms) < 2 {
			req.itemPlatforms[it.PlatformKey] = true
		}
	}
	_, err = dec.Token() // ']'
	return err
}

// skipRest reads past the value that tok opened (nothing more for a
// scalar).
func skipRest(dec *json.Decoder, tok json.Token) error {
	depth := 0
	if d, ok := tok.(json.Delim); ok && (d == '{' || d == '[') {
		depth = 1
	}
	for depth > 0 {
		t, err := dec.Token()
		if err != nil {
			return err
		}
		switch t {
		case json.Delim('{'), json.Delim('['):
			depth++
		case json.Delim('}'), json.Delim(']'):
			depth--
		}
	}
	return nil
}

// jsonType names a JSON token's type as DRF does ("list", "dict", "str").
func jsonType(tok json.Token) string {
	switch t := tok.(type) {
	case json.Delim:
		if t == '[' {
			return "list"
		}
		return "dict"
	case string:
		return "str"
	case json.Number:
		return "int"
	case bool:
		return "bool"
	}
	return "NoneType"
}

// internal logs err and answers 500.
func (s *Service) internal(w http.ResponseWriter, err error) {
	s.log.Error("request failed", "err", err)
	writeError(w, http.StatusInternalServerError, codeInternal, "internal error: "+err.Error())
}

// batchError answers for an error reading a batch: 404 for an unknown one.
func (s *Service) batchError(w http.ResponseWriter, err error) {
	if errors.Is(err, jobs.ErrBatchNotFound) {
		writeError(w, http.StatusNotFound, codeNotFound, err.Error())
		return
	}
	s.internal(w, err)
}
