package redis

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
)

// BenchmarkLimiterParallel admits hits from many goroutines over 100 keys, as the gateway does
// under load, on both limiters (the budget limiter's hits mostly come out of its leases):
// go test -run '^$' -bench LimiterParallel -cpu 2 -benchmem ./services/redis
func BenchmarkLimiterParallel(b *testing.B) {
	for name, c := range clients(b) {
		for kind, l := range limiters(c, 1<<30) {
			b.Run(name+"/"+kind, func(b *testing.B) {
				var n atomic.Int64
				b.SetParallelism(32)
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					ctx := context.Background()
					for pb.Next() {
						key := "bench:" + kind + strconv.FormatInt(n.Add(1)%100, 10)
						ok, _, err := l.Allow(ctx, key)
						if !assert.NoError(b, err) || !assert.True(b, ok, "allowed") {
							return
						}
					}
				})
			})
		}
	}
}
