package e2e

import (
	"context"
	"os/exec"
	"path/filepath"
	"testing"

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
