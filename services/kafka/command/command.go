// Package command reads the orders topic's message bodies: trading.OrderCommand as
// encoding/json writes it, decoded without reflection for the form order entry writes. It is
// a package of its own, with no Kafka client among its imports, so that fuzzing it builds
// and instruments only what it uses.
package command

import (
	"encoding/json"
	"math"

	"github.com/cantondex/platform/services/trading"
)

// Decode reads an orders-topic body as encoding/json reads it into a trading.OrderCommand
// (unknown fields ignored, as the kafka package decodes every topic), without reflection for
// the form order entry writes. The hand-written path takes only an object whose keys are the
// fields' exact names and whose values are null, plain ASCII strings (no escape), integers
// in int64 range, true or false; anything else (escapes, non-ASCII text, other key spellings,
// unknown fields, malformed input) is left to encoding/json, so the value and the verdict are
// always encoding/json's. FuzzDecode holds the two to the same answers.
func Decode(b []byte) (trading.OrderCommand, error) {
	if c, ok := decodeFast(b); ok {
		return c, nil
	}
	var c trading.OrderCommand
	err := json.Unmarshal(b, &c)
	return c, err
}

// decodeFast is the hand-written path; ok is false for an input it leaves to
// encoding/json (c is then meaningless).
func decodeFast(b []byte) (c trading.OrderCommand, ok bool) {
	d := commandReader{b: b}
	if !d.expect('{') {
		return c, false
	}
	if d.peek() == '}' {
		d.i++
		return c, d.end()
	}
	for {
		key, ok := d.plainString()
		if !ok || !d.expect(':') {
			return c, false
		}
		if !d.field(&c, key) {
			return c, false
		}
		switch d.peek() {
		case ',':
			d.i++
		case '}':
			d.i++
			return c, d.end()
		default:
			return c, false
		}
	}
}

type commandReader struct {
	b []byte
	i int
}

// peek skips white space and returns the next byte (0 at the end).
func (d *commandReader) peek() byte {
	for d.i < len(d.b) {
		switch c := d.b[d.i]; c {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return c
		}
	}
	return 0
}

func (d *commandReader) expect(c byte) bool {
	if d.peek() != c {
		return false
	}
	d.i++
	return true
}

// end reports whether nothing but white space is left.
func (d *commandReader) end() bool {
	d.peek()
	return d.i == len(d.b)
}

// plainString reads a string of printable ASCII without escapes, returning its content.
func (d *commandReader) plainString() ([]byte, bool) {
	if !d.expect('"') {
		return nil, false
	}
	b, start := d.b, d.i
	i := start
	for i < len(b) && plainByte[b[i]] {
		i++
	}
	if i == len(b) || b[i] != '"' {
		return nil, false // an escape, a control or non-ASCII byte, or the end
	}
	d.i = i + 1
	return b[start:i], true
}

// plainByte marks the bytes plainString takes inside a string: printable ASCII but the quote
// and the backslash.
var plainByte = func() (t [256]bool) {
	for c := 0x20; c < 0x80; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// null consumes a null literal if one is next.
func (d *commandReader) null() bool {
	if d.peek() != 'n' {
		return false
	}
	if len(d.b)-d.i < 4 || string(d.b[d.i:d.i+4]) != "null" {
		return false
	}
	d.i += 4
	return true
}

// field reads the value of the field named key into c; false: leave the input to
// encoding/json. A null leaves the field as it is, as encoding/json does.
func (d *commandReader) field(c *trading.OrderCommand, key []byte) bool {
	if d.null() {
		return knownCommandField(key)
	}
	switch string(key) {
	case "op":
		return readString(d, &c.Op, string(trading.OpNew), string(trading.OpCancel))
	case "id":
		return readString(d, &c.OrderID)
	case "account":
		return readString(d, &c.Account)
	case "market":
		return readString(d, &c.Market)
	case "side":
		return readString(d, &c.Side, string(trading.Buy), string(trading.Sell))
	case "type":
		return readString(d, &c.Type, string(trading.Limit), string(trading.Market))
	case "tif":
		return readString(d, &c.TimeInForce, string(trading.GTC), string(trading.IOC), string(trading.FOK))
	case "post_only":
		switch d.peek() {
		case 't':
			if len(d.b)-d.i >= 4 && string(d.b[d.i:d.i+4]) == "true" {
				d.i += 4
				c.PostOnly = true
				return true
			}
		case 'f':
			if len(d.b)-d.i >= 5 && string(d.b[d.i:d.i+5]) == "false" {
				d.i += 5
				c.PostOnly = false
				return true
			}
		}
		return false
	case "price":
		var ok bool
		c.Price, ok = d.int64()
		return ok
	case "qty":
		var ok bool
		c.Quantity, ok = d.int64()
		return ok
	case "at":
		d.peek()
		start := d.i
		if _, ok := d.plainString(); !ok {
			return false
		}
		// The very method encoding/json calls, on the same bytes.
		return c.AcceptedAt.UnmarshalJSON(d.b[start:d.i]) == nil
	}
	return false
}

func knownCommandField(key []byte) bool {
	switch string(key) {
	case "op", "id", "account", "market", "side", "type", "tif", "post_only", "price", "qty", "at":
		return true
	}
	return false
}

// readString reads a plain string into dst: the constant among known equal to it (sparing
// the enumerations an allocation), or a copy.
func readString[T ~string](d *commandReader, dst *T, known ...string) bool {
	s, ok := d.plainString()
	if !ok {
		return false
	}
	for _, k := range known {
		if string(s) == k {
			*dst = T(k)
			return true
		}
	}
	*dst = T(s)
	return true
}

// int64 reads a JSON integer (no fraction or exponent: encoding/json refuses those for an
// int64) that fits in an int64.
func (d *commandReader) int64() (int64, bool) {
	d.peek()
	neg := d.i < len(d.b) && d.b[d.i] == '-'
	if neg {
		d.i++
	}
	start := d.i
	var u uint64
	for d.i < len(d.b) && d.b[d.i] >= '0' && d.b[d.i] <= '9' {
		u = u*10 + uint64(d.b[d.i]-'0')
		d.i++
	}
	n := d.i - start
	switch {
	case n == 0 || n > 19: // 19 digits cannot overflow a uint64
		return 0, false
	case n > 1 && d.b[start] == '0': // a leading zero is not JSON
		return 0, false
	case neg && u > math.MaxInt64+1, !neg && u > math.MaxInt64:
		return 0, false
	}
	if neg {
		return -int64(u), true // -(MaxInt64+1) wraps to MinInt64
	}
	return int64(u), true
}
