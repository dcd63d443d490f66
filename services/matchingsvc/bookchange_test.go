package matchingsvc_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cantondex/platform/services/kafka"
	"github.com/cantondex/platform/services/memory"
	"github.com/cantondex/platform/services/trading"
)

type lastDepth struct{ b trading.Book }

func (d *lastDepth) Put(_ context.Context, books ...trading.Book) error {
	for _, b := range books {
		d.b = b
	}
	return nil
}

// side is a client's copy of one side of a book, rebuilt from changes.
type side map[int64]int64

func (s side) apply(ls []trading.LevelQty) {
	for _, l := range ls {
		if l.Quantity == 0 {
			delete(s, l.Price)
		} else {
			s[l.Price] = l.Quantity
		}
	}
}

func (s side) levels(desc bool) []trading.Level {
	var out []trading.Level
	for p, q := range s {
		out = append(out, trading.Level{Price: p, Quantity: q})
	}
	slices.SortFunc(out, func(a, b trading.Level) int {
		if desc {
			return int(b.Price - a.Price)
		}
		return int(a.Price - b.Price)
	})
	return out
}

// Every execution that changes the book carries the next update id, the levels it changed and
// the checksum of the book after it; a client applying the changes holds the engine's book
// exactly, and the depth it publishes names the last change it reflects.
func TestBookChangesRebuildTheBook(t *testing.T) {
	t.Run("few levels", func(t *testing.T) { requireBookChangesRebuildTheBook(t, 95, 12) })
	// Most changes of a deep book are below the top the checksum covers (which the engine
	// then does not read again): each checksum is still the whole top's.
	t.Run("deep book", func(t *testing.T) { requireBookChangesRebuildTheBook(t, 40, 120) })
}

// requireBookChangesRebuildTheBook runs a random flow of orders priced from low to
// low+width-1 (buys under 100, sells from 97) through the engine and checks each change.
func requireBookChangesRebuildTheBook(t *testing.T, low, width int) {
	ctx := context.Background()
	store := memory.New()
	_, err := store.CreateMarket(ctx, trading.MarketDef{Symbol: "BTC-USD", Base: "BTC", Quote: "USD", TickSize: "0.01", LotSize: "0.0001"})
	require.NoError(t, err)
	rng := rand.New(rand.NewPCG(7, 8))
	var msgs []kafka.Message
	var ids []string
	for i := range 3000 {
		c := trading.OrderCommand{Op: trading.OpNew, OrderID: fmt.Sprint("o", i), Account: fmt.Sprint("a", rng.IntN(6)),
			Market: "BTC-USD", Side: trading.Buy, Type: trading.Limit, TimeInForce: trading.GTC,
			Price: int64(low + rng.IntN(width)), Quantity: int64(1 + rng.IntN(8))}
		if c.Price > 100 || (c.Price == 100 && rng.IntN(2) == 0) {
			c.Side = trading.Sell
			c.Price -= 3 // makes crossing orders common on both sides
		}
		switch r := rng.IntN(10); {
		case r == 0:
			c.TimeInForce = trading.IOC
		case r == 1:
			c.TimeInForce = trading.FOK
		case r < 4 && len(ids) > 0:
			c = trading.OrderCommand{Op: trading.OpCancel, OrderID: ids[rng.IntN(len(ids))], Market: "BTC-USD"}
		default:
			ids = append(ids, c.OrderID)
		}
		v, _ := json.Marshal(c)
		msgs = append(msgs, kafka.Message{Topic: "orders", Offset: int64(i), Value: v, Timestamp: time.Unix(1_700_000_000, 0)})
	}
	rec := &recorder{}
	depth := &lastDepth{}
	svc := newService(store, rec)
	svc.Depth, svc.DepthLevels = depth, 500
	_, err = svc.Assigned(ctx, "orders", 0)
	require.NoError(t, err)
	for i := 0; i < len(msgs); i += 97 {
		require.NoError(t, svc.Handle(ctx, msgs[i:min(i+97, len(msgs))]))
	}

	bids, asks := side{}, side{}
	var last uint64
	unchanged, deep := 0, 0
	for _, x := range rec.xs {
		if x.Book == nil {
			unchanged++
			continue
		}
		require.Equal(t, last+1, x.Book.UpdateID, "execution %s", x.ID)
		last = x.Book.UpdateID
		require.NotEmpty(t, len(x.Book.Bids)+len(x.Book.Asks), "change %d lists no level", last)
		for _, l := range x.Book.Bids {
			require.NotEqual(t, bids[l.Price], l.Quantity, "change %d lists bid level %d unchanged", last, l.Price)
		}
		for _, l := range x.Book.Asks {
			require.NotEqual(t, asks[l.Price], l.Quantity, "change %d lists ask level %d unchanged", last, l.Price)
		}
		if belowTop(bids.levels(true), x.Book.Bids, true) && belowTop(asks.levels(false), x.Book.Asks, false) {
			deep++
		}
		bids.apply(x.Book.Bids)
		asks.apply(x.Book.Asks)
		b, a := bids.levels(true), asks.levels(false)
		require.Equal(t, trading.BookChecksum(b, a), x.Book.Checksum, "checksum after change %d", last)
		if len(b) > 0 {
			require.Equal(t, b[0].Price, x.Book.BestBid)
		}
		if len(a) > 0 {
			require.Equal(t, a[0].Price, x.Book.BestAsk)
		}
	}
	assert.Positive(t, unchanged, "some commands change nothing (rejections, unfilled IOC/FOK, cancels of gone orders)")
	if width > 2*trading.ChecksumLevels {
		assert.Greater(t, deep, len(rec.xs)/10, "many changes leave both sides' tops as they were")
	}
	assert.Equal(t, last, depth.b.UpdateID, "the published depth names the last change")
	strip := func(ls []trading.Level) []trading.Level {
		out := make([]trading.Level, len(ls))
		for i, l := range ls {
			out[i] = trading.Level{Price: l.Price, Quantity: l.Quantity}
		}
		return out
	}
	assert.Equal(t, strip(depth.b.Bids), bids.levels(true))
	assert.Equal(t, strip(depth.b.Asks), asks.levels(false))
}

// belowTop reports whether every changed level is worse than the last of the top
// trading.ChecksumLevels levels of a side (best first) that has more.
func belowTop(side []trading.Level, changed []trading.LevelQty, desc bool) bool {
	if len(changed) == 0 {
		return true
	}
	if len(side) <= trading.ChecksumLevels {
		return false
	}
	last := side[trading.ChecksumLevels-1].Price
	for _, l := range changed {
		if desc && l.Price >= last || !desc && l.Price <= last {
			return false
		}
	}
	return true
}

func TestBookChecksumString(t *testing.T) {
	// CRC-32 of "10001:5,9999:2|10002:7".
	got := trading.BookChecksum([]trading.Level{{Price: 10001, Quantity: 5}, {Price: 9999, Quantity: 2}}, []trading.Level{{Price: 10002, Quantity: 7}})
	assert.Equal(t, uint32(0x661c5d9f), got)
}
