package http

import (
	"bytes"
	"encoding/json"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

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
