package matchingsvc

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cantondex/platform/services/trading"
)

func TestBookTopChecksum(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var top bookTop
	levels := func() []trading.Level {
		ls := make([]trading.Level, rng.IntN(trading.ChecksumLevels+1))
		for i := range ls {
			ls[i] = trading.Level{Price: rng.Int64N(1_000_000) - 1000, Quantity: rng.Int64N(1 << 40)}
		}
		return ls
	}
	for range 2000 {
		top.sides = [2][]trading.Level{levels(), levels()}
		require.Equal(t, trading.BookChecksum(top.sides[0], top.sides[1]), top.checksum(), "%v", top.sides)
	}
	top.sides = [2][]trading.Level{{{Price: math.MinInt64, Quantity: math.MaxInt64}}, nil}
	require.Equal(t, trading.BookChecksum(top.sides[0], top.sides[1]), top.checksum())
	top.sides = [2][]trading.Level{}
	require.Equal(t, trading.BookChecksum(nil, nil), top.checksum(), "an empty book is \"|\"")
}
