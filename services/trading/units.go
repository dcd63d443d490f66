package trading

import (
	"fmt"
	"math/bits"

	"github.com/cantondex/platform/services/decimal"
)

// Units converts a market's ticks and lots into its assets' minor units. It exists once per
// market and requires scales that keep every amount exact: the base asset's scale at least the
// lot size's, and the quote asset's scale at least the tick's and lot's together, so a notional
// price*quantity is always a whole number of quote minor units (BTC-USD with tick 0.01 and lot
// 0.0001 needs USD at scale 6 or more).
type Units struct {
	baseFactor     int64 // base minor units per lot
	notionalFactor int64 // quote minor units per tick*lot
}

// NewUnits derives the conversion for m from its assets.
func NewUnits(m MarketDef, base, quote Asset) (Units, error) {
	st, err := StepsOf(m)
	if err != nil {
		return Units{}, err
	}
	tick, lot, ts, ls := st.tickUnits, st.lotUnits, st.tickScale, st.lotScale
	if base.Scale < ls || base.Scale > decimal.MaxScale {
		return Units{}, Errorf(EINVALID, "asset %s scale %d cannot hold lot size %s", base.Symbol, base.Scale, m.LotSize)
	}
	if quote.Scale < ts+ls || quote.Scale > decimal.MaxScale {
		return Units{}, Errorf(EINVALID, "asset %s needs scale %d or more to hold price*quantity exactly", quote.Symbol, ts+ls)
	}
	u := Units{baseFactor: lot * decimal.Pow10(base.Scale-ls)}
	hi, lo := bits.Mul64(uint64(tick*lot), uint64(decimal.Pow10(quote.Scale-ts-ls)))
	if hi != 0 || lo > 1<<62 {
		return Units{}, Errorf(EINVALID, "tick and lot sizes too large")
	}
	u.notionalFactor = int64(lo)
	return u, nil
}

// Base returns lots in base minor units; ok is false on overflow.
func (u Units) Base(lots int64) (int64, bool) { return mul(lots, u.baseFactor) }

// Notional returns price*quantity in quote minor units; ok is false on overflow.
func (u Units) Notional(ticks, lots int64) (int64, bool) {
	v, ok := mul(ticks, lots)
	if !ok {
		return 0, false
	}
	return mul(v, u.notionalFactor)
}

func mul(a, b int64) (int64, bool) {
	if a < 0 || b < 0 {
		return 0, false
	}
	hi, lo := bits.Mul64(uint64(a), uint64(b))
	if hi != 0 || lo > 1<<63-1 {
		return 0, false
	}
	return int64(lo), true
}

// String describes the factors, for logs.
func (u Units) String() string {
	return fmt.Sprintf("base/lot=%d quote/(tick*lot)=%d", u.baseFactor, u.notionalFactor)
}

// Lots returns base minor units in whole lots, rounded toward zero.
func (u Units) Lots(base int64) int64 { return base / u.baseFactor }
