package trading

import (
	"errors"

	"github.com/cantondex/platform/services/decimal"
)

// Market reference data's rules live here, once, for the gateway and order entry alike: the
// spelling of asset and market symbols and of client order ids, and a market's tick and lot
// steps (parsed from its sizes, converting ticks and lots to and from decimal strings).

// ValidAssetSymbol reports whether s can name an asset: 2 to 12 upper-case letters or digits.
func ValidAssetSymbol(s string) bool {
	if len(s) < 2 || len(s) > 12 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// ValidMarketSymbol reports whether s can name a market: BASE-QUOTE of two asset symbols.
func ValidMarketSymbol(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == '-' {
			return ValidAssetSymbol(s[:i]) && ValidAssetSymbol(s[i+1:])
		}
	}
	return false
}

// ClientOrderIDRule is ValidClientOrderID's rule, for messages.
const ClientOrderIDRule = "client_order_id must be 1 to 64 letters, digits, '-' or '_'"

// ValidClientOrderID reports whether s is a client order id: 1 to 64 letters, digits, '-' or
// '_' (the API's documented pattern ^[A-Za-z0-9_-]{1,64}$).
func ValidClientOrderID(s string) bool {
	if len(s) < 1 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// Steps converts a market's ticks and lots to and from decimal strings.
type Steps struct {
	tickUnits, lotUnits int64 // the tick and the lot in units of 10^-scale
	tickScale, lotScale int
}

// StepsOf parses m's tick and lot sizes: positive decimal steps.
func StepsOf(m MarketDef) (Steps, error) {
	var s Steps
	var err error
	if s.tickScale, err = decimal.Scale(m.TickSize); err != nil {
		return s, Errorf(EINVALID, "tick size %q is not a decimal step", m.TickSize)
	}
	if s.lotScale, err = decimal.Scale(m.LotSize); err != nil {
		return s, Errorf(EINVALID, "lot size %q is not a decimal step", m.LotSize)
	}
	s.tickUnits, _ = decimal.Parse(m.TickSize, s.tickScale)
	s.lotUnits, _ = decimal.Parse(m.LotSize, s.lotScale)
	if s.tickUnits <= 0 || s.lotUnits <= 0 {
		return s, Errorf(EINVALID, "tick and lot sizes must be positive")
	}
	return s, nil
}

// Price writes ticks as a decimal price.
func (s Steps) Price(ticks int64) string { return decimal.Format(ticks*s.tickUnits, s.tickScale) }

// Qty writes lots as a decimal quantity.
func (s Steps) Qty(lots int64) string { return decimal.Format(lots*s.lotUnits, s.lotScale) }

// AppendPrice appends Price(ticks) to b.
func (s Steps) AppendPrice(b []byte, ticks int64) []byte {
	return decimal.AppendFormat(b, ticks*s.tickUnits, s.tickScale)
}

// AppendQty appends Qty(lots) to b.
func (s Steps) AppendQty(b []byte, lots int64) []byte {
	return decimal.AppendFormat(b, lots*s.lotUnits, s.lotScale)
}

// ParsePrice reads a positive price that is a whole number of ticks; field names it in errors.
func (s Steps) ParsePrice(field, v string) (int64, error) {
	return ParseSteps(field, v, s.tickUnits, s.tickScale, "tick size")
}

// ParseQty reads a positive quantity that is a whole number of lots.
func (s Steps) ParseQty(field, v string) (int64, error) {
	return ParseSteps(field, v, s.lotUnits, s.lotScale, "lot size")
}

// ParseSteps reads a positive decimal v at scale that is a whole number of units (a step
// named stepName), as that number; errors are EINVALID naming field.
func ParseSteps(field, v string, units int64, scale int, stepName string) (int64, error) {
	if len(v) > 40 {
		return 0, Errorf(EINVALID, "%s is too long", field)
	}
	n, err := decimal.Parse(v, scale)
	switch {
	case errors.Is(err, decimal.ErrPrecision):
		return 0, Errorf(EINVALID, "%s has more decimal places than the %s allows", field, stepName)
	case errors.Is(err, decimal.ErrRange):
		return 0, Errorf(EINVALID, "%s is out of range", field)
	case err != nil:
		return 0, Errorf(EINVALID, "%s must be a decimal string such as \"1.5\"", field)
	case n <= 0:
		return 0, Errorf(EINVALID, "%s must be positive", field)
	case n%units != 0:
		return 0, Errorf(EINVALID, "%s must be a multiple of the %s", field, stepName)
	}
	return n / units, nil
}
