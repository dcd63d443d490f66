// Package memory implements the platform's storage ports in process memory, for local runs
// without PostgreSQL and for unit tests. State is lost when the process exits. It passes the
// same contract suite (storetest) as the postgres package.
package memory

import (
	"context"
	"sort"
	"sync"

	"github.com/cantondex/platform/services/ledger"
	"github.com/cantondex/platform/services/trading"
)

type key struct{ account, asset string }

type balance struct{ total, held int64 }

// Store holds everything under one mutex, so a multi-part operation is atomic.
type Store struct {
	mu        sync.Mutex
	transfers map[string]struct{}
	balances  map[key]*balance
	holds     map[string]*ledger.Hold
	venue
}

var _ ledger.Store = (*Store)(nil)

// New returns an empty store.
func New() *Store {
	s := &Store{
		transfers: map[string]struct{}{},
		balances:  map[key]*balance{},
		holds:     map[string]*ledger.Hold{},
		venue:     newVenue(),
	}
	return s
}

// undo records how to roll back a partly applied transfer.
type undo struct {
	balances map[key]balance
	holds    map[string]*ledger.Hold // nil value: the hold did not exist
	ids      []string
}

func newUndo() *undo { return &undo{balances: map[key]balance{}, holds: map[string]*ledger.Hold{}} }

func (u *undo) rollback(s *Store) {
	for k, b := range u.balances {
		*s.balances[k] = b
	}
	for id, h := range u.holds {
		if h == nil {
			delete(s.holds, id)
		} else {
			*s.holds[id] = *h
		}
	}
	for _, id := range u.ids {
		delete(s.transfers, id)
	}
}

func (s *Store) bal(u *undo, account, asset string) *balance {
	k := key{account, asset}
	b, ok := s.balances[k]
	if !ok {
		b = &balance{}
		s.balances[k] = b
	}
	if _, seen := u.balances[k]; !seen {
		u.balances[k] = *b
	}
	return b
}

// apply applies t without checking the balance rules; the caller checks them.
func (s *Store) apply(u *undo, t ledger.Transfer) (bool, error) {
	if err := ledger.Validate(t); err != nil {
		return false, err
	}
	if _, dup := s.transfers[t.ID]; dup {
		return false, nil
	}
	s.transfers[t.ID] = struct{}{}
	u.ids = append(u.ids, t.ID)
	for _, p := range t.Postings {
		s.bal(u, p.Account, p.Asset).total += p.Amount
	}
	for _, op := range t.Holds {
		h, ok := s.holds[op.Hold]
		if _, seen := u.holds[op.Hold]; !seen {
			if ok {
				c := *h
				u.holds[op.Hold] = &c
			} else {
				u.holds[op.Hold] = nil
			}
		}
		if !ok {
			if op.Amount <= 0 {
				return false, trading.Errorf(trading.ENOTFOUND, "hold %s not found", op.Hold)
			}
			h = &ledger.Hold{ID: op.Hold, Account: op.Account, Asset: op.Asset}
			s.holds[op.Hold] = h
		}
		if h.Account != op.Account || h.Asset != op.Asset {
			return false, trading.Errorf(trading.ECONFLICT, "hold %s belongs to another account or asset", op.Hold)
		}
		if h.Closed {
			return false, trading.Errorf(trading.ECONFLICT, "hold %s is closed", op.Hold)
		}
		if h.Remaining+op.Amount < 0 {
			return false, trading.Errorf(trading.EINSUFFICIENT, "hold %s has %d, not %d", op.Hold, h.Remaining, -op.Amount)
		}
		h.Remaining += op.Amount
		b := s.bal(u, op.Account, op.Asset)
		b.held += op.Amount
		if op.Close {
			b.held -= h.Remaining
			h.Remaining = 0
			h.Closed = true
		}
	}
	return true, nil
}

func (s *Store) check(u *undo) error {
	for k := range u.balances {
		b := s.balances[k]
		if ledger.IsSystem(k.account) {
			continue
		}
		if b.total < 0 || b.held < 0 || b.total-b.held < 0 {
			return trading.Errorf(trading.EINSUFFICIENT, "insufficient %s available", k.asset)
		}
	}
	return nil
}

// Apply implements ledger.Store.
func (s *Store) Apply(_ context.Context, t ledger.Transfer) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.applyLocked(t)
}

func (s *Store) applyLocked(t ledger.Transfer) (bool, error) {
	u := newUndo()
	applied, err := s.apply(u, t)
	if err == nil {
		err = s.check(u)
	}
	if err != nil {
		u.rollback(s)
		return false, err
	}
	return applied, nil
}

// ApplyAll implements ledger.Store.
func (s *Store) ApplyAll(_ context.Context, ts []ledger.Transfer) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.applyAllLocked(ts)
}

func (s *Store) applyAllLocked(ts []ledger.Transfer) error {
	u := newUndo()
	for _, t := range ts {
		if _, err := s.apply(u, t); err != nil {
			u.rollback(s)
			return err
		}
	}
	if err := s.check(u); err != nil {
		u.rollback(s)
		return err
	}
	return nil
}

// Balances implements ledger.Store.
func (s *Store) Balances(_ context.Context, account string) ([]ledger.Balance, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []ledger.Balance
	for k, b := range s.balances {
		if k.account == account {
			out = append(out, ledger.Balance{Account: account, Asset: k.asset, Total: b.total, Held: b.held, Available: b.total - b.held})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Asset < out[j].Asset })
	return out, nil
}

// Balance implements ledger.Store; an unknown pair is a zero balance.
func (s *Store) Balance(_ context.Context, account, asset string) (ledger.Balance, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := ledger.Balance{Account: account, Asset: asset}
	if b, ok := s.balances[key{account, asset}]; ok {
		out.Total, out.Held, out.Available = b.total, b.held, b.total-b.held
	}
	return out, nil
}

// Hold implements ledger.Store.
func (s *Store) Hold(_ context.Context, id string) (ledger.Hold, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	h, ok := s.holds[id]
	if !ok {
		return ledger.Hold{}, trading.Errorf(trading.ENOTFOUND, "hold %s not found", id)
	}
	return *h, nil
}

// Totals implements ledger.Store.
func (s *Store) Totals(_ context.Context) (map[string]ledger.AssetTotals, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]ledger.AssetTotals{}
	for k, b := range s.balances {
		t := out[k.asset]
		if ledger.IsSystem(k.account) {
			t.System += b.total
		} else {
			t.Owners += b.total
			t.Held += b.held
		}
		out[k.asset] = t
	}
	for _, h := range s.holds {
		if !h.Closed {
			t := out[h.Asset]
			t.OpenHeld += h.Remaining
			out[h.Asset] = t
		}
	}
	return out, nil
}
