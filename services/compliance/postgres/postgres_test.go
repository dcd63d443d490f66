package postgres_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cantondex/platform/services/compliance"
	cpg "github.com/cantondex/platform/services/compliance/postgres"
	"github.com/cantondex/platform/services/postgres/pgtest"
	"github.com/cantondex/platform/services/trading"
)

func TestKYCInPostgreSQL(t *testing.T) {
	ctx := context.Background()
	store := cpg.New(pgtest.New(t, "compliance"))
	svc := compliance.New(store, nil, compliance.DefaultLimits())
	app := compliance.Application{Type: compliance.Entity, LegalName: "Acme Trading GmbH", Nationality: "DE", Address: "Hauptstr. 1",
		BeneficialOwners: []compliance.Owner{{Name: "Bob Owner", DateOfBirth: "1970-01-01", Nationality: "AT", Share: 60}}}
	_, err := svc.Submit(ctx, "acme", "acme", app)
	require.NoError(t, err)
	pending, err := svc.List(ctx, compliance.KYCSubmitted, 10)
	require.NoError(t, err)
	require.Len(t, pending, 1)
	assert.Equal(t, app, pending[0].Application)

	k, err := svc.Approve(ctx, "officer-1", "acme", compliance.LevelEnhanced, "owners verified")
	require.NoError(t, err)
	got, err := svc.KYC(ctx, "acme")
	require.NoError(t, err)
	assert.Equal(t, compliance.KYCVerified, got.Status)
	assert.Equal(t, compliance.LevelEnhanced, got.Level)
	assert.WithinDuration(t, k.ExpiresAt, got.ExpiresAt, time.Microsecond)
	require.NoError(t, svc.CheckTrade(ctx, "acme"))

	// A stale version changes nothing, and appends nothing.
	stale := got
	stale.Status = compliance.KYCRejected
	err = store.SaveKYC(ctx, stale, compliance.Record{Actor: "x", Kind: "kyc.rejected", Subject: "acme"})
	assert.Equal(t, trading.ECONFLICT, trading.ErrorCode(err))
	var kinds []string
	require.NoError(t, store.Entries(ctx, 1, 0, func(e compliance.Entry) error { kinds = append(kinds, e.Kind); return nil }))
	assert.Equal(t, []string{"kyc.submitted", "kyc.under_review", "kyc.verified"}, kinds)
	require.NoError(t, compliance.Verify(ctx, store, &compliance.Verifier{}))

	// Event ids are handled once.
	ev := compliance.Once{ID: "order:new:o1", Records: []compliance.Record{{Actor: "system", Kind: "order.new", Subject: "o1"}}}
	n, err := store.AppendOnce(ctx, []compliance.Once{ev, ev})
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	n, err = store.AppendOnce(ctx, []compliance.Once{ev})
	require.NoError(t, err)
	assert.Zero(t, n, "handled before")
	first, last, err := store.EntriesBetween(ctx, time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
	require.NoError(t, err)
	assert.Equal(t, [2]int64{1, 4}, [2]int64{first, last})
}

func TestCasesInPostgreSQL(t *testing.T) {
	ctx := context.Background()
	store := cpg.New(pgtest.New(t, "cases"))
	cases := compliance.NewCases(store)
	c, err := cases.Open(ctx, "surveillance", "alert:x", "mal", compliance.Alert{Detector: "wash_trade", Account: "mal"})
	require.NoError(t, err)
	created, err := store.OpenCase(ctx, c)
	require.NoError(t, err)
	assert.False(t, created, "once")
	_, err = cases.Assign(ctx, "off", c.ID, "off-2")
	require.NoError(t, err)
	c, err = cases.Determine(ctx, "mlro", c.ID, compliance.SAR, "self-trades")
	require.NoError(t, err)
	got, err := cases.Get(ctx, c.ID)
	require.NoError(t, err)
	assert.Equal(t, compliance.CaseReported, got.Status)
	assert.Equal(t, "off-2", got.Assignee)
	require.NotNil(t, got.Report)
	assert.Equal(t, "wash_trade", got.Report.Activity)
	assert.WithinDuration(t, got.Report.DeterminedAt.Add(compliance.SARDeadline), got.Report.Deadline, time.Microsecond)
	stale := got
	err = store.SaveCase(ctx, stale)
	assert.Equal(t, trading.ECONFLICT, trading.ErrorCode(err))
	_, err = cases.Get(ctx, "case-nope")
	assert.Equal(t, trading.ENOTFOUND, trading.ErrorCode(err))

	// Late events join the evidence without touching the version an officer works on.
	require.NoError(t, store.AddCaseEvents(ctx, c.ID, []byte(`[{"kind":"new","order_id":"o9"}]`), compliance.Record{Actor: "surveillance", Kind: "case.evidence", Subject: c.ID}))
	got2, err := cases.Get(ctx, c.ID)
	require.NoError(t, err)
	assert.Equal(t, got.Version, got2.Version)
	assert.JSONEq(t, `[{"kind":"new","order_id":"o9"}]`, string(mustField(t, got2.Evidence, "events")))
	assert.Equal(t, trading.ENOTFOUND, trading.ErrorCode(store.AddCaseEvents(ctx, "case-nope", []byte(`[]`))))
	require.NoError(t, compliance.Verify(ctx, store, &compliance.Verifier{}))
}

func mustField(t *testing.T, doc []byte, field string) json.RawMessage {
	t.Helper()
	var m map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(doc, &m))
	return m[field]
}

// The screening hold on PostgreSQL: EachKYC walks every record, CasesOf finds the account's
// cases, and the gate refuses a withdrawal while a screening case is open.
func TestScreeningHoldInPostgreSQL(t *testing.T) {
	ctx := context.Background()
	store := cpg.New(pgtest.New(t, "hold"))
	svc := compliance.New(store, nil, compliance.DefaultLimits())
	cases := compliance.NewCases(store)
	svc.SetCases(cases)
	for _, a := range []string{"zed", "amy"} {
		_, err := svc.Submit(ctx, a, a, compliance.Application{LegalName: "Person " + a, DateOfBirth: "1980-01-01", Nationality: "FR", Address: "Paris"})
		require.NoError(t, err)
		_, err = svc.Approve(ctx, "off", a, compliance.LevelBasic, "ok")
		require.NoError(t, err)
	}
	var seen []string
	require.NoError(t, store.EachKYC(ctx, func(k compliance.KYC) error {
		seen = append(seen, k.Account+":"+k.Application.LegalName+":"+string(k.Status))
		return nil
	}))
	assert.Equal(t, []string{"amy:Person amy:verified", "zed:Person zed:verified"}, seen)

	require.NoError(t, svc.CheckWithdraw(ctx, "amy", "USD", 1))
	c, err := cases.Open(ctx, "screening", "hit:amy:ofac:1:name", "amy", map[string]string{"hit": "x"})
	require.NoError(t, err)
	_, err = cases.Open(ctx, "surveillance", "alert:amy", "amy", compliance.Alert{Detector: "spoofing"})
	require.NoError(t, err)
	of, err := store.CasesOf(ctx, "amy")
	require.NoError(t, err)
	assert.Len(t, of, 2)
	none, err := store.CasesOf(ctx, "zed")
	require.NoError(t, err)
	assert.Empty(t, none)
	assert.Equal(t, trading.EFORBIDDEN, trading.ErrorCode(svc.CheckWithdraw(ctx, "amy", "USD", 1)))
	assert.Equal(t, trading.EFORBIDDEN, trading.ErrorCode(svc.ScreenWithdrawal(ctx, "admin", "w1", "amy", "USD", "")))
	require.NoError(t, svc.CheckWithdraw(ctx, "zed", "USD", 1))
	_, err = cases.Dismiss(ctx, "off", c.ID, "not the listed person")
	require.NoError(t, err)
	require.NoError(t, svc.CheckWithdraw(ctx, "amy", "USD", 1), "a surveillance case holds no withdrawal")
	require.NoError(t, compliance.Verify(ctx, store, &compliance.Verifier{}))
}

// AppendOnce from concurrent consumers (two pipelines per call, the chain's lock taken in the
// first) appends each event id once, keeps the chain valid, and a failing batch leaves nothing
// behind: neither its records nor its ids.
func TestAppendOnceConcurrentAndAtomic(t *testing.T) {
	ctx := context.Background()
	db := pgtest.New(t, "compliance_once")
	store := cpg.New(db)
	once := func(id string) compliance.Once {
		return compliance.Once{ID: id, Records: []compliance.Record{{Actor: "system", Kind: "flow.test", Subject: id}}}
	}
	const workers, calls, ids = 4, 25, 50
	pick := func(g, i int) (int, int) { return (g*13 + i) % ids, (g*13 + i + 1) % ids } // overlapping runs that cover every id
	counts := make([]int, workers)
	errs := make(chan error, workers*calls)
	var wg sync.WaitGroup
	for g := range workers {
		wg.Go(func() {
			for i := range calls {
				a, b := pick(g, i)
				n, err := store.AppendOnce(ctx, []compliance.Once{once(fmt.Sprintf("e-%d", a)), once(fmt.Sprintf("e-%d", b))})
				if err != nil {
					errs <- err
					return
				}
				counts[g] += n
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	total := 0
	for _, n := range counts {
		total += n
	}
	subjects := map[string]int{}
	require.NoError(t, store.Entries(ctx, 1, 0, func(e compliance.Entry) error { subjects[e.Subject]++; return nil }))
	assert.Len(t, subjects, ids)
	for s, n := range subjects {
		assert.Equal(t, 1, n, s)
	}
	assert.Equal(t, ids, total, "every id counted new exactly once")
	require.NoError(t, compliance.Verify(ctx, store, &compliance.Verifier{}))

	// A record the chain refuses fails its whole batch: the valid event beside it is neither
	// appended nor marked handled, and no session is left inside the transaction.
	bad := compliance.Once{ID: "bad", Records: []compliance.Record{{Kind: "flow.test", Subject: "no actor"}}}
	_, err := store.AppendOnce(ctx, []compliance.Once{once("good"), bad})
	require.Error(t, err)
	assert.Equal(t, trading.EINVALID, trading.ErrorCode(err))
	var stuck int
	require.NoError(t, db.Pool.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
		WHERE datname = current_database() AND state LIKE 'idle in transaction%'`).Scan(&stuck))
	assert.Zero(t, stuck)
	n, err := store.AppendOnce(ctx, []compliance.Once{once("good")})
	require.NoError(t, err)
	assert.Equal(t, 1, n, "the failed batch marked nothing handled")
	count := 0
	require.NoError(t, store.Entries(ctx, 1, 0, func(compliance.Entry) error { count++; return nil }))
	assert.Equal(t, ids+1, count)
	require.NoError(t, compliance.Verify(ctx, store, &compliance.Verifier{}))
}

// BenchmarkAppendOnce is the flow consumer's write: batches of events, each with one record,
// as the compliance service appends them per Kafka batch. It reports the wall time and the
// database server's CPU (read from /proc) per batch.
func BenchmarkAppendOnce(b *testing.B) {
	for _, batch := range []int{1, 16} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			ctx := context.Background()
			db := pgtest.New(b, "compliance_bench")
			store := cpg.New(db)
			events := make([]compliance.Once, batch)
			user0, sys0, cpuOK := pgtest.BackendsCPU(ctx, db)
			b.ResetTimer()
			for i := range b.N {
				for j := range events {
					id := fmt.Sprintf("order:new:o%d-%d", i, j)
					events[j] = compliance.Once{ID: id, Records: []compliance.Record{{Actor: "acct", Kind: "order.new", Subject: id,
						Payload: json.RawMessage(`{"market":"BTC-USD","side":"buy","price":100,"quantity":10}`)}}}
				}
				n, err := store.AppendOnce(ctx, events)
				require.NoError(b, err)
				require.Equal(b, batch, n)
			}
			b.StopTimer()
			if user1, sys1, ok := pgtest.BackendsCPU(ctx, db); ok && cpuOK {
				b.ReportMetric((user1+sys1-user0-sys0).Seconds()*1e6/float64(b.N), "server-µs/batch")
			}
		})
	}
}
