// Package decimal converts between decimal strings, as traders and the API see them, and the
// fixed-point integers the platform computes with. Money is never a float.
package decimal

import (
	"errors"
	"fmt"
	"math"
	"strings"
)

// MaxScale is the largest number of fractional digits a value may carry.
const MaxScale = 18

// Errors returned by Parse. Callers match them with errors.Is.
var (
	ErrSyntax    = errors.New("not a decimal number")
	ErrPrecision = errors.New("too many decimal places")
	ErrRange     = errors.New("out of range")
)

var pow10 = func() [MaxScale + 1]int64 {
	var p [MaxScale + 1]int64
	p[0] = 1
	for i := 1; i <= MaxScale; i++ {
		p[i] = p[i-1] * 10
	}
	return p
}()

// Pow10 returns 10^n for 0 <= n <= MaxScale.
func Pow10(n int) int64 { return pow10[n] }

// Parse reads s as a decimal with at most scale fractional digits and returns it multiplied by
// 10^scale. It accepts an optional leading '-', digits, and an optional fraction ("1", "1.5",
// "0.0001", "-2.25"). It rejects exponents, signs other than a leading '-', empty parts, more
// fractional digits than scale (trailing zeros beyond scale included: "1.50" at scale 1 is
// accepted, "1.51" is not) and values that do not fit in an int64.
func Parse(s string, scale int) (int64, error) {
	if scale < 0 || scale > MaxScale {
		return 0, fmt.Errorf("decimal scale %d: %w", scale, ErrRange)
	}
	if s == "" {
		return 0, ErrSyntax
	}
	neg := false
	if s[0] == '-' {
		neg = true
		s = s[1:]
	}
	intPart, frac, hasDot := strings.Cut(s, ".")
	if intPart == "" || (hasDot && frac == "") {
		return 0, ErrSyntax
	}
	var v int64
	for i := 0; i < len(intPart); i++ {
		c := intPart[i]
		if c < '0' || c > '9' {
			return 0, ErrSyntax
		}
		if v > (math.MaxInt64-int64(c-'0'))/10 {
			return 0, ErrRange
		}
		v = v*10 + int64(c-'0')
	}
	for i := 0; i < len(frac); i++ {
		if c := frac[i]; c < '0' || c > '9' {
			return 0, ErrSyntax
		}
	}
	// Trailing zeros past the scale carry no precision.
	trimmed := strings.TrimRight(frac, "0")
	if len(trimmed) > scale {
		return 0, ErrPrecision
	}
	if v > math.MaxInt64/pow10[scale] {
		return 0, ErrRange
	}
	v *= pow10[scale]
	var f int64
	for i := 0; i < len(trimmed); i++ {
		f = f*10 + int64(trimmed[i]-'0')
	}
	f *= pow10[scale-len(trimmed)]
	if v > math.MaxInt64-f {
		return 0, ErrRange
	}
	v += f
	if neg {
		v = -v
	}
	return v, nil
}

// Format writes v / 10^scale with exactly scale fractional digits ("100.50" for 10050 at
// scale 2). Scale 0 writes an integer.
func Format(v int64, scale int) string {
	return string(AppendFormat(nil, v, scale))
}

// AppendFormat appends Format(v, scale) to b without allocating when b has room.
func AppendFormat(b []byte, v int64, scale int) []byte {
	if scale < 0 || scale > MaxScale {
		panic(fmt.Sprintf("decimal: scale %d out of range", scale))
	}
	u := uint64(v)
	if v < 0 {
		b = append(b, '-')
		u = uint64(-v) // correct for MinInt64 too, as uint64 arithmetic wraps
	}
	var buf [24]byte
	i := len(buf)
	digits := 0
	for u > 0 || digits <= scale {
		i--
		buf[i] = byte('0' + u%10)
		u /= 10
		digits++
		if digits == scale && scale > 0 {
			i--
			buf[i] = '.'
		}
	}
	return append(b, buf[i:]...)
}

// Scale returns the number of fractional digits of a step such as "0.01" (2) or "1" (0), for
// tick and lot sizes given as decimal strings.
func Scale(step string) (int, error) {
	intPart, frac, _ := strings.Cut(step, ".")
	if _, err := Parse(step, MaxScale); err != nil || strings.HasPrefix(step, "-") || intPart == "" {
		return 0, fmt.Errorf("step %q: %w", step, ErrSyntax)
	}
	return len(strings.TrimRight(frac, "0")), nil
}
