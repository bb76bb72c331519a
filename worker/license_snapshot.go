package worker

import (
	"context"
	"errors"

	"github.com/bulksync/bulksync/dmapi"
)

// licenseSnapshot is a platform's licenses of one family by external_id,
// read once per batch by paging through the list endpoint. A row's first
// look-up then costs no request: a fresh import sends one request per row
// (the create), an unchanged re-import about one per thousand rows.
//
// A snapshot is only used for a row's first look-up: a row that retries
// looks itself up afresh, because its own earlier write (whose answer was
// lost) is newer than the snapshot. A row whose license another writer
// created after the snapshot gets a 400 on create and falls back to the
// look-up, so a stale snapshot costs a request, never a duplicate.
type licenseSnapshot struct {
	byID map[string]*dmapi.License
}

// size is the number of licenses s holds, for the cache's limit.
func (s *licenseSnapshot) size() int {
	if s == nil {
		return 0
	}
	return len(s.byID)
}

// licenseSnapshotKey names a platform's licenses of one family as seen by
// one batch.
type licenseSnapshotKey struct {
	batch, platform string
	kind            dmapi.LicenseKind
}

// licenseSnapshot returns the batch's snapshot of key's licenses, reading
// it on first use, or nil when there is none: the platform has more than
// maxSnapshot licenses, paging would cost more than looking the batch's
// rows up one by one (more pages than rows), or the list could not be
// read. A read cut short by ctx or by an API outage is not kept, so that
// a later chunk reads it again; another failure is kept as "no snapshot"
// for the batch, so that its rows do not each try again.
func (w *Worker) licenseSnapshot(ctx context.Context, key licenseSnapshotKey, rows int) *licenseSnapshot {
	// The only errors are ctx's and the outage's, which the row's own
	// calls meet next.
	snap, _ := w.caches.licenseSnapshots.get(ctx, key, func() (*licenseSnapshot, error) {
		s := &licenseSnapshot{byID: map[string]*dmapi.License{}}
		// More pages than rows is a count over rows full pages.
		limit := min(maxSnapshot, max(rows, 1)*listPageSize)
		err := dmapi.Each(ctx, limit, retried(w, func(ctx context.Context, page int) (dmapi.Page[dmapi.License], error) {
			return w.api.ListLicenses(ctx, key.kind, dmapi.ListOptions{PlatformKey: key.platform, Page: page, PageSize: listPageSize})
		}), func(l *dmapi.License) bool {
			if l.ExternalID != nil {
				s.byID[*l.ExternalID] = l
			}
			return true
		})
		switch {
		case errors.Is(err, dmapi.ErrTooMany):
			return nil, nil
		case ctx.Err() != nil:
			return nil, ctx.Err()
		case errors.Is(err, errUnavailable):
			return nil, err
		case err != nil:
			w.log.Warn("license snapshot unavailable; looking rows up one by one", "batch", key.batch, "platform", key.platform, "err", err)
			return nil, nil
		}
		return s, nil
	})
	return snap
}
