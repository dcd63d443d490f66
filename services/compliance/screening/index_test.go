package screening

import (
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func fixtureIndex(t *testing.T) *Index {
	t.Helper()
	ofac, err := LoadOFAC(openFixture(t, "ofac_sdn.csv"), openFixture(t, "ofac_alt.csv"), openFixture(t, "ofac_add.csv"))
	require.NoError(t, err)
	un, err := LoadUN(openFixture(t, "un_consolidated.xml"))
	require.NoError(t, err)
	pep, err := LoadSimple(openFixture(t, "pep.csv"))
	require.NoError(t, err)
	extra := []Entry{{ID: "test:smith", List: "test", Type: "individual", Name: "SMITH"}}
	return NewIndex(append(append(append(ofac, un...), pep...), extra...))
}

func top(t *testing.T, ms []Match) Match {
	t.Helper()
	require.NotEmpty(t, ms)
	return ms[0]
}

func TestScreenExactAndNormalisedNames(t *testing.T) {
	ix := fixtureIndex(t)
	assert.Equal(t, 18, ix.Len())
	for q, id := range map[string]string{
		"Xiaobing Yan":             "ofac:25308", // token order
		"YAN, Xiaobing":            "ofac:25308",
		"Jose Maria Nunez Ortega":  "un:LYi.930", // diacritics in the list
		"Maria Fernanda Quiroga":   "pep:2",      // missing tokens
		"Anglo Caribbean Co. Ltd.": "ofac:173",   // legal forms
		"Mr. Abu Abbas":            "ofac:2674",  // honorific
		"Aero-Caribbean":           "ofac:36",    // alias
	} {
		m := top(t, ix.Screen(Query{Name: q}, 0))
		assert.Equal(t, id, m.EntryID, q)
		assert.GreaterOrEqual(t, m.Score, DefaultMinScore, q)
	}
	m := top(t, ix.Screen(Query{Name: "Xiaobing Yan"}, 0))
	assert.Equal(t, Match{EntryID: "ofac:25308", List: "ofac-sdn", Name: "YAN, Xiaobing", MatchedName: "YAN, Xiaobing", Score: 1}, m)
}

func TestScreenFuzzyNames(t *testing.T) {
	ix := fixtureIndex(t)
	for q, id := range map[string]string{
		"Khorashadizade Ali":            "ofac:26137", // typo
		"Ali Khorashdaizadeh":           "ofac:26137", // transposition
		"Mohammed Zaidan":               "ofac:2674",  // transliterated alias
		"Abdulrahman Yaseen":            "un:QDi.901",
		"Golden Harbour Tradng":         "adverse-media:4",
		"Wiktor Andrejewitsch Pawlenko": "pep:1",
	} {
		ms := ix.Screen(Query{Name: q}, 0)
		require.NotEmpty(t, ms, q)
		assert.Equal(t, id, ms[0].EntryID, q)
		assert.Less(t, ms[0].Score, 1.0, q)
	}
}

func TestScreenRanksAndDeduplicates(t *testing.T) {
	ix := fixtureIndex(t)
	ms := ix.Screen(Query{Name: "Abbas Abul"}, 0.5)
	require.NotEmpty(t, ms)
	assert.Equal(t, "ofac:2674", ms[0].EntryID)
	assert.Equal(t, "ABBAS, Abul", ms[0].MatchedName, "the alias that matched")
	assert.Equal(t, 1.0, ms[0].Score)
	seen := map[string]bool{}
	for i, m := range ms {
		assert.False(t, seen[m.EntryID], "one match per entry")
		seen[m.EntryID] = true
		if i > 0 {
			assert.GreaterOrEqual(t, ms[i-1].Score, m.Score, "best first")
		}
		assert.GreaterOrEqual(t, m.Score, 0.5)
	}
}

func TestScreenThreshold(t *testing.T) {
	ix := fixtureIndex(t)
	loose := ix.Screen(Query{Name: "Petrova Ivanka"}, 0.5)
	strict := ix.Screen(Query{Name: "Petrova Ivanka"}, 0.99)
	assert.NotEmpty(t, loose)
	assert.Empty(t, strict)
	assert.Equal(t, ix.Screen(Query{Name: "Petrova Ivanka"}, DefaultMinScore), ix.Screen(Query{Name: "Petrova Ivanka"}, 0), "zero is the default")
	assert.Empty(t, ix.Screen(Query{Name: ""}, 0))
	assert.Empty(t, ix.Screen(Query{Name: " ;. "}, 0))
}

func TestScreenRepeatedTokens(t *testing.T) {
	ix := NewIndex([]Entry{{ID: "t:1", Name: "Abdelrahman Abdelrahman Abdelrahman Ali"}})
	m := top(t, ix.Screen(Query{Name: "Abdelrahman Abdelrahman Abdelrahman Ali"}, 0))
	assert.Equal(t, 1.0, m.Score, "a token the name has twice is matched twice")
	assert.Less(t, top(t, ix.Screen(Query{Name: "Abdelrahman Ali"}, 0.5)).Score, 1.0)
}

func TestScreenSingleTokenDoesNotCarryAFullName(t *testing.T) {
	ix := fixtureIndex(t)
	for _, m := range ix.Screen(Query{Name: "John Smith"}, 0) {
		assert.NotEqual(t, "test:smith", m.EntryID, "John Smith is not the listed SMITH")
	}
	assert.Equal(t, "test:smith", top(t, ix.Screen(Query{Name: "Smith"}, 0)).EntryID)
}

func TestScreenDateOfBirth(t *testing.T) {
	ix := fixtureIndex(t)
	name := "Xiaobing Yan"
	assert.Equal(t, 1.0, top(t, ix.Screen(Query{Name: name, DOB: "1977-03-25"}, 0)).Score)
	assert.Equal(t, 1.0, top(t, ix.Screen(Query{Name: name, DOB: "1978"}, 0)).Score, "one year either side")
	assert.Empty(t, ix.Screen(Query{Name: name, DOB: "1990-01-01"}, 0), "a clear mismatch drops an exact name below the threshold")
	assert.InDelta(t, dobMismatchFactor, top(t, ix.Screen(Query{Name: name, DOB: "1990"}, 0.1)).Score, 1e-9)
	assert.Equal(t, 1.0, top(t, ix.Screen(Query{Name: name, DOB: "not a date"}, 0)).Score, "an unparseable date rules nothing out")
	// circa 1955 (±3) or 1958 to 1960 (±1)
	for dob, ok := range map[string]bool{"1952": true, "1951": false, "1957": true, "1961": true, "1962": false} {
		ms := ix.Screen(Query{Name: "Ivan Petrov", DOB: dob}, 0)
		assert.Equal(t, ok, len(ms) > 0 && ms[0].EntryID == "ofac:9001", dob)
	}
	assert.Equal(t, 1.0, top(t, ix.Screen(Query{Name: "Aerocaribbean Airlines", DOB: "1900"}, 0)).Score, "no listed date, no penalty")
}

func TestScreenNationality(t *testing.T) {
	ix := fixtureIndex(t)
	name := "Ali Khorashadizadeh"
	assert.Equal(t, 1.0, top(t, ix.Screen(Query{Name: name, Country: "IR"}, 0)).Score)
	assert.Equal(t, 1.0, top(t, ix.Screen(Query{Name: name, Country: "Iran"}, 0)).Score, "names and codes agree")
	assert.InDelta(t, countryMismatchFactor, top(t, ix.Screen(Query{Name: name, Country: "FR"}, 0)).Score, 1e-9)
	assert.InDelta(t, countryMismatchFactor*dobMismatchFactor, top(t, ix.Screen(Query{Name: name, Country: "FR", DOB: "2001"}, 0.1)).Score, 1e-9)
}

func TestIndexEntry(t *testing.T) {
	ix := fixtureIndex(t)
	e, ok := ix.Entry("un:KPi.977")
	assert.True(t, ok)
	assert.Equal(t, "KIM CHOL SU", e.Name)
	_, ok = ix.Entry("un:nope")
	assert.False(t, ok)
}

func TestScreenAddress(t *testing.T) {
	ix := fixtureIndex(t)
	got := ix.ScreenAddress("1Kuf2Rd8mDyAViwBozGTNYnvWL8uYFrkVo")
	require.Len(t, got, 1)
	assert.Equal(t, "ofac:25308", got[0].ID)
	assert.Len(t, ix.ScreenAddress(" 0x7F367cC41522cE07553e823bf3be79A889DEbe1B "), 1, "surrounding space is trimmed")
	assert.Empty(t, ix.ScreenAddress("0x7f367cc41522ce07553e823bf3be79a889debe1b"), "case-sensitive")
	assert.Empty(t, ix.ScreenAddress("1Kuf2Rd8mDyAViwBozGTNYnvWL8uYFrkV"), "exact, not a prefix")
}

func TestScreenConcurrent(t *testing.T) {
	ix := fixtureIndex(t)
	want := ix.Screen(Query{Name: "Abdulrahman Yaseen"}, 0)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 200 {
				assert.Equal(t, want, ix.Screen(Query{Name: "Abdulrahman Yaseen"}, 0))
				ix.Screen(Query{Name: "Golden Harbor Trading"}, 0)
			}
		})
	}
	wg.Wait()
}
