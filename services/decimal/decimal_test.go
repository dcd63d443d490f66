package decimal

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in    string
		scale int
		want  int64
		err   error
	}{
		{"100.50", 2, 10050, nil},
		{"100.5", 2, 10050, nil},
		{"100", 2, 10000, nil},
		{"0.0001", 4, 1, nil},
		{"-2.25", 2, -225, nil},
		{"1.50", 1, 15, nil},
		{"1.000000", 2, 100, nil},
		{"0", 0, 0, nil},
		{"1.51", 1, 0, ErrPrecision},
		{"0.001", 2, 0, ErrPrecision},
		{"", 2, 0, ErrSyntax},
		{"-", 2, 0, ErrSyntax},
		{".5", 2, 0, ErrSyntax},
		{"5.", 2, 0, ErrSyntax},
		{"1e5", 2, 0, ErrSyntax},
		{"+1", 2, 0, ErrSyntax},
		{"1.2.3", 2, 0, ErrSyntax},
		{" 1", 2, 0, ErrSyntax},
		{"NaN", 2, 0, ErrSyntax},
		{"92233720368547758.08", 2, 0, ErrRange},
		{"92233720368547758.07", 2, math.MaxInt64, nil},
		{"99999999999999999999999", 0, 0, ErrRange},
	}
	for _, tt := range tests {
		got, err := Parse(tt.in, tt.scale)
		assert.ErrorIs(t, err, tt.err, "Parse(%q, %d)", tt.in, tt.scale)
		assert.Equal(t, tt.want, got, "Parse(%q, %d)", tt.in, tt.scale)
	}
}

func TestFormat(t *testing.T) {
	tests := []struct {
		v     int64
		scale int
		want  string
	}{
		{10050, 2, "100.50"},
		{1, 4, "0.0001"},
		{0, 2, "0.00"},
		{-225, 2, "-2.25"},
		{-5, 2, "-0.05"},
		{42, 0, "42"},
		{0, 0, "0"},
		{math.MinInt64, 0, "-9223372036854775808"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, Format(tt.v, tt.scale), "Format(%d, %d)", tt.v, tt.scale)
	}
}

func TestScale(t *testing.T) {
	for in, want := range map[string]int{"0.01": 2, "0.0001": 4, "1": 0, "0.50": 1} {
		got, err := Scale(in)
		assert.NoError(t, err, "Scale(%q)", in)
		assert.Equal(t, want, got, "Scale(%q)", in)
	}
	for _, bad := range []string{"", "-0.01", "abc", ".1"} {
		_, err := Scale(bad)
		assert.Error(t, err, "Scale(%q) accepted", bad)
	}
}

func FuzzRoundTrip(f *testing.F) {
	f.Add(int64(10050), 2)
	f.Add(int64(-1), 8)
	f.Fuzz(func(t *testing.T, v int64, scale int) {
		if scale < 0 || scale > MaxScale || v == math.MinInt64 {
			return
		}
		s := Format(v, scale)
		got, err := Parse(s, scale)
		require.NoError(t, err, "Parse(Format(%d, %d) = %q)", v, scale, s)
		require.Equal(t, v, got, "Parse(Format(%d, %d) = %q)", v, scale, s)
	})
}

func TestAppendFormatDoesNotAllocate(t *testing.T) {
	buf := make([]byte, 0, 32)
	n := testing.AllocsPerRun(100, func() { buf = AppendFormat(buf[:0], 123456789, 4) })
	require.Zero(t, n, "AppendFormat allocated %.0f times", n)
}
