package matchingsvc

import (
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cantondex/platform/services/matching"
)

// A replica that lags a full queue behind is dropped, never waited for: the hand-over
// returns at once, the partition forgets the replica and its journal, and the replica stops.
func TestLaggingReplicaIsDropped(t *testing.T) {
	done := make(chan struct{})
	r := &replica{in: make(chan handover, 2), free: make(chan []journalEntry, 2), done: done, stop: sync.OnceFunc(func() { close(done) })}
	part := &partition{rep: r}
	entry := journalEntry{market: "BTC-USD", cmd: matching.Command{Op: matching.OpCancel, Seq: 1, ID: "o1"}}
	for range 2 {
		part.journal = append(part.journal, entry)
		require.True(t, part.handOver(nil), "the queue has room")
	}
	part.journal = append(part.journal, entry)
	assert.False(t, part.handOver(&capture{next: 3}), "the queue is full: the partition captures itself")
	assert.Nil(t, part.rep, "the replica is dropped")
	assert.Empty(t, part.journal, "nothing journaled for no replica")
	select {
	case <-done:
	default:
		assert.Fail(t, "the dropped replica is stopped")
	}
	require.Len(t, r.in, 2, "what was handed over before")

	// So is one with replicaLag commands waiting, whatever room its queue has.
	r = &replica{in: make(chan handover, 2), done: make(chan struct{})}
	r.stop = sync.OnceFunc(func() { close(r.done) })
	r.queued.Store(replicaLag)
	part = &partition{rep: r, journal: []journalEntry{entry}}
	assert.False(t, part.handOver(nil), "too many commands waiting")
	assert.Nil(t, part.rep, "the replica is dropped")
	assert.Empty(t, r.in, "nothing handed over")
}
