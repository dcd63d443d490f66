package screening

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/cantondex/platform/services/compliance"
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

// BenchmarkRescreen re-screens 10,000 verified accounts (clean names) against a list update:
// the delta of 100 entries, and the whole SDN list (the start-up re-screening); one op is
// the whole run.
func BenchmarkRescreen(b *testing.B) {
	entries := loadSDN(b)
	rng := rand.New(rand.NewPCG(15, 5))
	names := genClean(rng, readNames(b, "first_names.txt"), readNames(b, "last_names.txt"), 10_000)
	store := compliance.NewMemory()
	svc := compliance.New(store, nil, compliance.DefaultLimits())
	ctx := context.Background()
	for i, n := range names {
		acct := fmt.Sprintf("acct-%05d", i)
		if _, err := svc.Submit(ctx, acct, acct, compliance.Application{LegalName: n, DateOfBirth: "1980-01-01", Nationality: "DE", Address: "x"}); err != nil {
			b.Fatal(err)
		}
	}
	for _, bc := range []struct {
		name string
		list []Entry
	}{{"delta100", entries[:100]}, {"whole", entries}} {
		b.Run(bc.name, func(b *testing.B) {
			sc := Screener{Index: NewIndex(bc.list), MinScore: DefaultMinScore}
			for b.Loop() {
				res, err := svc.Rescreen(ctx, sc, nil)
				if err != nil || res.Accounts != len(names) {
					b.Fatal(err, res.Accounts)
				}
			}
		})
	}
}
