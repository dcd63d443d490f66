package compliance_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cantondex/platform/services/compliance"
	"github.com/cantondex/platform/services/trading"
)

func TestCaseLifecycleAndReports(t *testing.T) {
	ctx := context.Background()
	store := compliance.NewMemory()
	cases := compliance.NewCases(store)
	det := time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC)
	cases.SetClock(func() time.Time { return det })
	alert := compliance.Alert{Detector: "spoofing", Account: "mal", Market: "BTC-USD", OrderIDs: []string{"o1", "o2"}, Score: 0.97, Reason: "large bid cancelled after own sell"}
	c, err := cases.Open(ctx, "surveillance", "alert:1", "mal", alert)
	require.NoError(t, err)
	again, err := cases.Open(ctx, "surveillance", "alert:1", "mal", alert)
	require.NoError(t, err)
	assert.Equal(t, c.ID, again.ID, "one case per alert")
	all, err := cases.List(ctx, "", 10)
	require.NoError(t, err)
	assert.Len(t, all, 1)

	_, err = cases.Assign(ctx, "off-1", c.ID, "off-2")
	require.NoError(t, err)
	_, err = cases.Dismiss(ctx, "off-2", c.ID, "")
	assert.Equal(t, trading.EINVALID, trading.ErrorCode(err), "a dismissal needs a reason")
	_, err = cases.Escalate(ctx, "off-2", c.ID, "pattern repeats across sessions")
	require.NoError(t, err)
	_, err = cases.Determine(ctx, "mlro", c.ID, "CTR", "x")
	assert.Equal(t, trading.EINVALID, trading.ErrorCode(err))
	c, err = cases.Determine(ctx, "mlro", c.ID, compliance.SAR, "Account placed and cancelled large bids to move the touch.")
	require.NoError(t, err)
	assert.Equal(t, compliance.CaseReported, c.Status)
	require.NotNil(t, c.Report)
	assert.Equal(t, det.Add(30*24*time.Hour), c.Report.Deadline, "SAR: 30 days from the determination")
	assert.Equal(t, "spoofing", c.Report.Activity)
	_, err = cases.Dismiss(ctx, "off-2", c.ID, "late")
	assert.Equal(t, trading.ECONFLICT, trading.ErrorCode(err), "a reported case is closed")

	x, err := c.Report.XML()
	require.NoError(t, err)
	assert.Contains(t, string(x), `<report type="SAR">`)
	assert.Contains(t, string(x), "<filingDeadline>2026-06-03T10:00:00Z</filingDeadline>")
	assert.Contains(t, string(x), "<account>mal</account>")
	j, err := json.Marshal(c.Report)
	require.NoError(t, err)
	assert.Contains(t, string(j), `"filing_deadline":"2026-06-03T10:00:00Z"`)

	s, err := cases.Open(ctx, "surveillance", "alert:2", "mal", alert)
	require.NoError(t, err)
	s, err = cases.Determine(ctx, "mlro", s.ID, compliance.STOR, "Layering on BTC-USD.")
	require.NoError(t, err)
	assert.Equal(t, det, s.Report.Deadline, "STOR: without delay")

	var kinds []string
	require.NoError(t, store.Entries(ctx, 1, 0, func(e compliance.Entry) error { kinds = append(kinds, e.Kind); return nil }))
	assert.Equal(t, []string{"case.opened", "case.assigned", "case.escalated", "case.reported", "case.opened", "case.reported"}, kinds)
}

func TestScreeningHitOpensACase(t *testing.T) {
	ctx := context.Background()
	store := compliance.NewMemory()
	svc := compliance.New(store, hits{}, compliance.DefaultLimits())
	svc.SetCases(compliance.NewCases(store))
	a := alice()
	a.LegalName = "Bad Actor"
	_, err := svc.Submit(ctx, "bad", "bad", a)
	require.NoError(t, err)
	cs, err := store.ListCases(ctx, compliance.CaseOpen, 10)
	require.NoError(t, err)
	require.Len(t, cs, 1)
	assert.Equal(t, "screening", cs[0].Kind)
	assert.Equal(t, "bad", cs[0].Subject)
	assert.Contains(t, string(cs[0].Evidence), "ofac:1")
}
