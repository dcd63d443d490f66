package http

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cantondex/platform/services/trading"
	"github.com/cantondex/platform/services/trading/tradingtest"
)

// slowMarkets counts market reads and holds each until release is closed.
type slowMarkets struct {
	trading.MarketService
	reads   atomic.Int32
	release chan struct{}
	fail    atomic.Bool
}

func (m *slowMarkets) Market(ctx context.Context, symbol string) (trading.MarketDef, error) {
	m.reads.Add(1)
	<-m.release
	if m.fail.Load() {
		return trading.MarketDef{}, trading.Errorf(trading.EUNAVAILABLE, "database down")
	}
	return m.MarketService.Market(ctx, symbol)
}

func TestCachedMarketRefreshesOnceWhileStale(t *testing.T) {
	ctx := context.Background()
	v := tradingtest.NewVenue(nil)
	_, err := v.CreateMarket(ctx, tradingtest.DemoMarket())
	require.NoError(t, err)
	markets := &slowMarkets{MarketService: v, release: make(chan struct{})}
	s := &Server{deps: Deps{Markets: markets}, refs: newRefCache()}
	now := time.Unix(1_000_000, 0)
	s.refs.now = func() time.Time { return now }

	close(markets.release) // the first read answers at once
	_, _, err = s.cachedMarket(ctx, "BTC-USD")
	require.NoError(t, err)
	markets.release = make(chan struct{})
	now = now.Add(refTTL) // stale: the next caller reads anew and blocks

	refreshed := make(chan error)
	go func() { _, _, err := s.cachedMarket(ctx, "BTC-USD"); refreshed <- err }()
	for markets.reads.Load() < 2 {
		time.Sleep(time.Millisecond)
	}
	done := make(chan error, 20)
	for range 20 { // meanwhile everyone else gets the stale entry without a read
		go func() {
			m, _, err := s.cachedMarket(ctx, "BTC-USD")
			if err == nil && m.Symbol != "BTC-USD" {
				err = fmt.Errorf("market %q", m.Symbol)
			}
			done <- err
		}()
	}
	for range 20 {
		select {
		case err := <-done:
			require.NoError(t, err, "during the refresh")
		case <-time.After(5 * time.Second):
			close(markets.release)
			require.Failf(t, "callers queued for the database while one refreshed", "%d reads", markets.reads.Load())
		}
	}
	require.Equal(t, int32(2), markets.reads.Load(), "market reads: one per refresh")
	close(markets.release)
	require.NoError(t, <-refreshed, "the refresh")

	// A failed refresh leaves nothing stale behind: the next caller reads again.
	now = now.Add(refTTL)
	markets.fail.Store(true)
	_, _, err = s.cachedMarket(ctx, "BTC-USD")
	require.Equal(t, trading.EUNAVAILABLE, trading.ErrorCode(err), "failed refresh: %v", err)
	_, _, err = s.cachedMarket(ctx, "BTC-USD")
	require.Equal(t, trading.EUNAVAILABLE, trading.ErrorCode(err), "after a failed refresh: %v, want the read tried again", err)
	require.Equal(t, int32(4), markets.reads.Load(), "market reads")
}
