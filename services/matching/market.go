package matching

import (
	"errors"
	"fmt"

	"github.com/cantondex/platform/services/decimal"
	"github.com/cantondex/platform/services/trading"
)

// Default limits used when a Market leaves them zero. They keep every sum of quantities at a
// price level and every conversion to decimal units inside an int64.
const (
	DefaultMaxPrice = 1 << 40 // ticks
	DefaultMaxQty   = 1 << 40 // lots
)

// Market is what a book needs to know about its market. TickSize and LotSize are decimal
// strings ("0.01", "0.0001", "0.5"); the limits are integers in ticks and lots, zero meaning
// the default (MinPrice 1, MaxPrice DefaultMaxPrice, MinQty 1, MaxQty DefaultMaxQty).
type Market struct {
	Symbol   string
	TickSize string
	LotSize  string
	MinPrice int64
	MaxPrice int64
	MinQty   int64
	MaxQty   int64

	// derived by normalize
	priceScale int   // fractional digits of TickSize
	tickUnits  int64 // TickSize in 10^-priceScale
	qtyScale   int
	lotUnits   int64
}

// MarketFromDef converts the platform's market definition.
func MarketFromDef(d trading.MarketDef) Market {
	return Market{
		Symbol: d.Symbol, TickSize: d.TickSize, LotSize: d.LotSize,
		MinPrice: d.MinPrice, MaxPrice: d.MaxPrice, MinQty: d.MinQty, MaxQty: d.MaxQty,
	}
}

// Normalized returns m with its defaults filled in and its decimal steps derived, or an error
// when m is invalid. The decimal methods (ParsePrice, AppendPrice, ...) need a normalized
// market: one returned here or by Book.Market.
func (m Market) Normalized() (Market, error) { return m.normalize() }

// normalize fills the defaults, validates and derives the decimal scales.
func (m Market) normalize() (Market, error) {
	if m.Symbol == "" {
		return m, errors.New("market: empty symbol")
	}
	var err error
	if m.priceScale, m.tickUnits, err = step(m.TickSize); err != nil {
		return m, fmt.Errorf("market %s: tick size: %w", m.Symbol, err)
	}
	if m.qtyScale, m.lotUnits, err = step(m.LotSize); err != nil {
		return m, fmt.Errorf("market %s: lot size: %w", m.Symbol, err)
	}
	if m.MinPrice == 0 {
		m.MinPrice = 1
	}
	if m.MaxPrice == 0 {
		m.MaxPrice = DefaultMaxPrice
	}
	if m.MinQty == 0 {
		m.MinQty = 1
	}
	if m.MaxQty == 0 {
		m.MaxQty = DefaultMaxQty
	}
	switch {
	case m.MinPrice < 1 || m.MaxPrice < m.MinPrice || m.MaxPrice > DefaultMaxPrice:
		return m, fmt.Errorf("market %s: price limits [%d, %d] must satisfy 1 <= min <= max <= %d", m.Symbol, m.MinPrice, m.MaxPrice, int64(DefaultMaxPrice))
	case m.MinQty < 1 || m.MaxQty < m.MinQty || m.MaxQty > DefaultMaxQty:
		return m, fmt.Errorf("market %s: quantity limits [%d, %d] must satisfy 1 <= min <= max <= %d", m.Symbol, m.MinQty, m.MaxQty, int64(DefaultMaxQty))
	case m.MaxPrice > (1<<62)/m.tickUnits || m.MaxQty > (1<<62)/m.lotUnits:
		return m, fmt.Errorf("market %s: limits too large for the tick or lot size", m.Symbol)
	}
	return m, nil
}

// step parses a positive decimal step into its scale and its value in units of 10^-scale.
func step(s string) (int, int64, error) {
	scale, err := decimal.Scale(s)
	if err != nil {
		return 0, 0, err
	}
	units, err := decimal.Parse(s, scale)
	if err != nil {
		return 0, 0, err
	}
	if units <= 0 {
		return 0, 0, fmt.Errorf("step %q must be positive", s)
	}
	return scale, units, nil
}

// PriceScale is the number of fractional digits prices are written with.
func (m *Market) PriceScale() int { return m.priceScale }

// QtyScale is the number of fractional digits quantities are written with.
func (m *Market) QtyScale() int { return m.qtyScale }

// ParsePrice converts a decimal price string to ticks. It reports ReasonInvalidPrice for
// something that is not a positive number, ReasonTickSize for a price between ticks and
// ReasonPriceOutOfRange outside the market's limits; the reason is "" on success.
func (m *Market) ParsePrice(s string) (int64, Reason) {
	v, r := parseSteps(s, m.priceScale, m.tickUnits, ReasonInvalidPrice, ReasonTickSize, ReasonPriceOutOfRange)
	if r == "" && (v < m.MinPrice || v > m.MaxPrice) {
		return 0, ReasonPriceOutOfRange
	}
	return v, r
}

// ParseQty converts a decimal quantity string to lots, with reasons like ParsePrice's.
func (m *Market) ParseQty(s string) (int64, Reason) {
	v, r := parseSteps(s, m.qtyScale, m.lotUnits, ReasonInvalidQuantity, ReasonLotSize, ReasonQtyOutOfRange)
	if r == "" && (v < m.MinQty || v > m.MaxQty) {
		return 0, ReasonQtyOutOfRange
	}
	return v, r
}

func parseSteps(s string, scale int, units int64, invalid, off, rng Reason) (int64, Reason) {
	if units == 0 {
		return 0, invalid // the market was not normalized
	}
	v, err := decimal.Parse(s, scale)
	switch {
	case errors.Is(err, decimal.ErrPrecision):
		return 0, off
	case errors.Is(err, decimal.ErrRange):
		return 0, rng
	case err != nil:
		return 0, invalid
	case v <= 0:
		return 0, invalid
	case v%units != 0:
		return 0, off
	}
	return v / units, ""
}

// AppendPrice appends ticks as a decimal string in the market's precision.
func (m *Market) AppendPrice(b []byte, ticks int64) []byte {
	return decimal.AppendFormat(b, ticks*m.tickUnits, m.priceScale)
}

// AppendQty appends lots as a decimal string in the market's precision.
func (m *Market) AppendQty(b []byte, lots int64) []byte {
	return decimal.AppendFormat(b, lots*m.lotUnits, m.qtyScale)
}
