package postgres_test

import (
	"context"
	"fmt"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cantondex/platform/services/ledger"
	"github.com/cantondex/platform/services/postgres"
	"github.com/cantondex/platform/services/postgres/pgtest"
	"github.com/cantondex/platform/services/storetest"
	"github.com/cantondex/platform/services/trading"
)

func TestLedgerContract(t *testing.T) {
	storetest.Ledger(t, func(t *testing.T) ledger.Store { return postgres.NewStore(pgtest.New(t, "ledger")) })
}

func TestMigrateTwiceIsHarmless(t *testing.T) {
	db := pgtest.New(t, "migrate")
	require.NoError(t, db.Migrate(context.Background()))
}

// BenchmarkLedgerTransfers measures settled trade transfers per second, applied in batches
// of 200 as the settlement consumer does.
// BenchmarkLedgerTransfers applies trade transfers in batches of 200 and of 1,000 (the most
// settlement takes from its consumer at once).
func BenchmarkLedgerTransfers(b *testing.B) {
	ctx := context.Background()
	for _, batch := range []int{200, 1000} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			s := postgres.NewStore(pgtest.New(b, "ledgerbench"))
			benchmarkTransfers(b, ctx, s, batch)
		})
	}
}

func benchmarkTransfers(b *testing.B, ctx context.Context, s ledger.Store, batch int) {
	const accounts = 1000
	var deposits []ledger.Transfer
	for i := 0; i < accounts; i++ {
		for _, a := range []string{"BTC", "USD"} {
			d, _ := ledger.Deposit(fmt.Sprint("d", i, a), fmt.Sprint("acct", i), a, 1<<40)
			deposits = append(deposits, d)
		}
	}
	require.NoError(b, s.ApplyAll(ctx, deposits))
	// Each transfer has the shape settlement gives a trade (settlement.TradeTransfer): the
	// buyer pays from its order's hold, the seller delivers from its order's hold, a fee goes
	// to the fee account. The orders' holds are taken before the clock runs, as order entry
	// takes them.
	b.ResetTimer()
	for done := 0; done < b.N; {
		n := min(batch, b.N-done)
		holds := make([]ledger.Transfer, 0, 2*n)
		ts := make([]ledger.Transfer, n)
		for i := range ts {
			k := done + i
			buyer, seller := fmt.Sprint("acct", k%accounts), fmt.Sprint("acct", (k*7+1)%accounts)
			bid, ask := fmt.Sprint("b", k), fmt.Sprint("a", k)
			holds = append(holds, ledger.Reserve(bid, buyer, "USD", 1000), ledger.Reserve(ask, seller, "BTC", 10))
			ts[i] = ledger.Transfer{ID: fmt.Sprint("t", k), Kind: ledger.KindTrade, Postings: []ledger.Posting{
				{Account: buyer, Asset: "USD", Amount: -1000}, {Account: seller, Asset: "USD", Amount: 999}, {Account: ledger.Fees, Asset: "USD", Amount: 1},
				{Account: seller, Asset: "BTC", Amount: -10}, {Account: buyer, Asset: "BTC", Amount: 10},
			}, Holds: []ledger.HoldOp{
				{Hold: bid, Account: buyer, Asset: "USD", Amount: -1000}, {Hold: ask, Account: seller, Asset: "BTC", Amount: -10},
			}}
		}
		b.StopTimer()
		require.NoError(b, s.ApplyAll(ctx, holds))
		b.StartTimer()
		if err := s.ApplyAll(ctx, ts); err != nil {
			require.NoError(b, err)
		}
		done += n
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "transfers/s")
}

func TestVenueContract(t *testing.T) {
	storetest.Venue(t, func(t *testing.T) storetest.VenueStore { return postgres.NewStore(pgtest.New(t, "venue")) })
}

// A transfer whose sum would pass the largest balance is refused as invalid (not an internal
// error with SQL text) and changes nothing.
func TestOverflowingTransferIsInvalid(t *testing.T) {
	s := postgres.NewStore(pgtest.New(t, "overflow"))
	ctx := context.Background()
	first, err := ledger.Deposit("d1", "alice", "USD", math.MaxInt64)
	require.NoError(t, err)
	require.NoError(t, s.ApplyAll(ctx, []ledger.Transfer{first}))
	second, err := ledger.Deposit("d2", "alice", "USD", 1)
	require.NoError(t, err)
	_, err = s.Apply(ctx, second)
	require.Error(t, err)
	assert.Equal(t, trading.EINVALID, trading.ErrorCode(err), "error %v", err)
	assert.NotContains(t, err.Error(), "SQLSTATE")
	b, err := s.Balance(ctx, "alice", "USD")
	require.NoError(t, err)
	assert.Equal(t, int64(math.MaxInt64), b.Total)
}
