package matching_test

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	. "github.com/cantondex/platform/services/matching"
)

// FuzzBook turns the fuzzer's bytes into a command stream (8 bytes per command, decoded by
// commandFromBytes) and runs it through the harness, which checks after every command that the
// book is not crossed, every order's quantity is accounted for, no trade is at a price worse
// than either side's limit and every level is FIFO; the engine's events must also equal the
// reference book's. At the end a snapshot round trip must reproduce the book.
func FuzzBook(f *testing.F) {
	rng := rand.New(rand.NewPCG(9, 9))
	for range 8 {
		seed := make([]byte, 8*64)
		for i := range seed {
			seed[i] = byte(rng.UintN(256))
		}
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		b := mustBook(t)
		h := newHarness(b)
		ref := newRefBook(b)
		for i := 0; i+8 <= len(data) && i < 8*2000; i += 8 {
			c := commandFromBytes(data[i:i+8], uint64(i/8+1))
			want := ref.apply(c)
			got, err := h.apply(c)
			// Cheap checks first: the messages are built only on a failure.
			if err != nil {
				require.NoError(t, err, "command %d %+v", i/8+1, c)
			}
			if len(got) != len(want) {
				require.Equal(t, want, got, "command %d %+v: event count", i/8+1, c)
			}
			for j := range got {
				if got[j] != want[j] {
					require.Equal(t, want[j], got[j], "command %d %+v event %d", i/8+1, c, j)
				}
			}
		}
		snap := b.AppendSnapshot(nil)
		r, err := RestoreBytes(snap)
		require.NoError(t, err)
		require.Equal(t, snap, r.AppendSnapshot(nil), "snapshot round trip changed the book")
	})
}

// commandFromBytes maps 8 bytes onto a command over a small space of ids, accounts and prices.
func commandFromBytes(p []byte, seq uint64) Command {
	ids := [...]string{"a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m", "n", "o", "p"}
	accounts := [...]string{"alice", "bob", "carol", ""}
	c := Command{Seq: seq, ID: ids[p[1]%16]}
	c.Op = Op(p[0]%4) + 1 // OpNew..OpModify, and 4 (invalid)
	if p[0]&0xf0 < 0x80 {
		c.Op = OpNew
	}
	c.Account = accounts[p[2]%4]
	if p[2]&0x80 == 0 && c.Account == "" {
		c.Account = "dave"
	}
	c.Side = Side(p[3]%2) + 1
	c.Type = Limit
	if p[3]&0x0e == 0 {
		c.Type = MarketOrder
	}
	c.TIF = TIF(p[4] % 4) // including the invalid 3
	if p[4]&0xc0 != 0 && c.TIF == 3 {
		c.TIF = GTC
	}
	c.PostOnly = p[4]&0x20 != 0
	c.STP = STP(p[5] % 3)
	c.Price = int64(p[6]%24) + 88 // 88..111: inside and outside [90, 110]
	c.Qty = int64(p[7]%56) - 2    // -2..53: inside and outside [1, 50]
	if c.Op == OpModify && p[5]&0x80 != 0 {
		c.Price = 0 // unchanged
	}
	if c.Op == OpModify && p[5]&0x40 != 0 {
		c.Qty = 0
	}
	return c
}
