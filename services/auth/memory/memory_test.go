package memory_test

import (
	"context"
	"testing"
	"time"

	"github.com/cantondex/platform/services/auth/authtest"
	"github.com/cantondex/platform/services/auth/memory"
)

func TestStore(t *testing.T) { authtest.TestStore(t, memory.NewStore()) }

func TestNonces(t *testing.T) {
	now := time.Unix(100, 0)
	n := memory.NewNonces(func() time.Time { return now })
	ctx := context.Background()
	if ok, _ := n.Claim(ctx, "a", time.Minute); !ok {
		t.Fatal("first claim refused")
	}
	if ok, _ := n.Claim(ctx, "a", time.Minute); ok {
		t.Fatal("second claim accepted")
	}
	now = now.Add(time.Minute)
	if ok, _ := n.Claim(ctx, "a", time.Minute); !ok {
		t.Fatal("claim after expiry refused")
	}
}
