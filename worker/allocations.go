package worker

import (
	"context"
	"strings"

	"github.com/bulksync/bulksync/jobs"
)

// allocationRow is a row of the uipath-group-licenses kind.
type allocationRow struct {
	AccountID          string   `json:"account_id"`
	GroupID            string   `json:"group_id"`
	UserBundleCodes    []string `json:"user_bundle_codes"`
	UseExternalLicense bool     `json:"use_external_license"`
}

// applyAllocation sets a UiPath group's user bundle codes. The PUT replaces
// the group's whole allocation, so it is safe to repeat; UiPath documents
// no call to read an allocation, so there is no look-up: every run sends
// the PUT and reports "applied" (dry runs: "apply").
func (w *Worker) applyAllocation(ctx context.Context, c *chunkInfo, row jobs.ChunkRow) (jobs.Outcome, error) {
	var d allocationRow
	out, ok := decodeRow(row, &d)
	if !ok {
		return out, nil
	}
	codes := strings.Join(d.UserBundleCodes, ", ")
	switch {
	case w.uipath == nil:
		out.Status, out.Action, out.ErrorCode = jobs.StatusFailed, jobs.ActionSkipped, jobs.CodeNotConfigured
		out.Message = "UiPath is not configured: set UIPATH_URL and its credentials (UIPATH_CLIENT_ID and UIPATH_CLIENT_SECRET, or UIPATH_USERNAME, UIPATH_PASSWORD and UIPATH_TENANT)"
		return out, nil
	case c.DryRun:
		out.Status, out.Action, out.Attempts = jobs.StatusOK, jobs.ActionApply, 1
		out.Message = "would allocate " + codes
		return out, nil
	}
	attempts, err := w.retry(ctx, func() error {
		_, err := w.uipath.AllocateGroup(ctx, d.AccountID, d.GroupID, d.UserBundleCodes, d.UseExternalLicense)
		return err
	})
	out.Action, out.Message = jobs.ActionApplied, "allocated "+codes
	return finish(ctx, out, attempts, err)
}
