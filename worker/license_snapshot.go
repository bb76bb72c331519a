package worker

import (
	"context"
	"sync"

	"github.com/bulksync/bulksync/dmapi"
)

// Snapshot limits.
const (
	snapshotPageSize = 1000
	// maxSnapshot is the most licenses a snapshot holds; a platform with
	// more is looked up row by row.
	maxSnapshot = 200_000
	// maxSnapshots is how many snapshots a worker keeps at once (a file
	// may name many platforms); together they hold at most maxSnapshot
	// licenses, the oldest going first.
	maxSnapshots = 64
)

// licenseIndex holds, per batch, license family and platform, a snapshot
// of the platform's licenses by external_id, read once by paging through
// the list endpoint. A row's first look-up then costs no request: a fresh
// import sends one request per row (the create), an unchanged re-import
// about one per thousand rows.
//
// A snapshot is only used for a row's first attempt: a row that retries
// looks itself up afresh, because its own earlier write (whose answer was
// lost) is newer than the snapshot. A row whose license another writer
// created after the snapshot gets a 400 on create and falls back to the
// look-up, so a stale snapshot costs a request, never a duplicate.
type licenseIndex struct {
	mu    sync.Mutex
	snaps map[snapshotKey]*snapshot
	order []snapshotKey // oldest first
}

type snapshotKey struct {
	batch, platform string
	kind            dmapi.LicenseKind
}

type snapshot struct {
	ready  chan struct{} // closed once loaded
	usable bool
	byID   map[string]*dmapi.License
}

func newLicenseIndex() *licenseIndex {
	return &licenseIndex{snaps: map[snapshotKey]*snapshot{}}
}

// get returns the snapshot for key, loading it on first use, or nil when
// paging would cost more than looking up the batch's rows one by one
// (more pages than rows) or the snapshot could not be read.
func (x *licenseIndex) get(ctx context.Context, w *Worker, key snapshotKey, rows int) *snapshot {
	x.mu.Lock()
	s, ok := x.snaps[key]
	if !ok {
		s = &snapshot{ready: make(chan struct{})}
		x.snaps[key] = s
		x.order = append(x.order, key)
	}
	x.mu.Unlock()
	if !ok {
		s.load(ctx, w, key, rows)
		close(s.ready)
		x.trim(key)
	}
	select {
	case <-s.ready:
	case <-ctx.Done():
		return nil
	}
	if !s.usable {
		return nil
	}
	return s
}

// trim drops the oldest snapshots, other than keep, while there are more
// than maxSnapshots or they hold more than maxSnapshot licenses.
func (x *licenseIndex) trim(keep snapshotKey) {
	x.mu.Lock()
	defer x.mu.Unlock()
	held := 0
	for _, s := range x.snaps {
		select {
		case <-s.ready:
			held += len(s.byID)
		default: // still loading
		}
	}
	for i := 0; i < len(x.order) && (len(x.order) > maxSnapshots || held > maxSnapshot); {
		k := x.order[i]
		if k == keep {
			i++
			continue
		}
		select {
		case <-x.snaps[k].ready:
			held -= len(x.snaps[k].byID)
		default:
		}
		delete(x.snaps, k)
		x.order = append(x.order[:i], x.order[i+1:]...)
	}
}

func (s *snapshot) load(ctx context.Context, w *Worker, key snapshotKey, rows int) {
	s.byID = map[string]*dmapi.License{}
	for page := 1; ; page++ {
		var p dmapi.Page[dmapi.License]
		_, err := w.retry(ctx, func() error {
			var err error
			p, err = w.api.ListLicenses(ctx, key.kind, dmapi.ListOptions{PlatformKey: key.platform, Page: page, PageSize: snapshotPageSize})
			return err
		})
		if err != nil {
			if dmapi.StatusOf(err) == 404 && page > 1 {
				break // past the last page
			}
			w.log.Warn("license snapshot unavailable; looking rows up one by one", "batch", key.batch, "platform", key.platform, "err", err)
			return
		}
		if page == 1 {
			pages := (p.Count + snapshotPageSize - 1) / snapshotPageSize
			if p.Count > maxSnapshot || pages > rows {
				return
			}
		}
		for i := range p.Results {
			if l := &p.Results[i]; l.ExternalID != nil {
				s.byID[*l.ExternalID] = l
			}
		}
		if len(p.Results) == 0 || len(s.byID) >= p.Count || !p.HasNext() {
			break
		}
	}
	s.usable = true
}
