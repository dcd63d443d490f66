// Package compliance is the venue's compliance domain: the tamper-evident audit trail (a hash
// chain with signed Merkle checkpoints), KYC per account (a state machine with levels and
// their limits, the gate order entry and withdrawals consult), and the service that applies
// officers' and traders' actions, each audited in the same transaction as the change. Errors
// are trading.Error codes, so the gateway maps them like any other.
//
// The stores are ports: services/compliance/postgres (schema compliance, migrations in
// services/postgres) and the in-memory Memory here for local runs and tests.
package compliance

import (
	"context"
	"time"

	"github.com/cantondex/platform/services/trading"
)

// KYCStatus is where an account is in verification.
type KYCStatus string

// The KYC states: unverified → submitted → under_review → verified | rejected. A rejected or
// expired verification may be submitted again.
const (
	KYCUnverified  KYCStatus = "unverified"
	KYCSubmitted   KYCStatus = "submitted"
	KYCUnderReview KYCStatus = "under_review"
	KYCVerified    KYCStatus = "verified"
	KYCRejected    KYCStatus = "rejected"
)

// Level is the depth of verification; each has its limits.
type Level string

// Levels: basic (an individual's identity), enhanced (an entity with its beneficial owners,
// or an individual an officer verified to the enhanced standard).
const (
	LevelNone     Level = ""
	LevelBasic    Level = "basic"
	LevelEnhanced Level = "enhanced"
)

// Party kinds.
const (
	Individual = "individual"
	Entity     = "entity"
)

// Owner is a beneficial owner of an entity (25% or more, or control).
type Owner struct {
	Name        string  `json:"name"`
	DateOfBirth string  `json:"date_of_birth"`
	Nationality string  `json:"nationality"`
	Share       float64 `json:"share"` // percent
}

// Application is what a trader submits.
type Application struct {
	Type             string  `json:"type"` // individual | entity
	LegalName        string  `json:"legal_name"`
	DateOfBirth      string  `json:"date_of_birth,omitempty"` // YYYY-MM-DD (individuals)
	Nationality      string  `json:"nationality"`             // ISO 3166 alpha-2 (country of incorporation for entities)
	Address          string  `json:"address"`
	BeneficialOwners []Owner `json:"beneficial_owners,omitempty"`
}

// KYC is an account's verification record.
type KYC struct {
	Account     string      `json:"account"`
	Status      KYCStatus   `json:"status"`
	Level       Level       `json:"level,omitempty"`
	Application Application `json:"application"`
	Reason      string      `json:"reason,omitempty"` // the officer's, on approval or rejection
	Reviewer    string      `json:"reviewer,omitempty"`
	SubmittedAt time.Time   `json:"submitted_at,omitzero"`
	DecidedAt   time.Time   `json:"decided_at,omitzero"`
	ExpiresAt   time.Time   `json:"expires_at,omitzero"`
	Version     int64       `json:"version"`
}

// Effective is the status the gate applies at now: a verification past its expiry counts as
// unverified until verified again.
func (k KYC) Effective(now time.Time) KYCStatus {
	if k.Status == "" {
		return KYCUnverified
	}
	if k.Status == KYCVerified && !k.ExpiresAt.IsZero() && !now.Before(k.ExpiresAt) {
		return KYCUnverified
	}
	return k.Status
}

// Expired reports whether a verification has lapsed (re-verification required).
func (k KYC) Expired(now time.Time) bool {
	return k.Status == KYCVerified && k.Effective(now) == KYCUnverified
}

// Store is the compliance state with the audit trail. Every state change appends its audit
// record in the same transaction, so a change is never unaudited.
type Store interface {
	// KYC returns the account's record; an account never seen is unverified (Version 0).
	KYC(ctx context.Context, account string) (KYC, error)
	// SaveKYC stores k if the stored version is still k.Version-1 (ECONFLICT otherwise) and
	// appends the records.
	SaveKYC(ctx context.Context, k KYC, audit ...Record) error
	// ListKYC returns the records in status (all when empty), oldest submission first.
	ListKYC(ctx context.Context, status KYCStatus, limit int) ([]KYC, error)
	// EachKYC calls fn for every stored record (an account that never submitted has none), in
	// account order: delta re-screening and the KYC links walk them all.
	EachKYC(ctx context.Context, fn func(KYC) error) error
	AuditLog
}

// AuditLog is the append-only trail.
type AuditLog interface {
	// Append appends records in order and returns their entries.
	Append(ctx context.Context, rs ...Record) ([]Entry, error)
	// Entries calls fn for each entry with fromSeq <= seq <= toSeq (toSeq 0: to the end), in
	// seq order.
	Entries(ctx context.Context, fromSeq, toSeq int64, fn func(Entry) error) error
	// Checkpoints returns the checkpoints, in from_seq order.
	Checkpoints(ctx context.Context) ([]Checkpoint, error)
	// Checkpoint signs the entries after the last checkpoint, if any; ok false when none.
	Checkpoint(ctx context.Context, signer Signer, now time.Time) (c Checkpoint, ok bool, err error)
}

// Errors in the trading vocabulary.
var (
	errNotVerified = func(what string) error {
		return trading.Errorf(trading.EFORBIDDEN, "account is not verified: complete KYC (POST /api/v1/kyc) before %s", what)
	}
)
