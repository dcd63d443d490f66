package screening

import (
	"sort"
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// Normalize turns a published or typed name into comparable tokens: lower case, diacritics
// removed (NFKD, combining marks dropped, plus letters that do not decompose such as ß, ø,
// ł, æ), apostrophes and dots dropped inside words ("O'Brien" → "obrien", "U.S." → "us"),
// every other punctuation a separator, and honorifics ("Mr", "Dr", "Sheikh") and legal-form
// words ("LLC", "Ltd", "GmbH", "OOO") removed unless nothing else is left. Token order is kept;
// scoring does not depend on it (see NameKey for an order-free key).
func Normalize(name string) []string {
	raw := joinInitials(strings.Fields(fold(name)))
	out := raw[:0:0]
	for _, t := range raw {
		if !isNoiseWord(t) && !isMisspeltLegalForm(t) {
			out = append(out, t)
		}
	}
	if len(out) == 0 {
		return raw
	}
	return out
}

// joinInitials joins runs of one-letter tokens: "U S A" and "U.S.A." both become "usa", and
// "S A DE C V" becomes "sa de cv".
func joinInitials(toks []string) []string {
	out := toks[:0]
	for i := 0; i < len(toks); {
		j := i
		for j < len(toks) && len(toks[j]) == 1 {
			j++
		}
		if j-i >= 2 {
			out = append(out, strings.Join(toks[i:j], ""))
			i = j
			continue
		}
		out = append(out, toks[i])
		i++
	}
	return out
}

// NameKey is the normalised tokens sorted and joined by one space: two names with the same
// key are the same name up to case, diacritics, punctuation, noise words and token order.
func NameKey(name string) string {
	toks := Normalize(name)
	sort.Strings(toks)
	return strings.Join(toks, " ")
}

// fold lower-cases, strips diacritics and maps punctuation to separators.
func fold(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range norm.NFKD.String(s) {
		switch {
		case unicode.Is(unicode.Mn, r):
			continue
		case r == '\'' || r == '’' || r == '‘' || r == '`' || r == 'ʼ' || r == '´' || r == '.':
			continue // joins: O'Brien → obrien, U.S. → us
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			if m, ok := foldLetter(r); ok {
				b.WriteString(m)
				continue
			}
			b.WriteRune(unicode.ToLower(r))
		default:
			b.WriteByte(' ')
		}
	}
	return b.String()
}

// foldLetter maps the Latin letters that NFKD does not decompose.
func foldLetter(r rune) (string, bool) {
	switch r {
	case 'ß', 'ẞ':
		return "ss", true
	case 'æ', 'Æ':
		return "ae", true
	case 'œ', 'Œ':
		return "oe", true
	case 'ø', 'Ø':
		return "o", true
	case 'ł', 'Ł':
		return "l", true
	case 'đ', 'Đ', 'ð', 'Ð':
		return "d", true
	case 'þ', 'Þ':
		return "th", true
	case 'ı':
		return "i", true
	case 'ħ', 'Ħ':
		return "h", true
	}
	return "", false
}

// isMisspeltLegalForm reports a token within a typo of one of the long legal-form words
// ("Lmited", "Compnay"), which would otherwise count as an unmatched token.
func isMisspeltLegalForm(t string) bool {
	if len(t) < 6 {
		return false
	}
	for _, w := range [...]string{"limited", "company", "corporation", "incorporated"} {
		if jaroWinkler(t, w) >= 0.9 || spellFold(t) == spellFold(w) {
			return true
		}
	}
	return false
}

// isNoiseWord reports honorifics, generational suffixes and legal-form words, which say
// nothing about who a party is.
func isNoiseWord(t string) bool {
	switch t {
	// honorifics and titles
	case "mr", "mrs", "ms", "miss", "mister", "madam", "mme", "mlle", "dr", "prof", "professor",
		"sir", "dame", "lord", "lady", "rev", "reverend", "sheikh", "shaikh", "shaykh", "sheik",
		"haji", "hajji", "hadji", "mullah", "maulana", "maulvi", "imam", "sayyid", "sayed",
		"herr", "frau", "sr", "jr", "ii", "iii", "iv", "gen", "general", "col", "colonel",
		"capt", "captain", "maj", "major", "lt", "sgt", "cmdr", "adm", "admiral", "hon":
		return true
	// legal forms
	case "llc", "ltd", "limited", "inc", "incorporated", "corp", "corporation", "co", "company",
		"gmbh", "ag", "kg", "sa", "sas", "sarl", "srl", "spa", "sl", "bv", "nv", "plc", "llp",
		"lp", "jsc", "ojsc", "cjsc", "pjsc", "ooo", "oao", "zao", "pao", "ao", "tov", "fze",
		"fzco", "fzc", "fzllc", "dmcc", "pte", "pty", "bhd", "sdn", "ltda", "sro", "kft", "oy",
		"ab", "as", "asa", "aps", "kk", "cv", "jv", "ek", "sac", "sab", "saa", "sal", "ca", "rl",
		"sapi", "eirl", "ltdo", "tic", "sti", "dd", "doo", "ood", "eood", "spzoo":
		return true
	}
	return false
}
