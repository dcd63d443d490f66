package risk_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cantondex/platform/services/risk"
	"github.com/cantondex/platform/services/trading"
)

var (
	btc = trading.Asset{Symbol: "BTC", Scale: 8}
	usd = trading.Asset{Symbol: "USD", Scale: 6}
	mkt = trading.MarketDef{Symbol: "BTC-USD", Base: "BTC", Quote: "USD", TickSize: "0.01", LotSize: "0.0001",
		MinPrice: 1, MaxPrice: 10_000_000_00, MinQty: 1, MaxQty: 100_000}
)

func input(t *testing.T, o trading.PlaceOrder) risk.Input {
	t.Helper()
	u, err := trading.NewUnits(mkt, btc, usd)
	require.NoError(t, err)
	return risk.Input{Order: o, Market: mkt, Base: btc, Quote: usd, Units: u, RefPrice: 50_000_00}
}

func TestCheck(t *testing.T) {
	buy := trading.PlaceOrder{Account: "a", Market: "BTC-USD", Side: trading.Buy, Type: trading.Limit, TimeInForce: trading.GTC, Price: 50_000_00, Quantity: 10}
	sell := buy
	sell.Side = trading.Sell
	mktBuy := buy
	mktBuy.Type, mktBuy.Price = trading.Market, 0
	lim := risk.Limits{MaxOpenOrders: 3, PriceBandBps: 1000, MarketProtectionBps: 500, MaxNotional: 100_000_000_000}
	tests := []struct {
		name   string
		in     func(risk.Input) risk.Input
		code   string
		asset  string
		amount int64
		price  int64
		tif    trading.TimeInForce
	}{
		// 0.001 BTC at 50,000.00 = 50 USD = 50,000,000 micro-USD.
		{name: "limit buy reserves quote at the limit", in: func(i risk.Input) risk.Input { return i }, asset: "USD", amount: 50_000_000, price: 50_000_00, tif: trading.GTC},
		{name: "sell reserves base", in: func(i risk.Input) risk.Input { i.Order = sell; return i }, asset: "BTC", amount: 100_000, price: 50_000_00, tif: trading.GTC},
		{name: "market buy goes as IOC at the protection price", in: func(i risk.Input) risk.Input { i.Order = mktBuy; return i },
			asset: "USD", amount: 52_500_000, price: 52_500_00, tif: trading.IOC},
		{name: "market order without reference", in: func(i risk.Input) risk.Input { i.Order = mktBuy; i.RefPrice = 0; return i }, code: trading.EUNAVAILABLE},
		{name: "account kill switch first", in: func(i risk.Input) risk.Input { i.AccountKilled = true; i.Market.Halted = true; return i }, code: trading.EFORBIDDEN},
		{name: "market kill switch", in: func(i risk.Input) risk.Input { i.MarketKilled = true; return i }, code: trading.EUNAVAILABLE},
		{name: "halted market", in: func(i risk.Input) risk.Input { i.Market.Halted = true; return i }, code: trading.EUNAVAILABLE},
		{name: "quantity above max", in: func(i risk.Input) risk.Input { i.Order.Quantity = 100_001; return i }, code: trading.EINVALID},
		{name: "zero quantity", in: func(i risk.Input) risk.Input { i.Order.Quantity = 0; return i }, code: trading.EINVALID},
		{name: "price outside band", in: func(i risk.Input) risk.Input { i.Order.Price = 55_000_01; return i }, code: trading.EINVALID},
		{name: "price at band edge", in: func(i risk.Input) risk.Input { i.Order.Price = 55_000_00; return i }, asset: "USD", amount: 55_000_000, price: 55_000_00, tif: trading.GTC},
		{name: "no band without reference", in: func(i risk.Input) risk.Input { i.RefPrice = 0; i.Order.Price = 90_000_00; return i }, asset: "USD", amount: 90_000_000, price: 90_000_00, tif: trading.GTC},
		{name: "notional above max", in: func(i risk.Input) risk.Input { i.Order.Quantity = 100_000; i.Order.Price = 50_000_00; return i }, code: trading.EINVALID},
		{name: "open order count", in: func(i risk.Input) risk.Input { i.OpenOrders = 3; return i }, code: trading.ECONFLICT},
		{name: "market order with price", in: func(i risk.Input) risk.Input { i.Order = mktBuy; i.Order.Price = 1; return i }, code: trading.EINVALID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := risk.Check(lim, tt.in(input(t, buy)))
			if tt.code != "" {
				require.Equal(t, tt.code, trading.ErrorCode(err), "err %v", err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.asset, d.Asset, "decision %+v", d)
			require.Equal(t, tt.amount, d.Amount, "decision %+v", d)
			require.Equal(t, tt.price, d.BookPrice, "decision %+v", d)
			require.Equal(t, tt.tif, d.BookTIF, "decision %+v", d)
		})
	}
}

func TestExposure(t *testing.T) {
	u, _ := trading.NewUnits(mkt, btc, usd)
	// -0.5 BTC at 40,000.00 is 20,000 USD of exposure.
	got := risk.Exposure(u, trading.Position{Base: -50_000_000}, 40_000_00)
	require.Equal(t, int64(20_000_000_000), got, "exposure")
}
