package matching_test

import (
	"bytes"
	"flag"
	"math/rand/v2"
	"slices"
	"testing"

	. "github.com/cantondex/platform/services/matching"
)

var diffCommands = flag.Int("diff.commands", 120_000, "commands per differential run")

// TestDifferential feeds random flows to the engine and to refBook, a deliberately simple
// implementation of the same rules, and requires identical events for every command, with the
// harness checking the book's properties after each one.
func TestDifferential(t *testing.T) {
	for _, seed := range []uint64{1, 2, 3} {
		b, err := NewBook(testMarket())
		if err != nil {
			t.Fatal(err)
		}
		ref := newRefBook(b)
		h := newHarness(b)
		rng := rand.New(rand.NewPCG(seed, 7))
		n := *diffCommands / 3
		for i := 1; i <= n; i++ {
			c := randomCommand(rng, uint64(i))
			want := ref.apply(c)
			got, err := h.apply(c)
			if err != nil {
				t.Fatalf("seed %d command %d %+v: %v", seed, i, c, err)
			}
			if !slices.Equal(got, want) {
				t.Fatalf("seed %d command %d %+v:\n got %+v\nwant %+v", seed, i, c, got, want)
			}
		}
		if b.Len() != len(ref.orders) {
			t.Fatalf("seed %d: %d resting orders, reference %d", seed, b.Len(), len(ref.orders))
		}
	}
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
		if err := b.Snapshot(&snap); err != nil {
			t.Fatal(err)
		}
		again := b.AppendSnapshot(nil)
		if !bytes.Equal(snap.Bytes(), again) {
			t.Fatal("two snapshots of one book differ")
		}
		r, err := Restore(&snap)
		if err != nil {
			t.Fatalf("restore after %d: %v", k, err)
		}
		if r.LastSeq() != uint64(k) {
			t.Fatalf("restored LastSeq %d, want %d", r.LastSeq(), k)
		}
		if !bytes.Equal(r.AppendSnapshot(nil), again) {
			t.Fatalf("snapshot of the restored book differs after %d", k)
		}
		tail := run(t, r, cmds[k:])
		if !slices.Equal(append(head, tail...), full) {
			t.Fatalf("events after restore at %d differ from the uninterrupted run", k)
		}
	}
}

func mustBook(t testing.TB) *Book {
	t.Helper()
	b, err := NewBook(testMarket())
	if err != nil {
		t.Fatal(err)
	}
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
