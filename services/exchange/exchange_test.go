package exchange_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/cantondex/platform/services/exchange"
	"github.com/cantondex/platform/services/memory"
	"github.com/cantondex/platform/services/risk"
	"github.com/cantondex/platform/services/trading"
)

type pub struct {
	mu   sync.Mutex
	cmds []trading.OrderCommand
	down bool
}

func (p *pub) sent() []trading.OrderCommand {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]trading.OrderCommand(nil), p.cmds...)
}

func (p *pub) PublishCommands(_ context.Context, cmds ...trading.OrderCommand) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.down {
		return errors.New("down")
	}
	p.cmds = append(p.cmds, cmds...)
	return nil
}

type books struct{ b trading.Book }

func (b books) Book(_ context.Context, market string, _ int) (trading.Book, error) { return b.b, nil }

func setup(t *testing.T, bk trading.Book) (*exchange.Service, *memory.Store, *pub) {
	t.Helper()
	ctx := context.Background()
	st := memory.New()
	p := &pub{}
	svc := exchange.New(st, p, books{bk}, risk.Limits{PriceBandBps: 1000}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	for _, a := range []trading.Asset{{Symbol: "BTC", Scale: 8}, {Symbol: "USD", Scale: 6}} {
		if err := svc.CreateAsset(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := svc.CreateMarket(ctx, trading.MarketDef{Symbol: "BTC-USD", Base: "BTC", Quote: "USD", TickSize: "0.01", LotSize: "0.0001", MinQty: 1, MaxQty: 1_000_000}); err != nil {
		t.Fatal(err)
	}
	for _, acct := range []string{"alice", "bob"} {
		if err := svc.Deposit(ctx, "d1", acct, "USD", 1_000_000_000); err != nil {
			t.Fatal(err)
		}
	}
	return svc, st, p
}

func TestPlaceOrderRules(t *testing.T) {
	ctx := context.Background()
	svc, _, p := setup(t, trading.Book{Bids: []trading.Level{{Price: 99_00}}, Asks: []trading.Level{{Price: 101_00}}})
	limit := trading.PlaceOrder{Account: "alice", Market: "BTC-USD", Side: trading.Buy, Type: trading.Limit, Price: 100_00, Quantity: 10}

	o, err := svc.PlaceOrder(ctx, limit)
	if err != nil || o.Status != trading.StatusPending || len(p.cmds) != 1 || p.cmds[0].Price != 100_00 {
		t.Fatalf("order %+v, %v, cmds %+v", o, err, p.cmds)
	}
	// The book's mid (100.00) is the reference before any trade: 10% band.
	far := limit
	far.Price = 111_00
	if _, err := svc.PlaceOrder(ctx, far); trading.ErrorCode(err) != trading.EINVALID {
		t.Fatalf("price outside band: %v", err)
	}
	// A market buy goes to the book as an IOC limit at the protection price (mid + 5%).
	mkt := limit
	mkt.Type, mkt.Price = trading.Market, 0
	if _, err := svc.PlaceOrder(ctx, mkt); err != nil {
		t.Fatal(err)
	}
	if c := p.cmds[len(p.cmds)-1]; c.Type != trading.Limit || c.TimeInForce != trading.IOC || c.Price != 105_00 {
		t.Fatalf("market buy sent as %+v", c)
	}
	if err := svc.SetAccountKillSwitch(ctx, "alice", true); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.PlaceOrder(ctx, limit); trading.ErrorCode(err) != trading.EFORBIDDEN {
		t.Fatalf("killed account: %v", err)
	}
	if err := svc.SetAccountKillSwitch(ctx, "alice", false); err != nil {
		t.Fatal(err)
	}
	if err := svc.SetHalted(ctx, "BTC-USD", true); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.PlaceOrder(ctx, limit); trading.ErrorCode(err) != trading.EUNAVAILABLE {
		t.Fatalf("halted market: %v", err)
	}
	if err := svc.SetHalted(ctx, "BTC-USD", false); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []trading.PlaceOrder{
		{Account: "alice", Market: "ETH-USD", Side: trading.Buy, Type: trading.Limit, Price: 100_00, Quantity: 1},
		{Account: "alice", Market: "BTC-USD", Side: "hold", Type: trading.Limit, Price: 100_00, Quantity: 1},
		{Account: "alice", Market: "BTC-USD", Side: trading.Buy, Type: trading.Limit, TimeInForce: "GTD", Price: 100_00, Quantity: 1},
		{Account: "alice", ClientOrderID: "has space", Market: "BTC-USD", Side: trading.Buy, Type: trading.Limit, Price: 100_00, Quantity: 1},
		{Account: "", Market: "BTC-USD", Side: trading.Buy, Type: trading.Limit, Price: 100_00, Quantity: 1},
	} {
		if _, err := svc.PlaceOrder(ctx, bad); err == nil || trading.ErrorCode(err) == trading.EINTERNAL {
			t.Errorf("%+v: %v, want a domain error", bad, err)
		}
	}
}

func TestCancelAndOwnership(t *testing.T) {
	ctx := context.Background()
	svc, _, p := setup(t, trading.Book{})
	o, err := svc.PlaceOrder(ctx, trading.PlaceOrder{Account: "alice", ClientOrderID: "x1", Market: "BTC-USD", Side: trading.Buy, Type: trading.Limit, Price: 100_00, Quantity: 10})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.CancelOrder(ctx, "bob", o.ID); trading.ErrorCode(err) != trading.ENOTFOUND {
		t.Fatalf("cancel another's order: %v", err)
	}
	if _, err := svc.CancelOrder(ctx, "alice", o.ID); err != nil {
		t.Fatal(err)
	}
	if c := p.cmds[len(p.cmds)-1]; c.Op != trading.OpCancel || c.OrderID != o.ID || c.Market != "BTC-USD" {
		t.Fatalf("cancel sent as %+v", c)
	}
	n, err := svc.CancelAll(ctx, "alice", "")
	if err != nil || n != 1 {
		t.Fatalf("cancel all: %d, %v", n, err)
	}
}

func TestUnpublishedOrderIsRelayed(t *testing.T) {
	ctx := context.Background()
	svc, st, p := setup(t, trading.Book{})
	p.down = true
	o, err := svc.PlaceOrder(ctx, trading.PlaceOrder{Account: "alice", Market: "BTC-USD", Side: trading.Buy, Type: trading.Limit, Price: 100_00, Quantity: 10})
	if err != nil {
		t.Fatalf("an order recorded while Kafka is down is accepted: %v", err)
	}
	p.mu.Lock()
	p.down = false
	p.mu.Unlock()
	old, err := st.Unpublished(ctx, time.Now().Add(time.Hour), 10)
	if err != nil || len(old) != 1 || old[0].ID != o.ID {
		t.Fatalf("unpublished %+v %v", old, err)
	}
	rctx, cancel := context.WithTimeout(ctx, exchange.RepublishAge+2*time.Second)
	defer cancel()
	go svc.Relay(rctx)
	for rctx.Err() == nil && len(p.sent()) == 0 {
		time.Sleep(20 * time.Millisecond)
	}
	if cmds := p.sent(); len(cmds) != 1 || cmds[0].OrderID != o.ID {
		t.Fatalf("relay published %+v", cmds)
	}
}
