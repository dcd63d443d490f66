// Package storetest is the contract suite every implementation of the storage ports passes:
// memory.Store and postgres.Store run the same tests, so the in-memory default behaves like
// the PostgreSQL store the platform runs on.
package storetest

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cantondex/platform/services/ledger"
	"github.com/cantondex/platform/services/trading"
)

// Ledger runs the ledger contract against stores made by open, one fresh store per subtest.
func Ledger(t *testing.T, open func(t *testing.T) ledger.Store) {
	ctx := context.Background()
	mustApply := func(t *testing.T, s ledger.Store, tr ledger.Transfer) {
		t.Helper()
		_, err := s.Apply(ctx, tr)
		require.NoError(t, err, "apply %s", tr.ID)
	}
	deposit := func(t *testing.T, s ledger.Store, id, acct, asset string, amt int64) {
		t.Helper()
		tr, err := ledger.Deposit(id, acct, asset, amt)
		require.NoError(t, err)
		mustApply(t, s, tr)
	}
	wantBal := func(t *testing.T, s ledger.Store, acct, asset string, total, held int64) {
		t.Helper()
		b, err := s.Balance(ctx, acct, asset)
		require.NoError(t, err)
		require.Equal(t, total, b.Total, "%s %s total", acct, asset)
		require.Equal(t, held, b.Held, "%s %s held", acct, asset)
		require.Equal(t, total-held, b.Available, "%s %s available", acct, asset)
	}
	wantCode := func(t *testing.T, err error, code string) {
		t.Helper()
		require.Equal(t, code, trading.ErrorCode(err), "error %v", err)
	}

	t.Run("DepositIsIdempotent", func(t *testing.T) {
		s := open(t)
		tr, _ := ledger.Deposit("d1", "alice", "USD", 500)
		for i := 0; i < 3; i++ {
			applied, err := s.Apply(ctx, tr)
			require.NoError(t, err, "apply #%d", i)
			require.Equal(t, i == 0, applied, "apply #%d: applied", i)
		}
		wantBal(t, s, "alice", "USD", 500, 0)
		wantBal(t, s, ledger.External, "USD", -500, 0)
		// The same id moving something else is a conflict and changes nothing.
		other, _ := ledger.Deposit("d1", "alice", "USD", 501)
		_, err := s.Apply(ctx, other)
		require.Equal(t, trading.ECONFLICT, trading.ErrorCode(err), "reused id with another amount: %v", err)
		wantBal(t, s, "alice", "USD", 500, 0)
	})

	t.Run("UnbalancedRejected", func(t *testing.T) {
		s := open(t)
		_, err := s.Apply(ctx, ledger.Transfer{ID: "x", Postings: []ledger.Posting{{Account: "alice", Asset: "USD", Amount: 10}}})
		wantCode(t, err, trading.EINVALID)
		wantBal(t, s, "alice", "USD", 0, 0)
		// The id was not consumed by the failure.
		deposit(t, s, "x", "alice", "USD", 10)
		wantBal(t, s, "alice", "USD", 10, 0)
	})

	t.Run("WithdrawBeyondAvailable", func(t *testing.T) {
		s := open(t)
		deposit(t, s, "d1", "alice", "USD", 100)
		mustApply(t, s, ledger.Reserve("o1", "alice", "USD", 60))
		w, _ := ledger.Withdraw("w1", "alice", "USD", 50)
		_, err := s.Apply(ctx, w)
		wantCode(t, err, trading.EINSUFFICIENT)
		wantBal(t, s, "alice", "USD", 100, 60)
		w, _ = ledger.Withdraw("w2", "alice", "USD", 40)
		mustApply(t, s, w)
		wantBal(t, s, "alice", "USD", 60, 60)
	})

	t.Run("HoldLifecycle", func(t *testing.T) {
		s := open(t)
		deposit(t, s, "d1", "alice", "USD", 1000)
		_, err := s.Apply(ctx, ledger.Reserve("o1", "alice", "USD", 1001))
		wantCode(t, err, trading.EINSUFFICIENT)
		_, err = s.Hold(ctx, "o1")
		require.Equal(t, trading.ENOTFOUND, trading.ErrorCode(err), "failed reserve left hold: %v", err)
		mustApply(t, s, ledger.Reserve("o1", "alice", "USD", 700))
		wantBal(t, s, "alice", "USD", 1000, 700)
		// A fill consumes 300 of the hold, paying bob, and releases 100 it did not use.
		mustApply(t, s, ledger.Transfer{ID: "t1", Kind: ledger.KindTrade,
			Postings: []ledger.Posting{{Account: "alice", Asset: "USD", Amount: -300}, {Account: "bob", Asset: "USD", Amount: 300}},
			Holds:    []ledger.HoldOp{{Hold: "o1", Account: "alice", Asset: "USD", Amount: -400}}})
		wantBal(t, s, "alice", "USD", 700, 300)
		wantBal(t, s, "bob", "USD", 300, 0)
		h, err := s.Hold(ctx, "o1")
		require.NoError(t, err)
		require.Equal(t, int64(300), h.Remaining, "hold %+v", h)
		require.False(t, h.Closed, "hold %+v", h)
		// Consuming more than remains fails and changes nothing.
		_, err = s.Apply(ctx, ledger.Transfer{ID: "t2", Postings: []ledger.Posting{{Account: "alice", Asset: "USD", Amount: -301}, {Account: "bob", Asset: "USD", Amount: 301}},
			Holds: []ledger.HoldOp{{Hold: "o1", Account: "alice", Asset: "USD", Amount: -301}}})
		wantCode(t, err, trading.EINSUFFICIENT)
		wantBal(t, s, "alice", "USD", 700, 300)
		mustApply(t, s, ledger.ReleaseRest("o1", "alice", "USD"))
		wantBal(t, s, "alice", "USD", 700, 0)
		h, _ = s.Hold(ctx, "o1")
		require.Zero(t, h.Remaining, "closed hold %+v", h)
		require.True(t, h.Closed, "closed hold %+v", h)
		again := ledger.Reserve("o1", "alice", "USD", 1)
		again.ID = "again"
		_, err = s.Apply(ctx, again)
		wantCode(t, err, trading.ECONFLICT)
	})

	t.Run("ApplyAllIsAllOrNothing", func(t *testing.T) {
		s := open(t)
		deposit(t, s, "d1", "alice", "BTC", 10)
		good, _ := ledger.Deposit("d2", "bob", "BTC", 5)
		bad, _ := ledger.Withdraw("w1", "carol", "BTC", 1)
		err := s.ApplyAll(ctx, []ledger.Transfer{good, bad})
		wantCode(t, err, trading.EINSUFFICIENT)
		wantBal(t, s, "bob", "BTC", 0, 0)
		again, _ := ledger.Deposit("d1", "alice", "BTC", 10)
		require.NoError(t, s.ApplyAll(ctx, []ledger.Transfer{good, again, ledger.Reserve("o1", "bob", "BTC", 5)}))
		wantBal(t, s, "alice", "BTC", 10, 0) // d1 not applied twice
		wantBal(t, s, "bob", "BTC", 5, 5)
		// Closing a hold within a batch after consuming part of it.
		err = s.ApplyAll(ctx, []ledger.Transfer{
			{ID: "t1", Postings: []ledger.Posting{{Account: "bob", Asset: "BTC", Amount: -2}, {Account: "alice", Asset: "BTC", Amount: 2}}, Holds: []ledger.HoldOp{{Hold: "o1", Account: "bob", Asset: "BTC", Amount: -2}}},
			ledger.ReleaseRest("o1", "bob", "BTC"),
		})
		require.NoError(t, err)
		wantBal(t, s, "bob", "BTC", 3, 0)
		wantBal(t, s, "alice", "BTC", 12, 0)
	})

	t.Run("ConcurrentReservationsNeverOverdraw", func(t *testing.T) {
		s := open(t)
		deposit(t, s, "d1", "alice", "USD", 100)
		var wg sync.WaitGroup
		var mu sync.Mutex
		ok := 0
		for i := 0; i < 20; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				_, err := s.Apply(ctx, ledger.Reserve(fmt.Sprint("o", i), "alice", "USD", 10))
				if err == nil {
					mu.Lock()
					ok++
					mu.Unlock()
				} else {
					assert.Equal(t, trading.EINSUFFICIENT, trading.ErrorCode(err), "reserve: %v", err)
				}
			}(i)
		}
		wg.Wait()
		require.Equal(t, 10, ok, "reservations of 10 that succeeded on 100")
		wantBal(t, s, "alice", "USD", 100, 100)
	})

	// Reservations and withdrawals lower available funds, releases raise them; run all three at
	// once on one account and nothing may overdraw it.
	t.Run("ConcurrentReserveWithdrawReleaseNeverOverdraw", func(t *testing.T) {
		s := open(t)
		for round := 0; round < 8; round++ { // a race shows in some rounds, not all
			acct := fmt.Sprint("alice", round)
			id := func(kind string, i int) string { return fmt.Sprintf("%s-%s%d", acct, kind, i) }
			deposit(t, s, id("d", 0), acct, "USD", 100)
			for i := 0; i < 5; i++ {
				mustApply(t, s, ledger.Reserve(id("old", i), acct, "USD", 10))
			}
			var wg sync.WaitGroup
			var mu sync.Mutex
			reserved, withdrawn := 0, 0
			try := func(tr ledger.Transfer, n *int) {
				defer wg.Done()
				_, err := s.Apply(ctx, tr)
				switch {
				case err == nil && n != nil:
					mu.Lock()
					*n++
					mu.Unlock()
				case err != nil && n == nil:
					assert.NoError(t, err, tr.ID)
				case err != nil:
					assert.Equal(t, trading.EINSUFFICIENT, trading.ErrorCode(err), "%s: %v", tr.ID, err)
				}
			}
			for i := 0; i < 10; i++ {
				w, err := ledger.Withdraw(id("w", i), acct, "USD", 10)
				require.NoError(t, err)
				wg.Add(3)
				go try(ledger.Reserve(id("new", i), acct, "USD", 10), &reserved)
				go try(w, &withdrawn)
				go try(ledger.ReleaseRest(id("old", i%5), acct, "USD"), nil)
			}
			wg.Wait()
			n := reserved + withdrawn
			require.True(t, n >= 5 && n <= 10, "round %d: %d reservations and %d withdrawals of 10 succeeded on 50 available plus 50 released", round, reserved, withdrawn)
			wantBal(t, s, acct, "USD", 100-10*int64(withdrawn), 10*int64(reserved))
		}
	})

	t.Run("TotalsConserved", func(t *testing.T) {
		s := open(t)
		deposit(t, s, "d1", "alice", "USD", 100)
		deposit(t, s, "d2", "bob", "USD", 50)
		w, _ := ledger.Withdraw("w1", "bob", "USD", 20)
		mustApply(t, s, w)
		mustApply(t, s, ledger.Reserve("o1", "alice", "USD", 30))
		tot, err := s.Totals(ctx)
		require.NoError(t, err)
		got := tot["USD"]
		require.Equal(t, int64(130), got.Owners, "totals %+v", got)
		require.Equal(t, int64(-130), got.System, "totals %+v", got)
		require.Equal(t, int64(30), got.Held, "totals %+v", got)
		require.Equal(t, int64(30), got.OpenHeld, "totals %+v", got)
		bs, err := s.Balances(ctx, "alice")
		require.NoError(t, err)
		require.Len(t, bs, 1, "balances %+v", bs)
		require.Equal(t, int64(70), bs[0].Available, "balances %+v", bs)
	})
}
