package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cantondex/platform/tests/platformtest"
)

func kycApplication(name string) map[string]string {
	return map[string]string{"legal_name": name, "date_of_birth": "1988-02-29", "nationality": "NL", "address": "Damrak 1, Amsterdam"}
}

func wantCode(t *testing.T, r *platformtest.Response, status int, code string) {
	t.Helper()
	require.Equal(t, status, r.Status, "status: %s", r.Body)
	require.Equal(t, code, r.Str("error", "code"), "code: %s", r.Body)
}

// KYC progression: an unverified account cannot trade or withdraw and its deposits are
// capped; submitting is not enough; once an officer approves it trades and withdraws.
func TestKYCProgressionGatesTrading(t *testing.T) {
	p := suite.Shared
	adm := p.Admin(t)
	ivy := suite.RegisterUnverified(t, p, "ivy")
	r := ivy.Do("GET", "/kyc", nil)
	want(t, r, 200)
	assert.Equal(t, "unverified", r.Str("status"))

	wantCode(t, ivy.Do("POST", "/orders", order("BTC-USD", "buy", "29000.00", "0.01", "")), 403, "forbidden")
	wantCode(t, adm.Do("POST", "/admin/deposits", map[string]string{"id": "ivy-big", "account": ivy.ID, "asset": "USD", "amount": "5000"}), 403, "forbidden")
	deposit(t, adm, "ivy-small", ivy.ID, "USD", "500") // within the unverified limit (1,000 USD)
	wantCode(t, adm.Do("POST", "/admin/withdrawals", map[string]string{"id": "ivy-w1", "account": ivy.ID, "asset": "USD", "amount": "1"}), 403, "forbidden")
	assert.Equal(t, bal{"500.000000", "0.000000", "500.000000"}, balances(t, ivy.Client)["USD"])

	wantCode(t, ivy.Do("POST", "/kyc", map[string]string{"legal_name": "Ivy", "nationality": "Netherlands", "address": "x", "date_of_birth": "1988-02-29"}), 400, "invalid")
	r = ivy.Do("POST", "/kyc", kycApplication("Ivy Example"))
	want(t, r, 202)
	assert.Equal(t, "submitted", r.Str("status"))
	wantCode(t, ivy.Do("POST", "/orders", order("BTC-USD", "buy", "29000.00", "0.01", "")), 403, "forbidden")

	// The trader cannot approve themselves; the officer (here the admin) rejects, then
	// approves a resubmission.
	wantCode(t, ivy.Do("POST", "/compliance/kyc/"+ivy.ID+"/approve", map[string]string{"reason": "me"}), 403, "forbidden")
	want(t, adm.Do("POST", "/compliance/kyc/"+ivy.ID+"/review", nil), 200)
	r = adm.Do("POST", "/compliance/kyc/"+ivy.ID+"/reject", map[string]string{"reason": "address unreadable"})
	want(t, r, 200)
	r = ivy.Do("GET", "/kyc", nil)
	assert.Equal(t, "rejected", r.Str("status"))
	assert.Equal(t, "address unreadable", r.Str("reason"))
	want(t, ivy.Do("POST", "/kyc", kycApplication("Ivy Example")), 202)
	r = adm.Do("GET", "/compliance/kyc/"+ivy.ID, nil)
	want(t, r, 200)
	assert.Equal(t, "Ivy Example", r.Str("application", "legal_name"))
	r = adm.Do("POST", "/compliance/kyc/"+ivy.ID+"/approve", map[string]string{"level": "basic", "reason": "passport and utility bill match"})
	want(t, r, 200)
	assert.Equal(t, "verified", r.Str("status"))
	assert.NotEmpty(t, r.Str("expires_at"))

	placed := ivy.Do("POST", "/orders", order("BTC-USD", "buy", "29000.00", "0.01", ""))
	want(t, placed, 201)
	// The compliance consumer records the order command in the trail, with its trader.
	platformtest.Eventually(t, "order in the audit trail", func() bool {
		for _, e := range adm.Do("GET", "/compliance/audit?limit=5000", nil).Items() {
			if e["kind"] == "order.new" && e["subject"] == placed.Str("id") && e["actor"] == ivy.ID {
				return true
			}
		}
		return false
	})
	want(t, adm.Do("POST", "/admin/withdrawals", map[string]string{"id": "ivy-w2", "account": ivy.ID, "asset": "USD", "amount": "1"}), 201)
	deposit(t, adm, "ivy-big-2", ivy.ID, "USD", "5000")

	// The trail holds each transition with its actor.
	r = adm.Do("GET", "/compliance/audit?limit=5000", nil)
	want(t, r, 200)
	var kinds []string
	for _, e := range r.Items() {
		if e["subject"] == ivy.ID {
			kinds = append(kinds, e["kind"].(string))
		}
	}
	assert.Equal(t, []string{"kyc.submitted", "kyc.under_review", "kyc.rejected", "kyc.submitted", "kyc.under_review", "kyc.verified"}, kinds)
}

// Traders never reach the compliance API, not with a session nor with an API key; an
// officer reviews but cannot move funds, administer markets or trade unverified.
func TestComplianceAuthorization(t *testing.T) {
	const officerEmail, officerPassword = "officer@cantondex.test", "officer password long enough"
	p := suite.Start(t, "COMPLIANCE_OFFICER_EMAIL="+officerEmail, "COMPLIANCE_OFFICER_PASSWORD="+officerPassword)
	tr := suite.Register(t, p, "jo")
	key := tr.Do("POST", "/api-keys", map[string]any{"label": "ro", "scopes": []string{"read", "trade"}})
	want(t, key, 201)
	signed := p.Client(t).Signed(key.Str("id"), key.Str("secret"))
	for _, c := range []struct{ method, path string }{
		{"GET", "/compliance/kyc"},
		{"GET", "/compliance/kyc/" + tr.ID},
		{"POST", "/compliance/kyc/" + tr.ID + "/review"},
		{"GET", "/compliance/audit"},
		{"GET", "/compliance/cases"},
		{"GET", "/compliance/cases/case-0000000000000000"},
		{"GET", "/compliance/cases/case-0000000000000000/report"},
	} {
		wantCode(t, tr.Do(c.method, c.path, nil), 403, "forbidden")
		wantCode(t, signed.Do(c.method, c.path, nil), 403, "forbidden")
		wantCode(t, p.Client(t).Do(c.method, c.path, nil), 401, "unauthorized")
	}

	login := p.Client(t).Do("POST", "/auth/login", map[string]string{"email": officerEmail, "password": officerPassword})
	want(t, login, 200)
	assert.Equal(t, "compliance_officer", login.Str("role"))
	off := p.Client(t).As(login.Str("access_token"))
	r := off.Do("GET", "/compliance/kyc?status=verified", nil)
	want(t, r, 200)
	assert.NotEmpty(t, r.Items())
	want(t, off.Do("GET", "/compliance/audit", nil), 200)
	want(t, off.Do("GET", "/compliance/cases", nil), 200)
	want(t, off.Do("GET", "/compliance/cases?status=open", nil), 200)
	wantCode(t, off.Do("GET", "/compliance/kyc?status=approved", nil), 400, "invalid")
	wantCode(t, off.Do("GET", "/compliance/cases?status=closed", nil), 400, "invalid")
	wantCode(t, off.Do("GET", "/compliance/cases/case-0000000000000000", nil), 404, "not_found")
	wantCode(t, off.Do("POST", "/admin/deposits", map[string]string{"id": "off-1", "account": tr.ID, "asset": "USD", "amount": "1"}), 403, "forbidden")
	wantCode(t, off.Do("POST", "/admin/accounts/"+tr.ID+"/kill-switch", map[string]bool{"on": true}), 403, "forbidden")
	wantCode(t, off.Do("POST", "/orders", order("BTC-USD", "buy", "29000.00", "0.01", "")), 403, "forbidden")

	sam := suite.RegisterUnverified(t, p, "sam")
	want(t, sam.Do("POST", "/kyc", kycApplication("Sam Example")), 202)
	want(t, off.Do("POST", "/compliance/kyc/"+sam.ID+"/approve", map[string]string{"reason": "ok"}), 200)
	wantCode(t, off.Do("POST", "/compliance/kyc/"+sam.ID+"/approve", map[string]string{"reason": "again"}), 409, "conflict")
	wantCode(t, off.Do("POST", "/compliance/kyc/nobody/approve", map[string]string{"reason": "x"}), 404, "not_found")
}

// The platform's trail on PostgreSQL verifies with the audit command; an edit made by the
// database's owner behind the service's back (triggers disabled) is named by seq.
func TestAuditTrailImmutableOnPostgres(t *testing.T) {
	dbURL, redisURL, prefix := platformtest.RealDependencies(t)
	p := suite.Start(t, "DATABASE_URL="+dbURL, "REDIS_URL="+redisURL, "REDIS_PREFIX="+prefix)
	adm := p.Admin(t)
	kim := suite.Register(t, p, "kim")
	deposit(t, adm, "kim-1", kim.ID, "USD", "100")

	bin := filepath.Join(t.TempDir(), "audit")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/cantondex/platform/services/cmd/audit").CombinedOutput()
	require.NoError(t, err, "build audit: %s", out)
	out, err = exec.Command(bin, "verify", "--database", dbURL).CombinedOutput()
	require.NoError(t, err, "intact trail: %s", out)
	assert.Contains(t, string(out), "audit trail intact")

	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dbURL)
	require.NoError(t, err)
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, `UPDATE compliance.audit_log SET actor = 'someone-else' WHERE seq = 2`)
	require.ErrorContains(t, err, "append-only", "the trigger refuses even the owner")
	_, err = conn.Exec(ctx, `DELETE FROM compliance.audit_log WHERE seq = 2`)
	require.ErrorContains(t, err, "append-only")

	for _, s := range []string{
		`ALTER TABLE compliance.audit_log DISABLE TRIGGER USER`,
		`UPDATE compliance.audit_log SET actor = 'someone-else' WHERE seq = 2`,
		`ALTER TABLE compliance.audit_log ENABLE TRIGGER USER`,
	} {
		_, err := conn.Exec(ctx, s)
		require.NoError(t, err, s)
	}
	out, err = exec.Command(bin, "verify", "--database", dbURL).CombinedOutput()
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit, "%s", out)
	assert.Equal(t, 1, exit.ExitCode())
	assert.Contains(t, string(out), "first bad seq 2:")
}

// A hand-made SDN edition: one listed person with a bitcoin address in the remarks, as
// Treasury publishes them; the update lists a second person.
const (
	sdnV1 = `25308,"YAN, Xiaobing","individual","SDNTK",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,"DOB 25 Mar 1977; citizen China; Digital Currency Address - XBT 12QtD5BFwRsdNsAZY76UVE1xyCGNTojH9h."
`
	sdnV2 = sdnV1 + `99001,"QUARTERMAINE, Desmond","individual","SDGT",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,"DOB 02 Jan 1985; nationality Ireland."
`
	listedXBT = "12QtD5BFwRsdNsAZY76UVE1xyCGNTojH9h"
)

func writeList(t *testing.T, path, content string) {
	t.Helper()
	tmp := path + ".next"
	require.NoError(t, os.WriteFile(tmp, []byte(content), 0o600))
	require.NoError(t, os.Rename(tmp, path)) // replaced atomically, as a list sync does
}

// screeningCases returns the account's screening cases as the officer sees them.
func screeningCases(t *testing.T, off *platformtest.Client, account string) []map[string]any {
	t.Helper()
	r := off.Do("GET", "/compliance/cases", nil)
	want(t, r, 200)
	var out []map[string]any
	for _, c := range r.Items() {
		if c["subject"] == account && c["kind"] == "screening" {
			out = append(out, c)
		}
	}
	return out
}

func withdrawal(id, account, asset, amount, address string) map[string]string {
	w := map[string]string{"id": id, "account": account, "asset": asset, "amount": amount}
	if address != "" {
		w["address"] = address
	}
	return w
}

// Withdrawals are screened on the platform: one to an address the SDN list names is refused
// with nothing moved and opens a case; every withdrawal of the account is refused while the
// case is open; the officer's dismissal releases it. A list update (the file replaced while the
// platform runs) re-screens every account against the new entries: the account the new entry
// names gets a case and its withdrawals stop, the others' do not.
func TestWithdrawalScreeningAndListUpdate(t *testing.T) {
	list := filepath.Join(t.TempDir(), "sdn.csv")
	writeList(t, list, sdnV1)
	p := suite.Start(t, "SCREENING_LIST="+list, "SCREENING_RELOAD_INTERVAL=200ms")
	adm := p.Admin(t)

	kai := suite.Register(t, p, "kai")
	deposit(t, adm, "kai-btc", kai.ID, "BTC", "0.5")
	deposit(t, adm, "kai-usd", kai.ID, "USD", "100")
	r := adm.Do("POST", "/admin/withdrawals", withdrawal("kai-w1", kai.ID, "BTC", "0.1", listedXBT))
	wantCode(t, r, 403, "forbidden")
	assert.Contains(t, r.Str("error", "message"), "withdrawal blocked")
	assert.Equal(t, "0.50000000", balances(t, kai.Client)["BTC"].total, "nothing moved")
	cs := screeningCases(t, adm, kai.ID)
	require.Len(t, cs, 1)
	ev := cs[0]["evidence"].(map[string]any)
	assert.Equal(t, "withdrawal", ev["trigger"])
	hit := ev["hit"].(map[string]any)
	assert.Equal(t, "ofac:25308", hit["entry_id"])
	assert.Equal(t, listedXBT, hit["address"])
	assert.Equal(t, []any{"SDNTK"}, hit["entry"].(map[string]any)["programs"])

	wantCode(t, adm.Do("POST", "/admin/withdrawals", withdrawal("kai-w2", kai.ID, "USD", "1", "")), 403, "forbidden")
	wantCode(t, adm.Do("POST", "/admin/withdrawals", withdrawal("kai-w3", kai.ID, "BTC", "0.1", "bad address with spaces")), 400, "invalid")
	wantCode(t, adm.Do("POST", "/admin/deposits", map[string]string{"id": "kai-d", "account": kai.ID, "asset": "USD", "amount": "1", "address": listedXBT}), 400, "invalid")
	assert.Equal(t, "100.000000", balances(t, kai.Client)["USD"].total, "nothing moved")

	want(t, adm.Do("POST", "/compliance/cases/"+cs[0]["id"].(string)+"/dismiss", map[string]string{"reason": "address re-assigned; verified with the chain analytics report"}), 200)
	want(t, adm.Do("POST", "/admin/withdrawals", withdrawal("kai-w4", kai.ID, "USD", "1", "")), 201)
	assert.Equal(t, "99.000000", balances(t, kai.Client)["USD"].total)

	// Verified under the first edition; the update lists them.
	des := suite.RegisterUnverified(t, p, "des")
	want(t, des.Do("POST", "/kyc", map[string]string{"legal_name": "Desmond Quartermaine", "date_of_birth": "1985-01-02", "nationality": "IE", "address": "1 Grafton St, Dublin"}), 202)
	want(t, adm.Do("POST", "/compliance/kyc/"+des.ID+"/approve", map[string]string{"level": "basic", "reason": "passport checked"}), 200)
	deposit(t, adm, "des-usd", des.ID, "USD", "100")
	want(t, adm.Do("POST", "/admin/withdrawals", withdrawal("des-w1", des.ID, "USD", "1", "")), 201)
	require.Empty(t, screeningCases(t, adm, des.ID))

	writeList(t, list, sdnV2)
	platformtest.Eventually(t, "re-screening opens a case for the newly listed holder", func() bool {
		return len(screeningCases(t, adm, des.ID)) == 1
	})
	ev = screeningCases(t, adm, des.ID)[0]["evidence"].(map[string]any)
	assert.Equal(t, "list_update", ev["trigger"])
	assert.Equal(t, "ofac:99001", ev["hit"].(map[string]any)["entry_id"])
	assert.Equal(t, "delta", ev["list_update"].(map[string]any)["screened_against"])
	wantCode(t, adm.Do("POST", "/admin/withdrawals", withdrawal("des-w2", des.ID, "USD", "1", "")), 403, "forbidden")
	assert.Equal(t, "99.000000", balances(t, des.Client)["USD"].total, "nothing moved")
	assert.Len(t, screeningCases(t, adm, kai.ID), 1, "the update opened nothing for the others")
	want(t, adm.Do("POST", "/admin/withdrawals", withdrawal("kai-w5", kai.ID, "USD", "1", "")), 201)
}

// The live wash-trade detector counts accounts linked by KYC as one owner: an entity and the
// person its application names as beneficial owner, trading with each other on the platform,
// raise a wash-trade case whose evidence holds the orders and the trade replayed and the
// linked accounts.
func TestWashTradeBetweenAccountsLinkedByKYC(t *testing.T) {
	p := suite.Start(t, "KYC_LINKS_REFRESH=200ms")
	adm := p.Admin(t)
	acme := suite.RegisterUnverified(t, p, "acme")
	want(t, acme.Do("POST", "/kyc", map[string]any{"type": "entity", "legal_name": "Acme Holdings Ltd", "nationality": "GB", "address": "1 King St, London",
		"beneficial_owners": []map[string]any{{"name": "Olive Owner", "date_of_birth": "1975-06-01", "nationality": "GB", "share": 100}}}), 202)
	want(t, adm.Do("POST", "/compliance/kyc/"+acme.ID+"/approve", map[string]string{"level": "enhanced", "reason": "register extract and owner's passport"}), 200)
	olive := suite.RegisterUnverified(t, p, "olive")
	want(t, olive.Do("POST", "/kyc", map[string]string{"legal_name": "OLIVE OWNER", "date_of_birth": "1975-06-01", "nationality": "GB", "address": "2 King St, London"}), 202)
	want(t, adm.Do("POST", "/compliance/kyc/"+olive.ID+"/approve", map[string]string{"level": "basic", "reason": "passport"}), 200)
	deposit(t, adm, "acme-btc", acme.ID, "BTC", "1")
	deposit(t, adm, "olive-usd", olive.ID, "USD", "100000")

	// Trade until the links are read (KYC_LINKS_REFRESH) and a trade is flagged.
	var wash map[string]any
	var buyID, sellID string
	for i := 0; wash == nil; i++ {
		require.Less(t, i, 50, "no wash-trade case")
		sell := acme.Do("POST", "/orders", order("BTC-USD", "sell", "29000.00", "0.01", ""))
		want(t, sell, 201)
		buy := olive.Do("POST", "/orders", order("BTC-USD", "buy", "29000.00", "0.01", ""))
		want(t, buy, 201)
		sellID, buyID = sell.Str("id"), buy.Str("id")
		platformtest.Eventually(t, "the trade", func() bool { return olive.Do("GET", "/orders/"+buyID, nil).Str("status") == "filled" })
		for range 10 {
			for _, c := range adm.Do("GET", "/compliance/cases", nil).Items() {
				ev := c["evidence"].(map[string]any)
				if ev["detector"] == "wash_trade" && slices.Contains(ev["order_ids"].([]any), any(buyID)) {
					wash = ev
				}
			}
			if wash != nil {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	// The orders and the trade replayed; the taker's order may be consumed after the trade
	// and then joins the case's evidence when it arrives.
	kinds := func(ev map[string]any) []string {
		var out []string
		for _, e := range ev["events"].([]any) {
			if e := e.(map[string]any); e["order_id"] == buyID || e["order_id"] == sellID {
				out = append(out, e["kind"].(string))
			}
		}
		slices.Sort(out)
		return out
	}
	platformtest.Eventually(t, "both orders and the trade in the evidence", func() bool {
		for _, c := range adm.Do("GET", "/compliance/cases", nil).Items() {
			if ev := c["evidence"].(map[string]any); ev["detector"] == "wash_trade" && slices.Contains(ev["order_ids"].([]any), any(buyID)) {
				wash = ev
			}
		}
		return slices.Equal(kinds(wash), []string{"new", "new", "trade"})
	})
	linked := wash["linked_accounts"].(map[string]any)
	assert.Equal(t, []any{olive.ID}, linked[acme.ID])
	assert.Equal(t, []any{acme.ID}, linked[olive.ID])
}
