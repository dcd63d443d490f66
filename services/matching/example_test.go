package matching_test

import (
	"bytes"
	"fmt"

	"github.com/cantondex/platform/services/matching"
)

func Example() {
	book, err := matching.NewBook(matching.Market{Symbol: "BTC-USD", TickSize: "0.01", LotSize: "0.0001"})
	if err != nil {
		panic(err)
	}
	m := book.Market()
	price, _ := m.ParsePrice("100.50")
	qty, _ := m.ParseQty("2")
	events := make([]matching.Event, 0, 16) // reused for every command
	events = book.Apply(matching.Command{Op: matching.OpNew, Seq: 1, ID: "o-1", Account: "alice",
		Side: matching.Sell, Type: matching.Limit, Price: price, Qty: qty}, events[:0])
	events = book.Apply(matching.Command{Op: matching.OpNew, Seq: 2, ID: "o-2", Account: "bob",
		Side: matching.Buy, Type: matching.MarketOrder, Qty: qty / 2}, events[:0])
	for _, e := range events {
		switch e.Type {
		case matching.EvTrade:
			fmt.Printf("%d trade maker=%s taker=%s price=%s qty=%s\n", e.Seq, e.MakerID, e.TakerID, m.AppendPrice(nil, e.Price), m.AppendQty(nil, e.Qty))
		default:
			fmt.Printf("%d %v %s qty=%s\n", e.Seq, e.Type, e.ID, m.AppendQty(nil, e.Qty))
		}
	}

	// Snapshot, restore, carry on.
	var snap bytes.Buffer
	if err := book.Snapshot(&snap); err != nil {
		panic(err)
	}
	restored, err := matching.Restore(&snap)
	if err != nil {
		panic(err)
	}
	ask, _ := restored.BestAsk()
	fmt.Printf("restored at seq %d: best ask %s x %s\n", restored.LastSeq(), m.AppendPrice(nil, ask.Price), m.AppendQty(nil, ask.Qty))
	// Output:
	// 2 accepted o-2 qty=1.0000
	// 2 trade maker=o-1 taker=o-2 price=100.50 qty=1.0000
	// restored at seq 2: best ask 100.50 x 1.0000
}
