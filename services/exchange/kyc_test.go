package exchange_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cantondex/platform/services/compliance"
	"github.com/cantondex/platform/services/trading"
)

// With the KYC gate on, an unverified account cannot place an order or withdraw, and may
// deposit only up to the unverified limit; once verified it trades and withdraws.
func TestKYCGate(t *testing.T) {
	ctx := context.Background()
	svc, st, p := setup(t, trading.Book{Bids: []trading.Level{{Price: 99_00}}, Asks: []trading.Level{{Price: 101_00}}})
	kyc := compliance.New(compliance.NewMemory(), nil, compliance.DefaultLimits())
	svc.SetGate(kyc)
	order := trading.PlaceOrder{Account: "alice", Market: "BTC-USD", Side: trading.Buy, Type: trading.Limit, Price: 100_00, Quantity: 10}

	_, err := svc.PlaceOrder(ctx, order)
	assert.Equal(t, trading.EFORBIDDEN, trading.ErrorCode(err))
	assert.ErrorContains(t, err, "not verified")
	assert.Empty(t, p.sent(), "nothing published")
	before, err := st.Balance(ctx, "alice", "USD")
	require.NoError(t, err)
	assert.Zero(t, before.Held, "nothing held")
	err = svc.Withdraw(ctx, "w1", "alice", "USD", 1)
	assert.Equal(t, trading.EFORBIDDEN, trading.ErrorCode(err))
	// setup deposited USD 1,000: the unverified limit is reached.
	assert.Equal(t, trading.EFORBIDDEN, trading.ErrorCode(svc.Deposit(ctx, "d2", "alice", "USD", 1)))
	require.NoError(t, svc.Deposit(ctx, "d3", "alice", "BTC", 1_000_000), "BTC 0.01 unverified")
	after, err := st.Balance(ctx, "alice", "USD")
	require.NoError(t, err)
	assert.Equal(t, before, after)

	_, err = kyc.Submit(ctx, "alice", "alice", compliance.Application{LegalName: "Alice Example", DateOfBirth: "1990-04-01", Nationality: "DE", Address: "Berlin"})
	require.NoError(t, err)
	_, err = svc.PlaceOrder(ctx, order)
	assert.Equal(t, trading.EFORBIDDEN, trading.ErrorCode(err), "submitted is not verified")
	_, err = kyc.Approve(ctx, "officer", "alice", compliance.LevelBasic, "documents match")
	require.NoError(t, err)
	_, err = svc.PlaceOrder(ctx, order)
	require.NoError(t, err)
	require.NoError(t, svc.Withdraw(ctx, "w2", "alice", "USD", 1))
	require.NoError(t, svc.Deposit(ctx, "d4", "alice", "USD", 1_000_000_000))

	svc.SetGate(nil)
	_, err = svc.PlaceOrder(ctx, trading.PlaceOrder{Account: "bob", Market: "BTC-USD", Side: trading.Buy, Type: trading.Limit, Price: 100_00, Quantity: 10})
	require.NoError(t, err, "gate off")
}
