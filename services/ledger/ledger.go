// Package ledger is the platform's double-entry ledger: one account per owner and asset,
// every movement a balanced Transfer with a unique id, and holds that reserve funds for open
// orders. Amounts are int64 minor units of their asset.
//
// A Transfer is applied atomically and at most once: applying an id the ledger already knows
// changes nothing. Its postings move totals and must sum to zero per asset, so every asset's
// total across all accounts is always zero, with the system account External carrying minus
// what was deposited and not withdrawn. Its hold operations move amounts between an account's
// available and held parts; a hold reserves funds under an id (an order id) until fills consume
// it or a cancel closes it. After a transfer no owner account has a negative total, a negative
// held amount or held above total (available never negative); system accounts (names starting
// with '@') may go negative.
//
// The port Store is implemented by memory.Store and postgres.Store; storetest holds the
// contract suite both pass. A Canton (Daml DvP) ledger can implement the same port later: a
// transfer maps to one DvP settlement command whose id is the transfer id.
package ledger

import (
	"context"
	"strings"

	"github.com/cantondex/platform/services/trading"
)

// System accounts.
const (
	External = "@external" // the outside world: deposits come from it, withdrawals go to it
	Fees     = "@fees"     // trading fees collected by the venue
)

// IsSystem reports whether account is a system account, which may hold negative totals.
func IsSystem(account string) bool { return strings.HasPrefix(account, "@") }

// Kind labels a transfer for reporting.
type Kind string

const (
	KindDeposit    Kind = "deposit"
	KindWithdrawal Kind = "withdrawal"
	KindHold       Kind = "hold"
	KindRelease    Kind = "release"
	KindTrade      Kind = "trade"
)

// Posting changes one account's total in one asset: positive credits, negative debits.
type Posting struct {
	Account string
	Asset   string
	Amount  int64
}

// HoldOp changes the hold with id Hold, owned by Account in Asset. A positive Amount reserves
// more (creating the hold), a negative one consumes or releases part of it; Close releases
// whatever remains afterwards and closes the hold for good.
type HoldOp struct {
	Hold    string
	Account string
	Asset   string
	Amount  int64
	Close   bool
}

// Transfer is one atomic, idempotent movement.
type Transfer struct {
	ID       string
	Kind     Kind
	Postings []Posting
	Holds    []HoldOp
}

// Balance is an account's position in one asset.
type Balance = trading.Balance

// Hold is a reservation's current state.
type Hold struct {
	ID        string
	Account   string
	Asset     string
	Remaining int64
	Closed    bool
}

// Store is the ledger port.
type Store interface {
	// Apply applies t unless its id was applied before; applied reports which. An id applied
	// before with other postings or holds is ECONFLICT. A transfer that would break a rule
	// changes nothing and returns EINSUFFICIENT (funds), ECONFLICT (closed hold) or EINVALID.
	Apply(ctx context.Context, t Transfer) (applied bool, err error)
	// ApplyAll applies every transfer not applied before, all or none. The balance rules
	// are checked on the batch's net effect.
	ApplyAll(ctx context.Context, ts []Transfer) error
	Balances(ctx context.Context, account string) ([]Balance, error)
	Balance(ctx context.Context, account, asset string) (Balance, error)
	Hold(ctx context.Context, id string) (Hold, error)
	// Totals returns the sum of totals and of held amounts per asset over owner accounts,
	// and the external account's total per asset, for conservation checks.
	Totals(ctx context.Context) (map[string]AssetTotals, error)
}

// AssetTotals aggregates one asset over the ledger.
type AssetTotals struct {
	Owners   int64 // sum of totals over owner accounts
	Held     int64 // sum of held over owner accounts
	System   int64 // sum of totals over system accounts
	OpenHeld int64 // sum of remaining over open holds
}

// Imbalance is what an asset's totals are off by. Supply is the owners' plus the system
// accounts' totals: postings sum to zero, so anything else means units appeared or vanished.
// Holds is the owners' held amounts minus the open holds' remaining: every held unit belongs
// to an open hold. Both are zero on a conserved ledger.
func (t AssetTotals) Imbalance() (supply, holds int64) {
	return t.Owners + t.System, t.Held - t.OpenHeld
}

// Conserved reports whether both imbalances are zero.
func (t AssetTotals) Conserved() bool {
	supply, holds := t.Imbalance()
	return supply == 0 && holds == 0
}

// Validate checks a transfer's shape: an id, balanced postings, well-formed hold operations.
func Validate(t Transfer) error {
	if t.ID == "" || len(t.ID) > 200 {
		return trading.Errorf(trading.EINVALID, "transfer id must be 1 to 200 characters")
	}
	if len(t.Postings) == 0 && len(t.Holds) == 0 {
		return trading.Errorf(trading.EINVALID, "transfer %s moves nothing", t.ID)
	}
	sums := map[string]int64{}
	for _, p := range t.Postings {
		if p.Account == "" || p.Asset == "" {
			return trading.Errorf(trading.EINVALID, "transfer %s: posting without account or asset", t.ID)
		}
		s := sums[p.Asset] + p.Amount
		if (p.Amount > 0 && s < sums[p.Asset]) || (p.Amount < 0 && s > sums[p.Asset]) {
			return trading.Errorf(trading.EINVALID, "transfer %s: amount overflow", t.ID)
		}
		sums[p.Asset] = s
	}
	for asset, s := range sums {
		if s != 0 {
			return trading.Errorf(trading.EINVALID, "transfer %s: postings in %s sum to %d, not zero", t.ID, asset, s)
		}
	}
	for _, h := range t.Holds {
		if h.Hold == "" || h.Account == "" || h.Asset == "" || IsSystem(h.Account) {
			return trading.Errorf(trading.EINVALID, "transfer %s: hold needs an id and an owner account and asset", t.ID)
		}
		if h.Amount == 0 && !h.Close {
			return trading.Errorf(trading.EINVALID, "transfer %s: hold %s changes nothing", t.ID, h.Hold)
		}
	}
	return nil
}

// Deposit moves amount from the outside world into account.
func Deposit(id, account, asset string, amount int64) (Transfer, error) {
	if err := checkFunding(account, asset, amount); err != nil {
		return Transfer{}, err
	}
	return Transfer{ID: id, Kind: KindDeposit, Postings: []Posting{
		{Account: External, Asset: asset, Amount: -amount}, {Account: account, Asset: asset, Amount: amount},
	}}, nil
}

// Withdraw moves amount from account's available funds to the outside world.
func Withdraw(id, account, asset string, amount int64) (Transfer, error) {
	if err := checkFunding(account, asset, amount); err != nil {
		return Transfer{}, err
	}
	return Transfer{ID: id, Kind: KindWithdrawal, Postings: []Posting{
		{Account: account, Asset: asset, Amount: -amount}, {Account: External, Asset: asset, Amount: amount},
	}}, nil
}

func checkFunding(account, asset string, amount int64) error {
	if amount <= 0 {
		return trading.Errorf(trading.EINVALID, "amount must be positive")
	}
	if account == "" || IsSystem(account) || asset == "" {
		return trading.Errorf(trading.EINVALID, "account and asset required")
	}
	return nil
}

// Reserve places a hold of amount for an order.
func Reserve(holdID, account, asset string, amount int64) Transfer {
	return Transfer{ID: "hold:" + holdID, Kind: KindHold, Holds: []HoldOp{{Hold: holdID, Account: account, Asset: asset, Amount: amount}}}
}

// ReleaseRest closes an order's hold, returning what remains of it to available.
func ReleaseRest(holdID, account, asset string) Transfer {
	return Transfer{ID: "release:" + holdID, Kind: KindRelease, Holds: []HoldOp{{Hold: holdID, Account: account, Asset: asset, Close: true}}}
}
