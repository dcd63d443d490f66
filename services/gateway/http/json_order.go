package http

import (
	"encoding/json"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/cantondex/platform/services/trading"
)

// The order request and answer are the hot path's JSON, so they have their own decoder and
// encoder: no reflection, no tokens, one string for the whole body whose fields are slices of
// it. They keep decode's rules exactly (FuzzDecodeOrder compares them with the generic
// decoder and with encoding/json; FuzzEncodeOrder the answer with encoding/json's).

// decodeOrder reads body into r with decodeJSON's rules: valid UTF-8, one object, every key
// one of placeOrderRequest's JSON names exactly and given once, no control characters in any
// string, strings (or null) for the strings, a boolean (or null) for post_only. It refuses a
// top-level null, which the generic decoder reads as an empty request.
func (r *placeOrderRequest) decode(body []byte) error {
	if !utf8.Valid(body) {
		return trading.Errorf(trading.EINVALID, "request body is not valid UTF-8")
	}
	d := orderDecoder{s: string(body)}
	d.space()
	if !d.byte('{') {
		if d.i < len(d.s) && (d.s[d.i] == '[' || d.s[d.i] == '"' || d.s[d.i] == 't' || d.s[d.i] == 'f' || d.s[d.i] == 'n' || d.s[d.i] == '-' || (d.s[d.i] >= '0' && d.s[d.i] <= '9')) {
			return trading.Errorf(trading.EINVALID, "request body must be a JSON object")
		}
		return errNotJSON
	}
	var seen uint8
	d.space()
	if !d.byte('}') {
		for {
			d.space()
			key, ok := d.str()
			if !ok {
				return errNotJSON
			}
			if !validText(key) || len(key) > 64 {
				return trading.Errorf(trading.EINVALID, "request body has an invalid field name")
			}
			f := orderField(key)
			if f < 0 {
				return trading.Errorf(trading.EINVALID, "unknown field %s", strconv.Quote(key))
			}
			if seen&(1<<f) != 0 {
				return trading.Errorf(trading.EINVALID, "field %s is given twice", strconv.Quote(key))
			}
			seen |= 1 << f
			d.space()
			if !d.byte(':') {
				return errNotJSON
			}
			d.space()
			if err := d.field(r, f, key); err != nil {
				return err
			}
			d.space()
			if d.byte('}') {
				break
			}
			if !d.byte(',') {
				return errNotJSON
			}
		}
	}
	d.space()
	if d.i != len(d.s) {
		return trading.Errorf(trading.EINVALID, "request body must be one JSON object")
	}
	return nil
}

var orderFields = [...]string{"market", "side", "type", "price", "quantity", "time_in_force", "post_only", "client_order_id"}

// orderField is the index of key in orderFields, -1 when it is none of them.
func orderField(key string) int {
	for i, f := range orderFields {
		if f == key {
			return i
		}
	}
	return -1
}

type orderDecoder struct {
	s string
	i int
}

// space skips JSON whitespace.
func (d *orderDecoder) space() {
	for d.i < len(d.s) {
		switch d.s[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

// byte consumes c when it is next.
func (d *orderDecoder) byte(c byte) bool {
	if d.i < len(d.s) && d.s[d.i] == c {
		d.i++
		return true
	}
	return false
}

// literal consumes lit when it is next and not followed by more of a literal.
func (d *orderDecoder) literal(lit string) bool {
	if len(d.s)-d.i < len(lit) || d.s[d.i:d.i+len(lit)] != lit {
		return false
	}
	if j := d.i + len(lit); j < len(d.s) && isLiteralByte(d.s[j]) {
		return false
	}
	d.i += len(lit)
	return true
}

func isLiteralByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '+' || c == '-'
}

// str reads a JSON string: a slice of the body when it has no escapes, otherwise unquoted by
// encoding/json (so escapes, surrogates included, read exactly as there).
func (d *orderDecoder) str() (string, bool) {
	if !d.byte('"') {
		return "", false
	}
	start, escaped := d.i, false
	for d.i < len(d.s) {
		switch c := d.s[d.i]; {
		case c == '"':
			d.i++
			if !escaped {
				return d.s[start : d.i-1], true
			}
			var v string
			if err := json.Unmarshal([]byte(d.s[start-1:d.i]), &v); err != nil {
				return "", false
			}
			return v, true
		case c == '\\':
			escaped = true
			d.i += 2
		case c < 0x20:
			return "", false
		default:
			d.i++
		}
	}
	return "", false
}

// field reads field f's value into r.
func (d *orderDecoder) field(r *placeOrderRequest, f int, key string) error {
	if d.literal("null") {
		if f == 3 {
			r.Price = nil
		}
		return nil
	}
	if f == 6 { // post_only
		switch {
		case d.literal("true"):
			r.PostOnly = true
		case d.literal("false"):
			r.PostOnly = false
		default:
			return d.wrongType(key, "a boolean")
		}
		return nil
	}
	if d.i >= len(d.s) || d.s[d.i] != '"' {
		return d.wrongType(key, "a string")
	}
	v, ok := d.str()
	if !ok {
		return errNotJSON
	}
	if !validText(v) {
		return trading.Errorf(trading.EINVALID, "request body has control characters in a string")
	}
	switch f {
	case 0:
		r.Market = v
	case 1:
		r.Side = v
	case 2:
		r.Type = v
	case 3:
		p := v // only a price escapes
		r.Price = &p
	case 4:
		r.Quantity = v
	case 5:
		r.TimeInForce = v
	case 7:
		r.ClientOrderID = v
	}
	return nil
}

// wrongType is the refusal of a value of the wrong type: "field x must be ..." when it is a
// JSON value at all, like encoding/json's type error.
func (d *orderDecoder) wrongType(key, kind string) error {
	if d.i < len(d.s) {
		switch c := d.s[d.i]; {
		case c == '{' || c == '[' || c == '"' || c == 't' || c == 'f' || c == '-' || (c >= '0' && c <= '9'):
			return trading.Errorf(trading.EINVALID, "field %s must be %s", key, kind)
		}
	}
	return errNotJSON
}

// appendOrder appends orderOut(o, st)'s JSON, as encoding/json writes it (HTML characters
// escaped), with the newline json.Encoder ends a value with.
func appendOrder(b []byte, o trading.Order, st steps) []byte {
	b = append(b, `{"id":`...)
	b = appendString(b, o.ID)
	b = append(b, `,"client_order_id":`...)
	b = appendOptional(b, o.ClientOrderID)
	b = append(b, `,"market":`...)
	b = appendString(b, o.Market)
	b = append(b, `,"side":`...)
	b = appendString(b, string(o.Side))
	b = append(b, `,"type":`...)
	b = appendString(b, string(o.Type))
	b = append(b, `,"time_in_force":`...)
	b = appendString(b, string(o.TimeInForce))
	b = append(b, `,"post_only":`...)
	b = strconv.AppendBool(b, o.PostOnly)
	b = append(b, `,"price":`...)
	if o.Type == trading.Limit {
		b = append(b, '"')
		b = st.AppendPrice(b, o.Price)
		b = append(b, '"')
	} else {
		b = append(b, "null"...)
	}
	b = append(b, `,"quantity":"`...)
	b = st.AppendQty(b, o.Quantity)
	b = append(b, `","filled_quantity":"`...)
	b = st.AppendQty(b, o.Filled)
	b = append(b, `","remaining_quantity":"`...)
	b = st.AppendQty(b, o.Remaining())
	b = append(b, `","status":`...)
	b = appendString(b, string(o.Status))
	b = append(b, `,"reason":`...)
	b = appendOptional(b, o.Reason)
	b = append(b, `,"created_at":"`...)
	b = appendTimestamp(b, o.CreatedAt)
	b = append(b, `","updated_at":"`...)
	b = appendTimestamp(b, o.UpdatedAt)
	return append(b, "\"}\n"...)
}

func appendTimestamp(b []byte, t time.Time) []byte { return t.UTC().AppendFormat(b, time.RFC3339Nano) }

func appendOptional(b []byte, s string) []byte {
	if s == "" {
		return append(b, "null"...)
	}
	return appendString(b, s)
}

// appendString appends s as a JSON string: as is when it needs no escaping, otherwise as
// encoding/json escapes it.
func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= utf8.RuneSelf || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s) // a string always encodes
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}
