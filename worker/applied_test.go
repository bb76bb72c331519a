package worker_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"testing"
	"time"

	appliedstate "github.com/bulksync/bulksync/applied"
	"github.com/bulksync/bulksync/dmapi"
	"github.com/bulksync/bulksync/internal/testenv"
	"github.com/bulksync/bulksync/jobs"
	"github.com/bulksync/bulksync/sandbox"
	"github.com/bulksync/bulksync/worker"
	"github.com/stretchr/testify/require"
)

// licenseRow is a program-license row with external_id ext.
func licenseRow(ext string, fields row) row {
	r := row{
		"platform_key": "acme", "program_key": "program-v1:acme+p+2024", "name": ext, "count": 5,
		"started": "2024-01-01T00:00:00Z", "external_id": ext,
	}
	for k, v := range fields {
		r[k] = v
	}
	return r
}

// enqueueLicenses is enqueueRows with each row's key its external_id, as
// ingest makes it.
func (b *bundle) enqueueLicenses(t *testing.T, rows []row) string {
	t.Helper()
	ctx := context.Background()
	meta := jobs.Meta{ID: fmt.Sprintf("lic%d", time.Now().UnixNano()), Kind: "program-licenses", Format: "json", Created: time.Now(), Total: len(rows), Chunks: 1}
	created, err := b.env.Store.Create(ctx, meta)
	require.NoError(t, err)
	require.True(t, created)
	p := jobs.ChunkPayload{BatchID: meta.ID, Kind: meta.Kind}
	for i, r := range rows {
		data, err := json.Marshal(r)
		require.NoError(t, err)
		p.Rows = append(p.Rows, jobs.ChunkRow{Row: i + 1, Line: i + 2, Key: r["external_id"].(string), Data: data})
	}
	require.NoError(t, b.env.Store.AddChunks(ctx, meta.ID, p))
	_, err = b.q.Enqueue(jobs.NewChunkTask(p, b.env.Queue))
	require.NoError(t, err)
	require.NoError(t, b.env.Store.Start(ctx, meta.ID, 1))
	return meta.ID
}

// actions returns the action of each row of a finished batch, in order.
func (b *bundle) actions(t *testing.T, id string, n int) []string {
	t.Helper()
	b.wait(t, id)
	_, byLine := b.ledger(t, id)
	acts := make([]string, n)
	for i := range acts {
		o := byLine[i+2]
		require.Equal(t, jobs.StatusOK, o.Status, "line %d: %+v", i+2, o)
		acts[i] = o.Action
	}
	return acts
}

// seedRow creates the program license of a row through the API.
func seedRow(t *testing.T, api *dmapi.Client, r row) {
	t.Helper()
	body := map[string]any{}
	for k, v := range r {
		body[k] = v
	}
	_, err := api.CreateLicense(context.Background(), dmapi.ProgramLicense, body)
	require.NoError(t, err)
}

// TestUnechoedFieldsSettle: a field the API's answer does not hold
// (enrollment_config) is sent when it changes, once, and then compared
// with what was applied.
func TestUnechoedFieldsSettle(t *testing.T) {
	t.Parallel()
	b := setup(t, sandbox.Config{})
	b.startWorker(t, b.env.API, worker.Config{})
	cfg := func(tier string) row { return row{"enrollment_config": row{"tier": tier}} }
	phases := []struct {
		name    string
		rows    []row
		actions []string
		delta   writes
		tier    string
	}{
		{"Create", []row{licenseRow("ec-1", cfg("gold")), licenseRow("ec-2", nil)}, []string{created, created}, writes{2, 0, 0}, "gold"},
		{"Rerun", []row{licenseRow("ec-1", cfg("gold")), licenseRow("ec-2", nil)}, []string{unchanged, unchanged}, writes{}, "gold"},
		{"Change", []row{licenseRow("ec-1", cfg("silver")), licenseRow("ec-2", cfg("bronze"))}, []string{updated, updated}, writes{0, 2, 0}, "silver"},
		{"RerunChange", []row{licenseRow("ec-1", cfg("silver")), licenseRow("ec-2", cfg("bronze"))}, []string{unchanged, unchanged}, writes{}, "silver"},
	}
	for _, ph := range phases {
		before := writesOf(b.env.Sandbox.Stats())
		require.Equal(t, ph.actions, b.actions(t, b.enqueueLicenses(t, ph.rows), len(ph.rows)), ph.name)
		require.Equal(t, ph.delta, writesOf(b.env.Sandbox.Stats()).minus(before), ph.name)
		l, ok := b.env.Sandbox.License("program", "ec-1")
		require.True(t, ok)
		require.JSONEq(t, fmt.Sprintf(`{"tier": %q}`, ph.tier), string(l.EnrollmentConfig), ph.name)
	}
}

// TestRedeliveredCreateIsCreated: a create that took effect in a delivery
// killed before its outcome was stored is reported created when the chunk
// comes back, thanks to the write intent stored before it was sent.
func TestRedeliveredCreateIsCreated(t *testing.T) {
	t.Parallel()
	b := setup(t, sandbox.Config{})
	ctx := context.Background()
	r := licenseRow("redelivered", nil)
	existing := licenseRow("existing", nil)
	id := b.enqueueLicenses(t, []row{r, existing})
	seedRow(t, b.env.API, existing)
	// What the killed delivery left: the chunk's start, its intent
	// (naming this run of the batch and the row), and the license it
	// created.
	meta, err := b.env.Store.Get(ctx, id)
	require.NoError(t, err)
	_, first, err := b.env.Store.ChunkStarted(ctx, id, 0)
	require.NoError(t, err)
	require.True(t, first)
	st := appliedstate.NewRedis(b.env.Redis, b.env.Prefix)
	ns := appliedstate.Namespace(b.env.APIURL, "program-licenses")
	require.NoError(t, st.Put(ctx, ns, "redelivered", appliedstate.Record{Intent: id + "@" + strconv.FormatInt(meta.Created.UnixNano(), 36) + "/1"}))
	seedRow(t, b.env.API, r)

	b.startWorker(t, b.env.API, worker.Config{})
	require.Equal(t, []string{created, unchanged}, b.actions(t, id, 2))
}

// TestIgnoredListFilter: against a license list that ignores the
// external_id filter, no wrong write happens: license rows are compared
// with the platform's whole list, and a look-up by external_id whose
// answer lacks the license halts the batch with lookup_unsupported before
// anything is written.
func TestIgnoredListFilter(t *testing.T) {
	t.Parallel()
	b := setup(t, sandbox.Config{IgnoreListFilters: true})
	b.startWorker(t, b.env.API, worker.Config{})
	seedRow(t, b.env.API, licenseRow("seeded-1", nil))
	seedRow(t, b.env.API, licenseRow("seeded-2", nil))

	t.Run("LicensesStayRight", func(t *testing.T) {
		before := writesOf(b.env.Sandbox.Stats())
		rows := []row{licenseRow("fresh-1", nil), licenseRow("seeded-1", nil)}
		require.Equal(t, []string{created, unchanged}, b.actions(t, b.enqueueLicenses(t, rows), 2))
		require.Equal(t, writes{1, 0, 0}, writesOf(b.env.Sandbox.Stats()).minus(before))
	})
	t.Run("LookupHalts", func(t *testing.T) {
		before := writesOf(b.env.Sandbox.Stats())
		// A license the unfiltered answer lacks cannot be told absent.
		id := b.enqueueRows(t, "program-group-assignments", []row{
			{"action": "assign", "platform_key": "acme", "license_external_id": "no-such-license", "group_id": 1},
		}, 1, false)
		meta := b.wait(t, id)
		require.Equal(t, jobs.StateHalted, meta.State)
		require.Contains(t, meta.HaltReason, "external_id filter")
		_, byLine := b.ledger(t, id)
		require.Equal(t, "lookup_unsupported", byLine[2].ErrorCode)
		require.Equal(t, writes{}, writesOf(b.env.Sandbox.Stats()).minus(before))
	})
}

// TestOutagePausesBatch: while the API is down, rows do not fail: the
// breaker opens, chunks go back to the queue, the batch says it is
// waiting, few requests are sent; then every row ends ok, each license
// created once.
func TestOutagePausesBatch(t *testing.T) {
	t.Parallel()
	b := setup(t, sandbox.Config{Latency: 2 * time.Millisecond})
	api, err := dmapi.New(dmapi.Config{BaseURL: b.env.APIURL, Token: testenv.Token, Breaker: dmapi.BreakerConfig{Failures: 5, Cooldown: 500 * time.Millisecond}})
	require.NoError(t, err)
	b.startWorker(t, api, worker.Config{OutageDelay: 300 * time.Millisecond})
	const n = 400
	rows := make([]row, n)
	for i := range rows {
		rows[i] = licenseRow(fmt.Sprintf("out-%d", i), nil)
	}
	outage := 4 * time.Second
	b.env.Sandbox.StartOutage(outage)
	start := b.env.Sandbox.Stats().Requests
	id := b.enqueueRows(t, "program-licenses", rows, 20, false)
	waiting := false
	deadline := time.Now().Add(outage)
	for time.Now().Before(deadline) {
		m, err := b.env.Store.Get(context.Background(), id)
		require.NoError(t, err)
		require.Zero(t, m.Failed, "no row fails during an outage")
		waiting = waiting || m.Waiting != ""
		time.Sleep(50 * time.Millisecond)
	}
	during := b.env.Sandbox.Stats().Requests - start
	require.True(t, waiting, "the batch says it waits for the API")
	require.Less(t, during, int64(60), "requests sent during the outage")
	meta := b.wait(t, id)
	require.Equal(t, n, meta.Successes, "%+v", meta)
	require.Empty(t, meta.Waiting)
	st := b.env.Sandbox.Stats()
	require.Equal(t, n, st.ProgramLicenses)
	require.Equal(t, int64(n), st.Creates)
}
