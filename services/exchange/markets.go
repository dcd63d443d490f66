package exchange

import (
	"context"
	"regexp"
	"time"

	"github.com/cantondex/platform/services/ledger"
	"github.com/cantondex/platform/services/matching"
	"github.com/cantondex/platform/services/trading"
)

// CreateAsset registers an asset. Amounts of it are integers in 10^-Scale.
func (s *Service) CreateAsset(ctx context.Context, a trading.Asset) error {
	if !trading.ValidAssetSymbol(a.Symbol) || a.Scale < 0 || a.Scale > 18 {
		return trading.Errorf(trading.EINVALID, "asset needs an upper-case symbol and a scale from 0 to 18")
	}
	return s.store.CreateAsset(ctx, a)
}

// Assets implements trading.AccountService.
func (s *Service) Assets(ctx context.Context) ([]trading.Asset, error) { return s.store.Assets(ctx) }

// Markets implements trading.MarketService.
func (s *Service) Markets(ctx context.Context) ([]trading.MarketDef, error) {
	return s.store.Markets(ctx)
}

// Market implements trading.MarketService.
func (s *Service) Market(ctx context.Context, symbol string) (trading.MarketDef, error) {
	return s.store.Market(ctx, symbol)
}

// CreateMarket implements trading.MarketService. Its assets must exist with scales that keep
// amounts exact (see trading.Units).
func (s *Service) CreateMarket(ctx context.Context, m trading.MarketDef) (trading.MarketDef, error) {
	if !trading.ValidMarketSymbol(m.Symbol) || m.Symbol != m.Base+"-"+m.Quote {
		return trading.MarketDef{}, trading.Errorf(trading.EINVALID, "market symbol must be BASE-QUOTE of its assets")
	}
	if m.MinPrice < 0 || m.MinQty < 0 || (m.MaxPrice > 0 && m.MaxPrice < m.MinPrice) || (m.MaxQty > 0 && m.MaxQty < m.MinQty) {
		return trading.MarketDef{}, trading.Errorf(trading.EINVALID, "market bounds are inconsistent")
	}
	assets, err := s.store.Assets(ctx)
	if err != nil {
		return trading.MarketDef{}, err
	}
	var base, quote *trading.Asset
	for i := range assets {
		switch assets[i].Symbol {
		case m.Base:
			base = &assets[i]
		case m.Quote:
			quote = &assets[i]
		}
	}
	if base == nil || quote == nil {
		return trading.MarketDef{}, trading.Errorf(trading.EINVALID, "market assets must exist")
	}
	u, err := trading.NewUnits(m, *base, *quote)
	if err != nil {
		return trading.MarketDef{}, err
	}
	if err := representable(m, u); err != nil {
		return trading.MarketDef{}, err
	}
	if m.CreatedAt.IsZero() {
		m.CreatedAt = s.now().UTC()
	}
	return s.store.CreateMarket(ctx, m)
}

// representable checks m against the matching engine's own limits (the bounds a book can
// hold; a market it cannot load would stall its partition) and checks that its largest order
// converts to asset amounts without overflow.
func representable(m trading.MarketDef, u trading.Units) error {
	nm, err := matching.MarketFromDef(m).Normalized()
	if err != nil {
		return trading.Errorf(trading.EINVALID, "market bounds the matching engine cannot represent: 1 <= min <= max <= %d ticks and lots, within 2^62 units of the steps", int64(matching.DefaultMaxPrice))
	}
	if _, ok := u.Notional(nm.MaxPrice, nm.MaxQty); !ok {
		return trading.Errorf(trading.EINVALID, "market bounds too large: the largest order's notional overflows the quote asset's amounts")
	}
	if _, ok := u.Base(nm.MaxQty); !ok {
		return trading.Errorf(trading.EINVALID, "market bounds too large: the largest quantity overflows the base asset's amounts")
	}
	return nil
}

// MaxSupply is the most of an asset that may exist on the venue (deposits less withdrawals).
// Every balance is part of the supply, so no balance, nor the sum of two, can overflow.
const MaxSupply = 1 << 62

// SetHalted implements trading.MarketService.
func (s *Service) SetHalted(ctx context.Context, symbol string, halted bool) error {
	defer s.forget(symbol)
	return s.store.SetHalted(ctx, symbol, halted)
}

// Book implements trading.MarketService.
func (s *Service) Book(ctx context.Context, symbol string, depth int) (trading.Book, error) {
	if _, err := s.market(ctx, symbol); err != nil {
		return trading.Book{}, err
	}
	if depth <= 0 || depth > 500 {
		depth = 50
	}
	return s.books.Book(ctx, symbol, depth)
}

// MarketTrades implements trading.MarketService.
func (s *Service) MarketTrades(ctx context.Context, symbol string, limit int) ([]trading.Trade, error) {
	if _, err := s.market(ctx, symbol); err != nil {
		return nil, err
	}
	return s.store.MarketTrades(ctx, symbol, pageLimit(limit))
}

// Ticker implements trading.MarketService.
func (s *Service) Ticker(ctx context.Context, symbol string) (trading.Ticker, error) {
	if _, err := s.market(ctx, symbol); err != nil {
		return trading.Ticker{}, err
	}
	t, err := s.store.MarketStats(ctx, symbol, s.now().Add(-24*time.Hour))
	if err != nil {
		return trading.Ticker{}, err
	}
	t.Market = symbol
	b, err := s.books.Book(ctx, symbol, 1)
	if err != nil {
		return trading.Ticker{}, err
	}
	if len(b.Bids) > 0 {
		t.BestBid = b.Bids[0].Price
	}
	if len(b.Asks) > 0 {
		t.BestAsk = b.Asks[0].Price
	}
	return t, nil
}

// Balances implements trading.AccountService.
func (s *Service) Balances(ctx context.Context, account string) ([]trading.Balance, error) {
	return s.store.Balances(ctx, account)
}

// Positions implements trading.AccountService.
func (s *Service) Positions(ctx context.Context, account string) ([]trading.Position, error) {
	return s.store.Positions(ctx, account)
}

// AccountTrades implements trading.AccountService.
func (s *Service) AccountTrades(ctx context.Context, account, cursor string, limit int) (trading.Page[trading.Trade], error) {
	return s.store.AccountTrades(ctx, account, cursor, pageLimit(limit))
}

// Deposit implements trading.AccountService. The id is the caller's idempotency key, scoped
// to the account: repeating it changes nothing; reusing it for another asset or amount is
// ECONFLICT.
func (s *Service) Deposit(ctx context.Context, id, account, asset string, amount int64) error {
	if err := s.checkFunding(ctx, id, asset); err != nil {
		return err
	}
	ext, err := s.store.Balance(ctx, ledger.External, asset)
	if err != nil && trading.ErrorCode(err) != trading.ENOTFOUND {
		return err
	}
	if supply := -ext.Total; supply < 0 || amount > MaxSupply-supply {
		return trading.Errorf(trading.EINVALID, "deposit would take the venue's %s beyond the largest amount it can hold", asset)
	}
	if g := s.kyc(); g != nil {
		bal, err := s.store.Balance(ctx, account, asset)
		if err != nil && trading.ErrorCode(err) != trading.ENOTFOUND {
			return err
		}
		if err := g.CheckDeposit(ctx, account, asset, amount, bal.Total); err != nil {
			return err
		}
	}
	t, err := ledger.Deposit("deposit:"+account+":"+id, account, asset, amount)
	if err != nil {
		return err
	}
	_, err = s.store.Apply(ctx, t)
	return err
}

// Withdraw implements trading.AccountService; it fails with EINSUFFICIENT beyond the
// available balance.
func (s *Service) Withdraw(ctx context.Context, id, account, asset string, amount int64) error {
	if err := s.checkFunding(ctx, id, asset); err != nil {
		return err
	}
	if g := s.kyc(); g != nil {
		if err := g.CheckWithdraw(ctx, account, asset, amount); err != nil {
			return err
		}
	}
	t, err := ledger.Withdraw("withdrawal:"+account+":"+id, account, asset, amount)
	if err != nil {
		return err
	}
	_, err = s.store.Apply(ctx, t)
	return err
}

// fundingIDPattern is a deposit's or withdrawal's id (which makes it idempotent).
var fundingIDPattern = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,64}$`)

func (s *Service) checkFunding(ctx context.Context, id, asset string) error {
	if !fundingIDPattern.MatchString(id) {
		return trading.Errorf(trading.EINVALID, "id must be 1 to 64 letters, digits or ._:-")
	}
	assets, err := s.store.Assets(ctx)
	if err != nil {
		return err
	}
	for _, a := range assets {
		if a.Symbol == asset {
			return nil
		}
	}
	return trading.Errorf(trading.EINVALID, "unknown asset %q", asset)
}

// Kill-switch scopes.
const (
	ScopeAccount = "account"
	ScopeMarket  = "market"
)

// SetAccountKillSwitch implements trading.RiskAdmin.
func (s *Service) SetAccountKillSwitch(ctx context.Context, account string, on bool) error {
	if account == "" {
		return trading.Errorf(trading.EINVALID, "account required")
	}
	return s.store.SetKillSwitch(ctx, ScopeAccount, account, on)
}

// SetMarketKillSwitch implements trading.RiskAdmin.
func (s *Service) SetMarketKillSwitch(ctx context.Context, market string, on bool) error {
	if _, err := s.store.Market(ctx, market); err != nil {
		return err
	}
	return s.store.SetKillSwitch(ctx, ScopeMarket, market, on)
}
