package http

import (
	"context"
	"sync"
	"time"

	"github.com/cantondex/platform/services/trading"
)

// refTTL is how long the API reuses market definitions and asset scales it has read. Steps and
// scales never change once created; limits and the halted flag may, and the backend checks
// those itself on every order, so a second of staleness here only affects the gateway's early
// rejection of out-of-range prices.
const refTTL = time.Second

// refCache keeps the reference data every order and balance response needs, so that a
// placement costs the backend one call instead of two.
type refCache struct {
	mu      sync.Mutex
	markets map[string]cachedMarket
	scales  map[string]int
	scaleAt time.Time
	now     func() time.Time
}

type cachedMarket struct {
	def trading.MarketDef
	st  steps
	at  time.Time
	// refreshing is set while one caller reads a stale entry anew; the others keep using
	// the stale one meanwhile instead of all queueing for the database at once.
	refreshing bool
}

func newRefCache() *refCache {
	return &refCache{markets: map[string]cachedMarket{}, now: time.Now}
}

// cachedMarket returns the market, from the cache when fresh. When the entry is stale one
// caller reads it anew while the others go on with the stale entry (a market read per second
// per replica, not a burst of them each time the entry expires). Unknown markets are not
// cached, so a new market is usable at once.
func (s *Server) cachedMarket(ctx context.Context, symbol string) (trading.MarketDef, steps, error) {
	c := s.refs
	c.mu.Lock()
	m, ok := c.markets[symbol]
	switch {
	case ok && (c.now().Sub(m.at) < refTTL || m.refreshing):
		c.mu.Unlock()
		return m.def, m.st, nil
	case ok:
		m.refreshing = true
		c.markets[symbol] = m
	}
	c.mu.Unlock()
	def, st, err := s.market(ctx, symbol)
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil {
		delete(c.markets, symbol) // serve nothing stale after a failed read

		return def, st, err
	}
	c.markets[symbol] = cachedMarket{def: def, st: st, at: c.now()}
	return def, st, nil
}

// forget drops a market after an admin changed it through this replica.
func (c *refCache) forget(symbol string) {
	c.mu.Lock()
	delete(c.markets, symbol)
	c.mu.Unlock()
}

// assetScales maps asset symbols to their scales.
func (s *Server) assetScales(ctx context.Context) (map[string]int, error) {
	c := s.refs
	c.mu.Lock()
	scales, at := c.scales, c.scaleAt
	c.mu.Unlock()
	if scales != nil && c.now().Sub(at) < refTTL {
		return scales, nil
	}
	as, err := s.deps.Accounts.Assets(ctx)
	if err != nil {
		return nil, err
	}
	scales = make(map[string]int, len(as))
	for _, a := range as {
		scales[a.Symbol] = a.Scale
	}
	c.mu.Lock()
	c.scales, c.scaleAt = scales, c.now()
	c.mu.Unlock()
	return scales, nil
}
