package risk

import "github.com/cantondex/platform/services/platform"

// LimitsFromEnv reads RISK_MAX_OPEN_ORDERS, RISK_PRICE_BAND_BPS, RISK_MAX_NOTIONAL,
// RISK_MARKET_PROTECTION_BPS and RISK_MAX_EXPOSURE over DefaultLimits.
func LimitsFromEnv(getenv func(string) string) (Limits, error) {
	d := DefaultLimits()
	var l Limits
	var err error
	var n int64
	if n, err = platform.EnvInt(getenv, "RISK_MAX_OPEN_ORDERS", int64(d.MaxOpenOrders), 1, 1_000_000); err != nil {
		return l, err
	}
	l.MaxOpenOrders = int(n)
	if l.PriceBandBps, err = platform.EnvInt(getenv, "RISK_PRICE_BAND_BPS", d.PriceBandBps, 1, 10000); err != nil {
		return l, err
	}
	if l.MaxNotional, err = platform.EnvInt(getenv, "RISK_MAX_NOTIONAL", 0, 0, 1<<62); err != nil {
		return l, err
	}
	if l.MarketProtectionBps, err = platform.EnvInt(getenv, "RISK_MARKET_PROTECTION_BPS", d.MarketProtectionBps, 1, 10000); err != nil {
		return l, err
	}
	l.MaxExposure, err = platform.EnvInt(getenv, "RISK_MAX_EXPOSURE", 0, 0, 1<<62)
	return l, err
}
