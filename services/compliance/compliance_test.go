package compliance_test

import (
	"context"
	"crypto/ed25519"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cantondex/platform/services/compliance"
	"github.com/cantondex/platform/services/trading"
)

func alice() compliance.Application {
	return compliance.Application{LegalName: "Alice Example", DateOfBirth: "1990-04-01", Nationality: "DE", Address: "Unter den Linden 1, Berlin"}
}

func TestKYCProgressionGatesTradingAndWithdrawals(t *testing.T) {
	ctx := context.Background()
	store := compliance.NewMemory()
	svc := compliance.New(store, nil, compliance.DefaultLimits())
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	svc.SetClock(func() time.Time { return now })

	k, err := svc.KYC(ctx, "alice")
	require.NoError(t, err)
	assert.Equal(t, compliance.KYCUnverified, k.Status)
	assert.Equal(t, trading.EFORBIDDEN, trading.ErrorCode(svc.CheckTrade(ctx, "alice")))
	assert.Equal(t, trading.EFORBIDDEN, trading.ErrorCode(svc.CheckWithdraw(ctx, "alice", "USD", 1)))
	require.NoError(t, svc.CheckDeposit(ctx, "alice", "USD", 1_000_000_000, 0), "USD 1,000 unverified")
	assert.Equal(t, trading.EFORBIDDEN, trading.ErrorCode(svc.CheckDeposit(ctx, "alice", "USD", 1, 1_000_000_000)), "beyond the unverified limit")
	assert.Equal(t, trading.EFORBIDDEN, trading.ErrorCode(svc.CheckDeposit(ctx, "alice", "ETH", 1, 0)), "an asset without an unverified limit")

	_, err = svc.Approve(ctx, "officer", "alice", "", "looks fine")
	assert.Equal(t, trading.ECONFLICT, trading.ErrorCode(err), "nothing submitted")

	k, err = svc.Submit(ctx, "alice", "alice", alice())
	require.NoError(t, err)
	assert.Equal(t, compliance.KYCSubmitted, k.Status)
	assert.Equal(t, trading.EFORBIDDEN, trading.ErrorCode(svc.CheckTrade(ctx, "alice")), "submitted is not verified")

	_, err = svc.Review(ctx, "officer", "alice")
	require.NoError(t, err)
	_, err = svc.Submit(ctx, "alice", "alice", alice())
	assert.Equal(t, trading.ECONFLICT, trading.ErrorCode(err), "no changes under review")
	_, err = svc.Reject(ctx, "officer", "alice", "")
	assert.Equal(t, trading.EINVALID, trading.ErrorCode(err), "a reason is required")
	k, err = svc.Reject(ctx, "officer", "alice", "address does not match the document")
	require.NoError(t, err)
	assert.Equal(t, compliance.KYCRejected, k.Status)
	assert.Equal(t, trading.EFORBIDDEN, trading.ErrorCode(svc.CheckTrade(ctx, "alice")))

	_, err = svc.Submit(ctx, "alice", "alice", alice())
	require.NoError(t, err, "resubmit after rejection")
	k, err = svc.Approve(ctx, "officer", "alice", compliance.LevelBasic, "documents match")
	require.NoError(t, err)
	assert.Equal(t, compliance.KYCVerified, k.Status)
	assert.Equal(t, now.Add(365*24*time.Hour), k.ExpiresAt)
	require.NoError(t, svc.CheckTrade(ctx, "alice"))
	require.NoError(t, svc.CheckWithdraw(ctx, "alice", "USD", 50_000_000_000))
	assert.Equal(t, trading.EFORBIDDEN, trading.ErrorCode(svc.CheckWithdraw(ctx, "alice", "USD", 50_000_000_001)), "basic level limit")
	require.NoError(t, svc.CheckDeposit(ctx, "alice", "USD", 1<<40, 0), "verified deposits unlimited")
	_, err = svc.Submit(ctx, "alice", "alice", alice())
	assert.Equal(t, trading.ECONFLICT, trading.ErrorCode(err), "already verified")

	// A year later the verification lapses: the gate closes until verified again.
	now = now.Add(366 * 24 * time.Hour)
	assert.Equal(t, trading.EFORBIDDEN, trading.ErrorCode(svc.CheckTrade(ctx, "alice")), "expired")
	k, err = svc.KYC(ctx, "alice")
	require.NoError(t, err)
	assert.Equal(t, compliance.KYCUnverified, k.Status)
	_, err = svc.Submit(ctx, "alice", "alice", alice())
	require.NoError(t, err, "re-verification")
	_, err = svc.Approve(ctx, "officer", "alice", compliance.LevelEnhanced, "renewed")
	require.NoError(t, err)
	require.NoError(t, svc.CheckTrade(ctx, "alice"))

	// Every transition is in the trail, in order, with its actor.
	var kinds, actors []string
	require.NoError(t, store.Entries(ctx, 1, 0, func(e compliance.Entry) error {
		kinds, actors = append(kinds, e.Kind), append(actors, e.Actor)
		assert.Equal(t, "alice", e.Subject)
		return nil
	}))
	assert.Equal(t, []string{"kyc.submitted", "kyc.under_review", "kyc.rejected", "kyc.submitted", "kyc.under_review", "kyc.verified", "kyc.submitted", "kyc.under_review", "kyc.verified"}, kinds)
	assert.Equal(t, []string{"alice", "officer", "officer", "alice", "officer", "officer", "alice", "officer", "officer"}, actors)
	require.NoError(t, compliance.Verify(ctx, store, &compliance.Verifier{}))
}

func TestApplicationValidation(t *testing.T) {
	svc := compliance.New(compliance.NewMemory(), nil, compliance.DefaultLimits())
	for name, tc := range map[string]struct {
		edit func(*compliance.Application)
		want string
	}{
		"no name":         {func(a *compliance.Application) { a.LegalName = " " }, "legal_name required"},
		"bad dob":         {func(a *compliance.Application) { a.DateOfBirth = "1990-13-40" }, "date_of_birth is not a date"},
		"bad nationality": {func(a *compliance.Application) { a.Nationality = "Germany" }, "nationality"},
		"newline":         {func(a *compliance.Application) { a.Address = "a\nb" }, "one line"},
		"bad type":        {func(a *compliance.Application) { a.Type = "robot" }, "type must be"},
		"entity, no owners": {func(a *compliance.Application) { a.Type = compliance.Entity; a.DateOfBirth = "" },
			"beneficial_owners required"},
		"individual with owners": {func(a *compliance.Application) {
			a.BeneficialOwners = []compliance.Owner{{Name: "B", DateOfBirth: "1970-01-01", Nationality: "FR", Share: 50}}
		}, "for entities"},
	} {
		a := alice()
		tc.edit(&a)
		_, err := svc.Submit(context.Background(), "alice", "alice", a)
		assert.Equal(t, trading.EINVALID, trading.ErrorCode(err), name)
		assert.ErrorContains(t, err, tc.want, name)
	}
	k, err := svc.KYC(context.Background(), "alice")
	require.NoError(t, err)
	assert.Equal(t, compliance.KYCUnverified, k.Status, "nothing recorded")

	ent := compliance.Application{Type: compliance.Entity, LegalName: "Acme Trading GmbH", Nationality: "DE", Address: "Hauptstr. 1, Munich",
		BeneficialOwners: []compliance.Owner{{Name: "Bob Owner", DateOfBirth: "1970-01-01", Nationality: "AT", Share: 60}}}
	_, err = svc.Submit(context.Background(), "acme", "acme", ent)
	require.NoError(t, err)
	_, err = svc.Approve(context.Background(), "officer", "acme", compliance.LevelBasic, "ok")
	assert.Equal(t, trading.EINVALID, trading.ErrorCode(err), "entities need enhanced")
	_, err = svc.Approve(context.Background(), "officer", "acme", compliance.LevelEnhanced, "owners verified")
	require.NoError(t, err)
}

type hits struct{}

func (hits) ScreenName(name, _, _ string) []compliance.Hit {
	if name == "Bad Actor" {
		return []compliance.Hit{{EntryID: "ofac:1", List: "ofac-sdn", Name: "BAD ACTOR", Score: 0.97}}
	}
	return nil
}

func TestScreeningHitSendsToReview(t *testing.T) {
	ctx := context.Background()
	store := compliance.NewMemory()
	svc := compliance.New(store, hits{}, compliance.DefaultLimits())
	a := alice()
	a.LegalName = "Bad Actor"
	k, err := svc.Submit(ctx, "bad", "bad", a)
	require.NoError(t, err)
	assert.Equal(t, compliance.KYCUnderReview, k.Status)
	var kinds []string
	require.NoError(t, store.Entries(ctx, 1, 0, func(e compliance.Entry) error { kinds = append(kinds, e.Kind); return nil }))
	assert.Equal(t, []string{"kyc.submitted", "screening.hit", "kyc.under_review"}, kinds)
}

func TestMerkleRootAndCheckpoint(t *testing.T) {
	ctx := context.Background()
	m := compliance.NewMemory()
	_, priv, err := ed25519.GenerateKey(nil)
	require.NoError(t, err)
	signer := compliance.Ed25519Signer{ID: "k1", Key: priv}
	_, ok, err := m.Checkpoint(ctx, signer, time.Now())
	require.NoError(t, err)
	assert.False(t, ok, "nothing to checkpoint")
	for i := 0; i < 7; i++ {
		_, err := m.Append(ctx, compliance.Record{Actor: "system", Kind: "order.new", Subject: "o", Payload: map[string]int{"i": i}})
		require.NoError(t, err)
	}
	c, ok, err := m.Checkpoint(ctx, signer, time.Now())
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, [2]int64{1, 7}, [2]int64{c.FromSeq, c.ToSeq})
	assert.True(t, ed25519.Verify(signer.PublicKey(), c.SignedMessage(), c.Signature))

	// The root changes with any leaf and with the order of leaves.
	a, b, cc := []byte{1}, []byte{2}, []byte{3}
	r := compliance.MerkleRoot([][]byte{a, b, cc})
	assert.NotEqual(t, r, compliance.MerkleRoot([][]byte{b, a, cc}))
	assert.NotEqual(t, r, compliance.MerkleRoot([][]byte{a, b, {4}}))
	assert.NotEqual(t, r, compliance.MerkleRoot([][]byte{a, b}))
	require.NoError(t, compliance.Verify(ctx, m, &compliance.Verifier{PublicKey: signer.PublicKey()}))
}

// countingKYC counts the gate's reads of the store.
type countingKYC struct {
	*compliance.Memory
	reads int
}

func (c *countingKYC) KYC(ctx context.Context, account string) (compliance.KYC, error) {
	c.reads++
	return c.Memory.KYC(ctx, account)
}

// The trading gate, asked on every order, reads a verified account's record once a second at
// most: within that second it still honours the verification's expiry to the instant, a
// change made through the service applies at once, and a change written by another process
// applies at the next read.
func TestTradingGateReusesAVerificationBriefly(t *testing.T) {
	ctx := context.Background()
	store := &countingKYC{Memory: compliance.NewMemory()}
	limits := compliance.DefaultLimits()
	limits.Validity = 1500 * time.Millisecond
	svc := compliance.New(store, nil, limits)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	svc.SetClock(func() time.Time { return now })

	assert.Equal(t, trading.EFORBIDDEN, trading.ErrorCode(svc.CheckTrade(ctx, "alice")))
	assert.Equal(t, trading.EFORBIDDEN, trading.ErrorCode(svc.CheckTrade(ctx, "alice")))
	assert.Equal(t, 2, store.reads, "an unverified account is read on every order")
	_, err := svc.Submit(ctx, "alice", "alice", alice())
	require.NoError(t, err)
	_, err = svc.Approve(ctx, "officer", "alice", compliance.LevelBasic, "documents match")
	require.NoError(t, err)
	store.reads = 0
	for range 100 {
		require.NoError(t, svc.CheckTrade(ctx, "alice"), "verified at once")
	}
	assert.Equal(t, 1, store.reads, "a verified account within the second")
	now = now.Add(999 * time.Millisecond)
	require.NoError(t, svc.CheckTrade(ctx, "alice"))
	assert.Equal(t, 1, store.reads, "a verified account within the second")
	now = now.Add(time.Millisecond)
	require.NoError(t, svc.CheckTrade(ctx, "alice"))
	assert.Equal(t, 2, store.reads, "read again after a second")
	now = now.Add(500 * time.Millisecond) // the verification's expiry, inside the new second
	assert.Equal(t, trading.EFORBIDDEN, trading.ErrorCode(svc.CheckTrade(ctx, "alice")), "expired to the instant")

	// Verified again; then another process rejects the account behind this service's back.
	_, err = svc.Submit(ctx, "alice", "alice", alice())
	require.NoError(t, err)
	_, err = svc.Approve(ctx, "officer", "alice", compliance.LevelBasic, "renewed")
	require.NoError(t, err)
	require.NoError(t, svc.CheckTrade(ctx, "alice"))
	k, err := store.Memory.KYC(ctx, "alice")
	require.NoError(t, err)
	k.Status, k.Version = compliance.KYCRejected, k.Version+1
	require.NoError(t, store.Memory.SaveKYC(ctx, k))
	now = now.Add(999 * time.Millisecond)
	require.NoError(t, svc.CheckTrade(ctx, "alice"), "within the second, the change elsewhere is not seen yet")
	now = now.Add(time.Millisecond)
	assert.Equal(t, trading.EFORBIDDEN, trading.ErrorCode(svc.CheckTrade(ctx, "alice")), "seen at the next read")
}
