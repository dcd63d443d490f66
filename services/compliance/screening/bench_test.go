package screening

import (
	"math/rand/v2"
	"testing"
)

// BenchmarkScreen screens variants of SDN names and clean names against the SDN list with its
// aliases (about 20,000 names).
func BenchmarkScreen(b *testing.B) {
	entries := loadSDN(b)
	ix := NewIndex(entries)
	rng := rand.New(rand.NewPCG(15, 4))
	firsts, lasts := readNames(b, "first_names.txt"), readNames(b, "last_names.txt")
	var queries []string
	for _, v := range genVariants(rng, entries, firsts, 50) {
		queries = append(queries, v.query)
	}
	queries = append(queries, genClean(rng, firsts, lasts, 350)...)
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		ix.Screen(Query{Name: queries[i%len(queries)]}, DefaultMinScore)
	}
}
