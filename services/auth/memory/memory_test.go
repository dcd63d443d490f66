package memory_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cantondex/platform/services/auth/authtest"
	"github.com/cantondex/platform/services/auth/memory"
)

func TestStore(t *testing.T) { authtest.TestStore(t, memory.NewStore()) }

func TestNonces(t *testing.T) {
	now := time.Unix(100, 0)
	n := memory.NewNonces(func() time.Time { return now })
	ctx := context.Background()
	ok, err := n.Claim(ctx, "a", time.Minute)
	require.NoError(t, err)
	require.True(t, ok, "first claim refused")
	ok, err = n.Claim(ctx, "a", time.Minute)
	require.NoError(t, err)
	require.False(t, ok, "second claim accepted")
	now = now.Add(time.Minute)
	ok, err = n.Claim(ctx, "a", time.Minute)
	require.NoError(t, err)
	require.True(t, ok, "claim after expiry refused")
}
