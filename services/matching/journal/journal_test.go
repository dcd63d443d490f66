package journal

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cantondex/platform/services/matching"
)

func newTestReplayer(t testing.TB) *Replayer {
	t.Helper()
	ms, err := ParseMarkets(DefaultMarkets + ",ETH-USD:0.05:0.001")
	require.NoError(t, err)
	r, err := NewReplayer(ms)
	require.NoError(t, err)
	return r
}

// FuzzDecode replays arbitrary input as a journal, line by line, on fresh books: nothing may
// panic, every line yields at least one event, every event is a valid JSON object carrying its
// line's sequence, a line Decode rejects yields exactly one rejected event naming the line, and
// no book is ever crossed.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		`{"op":"new","id":"o1","account":"a1","market":"BTC-USD","side":"buy","type":"limit","price":"100.50","qty":"2","tif":"GTC","post_only":false,"stp":"cancel_newest"}`,
		`{"op":"new","id":"o2","account":"a2","market":"BTC-USD","side":"sell","type":"market","qty":"0.0001","tif":"IOC"}`,
		`{"op":"cancel","id":"o1"}`,
		`{"op":"modify","id":"o1","price":"100.40","qty":"1"}`,
		`{"op":"new","id":"o\u0000\"","account":"a","market":"ETH-USD","side":"buy","type":"limit","price":"1e3","qty":"-1"}`,
		`{"op":"new"}{"op":"new"}`, `[]`, `null`, ``, `{"op":"cancel","id":"x","zzz":1}`,
		"{\"op\":\"new\",\"id\":\"a\",\"account\":\"x\",\"market\":\"ETH-USD\",\"side\":\"sell\",\"type\":\"limit\",\"price\":\"5\",\"qty\":\"1\"}\n" +
			"{\"op\":\"new\",\"id\":\"b\",\"account\":\"y\",\"market\":\"ETH-USD\",\"side\":\"buy\",\"type\":\"limit\",\"price\":\"6\",\"qty\":\"2\"}",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r := newTestReplayer(t)
		for i, line := range bytes.Split(data, []byte("\n")) {
			seq := uint64(i + 1)
			_, decErr := Decode(line)
			out := r.Line(seq, line)
			require.True(t, bytes.HasSuffix(out, []byte("\n")), "line %d: output %q does not end in a newline", seq, out)
			events := bytes.Split(bytes.TrimSuffix(out, []byte("\n")), []byte("\n"))
			for _, l := range events {
				var ev map[string]any
				require.NoError(t, json.Unmarshal(l, &ev), "event %q is not JSON", l)
				require.Equal(t, float64(seq), ev["seq"], "seq of event %q", l)
			}
			if decErr != nil {
				require.Len(t, events, 1, "malformed line gave %q", out)
				require.Contains(t, string(events[0]), `"reason":"malformed"`, "malformed line gave %q", out)
				require.Contains(t, string(events[0]), `"line":`, "malformed line gave %q", out)
			}
			for _, sym := range []string{"BTC-USD", "ETH-USD"} {
				b := r.Book(sym)
				bid, okb := b.BestBid()
				ask, oka := b.BestAsk()
				if okb && oka {
					require.Less(t, bid.Price, ask.Price, "%s crossed: best bid against best ask", sym)
				}
			}
		}
	})
}

func replay(t *testing.T, journal string, book bool) string {
	t.Helper()
	r := newTestReplayer(t)
	var out bytes.Buffer
	require.NoError(t, r.Run(strings.NewReader(journal), &out))
	if book {
		require.NoError(t, r.WriteBooks(&out))
	}
	return out.String()
}

func TestReplayGolden(t *testing.T) {
	journal := strings.Join([]string{
		`{"op":"new","id":"s1","account":"a1","market":"BTC-USD","side":"sell","type":"limit","price":"100.50","qty":"2"}`,
		`{"op":"new","id":"s2","account":"a1","market":"BTC-USD","side":"sell","type":"limit","price":"100.60","qty":"1.5"}`,
		`not json at all`,
		`{"op":"new","id":"b1","account":"a2","market":"BTC-USD","side":"buy","type":"limit","price":"100.60","qty":"3","tif":"IOC"}`,
		`{"op":"new","id":"b2","account":"a2","market":"BTC-USD","side":"buy","type":"limit","price":"100.555","qty":"1"}`,
		`{"op":"new","id":"b3","account":"a2","market":"BTC-USD","side":"buy","type":"limit","price":"100","qty":"0.00001"}`,
		`{"op":"new","id":"b4","account":"a2","market":"DOGE-USD","side":"buy","type":"limit","price":"1","qty":"1"}`,
		`{"op":"new","id":"e1","account":"a3","market":"ETH-USD","side":"buy","type":"limit","price":"2000.05","qty":"0.5"}`,
		`{"op":"new","id":"e1","account":"a3","market":"BTC-USD","side":"buy","type":"limit","price":"1","qty":"1"}`,
		`{"op":"modify","id":"e1","price":"2000.10","qty":"0.25"}`,
		`{"op":"cancel","id":"s1"}`,
		``,
		`{"op":"cancel","id":"e1"}`,
		`{"op":"new","id":"b5","account":"a2","market":"BTC-USD","side":"buy","type":"limit","price":"99.99","qty":"1","post_only":true}`,
	}, "\n") + "\n"
	want := strings.Join([]string{
		`{"type":"accepted","seq":1,"market":"BTC-USD","id":"s1","account":"a1","side":"sell","price":"100.50","qty":"2.0000","remaining":"2.0000"}`,
		`{"type":"accepted","seq":2,"market":"BTC-USD","id":"s2","account":"a1","side":"sell","price":"100.60","qty":"1.5000","remaining":"1.5000"}`,
		`{"type":"rejected","seq":3,"line":3,"reason":"malformed","detail":"malformed command: invalid character 'o' in literal null (expecting 'u')"}`,
		`{"type":"accepted","seq":4,"market":"BTC-USD","id":"b1","account":"a2","side":"buy","price":"100.60","qty":"3.0000","remaining":"3.0000"}`,
		`{"type":"trade","seq":4,"market":"BTC-USD","maker_id":"s1","taker_id":"b1","maker_account":"a1","taker_account":"a2","side":"buy","price":"100.50","qty":"2.0000","remaining":"1.0000","maker_remaining":"0.0000"}`,
		`{"type":"trade","seq":4,"market":"BTC-USD","maker_id":"s2","taker_id":"b1","maker_account":"a1","taker_account":"a2","side":"buy","price":"100.60","qty":"1.0000","remaining":"0.0000","maker_remaining":"0.5000"}`,
		`{"type":"rejected","seq":5,"market":"BTC-USD","id":"b2","reason":"tick_size"}`,
		`{"type":"rejected","seq":6,"market":"BTC-USD","id":"b3","reason":"lot_size"}`,
		`{"type":"rejected","seq":7,"id":"b4","reason":"unknown_market"}`,
		`{"type":"accepted","seq":8,"market":"ETH-USD","id":"e1","account":"a3","side":"buy","price":"2000.05","qty":"0.500","remaining":"0.500"}`,
		`{"type":"rejected","seq":9,"market":"BTC-USD","id":"e1","reason":"duplicate_id"}`,
		`{"type":"modified","seq":10,"market":"ETH-USD","id":"e1","account":"a3","side":"buy","price":"2000.10","qty":"0.250","remaining":"0.250"}`,
		`{"type":"rejected","seq":11,"id":"s1","reason":"unknown_order"}`,
		`{"type":"rejected","seq":12,"line":12,"reason":"malformed","detail":"malformed command: empty line"}`,
		`{"type":"cancelled","seq":13,"market":"ETH-USD","id":"e1","account":"a3","side":"buy","price":"2000.10","qty":"0.250","remaining":"0.000","reason":"user_cancel"}`,
		`{"type":"accepted","seq":14,"market":"BTC-USD","id":"b5","account":"a2","side":"buy","price":"99.99","qty":"1.0000","remaining":"1.0000"}`,
		`{"type":"book","market":"BTC-USD","seq":14,"bids":[{"price":"99.99","qty":"1.0000","orders":1}],"asks":[{"price":"100.60","qty":"0.5000","orders":1}]}`,
		`{"type":"book","market":"ETH-USD","seq":13,"bids":[],"asks":[]}`,
	}, "\n") + "\n"
	got := replay(t, journal, true)
	require.Equal(t, want, got)
	require.Equal(t, got, replay(t, journal, true), "second replay of the same journal differs")
}

func TestReplayLongLineAndNoTrailingNewline(t *testing.T) {
	long := `{"op":"cancel","id":"` + strings.Repeat("x", MaxLine) + `"}`
	got := replay(t, long+"\n"+`{"op":"cancel","id":"z"}`, false)
	lines := strings.Split(strings.TrimSuffix(got, "\n"), "\n")
	require.Len(t, lines, 2, "got %q", got)
	require.Contains(t, lines[0], `"line":1`)
	require.Contains(t, lines[0], "longer than")
	require.Contains(t, lines[1], `"seq":2`)
	require.Contains(t, lines[1], "unknown_order")
}

func TestCommandReasons(t *testing.T) {
	r := newTestReplayer(t)
	m := r.Book("BTC-USD").Market()
	for _, tc := range []struct {
		line string
		want matching.Reason
	}{
		{`{"op":"new","id":"x","account":"a","market":"BTC-USD","side":"up","type":"limit","price":"1","qty":"1"}`, matching.ReasonMalformed},
		{`{"op":"new","id":"x","account":"a","market":"BTC-USD","side":"buy","type":"stop","price":"1","qty":"1"}`, matching.ReasonMalformed},
		{`{"op":"new","id":"x","account":"a","market":"BTC-USD","side":"buy","type":"limit","price":"1","qty":"1","tif":"DAY"}`, matching.ReasonMalformed},
		{`{"op":"new","id":"x","account":"a","market":"BTC-USD","side":"buy","type":"limit","price":"1","qty":"1","stp":"none"}`, matching.ReasonMalformed},
		{`{"op":"new","id":"x","account":"a","market":"BTC-USD","side":"buy","type":"limit","price":"abc","qty":"1"}`, matching.ReasonInvalidPrice},
		{`{"op":"new","id":"x","account":"a","market":"BTC-USD","side":"buy","type":"limit","price":"-1","qty":"1"}`, matching.ReasonInvalidPrice},
		{`{"op":"new","id":"x","account":"a","market":"BTC-USD","side":"buy","type":"limit","qty":"1"}`, matching.ReasonInvalidPrice},
		{`{"op":"new","id":"x","account":"a","market":"BTC-USD","side":"buy","type":"limit","price":"1.001","qty":"1"}`, matching.ReasonTickSize},
		{`{"op":"new","id":"x","account":"a","market":"BTC-USD","side":"buy","type":"limit","price":"99999999999999999999","qty":"1"}`, matching.ReasonPriceOutOfRange},
		{`{"op":"new","id":"x","account":"a","market":"BTC-USD","side":"buy","type":"limit","price":"1","qty":"0"}`, matching.ReasonInvalidQuantity},
		{`{"op":"new","id":"x","account":"a","market":"BTC-USD","side":"buy","type":"limit","price":"1","qty":"0.00011"}`, matching.ReasonLotSize},
		{`{"op":"new","id":"x","account":"a","market":"BTC-USD","side":"buy","type":"market","qty":"1","tif":"ioc"}`, ""},
		{`{"op":"modify","id":"x","price":"1.001"}`, matching.ReasonTickSize},
		{`{"op":"modify","id":"x"}`, ""},
	} {
		w, err := Decode([]byte(tc.line))
		require.NoError(t, err, tc.line)
		_, got := w.Command(m, 1)
		assert.Equal(t, tc.want, got, "reason of %s", tc.line)
	}
}
