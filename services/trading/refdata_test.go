package trading_test

import (
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/cantondex/platform/services/trading"
)

// The rules are the API's documented patterns (openapi.json), checked without a regexp.
func FuzzReferenceRules(f *testing.F) {
	for _, s := range []string{"", "a", "BTC", "BTC-USD", "B-USD", "BTC-", "-USD", "BTC-USD-EUR", "btc-usd", "a.b", "a:b", "a_b-C9",
		"ABCDEFGHIJKLM", "ABCDEFGHIJKL-ABCDEFGHIJKL", "é", "\x00", string(make([]byte, 65))} {
		f.Add(s)
	}
	clientOrderID := regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
	asset := regexp.MustCompile(`^[A-Z0-9]{2,12}$`)
	market := regexp.MustCompile(`^[A-Z0-9]{2,12}-[A-Z0-9]{2,12}$`)
	f.Fuzz(func(t *testing.T, s string) {
		assert.Equal(t, clientOrderID.MatchString(s), trading.ValidClientOrderID(s), "client order id %q", s)
		assert.Equal(t, asset.MatchString(s), trading.ValidAssetSymbol(s), "asset %q", s)
		assert.Equal(t, market.MatchString(s), trading.ValidMarketSymbol(s), "market %q", s)
	})
}

func TestSteps(t *testing.T) {
	st, err := trading.StepsOf(trading.MarketDef{TickSize: "0.05", LotSize: "0.001"})
	assert.NoError(t, err)
	assert.Equal(t, "1.05", st.Price(21))
	assert.Equal(t, "0.020", st.Qty(20))
	ticks, err := st.ParsePrice("price", "1.05")
	assert.NoError(t, err)
	assert.Equal(t, int64(21), ticks)
	_, err = st.ParsePrice("price", "1.04")
	assert.Equal(t, "price must be a multiple of the tick size", trading.ErrorMessage(err))
	_, err = st.ParseQty("quantity", "0.0001")
	assert.Equal(t, "quantity has more decimal places than the lot size allows", trading.ErrorMessage(err))
	for _, bad := range []trading.MarketDef{{TickSize: "0", LotSize: "1"}, {TickSize: "x", LotSize: "1"}, {TickSize: "1", LotSize: "-1"}} {
		_, err := trading.StepsOf(bad)
		assert.Equal(t, trading.EINVALID, trading.ErrorCode(err), "%+v", bad)
	}
}
