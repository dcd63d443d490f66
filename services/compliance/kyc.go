package compliance

import (
	"context"
	"regexp"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/cantondex/platform/services/trading"
)

// Limits are what each verification state allows.
type Limits struct {
	// UnverifiedDeposit is, per asset, the most an unverified account may hold from deposits
	// (balance after the deposit); an asset not listed may not be deposited unverified.
	UnverifiedDeposit map[string]int64
	// BasicWithdrawal is, per asset, the largest single withdrawal at level basic (an asset
	// not listed: no limit). Enhanced has none.
	BasicWithdrawal map[string]int64
	// Validity is how long a verification lasts before re-verification.
	Validity time.Duration
}

// DefaultLimits: unverified accounts may deposit up to USD 1,000 and BTC 0.01 (in the demo
// scales: USD 6, BTC 8) and nothing else, and cannot trade or withdraw; basic verification
// withdraws at most USD 50,000 or BTC 1 at a time; a verification lasts a year.
func DefaultLimits() Limits {
	return Limits{
		UnverifiedDeposit: map[string]int64{"USD": 1_000_000_000, "BTC": 1_000_000},
		BasicWithdrawal:   map[string]int64{"USD": 50_000_000_000, "BTC": 100_000_000},
		Validity:          365 * 24 * time.Hour,
	}
}

// Screener screens a party's name at KYC submission (services/compliance/screening's Index
// behind an adapter). A hit above the review threshold keeps the application for an officer.
type Screener interface {
	ScreenName(name, dob, country string) []Hit
}

// Hit is one screening match.
type Hit struct {
	EntryID string  `json:"entry_id"`
	List    string  `json:"list"`
	Name    string  `json:"name"`
	Score   float64 `json:"score"`
	// Screened is the account's name that matched (the legal name or a beneficial owner's).
	Screened string `json:"screened,omitempty"`
	// Matched is the entry's name or alias that scored best.
	Matched string `json:"matched,omitempty"`
	// Address is the destination address matched exactly (address hits only).
	Address string `json:"address,omitempty"`
	// Entry is the list entry as published, when the screener has it.
	Entry *ListEntry `json:"entry,omitempty"`
}

// Service applies KYC actions and answers the gate.
type Service struct {
	store    Store
	screener Screener
	cases    *Cases
	links    *KYCLinks
	limits   Limits
	now      func() time.Time
	verified verifiedAccounts
}

// kycCacheTTL bounds how long the trading gate answers from a verification it read: every
// order asks the gate, and a verified record leaves that status only by expiring (which the
// cached expiry decides exactly) or, were a path ever added, by a change in another process,
// which then applies here within this time. A change made through this Service applies at
// once.
const kycCacheTTL = time.Second

// verifiedAccounts remembers, per account, the expiry of a verification the gate read and
// when it read it. Bounded: when full it starts over.
type verifiedAccounts struct {
	mu sync.Mutex
	m  map[string]verifiedAt
}

type verifiedAt struct{ expires, read time.Time }

const maxVerifiedAccounts = 1 << 16

// check reports whether account was read verified less than kycCacheTTL ago and its
// verification has not expired at now.
func (v *verifiedAccounts) check(account string, now time.Time) bool {
	v.mu.Lock()
	e, ok := v.m[account]
	v.mu.Unlock()
	return ok && now.Sub(e.read) < kycCacheTTL && now.Sub(e.read) >= 0 && (e.expires.IsZero() || now.Before(e.expires))
}

func (v *verifiedAccounts) put(account string, expires, now time.Time) {
	v.mu.Lock()
	if v.m == nil || len(v.m) >= maxVerifiedAccounts {
		v.m = make(map[string]verifiedAt)
	}
	v.m[account] = verifiedAt{expires: expires, read: now}
	v.mu.Unlock()
}

func (v *verifiedAccounts) forget(account string) {
	v.mu.Lock()
	delete(v.m, account)
	v.mu.Unlock()
}

// saveKYC stores k with its audit records; then the gate forgets what it read of the account
// (a check that read the old record before the write and puts it after is bounded by
// kycCacheTTL).
func (s *Service) saveKYC(ctx context.Context, k KYC, audit ...Record) error {
	err := s.store.SaveKYC(ctx, k, audit...)
	s.verified.forget(k.Account)
	return err
}

// New returns the service over store; screener may be nil (no screening at submission).
func New(store Store, screener Screener, limits Limits) *Service {
	if limits.Validity <= 0 {
		limits.Validity = DefaultLimits().Validity
	}
	return &Service{store: store, screener: screener, limits: limits, now: time.Now}
}

// SetCases makes screening hits at submission open cases.
func (s *Service) SetCases(c *Cases) { s.cases = c }

// SetClock replaces the clock (tests of expiry).
func (s *Service) SetClock(now func() time.Time) { s.now = now }

// Limits returns the limits in force.
func (s *Service) Limits() Limits { return s.limits }

var (
	datePattern    = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}$`)
	countryPattern = regexp.MustCompile(`^[A-Z]{2}$`)
)

func text(field, v string, max int) error {
	if strings.TrimSpace(v) == "" {
		return trading.Errorf(trading.EINVALID, "%s required", field)
	}
	if !utf8.ValidString(v) || utf8.RuneCountInString(v) > max || strings.ContainsAny(v, "\x00\r\n") {
		return trading.Errorf(trading.EINVALID, "%s must be at most %d characters on one line", field, max)
	}
	return nil
}

func validDate(field, v string) error {
	if !datePattern.MatchString(v) {
		return trading.Errorf(trading.EINVALID, "%s must be YYYY-MM-DD", field)
	}
	if _, err := time.Parse(time.DateOnly, v); err != nil {
		return trading.Errorf(trading.EINVALID, "%s is not a date", field)
	}
	return nil
}

// Validate checks an application; the error names the first bad field.
func (a Application) Validate() error {
	if a.Type == "" {
		a.Type = Individual
	}
	if a.Type != Individual && a.Type != Entity {
		return trading.Errorf(trading.EINVALID, "type must be individual or entity")
	}
	if err := text("legal_name", a.LegalName, 200); err != nil {
		return err
	}
	if err := text("address", a.Address, 500); err != nil {
		return err
	}
	if !countryPattern.MatchString(a.Nationality) {
		return trading.Errorf(trading.EINVALID, "nationality must be an ISO 3166 alpha-2 code (e.g. DE)")
	}
	switch a.Type {
	case Individual:
		if err := validDate("date_of_birth", a.DateOfBirth); err != nil {
			return err
		}
		if len(a.BeneficialOwners) > 0 {
			return trading.Errorf(trading.EINVALID, "beneficial_owners are for entities")
		}
	case Entity:
		if len(a.BeneficialOwners) == 0 {
			return trading.Errorf(trading.EINVALID, "beneficial_owners required for an entity")
		}
		if len(a.BeneficialOwners) > 20 {
			return trading.Errorf(trading.EINVALID, "at most 20 beneficial_owners")
		}
		for _, o := range a.BeneficialOwners {
			if err := text("beneficial_owners.name", o.Name, 200); err != nil {
				return err
			}
			if err := validDate("beneficial_owners.date_of_birth", o.DateOfBirth); err != nil {
				return err
			}
			if !countryPattern.MatchString(o.Nationality) {
				return trading.Errorf(trading.EINVALID, "beneficial_owners.nationality must be an ISO 3166 alpha-2 code")
			}
			if o.Share < 0 || o.Share > 100 {
				return trading.Errorf(trading.EINVALID, "beneficial_owners.share must be 0 to 100")
			}
		}
	}
	return nil
}

// transition is one audited change of status.
func transition(k KYC, actor string, to KYCStatus, extra map[string]any) Record {
	p := map[string]any{"from": k.Status, "to": to}
	for key, v := range extra {
		p[key] = v
	}
	if p["from"] == KYCStatus("") {
		p["from"] = KYCUnverified
	}
	return Record{Actor: actor, Kind: "kyc." + string(to), Subject: k.Account, Payload: p}
}

// KYC returns the account's record (Status as the gate applies it: an expired verification
// reads unverified).
func (s *Service) KYC(ctx context.Context, account string) (KYC, error) {
	k, err := s.store.KYC(ctx, account)
	if err != nil {
		return KYC{}, err
	}
	k.Account = account
	k.Status = k.Effective(s.now())
	return k, nil
}

// List returns the records in status (all when empty).
func (s *Service) List(ctx context.Context, status KYCStatus, limit int) ([]KYC, error) {
	return s.store.ListKYC(ctx, status, limit)
}

// Submit records the account's application (actor is the trader): from unverified,
// rejected, an expired verification, or an application not yet decided. With a screener, a
// name hit is audited and sends the application to review.
func (s *Service) Submit(ctx context.Context, actor, account string, app Application) (KYC, error) {
	if app.Type == "" {
		app.Type = Individual
	}
	if err := app.Validate(); err != nil {
		return KYC{}, err
	}
	k, err := s.store.KYC(ctx, account)
	if err != nil {
		return KYC{}, err
	}
	now := s.now()
	switch k.Effective(now) {
	case KYCUnverified, KYCRejected, KYCSubmitted:
	case KYCUnderReview:
		return KYC{}, trading.Errorf(trading.ECONFLICT, "application is under review")
	case KYCVerified:
		return KYC{}, trading.Errorf(trading.ECONFLICT, "account is already verified until %s", k.ExpiresAt.UTC().Format(time.DateOnly))
	}
	extra := map[string]any{"type": app.Type, "reverification": k.Expired(now)}
	rec := transition(k, actor, KYCSubmitted, extra)
	k = KYC{Account: account, Status: KYCSubmitted, Application: app, SubmittedAt: now, Version: k.Version + 1}
	records := []Record{rec}
	var hits []Hit
	if s.screener != nil {
		if hits = screenParties(s.screener, app); len(hits) > 0 {
			records = append(records, Record{Actor: "system", Kind: "screening.hit", Subject: account, Payload: map[string]any{"hits": hits}},
				transition(k, "system", KYCUnderReview, map[string]any{"reason": "screening hit"}))
			k.Status = KYCUnderReview
		}
	}
	if err := s.saveKYC(ctx, k, records...); err != nil {
		return KYC{}, err
	}
	if _, err := s.openHits(ctx, account, TriggerKYC, app, hits, nil); err != nil {
		return KYC{}, err
	}
	return k, nil
}

// Review takes a submitted application into review (actor is the officer).
func (s *Service) Review(ctx context.Context, officer, account string) (KYC, error) {
	k, err := s.store.KYC(ctx, account)
	if err != nil {
		return KYC{}, err
	}
	if k.Status != KYCSubmitted {
		return KYC{}, trading.Errorf(trading.ECONFLICT, "application is %s, not submitted", k.Effective(s.now()))
	}
	rec := transition(k, officer, KYCUnderReview, nil)
	k.Account, k.Status, k.Reviewer, k.Version = account, KYCUnderReview, officer, k.Version+1
	if err := s.saveKYC(ctx, k, rec); err != nil {
		return KYC{}, err
	}
	return k, nil
}

// decide moves a submitted or under-review application to verified or rejected; a
// submitted one passes through under_review (both transitions audited).
func (s *Service) decide(ctx context.Context, officer, account string, to KYCStatus, level Level, reason string) (KYC, error) {
	if err := text("reason", reason, 1000); err != nil {
		return KYC{}, err
	}
	k, err := s.store.KYC(ctx, account)
	if err != nil {
		return KYC{}, err
	}
	if k.Status != KYCSubmitted && k.Status != KYCUnderReview {
		return KYC{}, trading.Errorf(trading.ECONFLICT, "application is %s: nothing to decide", k.Effective(s.now()))
	}
	var records []Record
	if k.Status == KYCSubmitted {
		records = append(records, transition(k, officer, KYCUnderReview, nil))
		k.Status = KYCUnderReview
	}
	now := s.now()
	extra := map[string]any{"reason": reason}
	if to == KYCVerified {
		extra["level"] = level
		k.Level, k.ExpiresAt = level, now.Add(s.limits.Validity)
	} else {
		k.Level, k.ExpiresAt = LevelNone, time.Time{}
	}
	records = append(records, transition(k, officer, to, extra))
	k.Account, k.Status, k.Reason, k.Reviewer, k.DecidedAt, k.Version = account, to, reason, officer, now, k.Version+1
	if err := s.saveKYC(ctx, k, records...); err != nil {
		return KYC{}, err
	}
	return k, nil
}

// Approve verifies the account at level (basic when empty; entities need enhanced).
func (s *Service) Approve(ctx context.Context, officer, account string, level Level, reason string) (KYC, error) {
	if level == LevelNone {
		level = LevelBasic
	}
	if level != LevelBasic && level != LevelEnhanced {
		return KYC{}, trading.Errorf(trading.EINVALID, "level must be basic or enhanced")
	}
	k, err := s.store.KYC(ctx, account)
	if err != nil {
		return KYC{}, err
	}
	if k.Application.Type == Entity && level != LevelEnhanced {
		return KYC{}, trading.Errorf(trading.EINVALID, "an entity is verified at level enhanced (its beneficial owners)")
	}
	return s.decide(ctx, officer, account, KYCVerified, level, reason)
}

// Reject rejects the application with a reason (the trader may submit again).
func (s *Service) Reject(ctx context.Context, officer, account, reason string) (KYC, error) {
	return s.decide(ctx, officer, account, KYCRejected, LevelNone, reason)
}

// CheckTrade is the pre-trade gate: EFORBIDDEN unless the account is verified.
// A verification read here is reused for kycCacheTTL (see verifiedAccounts); anything but
// verified is read again on every order, so a new verification applies at once.
func (s *Service) CheckTrade(ctx context.Context, account string) error {
	now := s.now()
	if s.verified.check(account, now) {
		return nil
	}
	k, err := s.store.KYC(ctx, account)
	if err != nil {
		return err
	}
	if k.Effective(now) != KYCVerified {
		return errNotVerified("trading")
	}
	s.verified.put(account, k.ExpiresAt, now)
	return nil
}

// CheckWithdraw is the withdrawal gate: verified, within the level's limit.
func (s *Service) CheckWithdraw(ctx context.Context, account, asset string, amount int64) error {
	k, err := s.store.KYC(ctx, account)
	if err != nil {
		return err
	}
	if k.Effective(s.now()) != KYCVerified {
		return errNotVerified("withdrawing")
	}
	if max, ok := s.limits.BasicWithdrawal[asset]; ok && k.Level == LevelBasic && amount > max {
		return trading.Errorf(trading.EFORBIDDEN, "withdrawal above the basic verification limit of %d %s minor units: enhanced verification required", max, asset)
	}
	// The ledger's own gate holds withdrawals while a screening case is not cleared, whoever
	// calls it (ScreenWithdrawal screens first on the API's path).
	blocking, err := s.blockingCases(ctx, account)
	if err != nil {
		return err
	}
	if len(blocking) > 0 {
		return trading.Errorf(trading.EFORBIDDEN, "withdrawal blocked: screening case %s of the account is not cleared", strings.Join(blocking, ", "))
	}
	return nil
}

// CheckDeposit is the deposit gate: an unverified account may hold up to the unverified limit
// after the deposit (balance is its current total in asset).
func (s *Service) CheckDeposit(ctx context.Context, account, asset string, amount, balance int64) error {
	k, err := s.store.KYC(ctx, account)
	if err != nil {
		return err
	}
	if k.Effective(s.now()) == KYCVerified {
		return nil
	}
	max := s.limits.UnverifiedDeposit[asset]
	if amount > max-balance {
		return trading.Errorf(trading.EFORBIDDEN, "an unverified account may hold at most %d %s minor units: complete KYC (POST /api/v1/kyc) to deposit more", max, asset)
	}
	return nil
}

// Record appends an audit record (admin and officer actions the API performs elsewhere).
func (s *Service) Record(ctx context.Context, r Record) error {
	_, err := s.store.Append(ctx, r)
	return err
}

// Audit returns up to limit entries from fromSeq, and every checkpoint.
func (s *Service) Audit(ctx context.Context, fromSeq int64, limit int) ([]Entry, []Checkpoint, error) {
	var out []Entry
	err := s.store.Entries(ctx, fromSeq, fromSeq+int64(limit)-1, func(e Entry) error {
		out = append(out, e)
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	cps, err := s.store.Checkpoints(ctx)
	return out, cps, err
}
