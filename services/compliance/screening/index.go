package screening

import (
	"cmp"
	"slices"
	"strings"
	"sync"
)

// Scoring constants. They are fixed by the quality tests (recall on name variants, false
// positives on clean names); the review threshold itself is a setting (Options.MinScore).
const (
	// tokenFloor is the lowest token similarity that counts as a match of two tokens.
	tokenFloor = 0.75
	// maxLenDiff is the largest difference in length of two tokens that can match (one typo
	// changes it by one, a transliteration by one or two).
	maxLenDiff = 2
	// unmatchedPenalty scales the share (by length) of tokens left unmatched on each side.
	unmatchedPenalty = 0.3
	// singlePairFactor applies when only one token pair matched although a side has more
	// tokens: "John Smith" is not "Smith".
	singlePairFactor = 0.9
	// dobMismatchFactor applies when the query's year of birth is outside every listed date
	// of birth (±1 year, ±3 for "circa").
	dobMismatchFactor = 0.8
	// countryMismatchFactor applies when the query's nationality is none of the entry's.
	countryMismatchFactor = 0.9
)

// Index is an immutable, concurrency-safe search structure over list entries.
type Index struct {
	entries   []Entry
	names     []indexedName
	vocab     []vocabToken
	vocabID   map[string]int32
	blocks    map[string][]int32 // blocking key → vocabulary ids, shortest token first
	postings  [][]int32          // vocabulary id → name ids
	addresses map[string][]int32 // crypto address → entry indexes
	dobs      [][2]int           // per entry: year range, {0,0} when unknown
	countries [][]string         // per entry: ISO codes (or names) upper-cased
	byID      map[string]int32
	pool      sync.Pool // *scratch
}

type indexedName struct {
	entry  int32
	text   string
	tokens []int32
	weight int // total token length
}

type vocabToken struct {
	text string
	key  string // phoneticKey(text)
	fold string // spellFold(text)
}

func newVocabToken(t string) vocabToken {
	return vocabToken{text: t, key: phoneticKey(t), fold: spellFold(t)}
}

// NewIndex builds an index over the entries' primary names and aliases.
func NewIndex(entries []Entry) *Index {
	ix := &Index{
		entries:   entries,
		vocabID:   map[string]int32{},
		blocks:    map[string][]int32{},
		addresses: map[string][]int32{},
		dobs:      make([][2]int, len(entries)),
		countries: make([][]string, len(entries)),
		byID:      make(map[string]int32, len(entries)),
	}
	for ei, e := range entries {
		ix.byID[e.ID] = int32(ei)
		seen := map[string]bool{}
		for _, n := range append([]string{e.Name}, e.Aliases...) {
			toks := Normalize(n)
			if len(toks) == 0 {
				continue
			}
			k := strings.Join(toks, " ")
			if seen[k] {
				continue
			}
			seen[k] = true
			in := indexedName{entry: int32(ei), text: n}
			for _, t := range toks {
				in.tokens = append(in.tokens, ix.addToken(t))
				in.weight += len(t)
			}
			nid := int32(len(ix.names))
			ix.names = append(ix.names, in)
			for _, v := range in.tokens {
				if p := ix.postings[v]; len(p) == 0 || p[len(p)-1] != nid {
					ix.postings[v] = append(p, nid)
				}
			}
		}
		for _, a := range e.Addresses {
			if !slices.Contains(ix.addresses[a], int32(ei)) {
				ix.addresses[a] = append(ix.addresses[a], int32(ei))
			}
		}
		ix.dobs[ei] = entryYears(e.DOBs)
		for _, c := range e.Countries {
			ix.countries[ei] = append(ix.countries[ei], countryCode(c))
		}
	}
	for _, b := range ix.blocks {
		slices.SortStableFunc(b, func(x, y int32) int { return cmp.Compare(len(ix.vocab[x].text), len(ix.vocab[y].text)) })
	}
	return ix
}

func (ix *Index) addToken(t string) int32 {
	if id, ok := ix.vocabID[t]; ok {
		return id
	}
	id := int32(len(ix.vocab))
	v := newVocabToken(t)
	ix.vocab = append(ix.vocab, v)
	ix.vocabID[t] = id
	ix.postings = append(ix.postings, nil)
	for _, b := range blockKeys(v) {
		ix.blocks[b] = append(ix.blocks[b], id)
	}
	return id
}

// blockPrefix is how many leading letters of a token the blocking keys look at.
const blockPrefix = 5

// blockKeys are the keys under which a token is found, in the manner of SymSpell: its first
// five letters, and those five letters with any one of them deleted. Any single typo,
// deletion, insertion or transposition of adjacent letters leaves a key in common with the
// original (the query computes its own keys the same way), and a change after the fifth
// letter leaves the prefix itself. The phonetic key is a key too, for transliterations that
// change more than one letter ("x" / "ks"). One-letter tokens (initials) are found only as
// themselves.
func blockKeys(v vocabToken) []string {
	t := v.text
	if len(t) < 2 {
		return []string{"=" + t}
	}
	p := t[:min(len(t), blockPrefix)]
	keys := make([]string, 0, len(p)+2)
	keys = append(keys, "d"+p)
	for i := range len(p) {
		k := "d" + p[:i] + p[i+1:]
		if !slices.Contains(keys, k) {
			keys = append(keys, k)
		}
	}
	if len(v.key) >= 2 {
		keys = append(keys, "k"+v.key)
	}
	if v.fold != t {
		keys = append(keys, "s"+v.fold[:min(len(v.fold), blockPrefix)])
	} else {
		keys = append(keys, "s"+p)
	}
	return keys
}

// Len is the number of entries.
func (ix *Index) Len() int { return len(ix.entries) }

// Names is the number of indexed names (primary names and distinct aliases).
func (ix *Index) Names() int { return len(ix.names) }

// Entry returns the entry with the given id.
func (ix *Index) Entry(id string) (Entry, bool) {
	if i, ok := ix.byID[id]; ok {
		return ix.entries[i], true
	}
	return Entry{}, false
}

// ScreenAddress returns the entries listing the crypto address, compared exactly (chains are
// case-sensitive).
func (ix *Index) ScreenAddress(addr string) []Entry {
	addr = strings.TrimSpace(addr)
	var out []Entry
	for _, ei := range ix.addresses[addr] {
		out = append(out, ix.entries[ei])
	}
	return out
}

type tokenHit struct {
	vocab int32
	sim   float64
}

// scratch is the per-query working memory, pooled so that a query allocates little.
type scratch struct {
	gen       uint32
	vocabSeen []uint32 // generation stamp per vocabulary token
	nameSeen  []uint32 // generation stamp per name
	qmask     []uint64 // per name: the query tokens with a similar token in it
	cweight   []int32  // per name: length of its tokens similar to a query token (upper bound)
	touched   []int32
}

func (ix *Index) getScratch() *scratch {
	sc, _ := ix.pool.Get().(*scratch)
	if sc == nil || len(sc.vocabSeen) != len(ix.vocab) {
		sc = &scratch{
			vocabSeen: make([]uint32, len(ix.vocab)),
			nameSeen:  make([]uint32, len(ix.names)),
			qmask:     make([]uint64, len(ix.names)),
			cweight:   make([]int32, len(ix.names)),
		}
	}
	sc.gen++
	if sc.gen == 0 { // wrapped: clear the stamps
		clear(sc.vocabSeen)
		clear(sc.nameSeen)
		sc.gen = 1
	}
	sc.touched = sc.touched[:0]
	return sc
}

// Screen returns the entries whose best name scores at least minScore (DefaultMinScore when
// minScore is zero or negative), best first, one match per entry.
func (ix *Index) Screen(q Query, minScore float64) []Match {
	if minScore <= 0 {
		minScore = DefaultMinScore
	}
	qt := Normalize(q.Name)
	if len(qt) == 0 {
		return nil
	}
	if len(qt) > 64 {
		qt = qt[:64]
	}
	sc := ix.getScratch()
	defer ix.pool.Put(sc)

	// Token stage: the vocabulary tokens similar to each query token.
	hits := make([][]tokenHit, len(qt))
	qTok := make([]int, len(qt))
	qWeight := 0
	for i, t := range qt {
		qTok[i] = len(t)
		qWeight += len(t)
		v := newVocabToken(t)
		sc.gen++ // a fresh "seen" set per query token
		if id, ok := ix.vocabID[t]; ok {
			sc.vocabSeen[id] = sc.gen
			hits[i] = append(hits[i], tokenHit{id, 1})
		}
		if len(t) < 2 {
			continue
		}
		for _, b := range blockKeys(v) {
			block := ix.blocks[b]
			from, _ := slices.BinarySearchFunc(block, len(t)-maxLenDiff, func(id int32, l int) int { return cmp.Compare(len(ix.vocab[id].text), l) })
			for _, id := range block[from:] {
				if len(ix.vocab[id].text) > len(t)+maxLenDiff {
					break
				}
				if sc.vocabSeen[id] == sc.gen {
					continue
				}
				sc.vocabSeen[id] = sc.gen
				c := &ix.vocab[id]
				if s := tokenSim(t, c.text, v.key, c.key, v.fold, c.fold); s >= tokenFloor {
					hits[i] = append(hits[i], tokenHit{id, s})
				}
			}
		}
	}
	// Candidate stage: every name holding one of those tokens, with an upper bound of its
	// score from the share of tokens that could match on each side.
	sc.gen++
	simOf := make([]map[int32]float64, len(qt))
	for i := range hits {
		simOf[i] = make(map[int32]float64, len(hits[i]))
		for _, h := range hits[i] {
			simOf[i][h.vocab] = h.sim
			w := int32(len(ix.vocab[h.vocab].text))
			for _, nid := range ix.postings[h.vocab] {
				if sc.nameSeen[nid] != sc.gen {
					sc.nameSeen[nid] = sc.gen
					sc.qmask[nid] = 0
					sc.cweight[nid] = 0
					sc.touched = append(sc.touched, nid)
				}
				sc.qmask[nid] |= 1 << i
				sc.cweight[nid] += w
			}
		}
	}
	best := map[int32]Match{}
	for _, nid := range sc.touched {
		n := &ix.names[nid]
		mq := 0
		for i := range qt {
			if sc.qmask[nid]&(1<<i) != 0 {
				mq += qTok[i]
			}
		}
		uq := 1 - float64(mq)/float64(qWeight)
		uc := max(0, 1-float64(sc.cweight[nid])/float64(n.weight))
		if 1-unmatchedPenalty*uq-unmatchedPenalty*uc < minScore {
			continue
		}
		s := alignScore(qTok, qWeight, n, ix.vocab, simOf)
		if s < minScore {
			continue // the factors below only lower a score
		}
		s *= ix.factors(n.entry, q)
		if s < minScore {
			continue
		}
		if m, ok := best[n.entry]; ok && m.Score >= s {
			continue
		}
		e := &ix.entries[n.entry]
		best[n.entry] = Match{EntryID: e.ID, List: e.List, Name: e.Name, MatchedName: n.text, Score: s}
	}
	out := make([]Match, 0, len(best))
	for _, m := range best {
		out = append(out, m)
	}
	slices.SortFunc(out, func(a, b Match) int {
		if c := cmp.Compare(b.Score, a.Score); c != 0 {
			return c
		}
		return cmp.Compare(a.EntryID, b.EntryID)
	})
	return out
}

type pair struct {
	i, j int
	sim  float64
}

// alignScore aligns query tokens with the name's tokens one to one, best pairs first, and
// returns the length-weighted mean similarity of the pairs, lowered by the share of tokens left
// unmatched on either side.
func alignScore(qTok []int, qWeight int, n *indexedName, vocab []vocabToken, simOf []map[int32]float64) float64 {
	var buf [64]pair
	pairs := buf[:0]
	for i := range qTok {
		for j, v := range n.tokens {
			if s, ok := simOf[i][v]; ok {
				pairs = append(pairs, pair{i, j, s})
			}
		}
	}
	if len(pairs) == 0 {
		return 0
	}
	slices.SortFunc(pairs, func(a, b pair) int { return cmp.Compare(b.sim, a.sim) })
	var usedQ, usedC uint64
	var num, den float64
	matchedQ, matchedC, npairs := 0, 0, 0
	for _, p := range pairs {
		if p.i >= 64 || p.j >= 64 || usedQ&(1<<p.i) != 0 || usedC&(1<<p.j) != 0 {
			continue
		}
		usedQ |= 1 << p.i
		usedC |= 1 << p.j
		wq, wc := qTok[p.i], len(vocab[n.tokens[p.j]].text)
		num += float64(wq+wc) * p.sim
		den += float64(wq + wc)
		matchedQ += wq
		matchedC += wc
		npairs++
	}
	uq := 1 - float64(matchedQ)/float64(qWeight)
	uc := 1 - float64(matchedC)/float64(n.weight)
	s := num / den * (1 - unmatchedPenalty*uq - unmatchedPenalty*uc)
	if npairs == 1 && (len(qTok) > 1 || len(n.tokens) > 1) {
		s *= singlePairFactor
	}
	return s
}

// factors lowers a name score for a date of birth or nationality that rules the entry out.
func (ix *Index) factors(ei int32, q Query) float64 {
	f := 1.0
	if q.DOB != "" {
		if y, ok := firstYear(q.DOB); ok {
			if r := ix.dobs[ei]; r[0] != 0 && (y < r[0] || y > r[1]) {
				f *= dobMismatchFactor
			}
		}
	}
	if q.Country != "" && len(ix.countries[ei]) > 0 {
		if !slices.Contains(ix.countries[ei], countryCode(q.Country)) {
			f *= countryMismatchFactor
		}
	}
	return f
}

// entryYears is the span of birth years an entry's dates allow, widened by one year (three for
// "circa"); {0,0} when no date has a year.
func entryYears(dobs []string) [2]int {
	var r [2]int
	for _, d := range dobs {
		years := yearsIn(d)
		if len(years) == 0 {
			continue
		}
		slack := 1
		if strings.Contains(strings.ToLower(d), "circa") {
			slack = 3
		}
		lo, hi := slices.Min(years)-slack, slices.Max(years)+slack
		if r[0] == 0 || lo < r[0] {
			r[0] = lo
		}
		if hi > r[1] {
			r[1] = hi
		}
	}
	return r
}

func firstYear(s string) (int, bool) {
	if ys := yearsIn(s); len(ys) > 0 {
		return ys[0], true
	}
	return 0, false
}

// yearsIn returns every run of exactly four digits in s.
func yearsIn(s string) []int {
	var out []int
	for i := 0; i < len(s); {
		if s[i] < '0' || s[i] > '9' {
			i++
			continue
		}
		j := i
		for j < len(s) && s[j] >= '0' && s[j] <= '9' {
			j++
		}
		if j-i == 4 {
			y := 0
			for _, c := range s[i:j] {
				y = y*10 + int(c-'0')
			}
			out = append(out, y)
		}
		i = j
	}
	return out
}
