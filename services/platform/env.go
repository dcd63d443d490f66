package platform

import (
	"github.com/cantondex/platform/services/risk"
	"github.com/cantondex/platform/services/settlement"
)

// FeesFromEnv reads FEE_MAKER_BPS and FEE_TAKER_BPS (defaults 2 and 5, at most 1000).
func FeesFromEnv(getenv func(string) string) (settlement.Fees, error) {
	maker, err := EnvInt(getenv, "FEE_MAKER_BPS", 2, 0, 1000)
	if err != nil {
		return settlement.Fees{}, err
	}
	taker, err := EnvInt(getenv, "FEE_TAKER_BPS", 5, 0, 1000)
	return settlement.Fees{MakerBps: maker, TakerBps: taker}, err
}

// LimitsFromEnv reads RISK_MAX_OPEN_ORDERS, RISK_PRICE_BAND_BPS, RISK_MAX_NOTIONAL,
// RISK_MARKET_PROTECTION_BPS and RISK_MAX_EXPOSURE over risk.DefaultLimits.
func LimitsFromEnv(getenv func(string) string) (risk.Limits, error) {
	d := risk.DefaultLimits()
	var l risk.Limits
	var err error
	var n int64
	if n, err = EnvInt(getenv, "RISK_MAX_OPEN_ORDERS", int64(d.MaxOpenOrders), 1, 1_000_000); err != nil {
		return l, err
	}
	l.MaxOpenOrders = int(n)
	if l.PriceBandBps, err = EnvInt(getenv, "RISK_PRICE_BAND_BPS", d.PriceBandBps, 1, 10000); err != nil {
		return l, err
	}
	if l.MaxNotional, err = EnvInt(getenv, "RISK_MAX_NOTIONAL", 0, 0, 1<<62); err != nil {
		return l, err
	}
	if l.MarketProtectionBps, err = EnvInt(getenv, "RISK_MARKET_PROTECTION_BPS", d.MarketProtectionBps, 1, 10000); err != nil {
		return l, err
	}
	l.MaxExposure, err = EnvInt(getenv, "RISK_MAX_EXPOSURE", 0, 0, 1<<62)
	return l, err
}
