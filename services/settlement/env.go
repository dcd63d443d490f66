package settlement

import "github.com/cantondex/platform/services/platform"

// FeesFromEnv reads FEE_MAKER_BPS and FEE_TAKER_BPS (defaults 2 and 5, at most 1000).
func FeesFromEnv(getenv func(string) string) (Fees, error) {
	maker, err := platform.EnvInt(getenv, "FEE_MAKER_BPS", 2, 0, 1000)
	if err != nil {
		return Fees{}, err
	}
	taker, err := platform.EnvInt(getenv, "FEE_TAKER_BPS", 5, 0, 1000)
	return Fees{MakerBps: maker, TakerBps: taker}, err
}
