package postgres_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/cantondex/platform/services/ledger"
	"github.com/cantondex/platform/services/postgres"
	"github.com/cantondex/platform/services/postgres/pgtest"
	"github.com/cantondex/platform/services/storetest"
)

func TestLedgerContract(t *testing.T) {
	storetest.Ledger(t, func(t *testing.T) ledger.Store { return postgres.NewStore(pgtest.New(t, "ledger")) })
}

func TestMigrateTwiceIsHarmless(t *testing.T) {
	db := pgtest.New(t, "migrate")
	if err := db.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// BenchmarkLedgerTransfers measures settled trade transfers per second, applied in batches
// of 200 as the settlement consumer does.
func BenchmarkLedgerTransfers(b *testing.B) {
	ctx := context.Background()
	s := postgres.NewStore(pgtest.New(b, "ledgerbench"))
	benchmarkTransfers(b, ctx, s)
}

func benchmarkTransfers(b *testing.B, ctx context.Context, s ledger.Store) {
	const accounts = 1000
	var deposits []ledger.Transfer
	for i := 0; i < accounts; i++ {
		for _, a := range []string{"BTC", "USD"} {
			d, _ := ledger.Deposit(fmt.Sprint("d", i, a), fmt.Sprint("acct", i), a, 1<<40)
			deposits = append(deposits, d)
		}
	}
	if err := s.ApplyAll(ctx, deposits); err != nil {
		b.Fatal(err)
	}
	const batch = 200
	b.ResetTimer()
	for done := 0; done < b.N; {
		n := min(batch, b.N-done)
		ts := make([]ledger.Transfer, n)
		for i := range ts {
			k := done + i
			buyer, seller := fmt.Sprint("acct", k%accounts), fmt.Sprint("acct", (k*7+1)%accounts)
			ts[i] = ledger.Transfer{ID: fmt.Sprint("t", k), Kind: ledger.KindTrade, Postings: []ledger.Posting{
				{Account: buyer, Asset: "USD", Amount: -1000}, {Account: seller, Asset: "USD", Amount: 999}, {Account: ledger.Fees, Asset: "USD", Amount: 1},
				{Account: seller, Asset: "BTC", Amount: -10}, {Account: buyer, Asset: "BTC", Amount: 10},
			}}
		}
		if err := s.ApplyAll(ctx, ts); err != nil {
			b.Fatal(err)
		}
		done += n
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "transfers/s")
}

func TestVenueContract(t *testing.T) {
	storetest.Venue(t, func(t *testing.T) storetest.VenueStore { return postgres.NewStore(pgtest.New(t, "venue")) })
}
