package matching

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestIDHashReadsEveryByte changes each byte of ids of every length up to and well past the
// 16 bytes read as two words (so several 16-byte blocks and every overlap of the last one)
// and requires a different hash each time, so no byte of an id is ignored.
func TestIDHashReadsEveryByte(t *testing.T) {
	x := newOrderIndex()
	for n := 1; n <= 80; n++ {
		id := []byte(strings.Repeat("o", n))
		h := x.hash(string(id))
		assert.Equal(t, h, x.hash(strings.Repeat("o", n)), "length %d: the hash depends on the bytes only", n)
		for p := range n {
			id[p] = 'p'
			assert.NotEqual(t, h, x.hash(string(id)), "length %d: byte %d changed", n, p)
			id[p] = 'o'
		}
	}
	assert.NotEqual(t, x.hash(""), x.hash("\x00"), "the length is hashed")
	y := newOrderIndex()
	assert.NotEqual(t, x.hash("abcd"), y.hash("abcd"), "the keys are per book")
}

// TestIDHashSpreads hashes ids of the shapes a venue uses (short counters, prefixed counters,
// 36-byte UUID-like strings) and requires their home slots (the low bits) to spread evenly
// over a 4,096-slot table and no two of the 64-bit hashes to collide.
func TestIDHashSpreads(t *testing.T) {
	x := newOrderIndex()
	shapes := map[string]func(i int) string{
		"counter":  func(i int) string { return fmt.Sprintf("%d", i) },
		"prefixed": func(i int) string { return fmt.Sprintf("r%d", i) },
		"uuid": func(i int) string {
			return fmt.Sprintf("%08x-0000-4000-8000-%012x", i*2654435761%(1<<32), i)
		},
	}
	for name, id := range shapes {
		const n, slots = 1 << 16, 1 << 12
		var home [slots]int
		seen := make(map[uint64]bool, n)
		for i := range n {
			h := x.hash(id(i))
			require.False(t, seen[h], "%s: hash collision at %d", name, i)
			seen[h] = true
			home[h%slots]++
		}
		// 16 ids per slot on average; a Poisson count above 48 has odds far below 1e-9.
		assert.Less(t, slices.Max(home[:]), 48, "%s: the low bits do not spread", name)
	}
}

// TestOrderIndexIDsOfEveryLength rests orders with ids of every length from 1 to 40 bytes,
// many sharing prefixes and suffixes, and finds, cancels and no longer finds each of them.
func TestOrderIndexIDsOfEveryLength(t *testing.T) {
	b, err := NewBook(Market{Symbol: "T", TickSize: "1", LotSize: "1"})
	require.NoError(t, err)
	var ids []string
	for n := 1; n <= 40; n++ {
		for _, c := range "abcdefgh" {
			ids = append(ids, strings.Repeat("x", n-1)+string(c), string(c)+strings.Repeat("x", n-1))
		}
	}
	var out []Event
	placed := map[string]bool{}
	for i, id := range ids {
		if placed[id] {
			continue
		}
		placed[id] = true
		out = b.Apply(Command{Op: OpNew, Seq: uint64(i), ID: id, Account: "a", Side: Buy, Type: Limit, Price: 100, Qty: 1}, out[:0])
		require.Equal(t, EvAccepted, out[0].Type, "id %q", id)
	}
	require.Equal(t, len(placed), b.Len())
	for id := range placed {
		o, ok := b.Order(id)
		require.True(t, ok, "id %q", id)
		assert.Equal(t, id, o.ID)
		out = b.Apply(Command{Op: OpCancel, ID: id}, out[:0])
		require.Equal(t, EvCancelled, out[0].Type, "id %q", id)
		_, ok = b.Order(id)
		assert.False(t, ok, "id %q after its cancel", id)
	}
	assert.Zero(t, b.Len())
}

// TestOrderFitsACacheLine keeps a resting order at 64 bytes, one cache line, an id index slot
// at 8 and a level (a tick window slot) at 32, two to a line.
func TestOrderFitsACacheLine(t *testing.T) {
	assert.Equal(t, uintptr(64), unsafe.Sizeof(order{}))
	assert.Equal(t, uintptr(8), unsafe.Sizeof(orderSlot{}))
	assert.Equal(t, uintptr(32), unsafe.Sizeof(level{}))
}

// TestOrderSlabGrows rests orders on a book that reserved nothing, so the slab grows (and moves)
// several times while orders rest, and requires every order, its level and its queue place to
// survive the moves; once they are cancelled, as many new orders reuse the freed entries.
func TestOrderSlabGrows(t *testing.T) {
	b, err := NewBook(Market{Symbol: "T", TickSize: "1", LotSize: "1"})
	require.NoError(t, err)
	const n = 3000
	var out []Event
	for i := range n {
		side, price := Buy, int64(1000-i%50)
		if i%2 == 1 {
			side, price = Sell, int64(1001+i%50)
		}
		out = b.Apply(Command{Op: OpNew, Seq: uint64(i), ID: fmt.Sprintf("o%d", i), Account: "a", Side: side, Type: Limit, Price: price, Qty: int64(1 + i%7)}, out[:0])
		require.Equal(t, EvAccepted, out[0].Type)
	}
	require.NoError(t, b.CheckInvariants())
	grown := len(b.ords)
	require.Greater(t, grown, n, "the slab holds every order")
	for i := range n {
		o, ok := b.Order(fmt.Sprintf("o%d", i))
		require.True(t, ok, "order %d", i)
		assert.Equal(t, int64(1+i%7), o.Qty, "order %d", i)
		want := int64(1000 - i%50)
		if i%2 == 1 {
			want = int64(1001 + i%50)
		}
		assert.Equal(t, want, o.Price, "order %d", i)
	}
	assert.Equal(t, []string{"o0", "o50", "o100"}, b.QueueIDs(Buy, 1000)[:3], "queue order survives the moves")
	for i := range n {
		out = b.Apply(Command{Op: OpCancel, ID: fmt.Sprintf("o%d", i)}, out[:0])
		require.Equal(t, EvCancelled, out[0].Type)
	}
	for i := range n {
		out = b.Apply(Command{Op: OpNew, ID: fmt.Sprintf("p%d", i), Account: "a", Side: Buy, Type: Limit, Price: 100, Qty: 1}, out[:0])
		require.Equal(t, EvAccepted, out[0].Type)
	}
	require.NoError(t, b.CheckInvariants())
	assert.Equal(t, grown, len(b.ords), "freed orders are reused")
}
