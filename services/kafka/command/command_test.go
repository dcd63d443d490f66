package command

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cantondex/platform/services/trading"
)

// commandSamples are real commands of every op and field, as order entry encodes them.
func commandSamples() []trading.OrderCommand {
	at := time.Date(2026, 12, 1, 17, 4, 5, 123456789, time.UTC)
	return []trading.OrderCommand{
		{Op: trading.OpNew, OrderID: "ord-00000001", Account: "acct-7", Market: "BTC-USD", Side: trading.Buy, Type: trading.Limit, TimeInForce: trading.GTC, Price: 10_000_00, Quantity: 25, AcceptedAt: at},
		{Op: trading.OpNew, OrderID: "0193a1f2-7c4e-7d2a-9b1e-3f6a2c1d4e5f", Account: "a", Market: "ETH-USDC", Side: trading.Sell, Type: trading.Limit, TimeInForce: trading.IOC, PostOnly: false, Price: 1, Quantity: 9_223_372_036_854_775_807, AcceptedAt: at.Add(time.Hour)},
		{Op: trading.OpNew, OrderID: "o", Account: "acct", Market: "SOL-USD", Side: trading.Buy, Type: trading.Limit, TimeInForce: trading.FOK, Price: -9_223_372_036_854_775_808, Quantity: 1, AcceptedAt: at},
		{Op: trading.OpNew, OrderID: "o2", Account: "acct", Market: "SOL-USD", Side: trading.Sell, Type: trading.Limit, TimeInForce: trading.GTC, PostOnly: true, Price: 123_456_789_012_345_678, Quantity: 100, AcceptedAt: at.In(time.FixedZone("", 2*3600))},
		{Op: trading.OpNew, OrderID: "o3", Account: "acct", Market: "SOL-USD", Side: trading.Buy, Type: trading.Market, TimeInForce: trading.IOC, Quantity: 3},
		{Op: trading.OpCancel, OrderID: "ord-00000001", Account: "acct-7", Market: "BTC-USD", AcceptedAt: at},
		{Op: trading.OpCancel, OrderID: "ord-00000002", Account: "acct-7", Market: "BTC-USD"},
		{Op: trading.OpNew, OrderID: `quote"and\back`, Account: "ünï", Market: "BTC-USD", Side: trading.Buy, Type: trading.Limit, TimeInForce: trading.GTC, Price: 5, Quantity: 5, AcceptedAt: at},
		{},
	}
}

// decodeReference is encoding/json, the reading Decode must equal.
func decodeReference(b []byte) (trading.OrderCommand, error) {
	var c trading.OrderCommand
	err := json.Unmarshal(b, &c)
	return c, err
}

func TestDecodeReadsEncodedCommands(t *testing.T) {
	for _, c := range commandSamples() {
		b, err := json.Marshal(c)
		require.NoError(t, err)
		got, err := Decode(b)
		require.NoError(t, err, "%s", b)
		want := c
		require.True(t, got.AcceptedAt.Equal(want.AcceptedAt), "%s", b)
		ref, err := decodeReference(b)
		require.NoError(t, err)
		require.Equal(t, ref, got, "%s", b)
		if c.AcceptedAt.Location() == time.UTC || c.AcceptedAt.IsZero() {
			require.Equal(t, want, got, "%s", b)
		}
	}
}

// TestDecodeFastPathTakesWhatOrderEntryWrites proves the hand-written decoder is what
// reads the commands order entry writes, without falling back on encoding/json.
func TestDecodeFastPathTakesWhatOrderEntryWrites(t *testing.T) {
	for _, c := range commandSamples() {
		b, err := json.Marshal(c)
		require.NoError(t, err)
		if c.OrderID == `quote"and\back` {
			continue // escapes and non-ASCII take the fallback
		}
		got, ok := decodeFast(b)
		require.True(t, ok, "%s", b)
		ref, err := decodeReference(b)
		require.NoError(t, err)
		require.Equal(t, ref, got, "%s", b)
		indented, err := json.MarshalIndent(c, " ", "\t")
		require.NoError(t, err)
		got, ok = decodeFast(append(indented, "\r\n"...))
		require.True(t, ok, "%s", indented)
		require.Equal(t, ref, got, "%s", indented)
	}
}

// decodeCases are inputs at the edges of what encoding/json accepts.
var decodeCases = []string{
	`{"op":"new","id":"a","account":"b","market":"m","side":"buy","type":"limit","tif":"gtc","post_only":true,"price":1,"qty":2,"at":"2026-12-01T17:00:00Z"}`,
	` { "op" : "cancel" , "id" : "a" } `,
	`{}`,
	`null`,
	` null `,
	`{"op":null,"price":null,"post_only":null,"at":null}`,
	`{"op":"new","op":"cancel"}`,
	`{"price":1,"price":null}`,
	`{"OP":"new","Id":"x","MARKET":"m","Post_Only":true}`,
	`{"ſide":"buy","mar\u212Aet":"m"}`,
	`{"\u006fp":"new"}`,
	`{"id":"a\u00e9\ud83d\ude00"}`,
	`{"id":"\ud800"}`,
	"{\"id\":\"\xff\"}",
	"{\"id\":\"\x01\"}",
	`{"unknown":{"a":[1,2,{"b":null}]},"op":"new"}`,
	`{"Trace":"t","-":"x"}`,
	`{"price":01}`,
	`{"price":-0}`,
	`{"price":-}`,
	`{"price":1.0}`,
	`{"price":1e3}`,
	`{"price":9223372036854775807}`,
	`{"price":9223372036854775808}`,
	`{"price":-9223372036854775808}`,
	`{"price":-9223372036854775809}`,
	`{"price":99999999999999999999}`,
	`{"price":"1"}`,
	`{"qty":true}`,
	`{"post_only":"true"}`,
	`{"post_only":1}`,
	`{"post_only":false}`,
	`{"post_only":tru}`,
	`{"op":1}`,
	`{"op":["new"]}`,
	`{"at":"2026-12-01T17:00:00+01:00"}`,
	`{"at":"2026-12-01T17:00:00.000000001Z"}`,
	`{"at":"2026-12-01 17:00:00Z"}`,
	`{"at":"2026-12-01T17:00:00\u005a"}`,
	`{"at":"2026-13-01T17:00:00Z"}`,
	`{"at":12}`,
	`{"at":""}`,
	`{"op":"new"`,
	`{"op":"new",}`,
	`{"op":"new"} x`,
	`{"op":"new"}{}`,
	`[]`,
	`1`,
	`"new"`,
	``,
	` `,
	`{"op" "new"}`,
	`{op:"new"}`,
	"{\"op\":\"new\"}\x00",
	"\t{\n\"op\"\r:\"new\"}\n",
	`{"op":"new","price":1,"qty":1,"price":2,"op":"cancel"}`,
}

func TestDecodeAgreesWithEncodingJSON(t *testing.T) {
	for _, in := range decodeCases {
		requireSameDecoding(t, []byte(in))
	}
}

// requireSameDecoding fails unless Decode and encoding/json agree on whether b is a
// command and on the value read.
func requireSameDecoding(t *testing.T, b []byte) {
	t.Helper()
	want, wantErr := decodeReference(b)
	got, gotErr := Decode(b)
	require.Equal(t, wantErr == nil, gotErr == nil, "%q: encoding/json %v, Decode %v", b, wantErr, gotErr)
	require.Equal(t, want, got, "%q", b)
	if fast, ok := decodeFast(b); ok {
		require.NoError(t, wantErr, "%q: the fast path took what encoding/json refuses", b)
		require.Equal(t, want, fast, "%q", b)
	}
}

func FuzzDecode(f *testing.F) {
	for _, c := range commandSamples() {
		b, err := json.Marshal(c)
		require.NoError(f, err)
		f.Add(b)
	}
	for _, in := range decodeCases {
		f.Add([]byte(in))
	}
	f.Fuzz(requireSameDecoding)
}

func BenchmarkDecode(b *testing.B) {
	c := commandSamples()[0]
	c.OrderID = "0193a1f2-7c4e-7d2a-9b1e-3f6a2c1d4e5f"
	v, err := json.Marshal(c)
	require.NoError(b, err)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Decode(v); err != nil {
			b.Fatal(err)
		}
	}
}
