package screening

import (
	"bufio"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/stretchr/testify/require"
)

// The quality floors of issue 15, asserted on a seeded set.
const (
	recallFloor  = 0.98
	fpCeiling    = 0.01
	variantsKind = 300    // variants per kind of perturbation
	cleanNames   = 10_000 // clean names screened for false positives
)

// ofacDir finds the OFAC snapshot: $SCREENING_OFAC_DIR, else shared/data/ofac beside or above
// the repository (the repository root is the directory holding go.work). Tests that need it
// skip when it is absent.
func ofacDir(t testing.TB) string {
	t.Helper()
	if d := os.Getenv("SCREENING_OFAC_DIR"); d != "" {
		return d
	}
	wd, err := os.Getwd()
	require.NoError(t, err)
	root := wd
	for {
		if _, err := os.Stat(filepath.Join(root, "go.work")); err == nil {
			break
		}
		parent := filepath.Dir(root)
		if parent == root {
			t.Skip("no go.work above the package; set SCREENING_OFAC_DIR")
		}
		root = parent
	}
	for _, up := range []string{"..", filepath.Join("..", "..")} {
		d := filepath.Join(root, up, "shared", "data", "ofac")
		if _, err := os.Stat(filepath.Join(d, "sdn.csv")); err == nil {
			return d
		}
	}
	t.Skip("OFAC snapshot not found; set SCREENING_OFAC_DIR to the directory holding sdn.csv")
	return ""
}

func loadSDN(t testing.TB) []Entry {
	t.Helper()
	dir := ofacDir(t)
	sdn, err := os.Open(filepath.Join(dir, "sdn.csv"))
	require.NoError(t, err)
	defer sdn.Close()
	alt, err := os.Open(filepath.Join(dir, "alt.csv"))
	require.NoError(t, err)
	defer alt.Close()
	entries, err := LoadOFAC(sdn, alt, nil)
	require.NoError(t, err)
	return entries
}

func readNames(t testing.TB, file string) []string {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", file))
	require.NoError(t, err)
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	require.NoError(t, sc.Err())
	return out
}

type variant struct {
	kind, source, query, entryID string
}

var variantKinds = [...]string{"typo", "transposition", "missing-token", "extra-token", "diacritics", "transliteration", "token-order"}

// words splits a published name into its words, punctuation dropped.
func words(name string) []string {
	return strings.FieldsFunc(name, func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '\''
	})
}

// genVariants makes n variants of each kind from the primary names of the entries.
func genVariants(rng *rand.Rand, entries []Entry, firsts []string, n int) []variant {
	var out []variant
	for _, kind := range variantKinds {
		for made, tries := 0, 0; made < n && tries < 100*n; tries++ {
			e := entries[rng.IntN(len(entries))]
			q, ok := perturb(rng, kind, e.Name, firsts)
			if !ok || NameKey(q) == NameKey(e.Name) && kind != "diacritics" && kind != "token-order" {
				continue
			}
			out = append(out, variant{kind, e.Name, q, e.ID})
			made++
		}
	}
	return out
}

const letters = "abcdefghijklmnopqrstuvwxyz"

func perturb(rng *rand.Rand, kind, name string, firsts []string) (string, bool) {
	w := words(name)
	if len(w) == 0 {
		return "", false
	}
	// the word to edit: a random one of at least four letters
	var long []int
	for i, x := range w {
		if len(x) >= 4 {
			long = append(long, i)
		}
	}
	switch kind {
	case "typo", "transposition":
		if len(long) == 0 {
			return "", false
		}
		i := long[rng.IntN(len(long))]
		b := []byte(strings.ToLower(w[i]))
		p := rng.IntN(len(b))
		if kind == "transposition" {
			p = rng.IntN(len(b) - 1)
			if b[p] == b[p+1] {
				return "", false
			}
			b[p], b[p+1] = b[p+1], b[p]
		} else {
			switch rng.IntN(3) {
			case 0: // substitution
				c := letters[rng.IntN(26)]
				if c == b[p] {
					return "", false
				}
				b[p] = c
			case 1: // deletion
				b = slices.Delete(b, p, p+1)
			default: // insertion
				b = slices.Insert(b, p, letters[rng.IntN(26)])
			}
		}
		w[i] = string(b)
	case "missing-token":
		if len(Normalize(name)) < 3 || len(w) < 3 {
			return "", false
		}
		i := rng.IntN(len(w))
		w = slices.Delete(w, i, i+1)
	case "extra-token":
		if len(Normalize(name)) < 2 {
			return "", false
		}
		i := rng.IntN(len(w) + 1)
		w = slices.Insert(w, i, firsts[rng.IntN(len(firsts))])
	case "diacritics":
		return addDiacritics(rng, name), true
	case "transliteration":
		changed := 0
		for _, i := range rng.Perm(len(w)) {
			if t, ok := transliterate(rng, strings.ToLower(w[i])); ok {
				w[i] = t
				if changed++; changed == 2 {
					break
				}
			}
		}
		if changed == 0 {
			return "", false
		}
	case "token-order":
		if len(w) < 2 {
			return "", false
		}
		for slices.Equal(w, words(name)) {
			rng.Shuffle(len(w), func(i, j int) { w[i], w[j] = w[j], w[i] })
		}
	}
	return strings.Join(w, " "), true
}

func addDiacritics(rng *rand.Rand, name string) string {
	marks := map[rune][]string{
		'a': {"á", "à", "ä", "â"}, 'e': {"é", "è", "ë"}, 'i': {"í", "ï"}, 'o': {"ó", "ö", "ø"},
		'u': {"ú", "ü"}, 'c': {"ç"}, 'n': {"ñ"}, 's': {"š", "ş"}, 'z': {"ž"}, 'l': {"ł"},
		'A': {"Á", "Ä"}, 'E': {"É"}, 'O': {"Ö"}, 'U': {"Ü"}, 'S': {"Š"},
	}
	var b strings.Builder
	for _, r := range name {
		if m, ok := marks[r]; ok && rng.IntN(2) == 0 {
			b.WriteString(m[rng.IntN(len(m))])
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// transliterations are spelling changes that romanisations of one name produce.
var transliterations = [][2]string{
	{"mohammed", "muhammad"}, {"muhammad", "mohamed"}, {"mohammad", "muhammed"}, {"ahmad", "ahmed"},
	{"ou", "u"}, {"u", "ou"}, {"ee", "i"}, {"ph", "f"}, {"f", "ph"}, {"kh", "h"}, {"q", "k"},
	{"y", "i"}, {"i", "y"}, {"sh", "sch"}, {"j", "dj"}, {"aa", "a"}, {"ei", "ey"}, {"ck", "k"},
	{"c", "k"}, {"z", "s"}, {"v", "w"}, {"w", "v"}, {"th", "t"}, {"dh", "d"}, {"oo", "u"},
	{"x", "ks"}, {"ya", "ia"}, {"yu", "iu"}, {"ss", "s"}, {"ll", "l"},
}

func transliterate(rng *rand.Rand, w string) (string, bool) {
	for _, k := range rng.Perm(len(transliterations)) {
		r := transliterations[k]
		if strings.Contains(w, r[0]) {
			return strings.Replace(w, r[0], r[1], 1), true
		}
	}
	return "", false
}

// genClean makes n names from the common first and last names in testdata, a third of them
// with a middle name.
func genClean(rng *rand.Rand, firsts, lasts []string, n int) []string {
	out := make([]string, 0, n)
	for range n {
		name := firsts[rng.IntN(len(firsts))]
		if rng.IntN(3) == 0 {
			name += " " + firsts[rng.IntN(len(firsts))]
		}
		out = append(out, name+" "+lasts[rng.IntN(len(lasts))])
	}
	return out
}

func TestQualityOnSDN(t *testing.T) {
	entries := loadSDN(t)
	ix := NewIndex(entries)
	rng := rand.New(rand.NewPCG(15, 3))
	firsts, lasts := readNames(t, "first_names.txt"), readNames(t, "last_names.txt")

	vs := genVariants(rng, entries, firsts, variantsKind)
	require.Len(t, vs, variantsKind*len(variantKinds))
	found := map[string]int{}
	var lat []time.Duration
	for _, v := range vs {
		start := time.Now()
		ms := ix.Screen(Query{Name: v.query}, DefaultMinScore)
		lat = append(lat, time.Since(start))
		if slices.ContainsFunc(ms, func(m Match) bool { return m.EntryID == v.entryID }) {
			found[v.kind]++
		} else if testing.Verbose() {
			t.Logf("missed %s: %q -> %q", v.kind, v.source, v.query)
		}
	}
	total := 0
	for _, k := range variantKinds {
		t.Logf("recall %-16s %.3f", k, float64(found[k])/variantsKind)
		total += found[k]
	}
	recall := float64(total) / float64(len(vs))

	clean := genClean(rng, firsts, lasts, cleanNames)
	fp := 0
	for _, n := range clean {
		start := time.Now()
		ms := ix.Screen(Query{Name: n}, DefaultMinScore)
		lat = append(lat, time.Since(start))
		if len(ms) > 0 {
			fp++
			if testing.Verbose() {
				t.Logf("false positive %q -> %q %.3f", n, ms[0].MatchedName, ms[0].Score)
			}
		}
	}
	fpRate := float64(fp) / float64(len(clean))
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	t.Logf("entries %d names %d; recall %.4f (floor %.2f) over %d variants; false positives %.4f (ceiling %.2f) over %d clean names; latency p50 %v p99 %v (informational)",
		ix.Len(), ix.Names(), recall, recallFloor, len(vs), fpRate, fpCeiling, len(clean), lat[len(lat)/2], lat[len(lat)*99/100])
	require.GreaterOrEqual(t, recall, recallFloor, "recall on name variants")
	require.LessOrEqual(t, fpRate, fpCeiling, "false positives on clean names")
}
