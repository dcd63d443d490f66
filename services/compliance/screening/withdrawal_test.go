package screening_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cantondex/platform/services/compliance"
	"github.com/cantondex/platform/services/compliance/screening"
	"github.com/cantondex/platform/services/trading"
)

// sanctionedXBT is listed in the remarks of SDN 25308 (YAN, Xiaobing) in testdata.
const sanctionedXBT = "12QtD5BFwRsdNsAZY76UVE1xyCGNTojH9h"

func testdataSDN(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "ofac_sdn.csv"))
	require.NoError(t, err)
	return b
}

// without drops the SDN lines of the given ids (an older edition of the list).
func without(sdn []byte, ids ...string) []byte {
	var keep []string
	for _, l := range strings.SplitAfter(string(sdn), "\n") {
		drop := false
		for _, id := range ids {
			drop = drop || strings.HasPrefix(l, id+",")
		}
		if !drop {
			keep = append(keep, l)
		}
	}
	return []byte(strings.Join(keep, ""))
}

func verify(t *testing.T, svc *compliance.Service, account string, app compliance.Application) {
	t.Helper()
	ctx := context.Background()
	_, err := svc.Submit(ctx, account, account, app)
	require.NoError(t, err)
	_, err = svc.Approve(ctx, "officer", account, compliance.LevelBasic, "documents match")
	require.NoError(t, err)
}

func person(name string) compliance.Application {
	return compliance.Application{LegalName: name, DateOfBirth: "1977-03-25", Nationality: "CN", Address: "1 Main St"}
}

type caseEvidence struct {
	Trigger    string            `json:"trigger"`
	Hit        compliance.Hit    `json:"hit"`
	Withdrawal map[string]string `json:"withdrawal"`
	ListUpdate map[string]any    `json:"list_update"`
}

func evidenceOf(t *testing.T, c compliance.Case) caseEvidence {
	t.Helper()
	var ev caseEvidence
	require.NoError(t, json.Unmarshal(c.Evidence, &ev))
	return ev
}

func auditKinds(t *testing.T, store *compliance.Memory) []string {
	t.Helper()
	var kinds []string
	require.NoError(t, store.Entries(context.Background(), 1, 0, func(e compliance.Entry) error { kinds = append(kinds, e.Kind); return nil }))
	return kinds
}

// A withdrawal to an address the SDN list names opens a case and is refused; so is every
// withdrawal of the account while the case is open, through the ledger's gate as well; once an
// officer dismisses it, the account withdraws again.
func TestWithdrawalToAListedAddressIsBlockedUntilCleared(t *testing.T) {
	ctx := context.Background()
	entries, err := screening.LoadOFAC(strings.NewReader(string(testdataSDN(t))), nil, nil)
	require.NoError(t, err)
	store := compliance.NewMemory()
	svc := compliance.New(store, screening.Screener{Index: screening.NewIndex(entries), MinScore: 0.85}, compliance.DefaultLimits())
	cases := compliance.NewCases(store)
	svc.SetCases(cases)
	verify(t, svc, "alice", compliance.Application{LegalName: "Alice Example", DateOfBirth: "1990-04-01", Nationality: "DE", Address: "Berlin"})

	require.NoError(t, svc.ScreenWithdrawal(ctx, "admin", "w1", "alice", "BTC", "bc1qcleanaddress0000000000000000000000000"))
	require.NoError(t, svc.ScreenWithdrawal(ctx, "admin", "w2", "alice", "USD", ""))
	assert.Equal(t, trading.EINVALID, trading.ErrorCode(svc.ScreenWithdrawal(ctx, "admin", "w3", "alice", "BTC", "bad address")))

	blocked := svc.ScreenWithdrawal(ctx, "admin", "w4", "alice", "BTC", sanctionedXBT)
	require.Equal(t, trading.EFORBIDDEN, trading.ErrorCode(blocked), "%v", blocked)
	assert.Contains(t, blocked.Error(), "withdrawal blocked")
	open, err := cases.List(ctx, compliance.CaseOpen, 10)
	require.NoError(t, err)
	require.Len(t, open, 1)
	ev := evidenceOf(t, open[0])
	assert.Equal(t, compliance.TriggerWithdrawal, ev.Trigger)
	assert.Equal(t, "ofac:25308", ev.Hit.EntryID)
	assert.Equal(t, sanctionedXBT, ev.Hit.Address)
	require.NotNil(t, ev.Hit.Entry, "the list entry as published")
	assert.Equal(t, []string{"SDNTK"}, ev.Hit.Entry.Programs)
	assert.Contains(t, ev.Hit.Entry.Addresses, sanctionedXBT)
	assert.Equal(t, "w4", ev.Withdrawal["id"])
	assert.Contains(t, blocked.Error(), open[0].ID)

	// Held while open, whatever the destination, on the API's path and at the ledger's gate.
	err = svc.ScreenWithdrawal(ctx, "admin", "w5", "alice", "USD", "")
	assert.Equal(t, trading.EFORBIDDEN, trading.ErrorCode(err))
	assert.Equal(t, trading.EFORBIDDEN, trading.ErrorCode(svc.CheckWithdraw(ctx, "alice", "USD", 1)))
	_, err = cases.Escalate(ctx, "officer", open[0].ID, "looks like a match")
	require.NoError(t, err)
	assert.Equal(t, trading.EFORBIDDEN, trading.ErrorCode(svc.CheckWithdraw(ctx, "alice", "USD", 1)), "escalated is not cleared")
	all, err := cases.List(ctx, "", 10)
	require.NoError(t, err)
	assert.Len(t, all, 1, "the same hit opens no second case")

	_, err = cases.Dismiss(ctx, "officer", open[0].ID, "address belongs to an exchange's hot wallet the entry once used; verified")
	require.NoError(t, err)
	require.NoError(t, svc.ScreenWithdrawal(ctx, "admin", "w6", "alice", "USD", ""))
	require.NoError(t, svc.CheckWithdraw(ctx, "alice", "USD", 1))
	kinds := auditKinds(t, store)
	assert.Contains(t, kinds, "withdrawal.blocked")
	assert.Contains(t, kinds, "case.dismissed")
}

// The account holder's names are screened at each withdrawal: a holder verified before the
// list named them is stopped at their first withdrawal.
func TestWithdrawalScreensTheHoldersNames(t *testing.T) {
	ctx := context.Background()
	entries, err := screening.LoadOFAC(strings.NewReader(string(testdataSDN(t))), nil, nil)
	require.NoError(t, err)
	store := compliance.NewMemory()
	cases := compliance.NewCases(store)
	before := compliance.New(store, nil, compliance.DefaultLimits()) // verified without screening
	before.SetCases(cases)
	verify(t, before, "yan", person("Xiaobing Yan"))
	require.NoError(t, before.ScreenWithdrawal(ctx, "admin", "w0", "yan", "USD", ""), "no screener, no case")

	svc := compliance.New(store, screening.Screener{Index: screening.NewIndex(entries), MinScore: 0.85}, compliance.DefaultLimits())
	svc.SetCases(cases)
	err = svc.ScreenWithdrawal(ctx, "admin", "w1", "yan", "USD", "")
	require.Equal(t, trading.EFORBIDDEN, trading.ErrorCode(err), "%v", err)
	cs, err := cases.List(ctx, compliance.CaseOpen, 10)
	require.NoError(t, err)
	require.Len(t, cs, 1)
	ev := evidenceOf(t, cs[0])
	assert.Equal(t, "ofac:25308", ev.Hit.EntryID)
	assert.Equal(t, "Xiaobing Yan", ev.Hit.Screened)
	assert.Empty(t, ev.Hit.Address)
	assert.Equal(t, "yan", cs[0].Subject)
}

// olderEdition writes the testdata SDN list without entry 25308 (YAN, Xiaobing) and watches
// it; full is the current edition.
func olderEdition(t *testing.T) (list string, full []byte, w *screening.Watcher, store *compliance.Memory, svc *compliance.Service) {
	t.Helper()
	list = filepath.Join(t.TempDir(), "sdn.csv")
	full = testdataSDN(t)
	require.NoError(t, os.WriteFile(list, without(full, "25308"), 0o600))
	w, err := screening.NewWatcher(screening.Source{Format: screening.FormatOFAC, Path: list}, 0.85)
	require.NoError(t, err)
	store = compliance.NewMemory()
	return list, full, w, store, compliance.New(store, w, compliance.DefaultLimits())
}

// A list update re-screens every account against the entries it added or changed only: the
// account the new entry names gets a case, the others none; the same update again opens
// nothing; the run is audited.
func TestListUpdateRescreensAgainstTheDelta(t *testing.T) {
	ctx := context.Background()
	list, full, w, store, svc := olderEdition(t)
	cases := compliance.NewCases(store)
	svc.SetCases(cases)
	verify(t, svc, "yan", person("Xiaobing Yan"))
	verify(t, svc, "abbas", person("Abu Abbas")) // listed before: screened at KYC already
	verify(t, svc, "alice", compliance.Application{LegalName: "Alice Example", DateOfBirth: "1990-04-01", Nationality: "DE", Address: "Berlin"})
	before, err := cases.List(ctx, "", 10)
	require.NoError(t, err)

	delta, changed, err := w.Reload()
	require.NoError(t, err)
	assert.False(t, changed, "same content: no update")
	assert.Empty(t, delta)

	require.NoError(t, os.WriteFile(list, full, 0o600))
	delta, changed, err = w.Reload()
	require.NoError(t, err)
	require.True(t, changed)
	require.Len(t, delta, 1)
	assert.Equal(t, "ofac:25308", delta[0].ID)
	require.NotEmpty(t, w.ScreenName("Xiaobing Yan", "", ""), "KYC and withdrawals screen against the new list at once")

	res, err := svc.Rescreen(ctx, screening.Screener{Index: screening.NewIndex(delta), MinScore: 0.85}, map[string]any{"digest": w.Digest()})
	require.NoError(t, err)
	assert.Equal(t, 3, res.Accounts)
	require.Len(t, res.Opened, 1)
	c, err := cases.Get(ctx, res.Opened[0])
	require.NoError(t, err)
	assert.Equal(t, "yan", c.Subject)
	ev := evidenceOf(t, c)
	assert.Equal(t, compliance.TriggerListUpdate, ev.Trigger)
	assert.Equal(t, "ofac:25308", ev.Hit.EntryID)
	assert.Equal(t, w.Digest(), ev.ListUpdate["digest"])
	after, err := cases.List(ctx, "", 10)
	require.NoError(t, err)
	assert.Len(t, after, len(before)+1, "only the new entry's hit")

	res, err = svc.Rescreen(ctx, screening.Screener{Index: screening.NewIndex(delta), MinScore: 0.85}, nil)
	require.NoError(t, err)
	assert.Empty(t, res.Opened, "idempotent")
	assert.Contains(t, auditKinds(t, store), "screening.rescreen")
	assert.Equal(t, trading.EFORBIDDEN, trading.ErrorCode(svc.CheckWithdraw(ctx, "yan", "USD", 1)), "the new case holds withdrawals")
}

// Watch notices a replaced list file and re-screens on its own; a list that fails to load
// keeps the previous one.
func TestWatchReloadsAReplacedList(t *testing.T) {
	list, full, w, store, svc := olderEdition(t)
	dir := filepath.Dir(list)
	w.Interval = 20 * time.Millisecond
	svc.SetCases(compliance.NewCases(store))
	verify(t, svc, "yan", person("Xiaobing Yan"))

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Watch(ctx, slog.New(slog.NewTextHandler(io.Discard, nil)), svc.Rescreen) }()

	require.NoError(t, os.WriteFile(list, []byte("not,a\n\"broken"), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "next.csv"), full, 0o600))
	require.NoError(t, os.Rename(filepath.Join(dir, "next.csv"), list))
	require.Eventually(t, func() bool {
		cs, err := store.CasesOf(context.Background(), "yan")
		return err == nil && len(cs) == 1
	}, 10*time.Second, 10*time.Millisecond)
	cancel()
	require.NoError(t, <-done)
}

// On the real OFAC snapshot ($SCREENING_OFAC_DIR): every digital currency address of the
// SDN remarks is found by exact match, and only its entries; an edition with entries removed
// and one changed yields exactly those as the delta of the full one.
func TestRealSDNAddressesAndDelta(t *testing.T) {
	dir := screening.OFACDir(t)
	entries, err := screening.LoadFiles(screening.FormatOFAC, filepath.Join(dir, "sdn.csv"), filepath.Join(dir, "alt.csv"), "")
	require.NoError(t, err)
	sc := screening.Screener{Index: screening.NewIndex(entries), MinScore: 0.85}
	var withAddr, addrs int
	for _, e := range entries {
		if len(e.Addresses) > 0 {
			withAddr++
		}
		for _, a := range e.Addresses {
			addrs++
			hits := sc.ScreenAddress(a)
			require.NotEmpty(t, hits, "address %s of %s", a, e.ID)
			found := false
			for _, h := range hits {
				assert.Contains(t, h.Entry.Addresses, a)
				found = found || h.EntryID == e.ID
			}
			assert.True(t, found, "address %s names %s", a, e.ID)
			assert.Empty(t, sc.ScreenAddress(strings.ToLower(a[:len(a)-1])+"x"), "no fuzzy address match")
		}
	}
	require.NotZero(t, addrs, "the snapshot lists digital currency addresses")
	t.Logf("%d entries, %d with %d digital currency addresses", len(entries), withAddr, addrs)

	older := append([]screening.Entry(nil), entries[100:]...)
	older[0].Aliases = append([]string{"SOMEONE ELSE"}, older[0].Aliases...)
	delta := screening.Delta(older, entries)
	require.Len(t, delta, 101)
	assert.Equal(t, entries[0].ID, delta[0].ID)
	assert.Equal(t, entries[100].ID, delta[100].ID, "the changed entry")
}
