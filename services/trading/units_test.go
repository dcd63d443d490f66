package trading

import "testing"

func TestUnits(t *testing.T) {
	m := MarketDef{Symbol: "BTC-USD", TickSize: "0.01", LotSize: "0.0001"}
	u, err := NewUnits(m, Asset{"BTC", 8}, Asset{"USD", 6})
	if err != nil {
		t.Fatal(err)
	}
	// 0.5 BTC at 30,000.00 = 15,000 USD.
	if n, ok := u.Notional(3_000_000, 5000); !ok || n != 15_000_000_000 {
		t.Fatalf("notional %d %v", n, ok)
	}
	if b, ok := u.Base(5000); !ok || b != 50_000_000 || u.Lots(b) != 5000 {
		t.Fatalf("base %d %v", b, ok)
	}
	if _, ok := u.Notional(1<<40, 1<<40); ok {
		t.Fatal("overflow not reported")
	}
	if _, err := NewUnits(m, Asset{"BTC", 8}, Asset{"USD", 2}); ErrorCode(err) != EINVALID {
		t.Fatalf("USD at scale 2 cannot hold notionals exactly: %v", err)
	}
	if _, err := NewUnits(m, Asset{"BTC", 3}, Asset{"USD", 6}); ErrorCode(err) != EINVALID {
		t.Fatalf("BTC at scale 3 cannot hold a lot: %v", err)
	}
	// A tick of 0.05 and lot of 0.5: notional factor 0.025 -> 25,000 at scale 6.
	u, err = NewUnits(MarketDef{TickSize: "0.05", LotSize: "0.5"}, Asset{"X", 1}, Asset{"Y", 6})
	if n, _ := u.Notional(3, 2); err != nil || n != 150_000 {
		t.Fatalf("odd steps: %d %v", n, err)
	}
}
