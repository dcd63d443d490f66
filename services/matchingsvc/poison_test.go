package matchingsvc_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cantondex/platform/services/kafka"
	"github.com/cantondex/platform/services/matchingsvc"
	"github.com/cantondex/platform/services/memory"
	"github.com/cantondex/platform/services/trading"
)

func engine(t *testing.T) (*matchingsvc.Service, *recorder) {
	t.Helper()
	ctx := context.Background()
	store := memory.New()
	_, err := store.CreateMarket(ctx, trading.MarketDef{Symbol: "BTC-USD", Base: "BTC", Quote: "USD", TickSize: "0.01", LotSize: "0.0001"})
	require.NoError(t, err)
	pub := &recorder{}
	svc := newService(store, pub)
	_, err = svc.Assigned(ctx, "orders", 0)
	require.NoError(t, err)
	return svc, pub
}

func msg(t *testing.T, off int64, v any) kafka.Message {
	t.Helper()
	b, ok := v.([]byte)
	if !ok {
		var err error
		b, err = json.Marshal(v)
		require.NoError(t, err)
	}
	return kafka.Message{Topic: "orders", Partition: 0, Offset: off, Value: b}
}

func newOrder(id string, tif trading.TimeInForce) trading.OrderCommand {
	return trading.OrderCommand{Op: trading.OpNew, OrderID: id, Account: "a1", Market: "BTC-USD", Side: trading.Buy,
		Type: trading.Limit, TimeInForce: tif, Price: 100, Quantity: 1}
}

// An undecodable command is never skipped: the commands before it are published, the
// partition stops at its offset (every retry stops there again) and nothing after it runs.
func TestUndecodableCommandStopsThePartition(t *testing.T) {
	svc, pub := engine(t)
	ctx := context.Background()
	batch := []kafka.Message{msg(t, 0, newOrder("o0", trading.GTC)), msg(t, 1, []byte("{not json")), msg(t, 2, newOrder("o2", trading.GTC))}
	for range 2 {
		err := svc.Handle(ctx, batch)
		p := kafka.AsPoison(err)
		require.NotNil(t, p, "err %v", err)
		assert.Equal(t, kafka.PoisonError{Topic: "orders", Partition: 0, Offset: 1, Err: p.Err}, *p)
	}
	require.Len(t, pub.xs, 1, "the command before the poison is published once, the one after it never")
	assert.Equal(t, "o0", pub.xs[0].OrderID)

	// An unknown op is as unreadable as broken JSON.
	svc, _ = engine(t)
	bad := newOrder("o9", trading.GTC)
	bad.Op = "amend"
	assert.NotNil(t, kafka.AsPoison(svc.Handle(ctx, []kafka.Message{msg(t, 0, bad)})))
}

// A new order with a time in force, side or type outside the enumeration is rejected (its
// hold is released by settlement), never booked as a default GTC order.
func TestInvalidEnumerationsAreRejected(t *testing.T) {
	for name, mutate := range map[string]func(*trading.OrderCommand){
		"tif":       func(c *trading.OrderCommand) { c.TimeInForce = "GTD" },
		"empty tif": func(c *trading.OrderCommand) { c.TimeInForce = "" },
		"tif case":  func(c *trading.OrderCommand) { c.TimeInForce = "ioc" },
		"side":      func(c *trading.OrderCommand) { c.Side = "long" },
		"type":      func(c *trading.OrderCommand) { c.Type = "stop" },
	} {
		t.Run(name, func(t *testing.T) {
			svc, pub := engine(t)
			c := newOrder("o1", trading.GTC)
			mutate(&c)
			require.NoError(t, svc.Handle(context.Background(), []kafka.Message{msg(t, 0, c)}))
			require.Len(t, pub.xs, 1)
			require.Len(t, pub.xs[0].Events, 1)
			assert.Equal(t, trading.ExecRejected, pub.xs[0].Events[0].Type)
			assert.Equal(t, matchingsvc.ReasonInvalidCommand, pub.xs[0].Events[0].Reason)
			assert.Equal(t, "a1", pub.xs[0].Events[0].Account)
		})
	}
	// The valid values are booked.
	svc, pub := engine(t)
	require.NoError(t, svc.Handle(context.Background(), []kafka.Message{msg(t, 0, newOrder("o1", trading.GTC))}))
	require.Len(t, pub.xs, 1)
	assert.Equal(t, trading.ExecAccepted, pub.xs[0].Events[0].Type)
}
