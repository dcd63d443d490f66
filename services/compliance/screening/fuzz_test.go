package screening

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzScreen feeds arbitrary names, dates and countries through the normaliser and the index,
// and arbitrary bytes through the three loaders: nothing may panic, scores stay in (0, 1],
// matches are best first, and a name always finds the entry it was indexed from.
func FuzzScreen(f *testing.F) {
	for _, s := range []string{"Xiaobing Yan", "ABBAS, Abu", "José Núñez", "S.A. de C.V.", "", "  ", "ß", "a b c d e f", "O'Brien-Smith Jr.", "\xff\xfe", strings.Repeat("ab ", 100)} {
		f.Add(s, "1977", "IR")
	}
	f.Fuzz(func(t *testing.T, name, dob, country string) {
		toks := Normalize(name)
		for _, tok := range toks {
			if tok == "" || strings.ContainsAny(tok, " \t\n") {
				t.Fatalf("Normalize(%q) gave token %q", name, tok)
			}
		}
		ix := NewIndex([]Entry{{ID: "f:1", Name: name, DOBs: []string{dob}, Countries: []string{country}}, {ID: "f:2", Name: "Xiaobing Yan"}})
		ms := ix.Screen(Query{Name: name, DOB: dob, Country: country}, 0.5)
		for i, m := range ms {
			if m.Score <= 0 || m.Score > 1 {
				t.Fatalf("score %v out of range for %q", m.Score, name)
			}
			if i > 0 && ms[i-1].Score < m.Score {
				t.Fatalf("not best first: %v", ms)
			}
		}
		if len(toks) > 0 && len(toks) <= 64 && utf8.ValidString(name) {
			found := false
			for _, m := range ms {
				found = found || m.EntryID == "f:1"
			}
			if !found {
				t.Fatalf("%q (tokens %q) does not find itself: %v", name, toks, ms)
			}
		}
		_, _ = LoadOFAC(strings.NewReader(name), strings.NewReader(dob), strings.NewReader(country))
		_, _ = LoadUN(strings.NewReader(name))
		_, _ = LoadSimple(strings.NewReader(name))
	})
}
