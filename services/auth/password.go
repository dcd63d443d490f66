package auth

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	_ "embed" // the common-password list
	"encoding/base64"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"

	"github.com/cantondex/platform/services/trading"
)

// HashParams are argon2id's cost parameters. DefaultHashParams follows OWASP's minimum
// (19 MiB, 2 passes); tests use cheaper ones.
type HashParams struct {
	MemoryKiB uint32
	Time      uint32
	Threads   uint8
}

// DefaultHashParams is the production cost.
var DefaultHashParams = HashParams{MemoryKiB: 19 * 1024, Time: 2, Threads: 1}

const (
	saltLen = 16
	keyLen  = 32
)

// hashPassword returns the PHC string of password under p.
func hashPassword(password string, p HashParams) (string, error) {
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("salt: %w", err)
	}
	key := argon2.IDKey([]byte(password), salt, p.Time, p.MemoryKiB, p.Threads, keyLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.MemoryKiB, p.Time, p.Threads,
		b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// checkPassword reports whether password matches the PHC string encoded, in constant time
// with respect to the key.
func checkPassword(encoded, password string) bool {
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false
	}
	var version int
	var p HashParams
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return false
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.MemoryKiB, &p.Time, &p.Threads); err != nil {
		return false
	}
	b64 := base64.RawStdEncoding
	salt, err := b64.DecodeString(parts[4])
	if err != nil {
		return false
	}
	want, err := b64.DecodeString(parts[5])
	if err != nil || len(want) == 0 {
		return false
	}
	got := argon2.IDKey([]byte(password), salt, p.Time, p.MemoryKiB, p.Threads, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1
}

// hashPool bounds the password hashes computed at once: each argon2id hash holds
// HashParams.MemoryKiB of memory for its duration, so the pool's size bounds the memory
// hashing can take whatever the load. A caller that finds every worker busy waits in a short
// queue; when the queue is full, or its wait runs out, it is shed at once with a
// *BusyError (503 with Retry-After) instead of piling up.
type hashPool struct {
	slots   chan struct{}
	waiting chan struct{}
	wait    time.Duration
}

func newHashPool(workers, queue int, wait time.Duration) *hashPool {
	return &hashPool{slots: make(chan struct{}, workers), waiting: make(chan struct{}, queue), wait: wait}
}

// BusyError is returned when the password hashing pool sheds a request. It wraps a
// trading.EUNAVAILABLE error and tells when to try again.
type BusyError struct{}

func (*BusyError) Error() string { return "password hashing busy" }

// Unwrap gives the domain error.
func (*BusyError) Unwrap() error {
	return trading.Errorf(trading.EUNAVAILABLE, "too many sign-ins at once; try again shortly")
}

// RetryAfter is how long to wait.
func (*BusyError) RetryAfter() time.Duration { return time.Second }

// do runs f on a worker, or sheds.
func (p *hashPool) do(ctx context.Context, f func()) error {
	select {
	case p.slots <- struct{}{}:
	default:
		select {
		case p.waiting <- struct{}{}:
		default:
			return &BusyError{}
		}
		t := time.NewTimer(p.wait)
		select {
		case p.slots <- struct{}{}:
			t.Stop()
			<-p.waiting
		case <-t.C:
			<-p.waiting
			return &BusyError{}
		case <-ctx.Done():
			t.Stop()
			<-p.waiting
			return ctx.Err()
		}
	}
	defer func() { <-p.slots }()
	f()
	return nil
}

// hash hashes password on the pool.
func (s *Service) hash(ctx context.Context, password string) (string, error) {
	var h string
	var err error
	if perr := s.pool.do(ctx, func() { h, err = hashPassword(password, s.cfg.Hash) }); perr != nil {
		return "", perr
	}
	return h, err
}

//go:embed common_passwords.txt
var commonPasswordList string

// commonPasswords is the embedded list of common and breached passwords, lower-cased.
var commonPasswords = func() map[string]struct{} {
	m := map[string]struct{}{}
	for _, l := range strings.Split(commonPasswordList, "\n") {
		if l = strings.TrimSpace(strings.ToLower(l)); l != "" && !strings.HasPrefix(l, "#") {
			m[l] = struct{}{}
		}
	}
	return m
}()

// Password policy (NIST SP 800-63B section 3.1.1.2): length, and no password that is on the
// list of common and breached passwords, a common password with digits or symbols around it,
// one character repeated, a short pattern repeated, a keyboard or alphabet run, or the
// account's own e-mail. No composition rules, no expiry.
const (
	MinPasswordLen = 12
	MaxPasswordLen = 128
)

// CheckPassword reports why password is not acceptable for the account email, or nil.
func CheckPassword(password, email string) error {
	n := utf8.RuneCountInString(password)
	if !utf8.ValidString(password) || n < MinPasswordLen || n > MaxPasswordLen {
		return trading.Errorf(trading.EINVALID, "password must be %d to %d characters", MinPasswordLen, MaxPasswordLen)
	}
	for _, r := range password {
		if unicode.IsControl(r) {
			return trading.Errorf(trading.EINVALID, "password must not contain control characters")
		}
	}
	weak := trading.Errorf(trading.EINVALID, "password is too common or too easy to guess; choose a longer phrase")
	lower := strings.ToLower(password)
	if _, ok := commonPasswords[lower]; ok {
		return weak
	}
	trim := func(v string) string { return strings.TrimFunc(v, func(r rune) bool { return !unicode.IsLetter(r) }) }
	for _, v := range []string{lower, deleet.Replace(lower), deleet.Replace(trim(lower))} {
		core := trim(v)
		if _, ok := commonPasswords[core]; ok && len(core) >= len(v)/3 {
			return weak
		}
		if _, ok := commonPasswords[v]; ok || repeated(v) || sequential(v) {
			return weak
		}
	}
	if local, _, ok := strings.Cut(email, "@"); ok && len(local) >= 4 && strings.Contains(lower, strings.ToLower(local)) && len(lower)-len(local) < 8 {
		return weak
	}
	return nil
}

// deleet undoes the usual letter-for-digit spellings ("p@ssw0rd").
var deleet = strings.NewReplacer("@", "a", "4", "a", "0", "o", "1", "i", "3", "e", "$", "s", "5", "s", "7", "t", "!", "i")

// repeated reports whether s is a pattern of at most four characters, or a common password,
// repeated.
func repeated(s string) bool {
	r := []rune(s)
	for p := 1; p <= len(r)/2; p++ {
		if _, common := commonPasswords[string(r[:p])]; p > 4 && !common {
			continue
		}
		same := true
		for i := p; i < len(r); i++ {
			if r[i] != r[i-p] {
				same = false
				break
			}
		}
		if same {
			return true
		}
	}
	return false
}

// sequential reports whether s is one run up or down the alphabet, the digits or a keyboard
// row ("abcdefghijkl", "123456789012", "qwertyuiop[]").
func sequential(s string) bool {
	const runs = "abcdefghijklmnopqrstuvwxyz 01234567890 qwertyuiop[] asdfghjkl; zxcvbnm,./ 1qaz2wsx3edc4rfv5tgb6yhn7ujm8ik,9ol.0p;/"
	wrap := runs + " " + runs
	rev := []rune(s)
	for i, j := 0, len(rev)-1; i < j; i, j = i+1, j-1 {
		rev[i], rev[j] = rev[j], rev[i]
	}
	return strings.Contains(wrap, s) || strings.Contains(wrap, string(rev))
}
