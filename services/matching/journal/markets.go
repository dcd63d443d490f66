package journal

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/cantondex/platform/services/matching"
)

// DefaultMarkets is the market list used when none is given: BTC-USD with tick 0.01 and lot
// 0.0001.
const DefaultMarkets = "BTC-USD:0.01:0.0001"

// ParseMarkets reads a comma-separated list of SYMBOL:TICK:LOT, for example
// "BTC-USD:0.01:0.0001,ETH-USD:0.01:0.001". Limits take the engine's defaults.
func ParseMarkets(spec string) ([]matching.Market, error) {
	var ms []matching.Market
	for _, part := range strings.Split(spec, ",") {
		f := strings.Split(strings.TrimSpace(part), ":")
		if len(f) != 3 {
			return nil, fmt.Errorf("market %q: want SYMBOL:TICK:LOT", part)
		}
		ms = append(ms, matching.Market{Symbol: f[0], TickSize: f[1], LotSize: f[2]})
	}
	return ms, nil
}

// Markets are the markets of the journal commands' --markets and --config flags: the JSON
// file at config (LoadMarkets) when it is set, else spec (ParseMarkets).
func Markets(spec, config string) ([]matching.Market, error) {
	if config == "" {
		return ParseMarkets(spec)
	}
	f, err := os.Open(config)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return LoadMarkets(f)
}

// LoadMarkets reads a JSON array of markets:
//
//	[{"symbol":"BTC-USD","tick_size":"0.01","lot_size":"0.0001",
//	  "min_price":1,"max_price":100000000,"min_qty":1,"max_qty":1000000}]
//
// with limits in ticks and lots (0 or absent: the engine's defaults).
func LoadMarkets(r io.Reader) ([]matching.Market, error) {
	var in []struct {
		Symbol   string `json:"symbol"`
		TickSize string `json:"tick_size"`
		LotSize  string `json:"lot_size"`
		MinPrice int64  `json:"min_price"`
		MaxPrice int64  `json:"max_price"`
		MinQty   int64  `json:"min_qty"`
		MaxQty   int64  `json:"max_qty"`
	}
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		return nil, fmt.Errorf("market config: %w", err)
	}
	ms := make([]matching.Market, 0, len(in))
	for _, m := range in {
		ms = append(ms, matching.Market{Symbol: m.Symbol, TickSize: m.TickSize, LotSize: m.LotSize,
			MinPrice: m.MinPrice, MaxPrice: m.MaxPrice, MinQty: m.MinQty, MaxQty: m.MaxQty})
	}
	return ms, nil
}
