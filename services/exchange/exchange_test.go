package exchange_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

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
		require.NoError(t, svc.CreateAsset(ctx, a))
	}
	_, err := svc.CreateMarket(ctx, trading.MarketDef{Symbol: "BTC-USD", Base: "BTC", Quote: "USD", TickSize: "0.01", LotSize: "0.0001", MinQty: 1, MaxQty: 1_000_000})
	require.NoError(t, err)
	for _, acct := range []string{"alice", "bob"} {
		require.NoError(t, svc.Deposit(ctx, "d1", acct, "USD", 1_000_000_000))
	}
	return svc, st, p
}

func TestPlaceOrderRules(t *testing.T) {
	ctx := context.Background()
	svc, _, p := setup(t, trading.Book{Bids: []trading.Level{{Price: 99_00}}, Asks: []trading.Level{{Price: 101_00}}})
	limit := trading.PlaceOrder{Account: "alice", Market: "BTC-USD", Side: trading.Buy, Type: trading.Limit, Price: 100_00, Quantity: 10}

	o, err := svc.PlaceOrder(ctx, limit)
	require.NoError(t, err)
	require.Equal(t, trading.StatusPending, o.Status, "order %+v", o)
	require.Len(t, p.cmds, 1, "cmds %+v", p.cmds)
	require.Equal(t, int64(100_00), p.cmds[0].Price, "cmds %+v", p.cmds)
	// The book's mid (100.00) is the reference before any trade: 10% band.
	far := limit
	far.Price = 111_00
	_, err = svc.PlaceOrder(ctx, far)
	require.Equal(t, trading.EINVALID, trading.ErrorCode(err), "price outside band: %v", err)
	// A market buy goes to the book as an IOC limit at the protection price (mid + 5%).
	mkt := limit
	mkt.Type, mkt.Price = trading.Market, 0
	_, err = svc.PlaceOrder(ctx, mkt)
	require.NoError(t, err)
	c := p.cmds[len(p.cmds)-1]
	require.Equal(t, trading.Limit, c.Type, "market buy sent as %+v", c)
	require.Equal(t, trading.IOC, c.TimeInForce, "market buy sent as %+v", c)
	require.Equal(t, int64(105_00), c.Price, "market buy sent as %+v", c)
	require.NoError(t, svc.SetAccountKillSwitch(ctx, "alice", true))
	_, err = svc.PlaceOrder(ctx, limit)
	require.Equal(t, trading.EFORBIDDEN, trading.ErrorCode(err), "killed account: %v", err)
	require.NoError(t, svc.SetAccountKillSwitch(ctx, "alice", false))
	require.NoError(t, svc.SetHalted(ctx, "BTC-USD", true))
	_, err = svc.PlaceOrder(ctx, limit)
	require.Equal(t, trading.EUNAVAILABLE, trading.ErrorCode(err), "halted market: %v", err)
	require.NoError(t, svc.SetHalted(ctx, "BTC-USD", false))
	for _, bad := range []trading.PlaceOrder{
		{Account: "alice", Market: "ETH-USD", Side: trading.Buy, Type: trading.Limit, Price: 100_00, Quantity: 1},
		{Account: "alice", Market: "BTC-USD", Side: "hold", Type: trading.Limit, Price: 100_00, Quantity: 1},
		{Account: "alice", Market: "BTC-USD", Side: trading.Buy, Type: trading.Limit, TimeInForce: "GTD", Price: 100_00, Quantity: 1},
		{Account: "alice", ClientOrderID: "has space", Market: "BTC-USD", Side: trading.Buy, Type: trading.Limit, Price: 100_00, Quantity: 1},
		{Account: "", Market: "BTC-USD", Side: trading.Buy, Type: trading.Limit, Price: 100_00, Quantity: 1},
	} {
		_, err := svc.PlaceOrder(ctx, bad)
		assert.Error(t, err, "%+v: want a domain error", bad)
		assert.NotEqual(t, trading.EINTERNAL, trading.ErrorCode(err), "%+v: %v, want a domain error", bad, err)
	}
}

func TestCancelAndOwnership(t *testing.T) {
	ctx := context.Background()
	svc, _, p := setup(t, trading.Book{})
	o, err := svc.PlaceOrder(ctx, trading.PlaceOrder{Account: "alice", ClientOrderID: "x1", Market: "BTC-USD", Side: trading.Buy, Type: trading.Limit, Price: 100_00, Quantity: 10})
	require.NoError(t, err)
	_, err = svc.CancelOrder(ctx, "bob", o.ID)
	require.Equal(t, trading.ENOTFOUND, trading.ErrorCode(err), "cancel another's order: %v", err)
	_, err = svc.CancelOrder(ctx, "alice", o.ID)
	require.NoError(t, err)
	c := p.cmds[len(p.cmds)-1]
	require.Equal(t, trading.OpCancel, c.Op, "cancel sent as %+v", c)
	require.Equal(t, o.ID, c.OrderID, "cancel sent as %+v", c)
	require.Equal(t, "BTC-USD", c.Market, "cancel sent as %+v", c)
	n, err := svc.CancelAll(ctx, "alice", "")
	require.NoError(t, err, "cancel all")
	require.Equal(t, 1, n, "cancel all")
}

func TestUnpublishedOrderIsRelayed(t *testing.T) {
	ctx := context.Background()
	svc, st, p := setup(t, trading.Book{})
	p.down = true
	o, err := svc.PlaceOrder(ctx, trading.PlaceOrder{Account: "alice", Market: "BTC-USD", Side: trading.Buy, Type: trading.Limit, Price: 100_00, Quantity: 10})
	require.NoError(t, err, "an order recorded while Kafka is down is accepted")
	p.mu.Lock()
	p.down = false
	p.mu.Unlock()
	old, err := st.Unpublished(ctx, time.Now().Add(time.Hour), 10)
	require.NoError(t, err)
	require.Len(t, old, 1, "unpublished %+v", old)
	require.Equal(t, o.ID, old[0].ID, "unpublished %+v", old)
	rctx, cancel := context.WithTimeout(ctx, exchange.RepublishAge+2*time.Second)
	defer cancel()
	go svc.Relay(rctx)
	for rctx.Err() == nil && len(p.sent()) == 0 {
		time.Sleep(20 * time.Millisecond)
	}
	cmds := p.sent()
	require.Len(t, cmds, 1, "relay published %+v", cmds)
	require.Equal(t, o.ID, cmds[0].OrderID, "relay published %+v", cmds)
}
