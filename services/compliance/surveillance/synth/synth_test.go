package synth

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cantondex/platform/services/compliance/surveillance"
)

func small(seed uint64) Config {
	c := Default()
	c.Seed, c.Duration = seed, 10*time.Minute
	c.WashLinked, c.WashRoundTrip, c.Spoofing, c.Layering, c.QuoteStuffing, c.OrderToTrade = 5, 5, 5, 5, 2, 1
	return c
}

func TestSameSeedSameFlow(t *testing.T) {
	a, err := Generate(small(7))
	require.NoError(t, err)
	b, err := Generate(small(7))
	require.NoError(t, err)
	var ja, jb bytes.Buffer
	require.NoError(t, a.WriteJournal(&ja))
	require.NoError(t, b.WriteJournal(&jb))
	require.Equal(t, ja.String(), jb.String())
	assert.Equal(t, a.Episodes, b.Episodes)
	c, err := Generate(small(8))
	require.NoError(t, err)
	var jc bytes.Buffer
	require.NoError(t, c.WriteJournal(&jc))
	assert.NotEqual(t, ja.String(), jc.String(), "another seed, another flow")
}

func TestFlowIsTimeOrderedAndLabelled(t *testing.T) {
	f, err := Generate(small(3))
	require.NoError(t, err)
	require.NotEmpty(t, f.Lines)
	for i := 1; i < len(f.Lines); i++ {
		require.False(t, f.Lines[i].TS.Before(f.Lines[i-1].TS), "line %d goes back in time", i+1)
	}
	kinds := map[string]int{}
	for _, e := range f.Episodes {
		kinds[e.Kind]++
		switch e.Kind {
		case surveillance.DetectorWash, surveillance.DetectorSpoofing, surveillance.DetectorLayering:
			assert.NotEmpty(t, e.OrderIDs, "%s episode of %s has no orders", e.Kind, e.Account)
		}
		assert.False(t, e.To.Before(e.From), "episode %+v ends before it starts", e)
	}
	for _, k := range []string{surveillance.DetectorWash, surveillance.DetectorSpoofing, surveillance.DetectorLayering,
		surveillance.DetectorQuoteStuffing, surveillance.DetectorOrderToTrade} {
		assert.NotZero(t, kinds[k], "no %s episode", k)
	}
	var links bytes.Buffer
	require.NoError(t, f.WriteLinks(&links))
	m, err := surveillance.LoadLinks(strings.NewReader(links.String()))
	require.NoError(t, err)
	assert.Equal(t, f.Links, m)
}
