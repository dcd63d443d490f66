package matching_test

import (
	"bytes"
	"flag"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	. "github.com/cantondex/platform/services/matching"
	"github.com/cantondex/platform/services/matching/flow"
)

var (
	diffCommands     = flag.Int("diff.commands", 100_000, "commands per seed in TestDifferential")
	diffRegimeOrders = flag.Int("diff.regime-orders", 10_000, "orders per regime flow in TestDifferentialRegimes")
)

// TestDifferential feeds random flows to the engine and to refBook, a deliberately simple
// implementation of the same rules, and requires identical events for every command, with the
// harness checking the book's properties after each one.
func TestDifferential(t *testing.T) {
	for _, seed := range []uint64{1, 2, 3} {
		b, err := NewBook(testMarket())
		require.NoError(t, err)
		ref := newRefBook(b)
		h := newHarness(b)
		rng := rand.New(rand.NewPCG(seed, 7))
		n := *diffCommands
		for i := 1; i <= n; i++ {
			c := randomCommand(rng, uint64(i))
			want := ref.apply(c)
			got, err := h.apply(c)
			// Cheap checks first: the messages are built only on a failure.
			if err != nil {
				require.NoError(t, err, "seed %d command %d %+v", seed, i, c)
			}
			if !slices.Equal(got, want) {
				require.Equal(t, want, got, "seed %d command %d %+v", seed, i, c)
			}
		}
		require.Equal(t, len(ref.orders), b.Len(), "seed %d: resting orders against the reference", seed)
	}
}

// TestDifferentialDeep does the same on a wide market where the book grows to hundreds of
// levels per side, so level chunks split, empty and are reused.
func TestDifferentialDeep(t *testing.T) {
	m := Market{Symbol: "WIDE", TickSize: "1", LotSize: "1", MinPrice: 90, MaxPrice: 4000, MaxQty: 50}
	b, err := NewBook(m)
	require.NoError(t, err)
	ref := newRefBook(b)
	h := newHarness(b)
	rng := rand.New(rand.NewPCG(11, 12))
	maxLevels := 0
	for i := 1; i <= 20_000; i++ {
		c := randomCommandIn(rng, uint64(i), 3000, 1000, 1200)
		if i <= 10_000 && c.Op != OpNew && rng.IntN(5) > 0 {
			// Growth phase: mostly new orders.
			c = Command{Op: OpNew, Seq: uint64(i), ID: c.ID, Account: "acct" + c.ID[1:2], Side: Side(1 + rng.IntN(2)),
				Type: Limit, Price: 1000 + int64(rng.IntN(1200)), Qty: 1 + int64(rng.IntN(9))}
		}
		if c.Op == OpNew && c.Side == Sell {
			c.Price += 1200 // keep the sides mostly apart so both grow deep
		}
		if i > 10_000 && c.Op == OpNew && rng.IntN(2) == 0 {
			c.Op = OpCancel // then shrink: levels and chunks empty out
		}
		want := ref.apply(c)
		got, err := h.apply(c)
		if err != nil {
			require.NoError(t, err, "command %d %+v", i, c)
		}
		if !slices.Equal(got, want) {
			require.Equal(t, want, got, "command %d %+v", i, c)
		}
		maxLevels = max(maxLevels, len(b.Depth(Buy, 0, nil)))
	}
	require.GreaterOrEqual(t, maxLevels, 300, "bid levels reached; below 300 the test no longer exercises deep books")
}

// TestSnapshotRestoreContinues snapshots after every k-th command, restores, feeds the rest to
// the restored book and requires the same events as the uninterrupted run.
func TestSnapshotRestoreContinues(t *testing.T) {
	rng := rand.New(rand.NewPCG(42, 42))
	cmds := make([]Command, 3000)
	for i := range cmds {
		cmds[i] = randomCommand(rng, uint64(i+1))
	}
	full := run(t, mustBook(t), cmds)
	for _, k := range []int{0, 1, 17, 500, 1499, 2999} {
		b := mustBook(t)
		head := run(t, b, cmds[:k])
		var snap bytes.Buffer
		require.NoError(t, b.Snapshot(&snap))
		again := b.AppendSnapshot(nil)
		require.Equal(t, again, snap.Bytes(), "two snapshots of one book differ")
		r, err := Restore(&snap)
		require.NoError(t, err, "restore after %d", k)
		require.Equal(t, uint64(k), r.LastSeq(), "restored LastSeq")
		require.Equal(t, again, r.AppendSnapshot(nil), "snapshot of the restored book differs after %d", k)
		tail := run(t, r, cmds[k:])
		require.Equal(t, full, append(head, tail...), "events after restore at %d differ from the uninterrupted run", k)
	}
}

func mustBook(t testing.TB) *Book {
	t.Helper()
	b, err := NewBook(testMarket())
	require.NoError(t, err)
	return b
}

func run(t testing.TB, b *Book, cmds []Command) []Event {
	var all, out []Event
	for _, c := range cmds {
		out = b.Apply(c, out[:0])
		all = append(all, out...)
	}
	return all
}

// TestDifferentialRegimes runs the regime flows of the flow package, at a reduced size, through
// the engine and the reference with the harness checking each command: the sparse and volatile
// regimes create and destroy a level with nearly every order, swing the mid across thousands of
// ticks and send cancels and modifications of orders already gone.
func TestDifferentialRegimes(t *testing.T) {
	for _, name := range flow.Names() {
		if name == "deep" || name == "exchange-core" {
			continue // their 50,000- and 1,000-order warm-ups are TestDifferentialDeep's and TestDifferential's ground
		}
		t.Run(name, func(t *testing.T) {
			f, m, err := flow.Named(name, *diffRegimeOrders, 3)
			require.NoError(t, err)
			b, err := NewBook(m)
			require.NoError(t, err)
			ref := newRefBook(b)
			h := newHarness(b)
			rejected := 0
			for i, c := range append(slices.Clip(f.Warmup), f.Commands...) {
				want := ref.apply(c)
				got, err := h.apply(c)
				if err != nil {
					require.NoError(t, err, "command %d %+v", i, c)
				}
				if !slices.Equal(got, want) {
					require.Equal(t, want, got, "command %d %+v", i, c)
				}
				if got[0].Type == EvRejected {
					rejected++
				}
			}
			assert.Equal(t, len(ref.orders), b.Len())
			if name != "addcancel" && name != "venue" {
				assert.Positive(t, rejected, "the regime sends cancels and modifications of orders already gone")
			}
		})
	}
}

// TestDifferentialWide drives the engine over a price domain far wider than a side's tick
// window: the flow's centre jumps by up to a million ticks between phases, so levels land
// outside the window, the window re-centres on the best price and levels move between the
// window and the sorted fallback, all checked command by command against the reference.
func TestDifferentialWide(t *testing.T) {
	m := Market{Symbol: "WIDE", TickSize: "1", LotSize: "1", MinPrice: 1, MaxPrice: 5_000_000, MaxQty: 50}
	b, err := NewBook(m)
	require.NoError(t, err)
	ref := newRefBook(b)
	h := newHarness(b)
	rng := rand.New(rand.NewPCG(21, 22))
	centre := int64(2_000_000)
	for i := 1; i <= 30_000; i++ {
		if i%1500 == 0 {
			centre = 1_000_000 + int64(rng.IntN(3_000_000))
		}
		// Prices over ±100,000 ticks of the centre, some far beyond it.
		span := []int{40, 2_000, 200_000}[rng.IntN(3)]
		c := randomCommandIn(rng, uint64(i), 400, centre-int64(span/2), span)
		if c.Op == OpNew && rng.IntN(50) == 0 {
			c.Price = 1 + int64(rng.IntN(4_999_999))
		}
		want := ref.apply(c)
		got, err := h.apply(c)
		if err != nil {
			require.NoError(t, err, "command %d %+v", i, c)
		}
		if !slices.Equal(got, want) {
			require.Equal(t, want, got, "command %d %+v", i, c)
		}
	}
	assert.Equal(t, len(ref.orders), b.Len())
	assert.Positive(t, b.Recentres(), "the window never moved: the test no longer exercises the fallback")
}
