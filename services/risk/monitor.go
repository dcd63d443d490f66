package risk

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/cantondex/platform/services/trading"
)

// MonitorStore is what post-trade risk reads.
type MonitorStore interface {
	Market(ctx context.Context, symbol string) (trading.MarketDef, error)
	Assets(ctx context.Context) ([]trading.Asset, error)
	Positions(ctx context.Context, account string) ([]trading.Position, error)
}

// AlertPublisher sends alerts.
type AlertPublisher interface {
	PublishAlerts(ctx context.Context, as []trading.Alert) error
}

// Alert kinds.
const AlertExposure = "exposure_limit"

// Monitor is post-trade risk: after each settlement it recomputes the exposure of the accounts
// that traded (absolute base position valued at the last trade price) and raises an alert when
// it exceeds Limits.MaxExposure. Alert ids derive from the settlement, so a redelivered
// settlement raises the same alert id and consumers dedupe it.
type Monitor struct {
	Store     MonitorStore
	Publisher AlertPublisher
	Limits    Limits
	Log       *slog.Logger

	mu    sync.Mutex
	units map[string]trading.Units
	last  map[string]int64 // market -> last price (ticks)
}

func (m *Monitor) marketUnits(ctx context.Context, symbol string) (trading.Units, error) {
	m.mu.Lock()
	u, ok := m.units[symbol]
	m.mu.Unlock()
	if ok {
		return u, nil
	}
	def, err := m.Store.Market(ctx, symbol)
	if err != nil {
		return u, err
	}
	assets, err := m.Store.Assets(ctx)
	if err != nil {
		return u, err
	}
	var base, quote trading.Asset
	for _, a := range assets {
		if a.Symbol == def.Base {
			base = a
		} else if a.Symbol == def.Quote {
			quote = a
		}
	}
	if u, err = trading.NewUnits(def, base, quote); err != nil {
		return u, err
	}
	m.mu.Lock()
	if m.units == nil {
		m.units = map[string]trading.Units{}
	}
	m.units[symbol] = u
	m.mu.Unlock()
	return u, nil
}

// Exposure values a position at price (ticks), in quote minor units.
func Exposure(u trading.Units, p trading.Position, price int64) int64 {
	lots := u.Lots(p.Base)
	if lots < 0 {
		lots = -lots
	}
	v, ok := u.Notional(price, lots)
	if !ok {
		return 1<<63 - 1
	}
	return v
}

// Handle checks the accounts of a batch of settlements and publishes the alerts raised.
func (m *Monitor) Handle(ctx context.Context, ss []trading.Settlement) error {
	if m.Limits.MaxExposure <= 0 {
		return nil
	}
	type key struct{ account, market, cause string }
	check := map[key]bool{}
	causeAt := map[string]time.Time{}
	var order []key
	for _, s := range ss {
		causeAt[s.ID] = s.SettledAt
		for _, t := range s.Trades {
			m.mu.Lock()
			if m.last == nil {
				m.last = map[string]int64{}
			}
			m.last[t.Market] = t.Price
			m.mu.Unlock()
			for _, acct := range []string{t.MakerAccount, t.TakerAccount} {
				k := key{acct, t.Market, s.ID}
				if !check[k] {
					check[k] = true
					order = append(order, k)
				}
			}
		}
	}
	var alerts []trading.Alert
	for _, k := range order {
		u, err := m.marketUnits(ctx, k.market)
		if err != nil {
			return err
		}
		ps, err := m.Store.Positions(ctx, k.account)
		if err != nil {
			return err
		}
		m.mu.Lock()
		price := m.last[k.market]
		m.mu.Unlock()
		for _, p := range ps {
			if p.Market != k.market {
				continue
			}
			if v := Exposure(u, p, price); v > m.Limits.MaxExposure {
				alerts = append(alerts, trading.Alert{
					ID: AlertExposure + ":" + k.cause + ":" + k.account, Kind: AlertExposure, Account: k.account, Market: k.market,
					Value: v, Limit: m.Limits.MaxExposure, At: causeAt[k.cause],
					Message: fmt.Sprintf("exposure %d exceeds limit %d", v, m.Limits.MaxExposure),
				})
			}
		}
	}
	if len(alerts) == 0 || m.Publisher == nil {
		return nil
	}
	return m.Publisher.PublishAlerts(ctx, alerts)
}
