package redis

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// BenchmarkLimiterParallel admits hits from many goroutines over 100 keys, as the gateway does
// under load: go test -run '^$' -bench LimiterParallel -cpu 2 -benchmem ./services/redis
func BenchmarkLimiterParallel(b *testing.B) {
	for name, c := range clients(b) {
		b.Run(name, func(b *testing.B) {
			l := c.NewLimiter(1<<30, time.Second)
			var n atomic.Int64
			b.SetParallelism(32)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				ctx := context.Background()
				for pb.Next() {
					key := "bench:" + strconv.FormatInt(n.Add(1)%100, 10)
					ok, _, err := l.Allow(ctx, key)
					if !assert.NoError(b, err) || !assert.True(b, ok, "allowed") {
						return
					}
				}
			})
		})
	}
}

// BenchmarkBudgetLimiterParallel is BenchmarkLimiterParallel on the budget limiter, whose hits
// mostly come out of the replica's leases: go test -run '^$' -bench BudgetLimiterParallel -cpu 2 -benchmem ./services/redis
func BenchmarkBudgetLimiterParallel(b *testing.B) {
	for name, c := range clients(b) {
		b.Run(name, func(b *testing.B) {
			l := c.NewBudgetLimiter(1<<30, time.Second)
			var n atomic.Int64
			b.SetParallelism(32)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				ctx := context.Background()
				for pb.Next() {
					key := "bench:" + strconv.FormatInt(n.Add(1)%100, 10)
					ok, _, err := l.Allow(ctx, key)
					if !assert.NoError(b, err) || !assert.True(b, ok, "allowed") {
						return
					}
				}
			})
		})
	}
}
