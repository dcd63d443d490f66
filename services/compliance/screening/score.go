package screening

// jaroWinkler is the Jaro-Winkler similarity of two byte strings (prefix scale 0.1, at most
// four prefix characters), 1 for equal strings and 0 when nothing matches.
func jaroWinkler(a, b string) float64 {
	if a == b {
		return 1
	}
	la, lb := len(a), len(b)
	if la == 0 || lb == 0 {
		return 0
	}
	if la > lb {
		a, b, la, lb = b, a, lb, la
	}
	window := lb/2 - 1
	if window < 0 {
		window = 0
	}
	var aBuf, bBuf [64]bool
	var aMatch, bMatch []bool
	if la > len(aBuf) || lb > len(bBuf) {
		aMatch, bMatch = make([]bool, la), make([]bool, lb)
	} else {
		aMatch, bMatch = aBuf[:la], bBuf[:lb]
	}
	matches := 0
	for i := 0; i < la; i++ {
		lo, hi := max(0, i-window), min(lb-1, i+window)
		for j := lo; j <= hi; j++ {
			if !bMatch[j] && a[i] == b[j] {
				aMatch[i], bMatch[j] = true, true
				matches++
				break
			}
		}
	}
	if matches == 0 {
		return 0
	}
	trans, j := 0, 0
	for i := 0; i < la; i++ {
		if !aMatch[i] {
			continue
		}
		for !bMatch[j] {
			j++
		}
		if a[i] != b[j] {
			trans++
		}
		j++
	}
	m := float64(matches)
	jaro := (m/float64(la) + m/float64(lb) + (m-float64(trans)/2)/m) / 3
	prefix := 0
	for prefix < 4 && prefix < la && a[prefix] == b[prefix] {
		prefix++
	}
	return jaro + float64(prefix)*0.1*(1-jaro)
}

// phoneticKey is a consonant skeleton in the spirit of Soundex and Double Metaphone, built for
// the transliterations of Arabic, Persian, Cyrillic and Chinese names that sanctions lists
// carry: equivalent spellings (ph/f, q/k/c, kh/h, dh/d, th/t, z/s, w/v, j/dj/zh, y/i, double
// letters) reduce to one key, vowels after the first letter are dropped, and a leading vowel
// becomes "a". Mohammed, Muhammad and Mohamad all give "mhmd".
func phoneticKey(t string) string {
	if t == "" {
		return ""
	}
	var out [32]byte
	n := 0
	var last byte
	emit := func(c byte) {
		if c != last && n < len(out) {
			out[n] = c
			n++
		}
		last = c
	}
	for i := 0; i < len(t); i++ {
		c := t[i]
		var next byte
		if i+1 < len(t) {
			next = t[i+1]
		}
		vowel := c == 'a' || c == 'e' || c == 'i' || c == 'o' || c == 'u' || c == 'y'
		if vowel {
			if i == 0 {
				emit('a')
			} else {
				last = 0 // a vowel separates repeated consonants: "mhmd" keeps both m
			}
			continue
		}
		switch c {
		case 'p':
			if next == 'h' {
				emit('f')
				i++
				continue
			}
			emit('p')
		case 'k', 'q', 'g':
			if next == 'h' { // kh, gh
				emit('h')
				i++
				continue
			}
			emit('k')
		case 'c':
			if next == 'h' {
				emit('s')
				i++
				continue
			}
			if next == 'k' {
				i++
			}
			if next == 'e' || next == 'i' || next == 'y' {
				emit('s')
			} else {
				emit('k')
			}
		case 'd':
			if next == 'h' {
				i++
			} else if next == 'j' || next == 'z' {
				i++
				emit('j')
				continue
			}
			emit('d')
		case 't':
			if next == 'h' {
				i++
			}
			emit('t')
		case 's':
			if next == 'h' || next == 'z' {
				i++
			} else if next == 'c' && i+2 < len(t) && t[i+2] == 'h' {
				i += 2
			}
			emit('s')
		case 'z':
			if next == 'h' {
				i++
				emit('j')
				continue
			}
			emit('s')
		case 'x':
			emit('k')
			emit('s')
		case 'w', 'v':
			emit('v')
		case 'h':
			if n == 0 || i == 0 || isVowel(prevByte(t, i)) {
				emit('h')
			}
		default:
			emit(c)
		}
	}
	return string(out[:n])
}

func isVowel(c byte) bool {
	return c == 'a' || c == 'e' || c == 'i' || c == 'o' || c == 'u' || c == 'y'
}

func prevByte(t string, i int) byte {
	if i == 0 {
		return 0
	}
	return t[i-1]
}

// spellFold rewrites a token to a canonical romanisation, so that spellings that transliterate
// one name differently compare equal: ph→f, kh→h, q→k, c→k (s before e, i), ck→k, x→ks,
// dh→d, th→t, dj→j, sch→sh, z→s, w→v, ou/oo→u, ee→i, y→i, and doubled letters once.
func spellFold(t string) string {
	var b []byte
	var buf [48]byte
	b = buf[:0]
	for i := 0; i < len(t); i++ {
		c := t[i]
		var next byte
		if i+1 < len(t) {
			next = t[i+1]
		}
		switch {
		case c == 'p' && next == 'h':
			c, i = 'f', i+1
		case (c == 'k' || c == 'd' || c == 't') && next == 'h':
			if c == 'k' {
				c = 'h'
			}
			i++
		case c == 'd' && next == 'j':
			c, i = 'j', i+1
		case c == 's' && next == 'c' && i+2 < len(t) && t[i+2] == 'h':
			c, i = 's', i+2
			b = append(b, 's')
			c = 'h'
		case c == 'c' && next == 'k':
			c, i = 'k', i+1
		case c == 'c' && next == 'h':
			b = append(b, 'c')
			c, i = 'h', i+1
		case c == 'c':
			if next == 'e' || next == 'i' || next == 'y' {
				c = 's'
			} else {
				c = 'k'
			}
		case c == 'q':
			c = 'k'
		case c == 'x':
			b = append(b, 'k')
			c = 's'
		case c == 'z':
			c = 's'
		case c == 'w':
			c = 'v'
		case c == 'y':
			c = 'i'
		case (c == 'o' && (next == 'u' || next == 'o')):
			c, i = 'u', i+1
		case c == 'e' && next == 'e':
			c, i = 'i', i+1
		}
		if n := len(b); n > 0 && b[n-1] == c {
			continue
		}
		b = append(b, c)
	}
	return string(b)
}

// lengthPenalty lowers the similarity of tokens whose lengths differ by more than one letter,
// which Jaro-Winkler's prefix bonus otherwise rates highly ("san" / "sanders").
const lengthPenalty = 0.3

// spelledFactor discounts a similarity found only after spellFold.
const spelledFactor = 0.97

// tokenSim is the similarity of two normalised tokens: Jaro-Winkler of the tokens or, a little
// discounted, of their spellFold forms, raised half-way towards
// 1 when both tokens have the same phonetic key of at least three letters, and lowered in
// proportion to a length difference beyond one letter.
func tokenSim(a, b, keyA, keyB, foldA, foldB string) float64 {
	s := jaroWinkler(a, b)
	if s < 1 && (foldA != a || foldB != b) {
		s = max(s, spelledFactor*jaroWinkler(foldA, foldB))
	}
	if s < 1 && len(keyA) >= 3 && keyA == keyB {
		s = max(s, (1+s)/2)
	}
	if d := len(a) - len(b); d > 1 || d < -1 {
		d = max(d, -d) - 1
		s *= 1 - lengthPenalty*float64(d)/float64(max(len(a), len(b)))
	}
	return s
}
