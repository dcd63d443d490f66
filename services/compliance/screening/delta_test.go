package screening

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestDelta(t *testing.T) {
	prev := []Entry{
		{ID: "ofac:1", Name: "A"},
		{ID: "ofac:2", Name: "B", Aliases: []string{"BB"}},
		{ID: "ofac:3", Name: "C"},
	}
	next := []Entry{
		{ID: "ofac:1", Name: "A"},                                // unchanged
		{ID: "ofac:2", Name: "B", Aliases: []string{"BB", "B2"}}, // new alias
		{ID: "ofac:4", Name: "D"},                                // new; ofac:3 removed
		{ID: "ofac:5", Name: "E", Addresses: []string{"1abc"}},
	}
	got := Delta(prev, next)
	ids := []string{}
	for _, e := range got {
		ids = append(ids, e.ID)
	}
	assert.Equal(t, []string{"ofac:2", "ofac:4", "ofac:5"}, ids)
	assert.Empty(t, Delta(next, next))
	assert.Len(t, Delta(nil, next), 4)
	changed := []Entry{{ID: "ofac:1", Name: "A", DOBs: []string{"1960"}}}
	assert.Len(t, Delta(next[:1], changed), 1, "a new date of birth is a change")
}
