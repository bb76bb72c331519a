package worker

import (
	"fmt"

	"github.com/bulksync/bulksync/dmapi"
	"github.com/bulksync/bulksync/importers"
	"github.com/bulksync/bulksync/jobs"
)

// registration is a kind in the registry: the applier of its rows (its
// schema is importers.Lookup(kind)), and whether its writes carry the
// row's transaction_id.
type registration struct {
	kind    importers.Kind
	applier func(w *Worker) chunkFunc
	sendsTx bool
}

// registry lists every kind the worker applies. Adding a kind takes its
// schema in importers.Schemas, its applier, and one entry here; New
// refuses to start when the two lists disagree.
func registry() []registration {
	return []registration{
		{importers.ProgramLicenses, func(w *Worker) chunkFunc { return w.licenseChunks(dmapi.ProgramLicense) }, true},
		{importers.UserLicenses, func(w *Worker) chunkFunc { return w.licenseChunks(dmapi.UserLicense) }, true},
		{importers.ProgramGroupAssignments, func(w *Worker) chunkFunc { return perRow(w.assignmentApplier(dmapi.ProgramLicense, groupSubject)) }, false},
		{importers.UserGroupAssignments, func(w *Worker) chunkFunc { return perRow(w.assignmentApplier(dmapi.UserLicense, groupSubject)) }, false},
		{importers.ProgramUserAssignments, func(w *Worker) chunkFunc { return perRow(w.assignmentApplier(dmapi.ProgramLicense, userSubject)) }, false},
		{importers.UserUserAssignments, func(w *Worker) chunkFunc { return perRow(w.assignmentApplier(dmapi.UserLicense, userSubject)) }, false},
		{importers.ProgramSuggestions, func(w *Worker) chunkFunc { return w.applySuggestions }, false},
		{importers.GroupSuggestions, func(w *Worker) chunkFunc { return perRow(w.applyGroupSuggestion) }, false},
		{importers.Issuers, func(w *Worker) chunkFunc { return perRow(w.applyIssuer) }, false},
		{importers.UiPathGroupLicenses, func(w *Worker) chunkFunc { return perRow(w.applyAllocation) }, false},
	}
}

// register fills w's appliers from the registry. It fails when a kind of
// importers.Schemas has no applier, or an applier no schema.
func (w *Worker) register() error {
	w.apply = map[string]chunkFunc{}
	w.sendsTx = map[string]bool{}
	for _, r := range registry() {
		if _, err := importers.Lookup(r.kind); err != nil {
			return fmt.Errorf("worker: the applier of %q has no schema: %w", r.kind, err)
		}
		w.apply[string(r.kind)] = r.applier(w)
		w.sendsTx[string(r.kind)] = r.sendsTx
	}
	for _, s := range importers.Schemas() {
		if _, ok := w.apply[string(s.Kind)]; !ok {
			return fmt.Errorf("worker: kind %q has a schema but no applier", s.Kind)
		}
	}
	return nil
}

// sentTransactionID is the transaction id a row's writes carry: its own
// or the derived one for kinds whose API takes one, else none.
func (w *Worker) sentTransactionID(kind string, row jobs.ChunkRow) string {
	if w.sendsTx[kind] {
		return row.TransactionID
	}
	return ""
}
