package memory

import (
	"context"

	"github.com/cantondex/platform/services/settlement"
	"github.com/cantondex/platform/services/trading"
)

var _ settlement.Store = (*Store)(nil)

// Progress returns the last settled execution seq of each market (0 when none).
func (s *Store) Progress(_ context.Context, markets []string) (map[string]uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]uint64, len(markets))
	for _, m := range markets {
		out[m] = s.progress[m]
	}
	return out, nil
}

// Settle writes a settlement batch atomically (see settlement.Store).
func (s *Store) Settle(_ context.Context, b settlement.Batch) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for m, v := range b.From {
		if s.progress[m] != v {
			return trading.Errorf(trading.ECONFLICT, "market %s progressed meanwhile", m)
		}
	}
	if err := s.applyAllLocked(b.Transfers); err != nil {
		return err
	}
	for _, o := range b.Orders {
		row, ok := s.orders[o.ID]
		if !ok {
			continue
		}
		if !row.Status.Final() && o.Status.Final() {
			s.open[o.Account]--
		}
		row.Order = o
	}
	for _, t := range b.Trades {
		if !s.tradeIDs[t.ID] {
			s.tradeIDs[t.ID] = true
			if t.Fees != nil { // the record is the store's own, not the caller's
				f := *t.Fees
				t.Fees = &f
			}
			s.trades = append(s.trades, t)
		}
	}
	for _, p := range b.Positions {
		k := p.Account + "\x00" + p.Market
		cur := s.positions[k]
		if cur == nil {
			cur = &trading.Position{Account: p.Account, Market: p.Market}
			s.positions[k] = cur
		}
		cur.Base += p.Base
		cur.QuoteNet += p.QuoteNet
	}
	for m, v := range b.To {
		s.progress[m] = v
	}
	return nil
}

// LoadSnapshot returns the snapshot stored under key, or ENOTFOUND.
func (s *Store) LoadSnapshot(_ context.Context, key string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	snap, ok := s.snapshots[key]
	if !ok {
		return nil, trading.Errorf(trading.ENOTFOUND, "no snapshot")
	}
	return snap.data, nil
}

// SaveSnapshot stores data under key, replacing the previous snapshot.
func (s *Store) SaveSnapshot(_ context.Context, key string, data []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.snapshots[key] = snapshot{data: append([]byte(nil), data...)}
	return nil
}
