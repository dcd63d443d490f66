package flow

import (
	"context"

	"github.com/cantondex/platform/services/exchange"

	"github.com/cantondex/platform/services/trading"
)

// Demo market BTC-USD: tick 0.01 USD, lot 0.0001 BTC. BTC amounts are in satoshis (scale 8).
// USD amounts are in micro-dollars (scale 6): a notional price*quantity is ticks*lots*10^-6
// USD, so scale 6 keeps every notional exact (scale 2 would round it).
var (
	DemoBase   = trading.Asset{Symbol: "BTC", Scale: 8}
	DemoQuote  = trading.Asset{Symbol: "USD", Scale: 6}
	DemoMarket = trading.MarketDef{
		Symbol: "BTC-USD", Base: "BTC", Quote: "USD", TickSize: "0.01", LotSize: "0.0001",
		MinPrice: 1, MaxPrice: 100_000_000_00, MinQty: 1, MaxQty: 1000_0000,
	}
)

// SeedDemo creates the demo assets and market through order entry; running it again
// changes nothing.
func SeedDemo(ctx context.Context, ex *exchange.Service) error {
	for _, as := range []trading.Asset{DemoBase, DemoQuote} {
		if err := ex.CreateAsset(ctx, as); err != nil {
			return err
		}
	}
	_, err := ex.CreateMarket(ctx, DemoMarket)
	if trading.ErrorCode(err) == trading.ECONFLICT {
		return nil
	}
	return err
}
