package http

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/cantondex/platform/services/decimal"
	"github.com/cantondex/platform/services/trading"
)

// FuzzDecode feeds the strict request decoder arbitrary bodies for the API's request types.
// It must never panic, every refusal is trading.EINVALID, and whatever it accepts is valid
// UTF-8 that encoding/json decodes to the same value, with no key given twice.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		`{"market":"BTC-USD","side":"buy","type":"limit","price":"1.00","quantity":"1"}`,
		`{"market":"BTC-USD","side":"buy","side":"sell"}`,
		`{"Market":"BTC-USD"}`,
		`{"label":"bot","scopes":["read","trade"]}`,
		`{"email":"a@example.com","password":"x\u0000y"}`,
		`{"on":true}`, `[]`, `{}`, `null`, `"x"`, `{"a":{"b":[1,{"c":2}]}}`, "{\"label\":\"\xff\"}",
		`{"id":"d1","account":"a","asset":"USD","amount":"1"}`,
	} {
		f.Add([]byte(s))
	}
	targets := []func() any{
		func() any { return new(placeOrderRequest) }, func() any { return new(apiKeyRequest) },
		func() any { return new(credentials) }, func() any { return new(switchRequest) },
		func() any { return new(fundingRequest) }, func() any { return new(createMarketRequest) },
		func() any { return new(passwordChange) }, func() any { return new(resetConfirm) },
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, newV := range targets {
			v := newV()
			err := decodeJSON(body, v)
			if err != nil {
				require.Equal(t, trading.EINVALID, trading.ErrorCode(err), "%T: refusal %v is not invalid", v, err)
				continue
			}
			require.True(t, utf8.Valid(body), "%T: accepted invalid UTF-8 %q", v, body)
			w := newV()
			require.NoError(t, json.Unmarshal(body, w), "%T: accepted %q, which encoding/json refuses", v, body)
			require.Equal(t, w, v, "%T: accepted %q, which encoding/json reads differently", v, body)
			require.False(t, duplicateKey(body), "%T: accepted a duplicate key in %q", v, body)
		}
	})
}

// duplicateKey reports whether any object in body gives a key twice.
func duplicateKey(body []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(body))
	var walk func() bool
	walk = func() bool {
		tok, err := dec.Token()
		if err != nil {
			return false
		}
		switch tok {
		case json.Delim('{'):
			seen := map[string]bool{}
			for dec.More() {
				k, _ := dec.Token()
				ks, _ := k.(string)
				if seen[ks] || walk() {
					return true
				}
				seen[ks] = true
			}
			_, _ = dec.Token()
		case json.Delim('['):
			for dec.More() {
				if walk() {
					return true
				}
			}
			_, _ = dec.Token()
		}
		return false
	}
	return walk()
}

// FuzzDecodeOrder holds the order request's own decoder to the generic one: it accepts what
// the generic decoder accepts (but a top-level null), into the same value, and refuses
// everything else as trading.EINVALID.
func FuzzDecodeOrder(f *testing.F) {
	for _, s := range []string{
		`{"market":"BTC-USD","side":"buy","type":"limit","price":"1.00","quantity":"1","client_order_id":"c-1"}`,
		` {"market" : "BTC-USD" , "price":null, "post_only":true,"time_in_force":"IOC"} `,
		`{"m\u0061rket":"\u0042TC-USD","side":"\ud83d\ude00","type":"\ud800"}`,
		`{"market":"BTC-USD","side":"buy","side":"sell"}`, `{"Market":"x"}`, `{"post_only":"true"}`,
		`{"price":1}`, `{"market":{"a":[1]}}`, `{"market":"a"}{}`, `{"market":"a",}`, `{"post_only":truex}`,
		`{"client_order_id":"a\u0000b"}`, "{\"market\":\"\xff\"}", `null`, `[]`, `"x"`, `{}`, ``, `{`,
		`{"market":"a\"b\\c\/d"}`, `{"market":"\u0085"}`, `{"market":"\x"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var fast, slow placeOrderRequest
		ferr := fast.decode(body)
		serr := decodeGeneric(body, &slow)
		if ferr != nil {
			require.Equal(t, trading.EINVALID, trading.ErrorCode(ferr), "refusal %v of %q is not invalid", ferr, body)
			if serr == nil {
				require.Equal(t, "null", string(bytes.Trim(body, " \t\r\n")), "refused %q (%v), which the generic decoder accepts", body, ferr)
			}
			return
		}
		require.NoError(t, serr, "accepted %q, which the generic decoder refuses", body)
		require.Equal(t, slow, fast, "read %q differently from the generic decoder", body)
	})
}

// FuzzEncodeOrder holds the order answer's own encoder to encoding/json's encoding of orderOut.
func FuzzEncodeOrder(f *testing.F) {
	f.Add("o-1", "c-1", "BTC-USD", "", true, int64(10000), int64(100), int64(40), int64(1_700_000_000_123_456_789), uint8(2), uint8(8))
	f.Add("o-<&>", "", "é\u2028", "bad \"reason\"\n", false, int64(-5), int64(0), int64(-1), int64(-62135596800_000_000_0), uint8(0), uint8(18))
	f.Add("\xff", "\x00", "", "x", true, int64(1), int64(1), int64(1), int64(0), uint8(30), uint8(1))
	f.Fuzz(func(t *testing.T, id, coid, market, reason string, limit bool, price, qty, filled, nanos int64, tickScale, lotScale uint8) {
		st, err := stepsOf(trading.MarketDef{TickSize: decimal.Format(1+int64(tickScale%7), int(tickScale%19)), LotSize: decimal.Format(1, int(lotScale%19))})
		require.NoError(t, err)
		o := trading.Order{ID: id, ClientOrderID: coid, Market: market, Side: trading.Sell, Type: trading.Market, TimeInForce: trading.IOC,
			Price: price, Quantity: qty, Filled: filled, Status: trading.StatusOpen, Reason: reason,
			CreatedAt: time.Unix(0, nanos), UpdatedAt: time.Unix(0, nanos).Add(time.Millisecond).In(time.FixedZone("x", 3600))}
		if limit {
			o.Side, o.Type, o.TimeInForce, o.PostOnly = trading.Buy, trading.Limit, trading.GTC, true
		}
		want, err := json.Marshal(orderOut(o, st))
		require.NoError(t, err)
		require.Equal(t, string(want)+"\n", string(appendOrder(nil, o, st)))
	})
}
