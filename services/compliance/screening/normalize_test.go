package screening

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestNormalizeRules(t *testing.T) {
	for name, tc := range map[string]struct {
		in   string
		want []string
	}{
		"case":                 {"JOHN Smith", []string{"john", "smith"}},
		"diacritics":           {"José Núñez Müller", []string{"jose", "nunez", "muller"}},
		"undecomposed letters": {"Łukasz Søren Straße Æsir Đorđe", []string{"lukasz", "soren", "strasse", "aesir", "dorde"}},
		"punctuation":          {"ABBAS, Abu (Abu-Ali)", []string{"abbas", "abu", "abu", "ali"}},
		"apostrophes join":     {"O'Brien Mish’an", []string{"obrien", "mishan"}},
		"dots join":            {"U.S.A. Trading", []string{"usa", "trading"}},
		"initials join":        {"V R Fruit", []string{"vr", "fruit"}},
		"honorifics":           {"Dr. Sheikh Ahmad Jr", []string{"ahmad"}},
		"legal forms":          {"Anglo-Caribbean Co., Ltd.", []string{"anglo", "caribbean"}},
		"legal forms abroad":   {"OOO Stroygazmontazh GmbH JSC S.A. de C.V.", []string{"stroygazmontazh", "de"}},
		"misspelt legal form":  {"Kalliope Limted", []string{"kalliope"}},
		"only noise is kept":   {"Ltd.", []string{"ltd"}},
		"empty":                {" ,.; ", nil},
		"digits kept":          {"Debbiye 143 SAL", []string{"debbiye", "143"}},
		"token order kept":     {"Smith John", []string{"smith", "john"}},
	} {
		t.Run(name, func(t *testing.T) {
			got := Normalize(tc.in)
			if tc.want == nil {
				assert.Empty(t, got)
				return
			}
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestNameKeyIgnoresTokenOrder(t *testing.T) {
	assert.Equal(t, NameKey("Smith, John"), NameKey("john SMITH"))
	assert.Equal(t, "john smith", NameKey("Mr. SMITH, John"))
	assert.NotEqual(t, NameKey("John Smith"), NameKey("John Smyth"))
}

func TestJaroWinklerProperties(t *testing.T) {
	assert.Equal(t, 1.0, jaroWinkler("martha", "martha"), "identity")
	assert.Equal(t, 0.0, jaroWinkler("abc", "xyz"), "nothing in common")
	assert.Equal(t, 0.0, jaroWinkler("", "abc"))
	// the textbook values (Winkler 1990)
	assert.InDelta(t, 0.961, jaroWinkler("martha", "marhta"), 0.001)
	assert.InDelta(t, 0.840, jaroWinkler("dwayne", "duane"), 0.001)
	assert.InDelta(t, 0.813, jaroWinkler("dixon", "dicksonx"), 0.001)
	for _, p := range [][2]string{{"noriega", "nroiega"}, {"abbas", "abas"}, {"x", "xy"}} {
		assert.Equal(t, jaroWinkler(p[0], p[1]), jaroWinkler(p[1], p[0]), "symmetric %v", p)
	}
	// a common prefix counts for more than the same difference at the start
	assert.Greater(t, jaroWinkler("abcdef", "abcxyz"), jaroWinkler("abcdef", "xyzdef"))
	long := "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz"
	assert.Equal(t, 1.0, jaroWinkler(long, long))
	assert.Greater(t, jaroWinkler(long, long[1:]), 0.85, "tokens longer than the stack buffers")
}

func TestPhoneticKeyTransliterations(t *testing.T) {
	for _, group := range [][]string{
		{"mohammed", "muhammad", "mohamad", "mohammad"},
		{"hussein", "husayn", "hussain"},
		{"khalid", "halid"},
		{"yusuf", "yousef", "youssef"},
		{"philip", "filip"},
		{"qasim", "kasim", "kassim"},
		{"zawahiri", "sawahiri"},
	} {
		for _, w := range group[1:] {
			assert.Equal(t, phoneticKey(group[0]), phoneticKey(w), "%s ~ %s", group[0], w)
		}
	}
	assert.Equal(t, "mhmd", phoneticKey("mohammed"))
	assert.NotEqual(t, phoneticKey("smith"), phoneticKey("jones"))
	assert.Equal(t, "", phoneticKey(""))
}

func TestSpellFold(t *testing.T) {
	for in, want := range map[string]string{
		"lymited": "limited", "phillip": "filip", "khalid": "halid", "qasim": "kasim",
		"yousef": "iusef", "schmidt": "shmidt", "djamal": "jamal", "dhiya": "dia", "ahmed": "ahmed",
		"cecil": "sesil", "xzact": "ksakt", "woods": "vuds", "zhang": "shang",
	} {
		assert.Equal(t, want, spellFold(in), in)
	}
}

func TestTokenSim(t *testing.T) {
	sim := func(a, b string) float64 {
		return tokenSim(a, b, phoneticKey(a), phoneticKey(b), spellFold(a), spellFold(b))
	}
	assert.Equal(t, 1.0, sim("abbas", "abbas"))
	assert.Greater(t, sim("mohammed", "muhammad"), jaroWinkler("mohammed", "muhammad"), "phonetic rescue")
	assert.Greater(t, sim("yl", "il"), jaroWinkler("yl", "il"), "spelling rescue")
	assert.Less(t, sim("yl", "il"), 1.0, "a rescued match is not an exact one")
	assert.Less(t, sim("san", "sanders"), jaroWinkler("san", "sanders"), "length penalty")
	assert.Equal(t, jaroWinkler("noriega", "noriegx"), sim("noriega", "noriegx"), "one letter of length difference or none: plain Jaro-Winkler")
}
