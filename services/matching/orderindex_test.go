package matching

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestIDHashReadsEveryByte changes each byte of ids of every length up to and past the inline
// hash's 16 bytes and requires a different hash each time, so no byte of an id is ignored.
func TestIDHashReadsEveryByte(t *testing.T) {
	x := newOrderIndex()
	for n := 1; n <= 40; n++ {
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
