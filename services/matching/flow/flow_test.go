package flow

import (
	"slices"
	"testing"

	"github.com/cantondex/platform/services/matching"
)

func testConfig(seed uint64) Config {
	return Config{Market: matching.Market{Symbol: "BTC-USD", TickSize: "0.01", LotSize: "0.0001"},
		Commands: 20_000, Depth: 500, Accounts: 20, Mix: ExchangeCore, Seed: seed, Mid: 1_000_000, Spread: 100}
}

// TestGenerateReplays: a flow is reproducible for a seed, differs across seeds, has the
// requested mix, and replayed on a fresh book never names an order that is not resting, while
// the book stays near its target depth.
func TestGenerateReplays(t *testing.T) {
	f, err := Generate(testConfig(1))
	if err != nil {
		t.Fatal(err)
	}
	g, _ := Generate(testConfig(1))
	if !slices.Equal(f.Commands, g.Commands) || !slices.Equal(f.Warmup, g.Warmup) {
		t.Fatal("same seed, different flows")
	}
	if h, _ := Generate(testConfig(2)); slices.Equal(f.Commands, h.Commands) {
		t.Fatal("different seeds, same flow")
	}
	book, err := matching.NewBook(testConfig(1).Market)
	if err != nil {
		t.Fatal(err)
	}
	var out []matching.Event
	for _, c := range f.Warmup {
		out = book.Apply(c, out[:0])
	}
	if book.Len() != 500 {
		t.Fatalf("warm-up book holds %d orders, want 500", book.Len())
	}
	counts := map[matching.Op]int{}
	trades := 0
	for _, c := range f.Commands {
		counts[c.Op]++
		out = book.Apply(c, out[:0])
		for _, e := range out {
			if e.Type == matching.EvRejected {
				t.Fatalf("command %+v rejected: %s", c, e.Reason)
			}
			if e.Type == matching.EvTrade {
				trades++
			}
		}
	}
	n := float64(len(f.Commands))
	if share := float64(counts[matching.OpModify]) / n; share < 0.78 || share > 0.86 {
		t.Errorf("modify share %.2f, want about 0.82", share)
	}
	if share := float64(counts[matching.OpCancel]) / n; share < 0.04 || share > 0.08 {
		t.Errorf("cancel share %.2f, want about 0.06", share)
	}
	if trades < len(f.Commands)/100 {
		t.Errorf("only %d trades in %d commands", trades, len(f.Commands))
	}
	if l := book.Len(); l < 250 || l > 1000 {
		t.Errorf("book drifted to %d orders from 500", l)
	}
}
