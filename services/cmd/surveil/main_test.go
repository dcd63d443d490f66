package main

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSampleJournal(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, run([]string{"--links", "testdata/links.jsonl", "testdata/journal.jsonl"}, nil, &out))
	var got []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var a map[string]any
		require.NoError(t, json.Unmarshal([]byte(l), &a), l)
		got = append(got, a)
	}
	require.Len(t, got, 4, out.String())
	for i, want := range []struct{ detector, account, first string }{
		{"wash_trade", "fundx-b", "w-1"}, {"spoofing", "spoofer", "sp-big"}, {"layering", "layerer", "ly-3"},
		{"quote_stuffing", "stuffer", "qs-1"},
	} {
		assert.Equal(t, "alert", got[i]["type"])
		assert.Equal(t, want.detector, got[i]["detector"])
		assert.Equal(t, want.account, got[i]["account"])
		assert.Equal(t, "BTC-USD", got[i]["market"])
		assert.Equal(t, want.first, got[i]["order_ids"].([]any)[0])
		for _, k := range []string{"from_ts", "to_ts", "score", "reason"} {
			assert.NotEmpty(t, got[i][k], "%s of alert %d", k, i)
		}
		if want.detector != "quote_stuffing" {
			assert.NotEmpty(t, got[i]["trade_ids"], "trade_ids of alert %d", i)
		}
	}
	// Without the links the wash trade is two strangers trading.
	out.Reset()
	j, err := os.Open("testdata/journal.jsonl")
	require.NoError(t, err)
	defer j.Close()
	require.NoError(t, run(nil, j, &out))
	assert.NotContains(t, out.String(), "wash_trade")
	assert.Contains(t, out.String(), "spoofing")
}

func TestBrokenLineNamesItAndPrintsNothing(t *testing.T) {
	good := `{"ts":"2026-03-02T09:00:00Z","op":"new","id":"a","account":"x","market":"BTC-USD","side":"sell","type":"limit","price":"100","qty":"1"}` + "\n" +
		`{"ts":"2026-03-02T09:00:01Z","op":"new","id":"b","account":"y","market":"BTC-USD","side":"buy","type":"limit","price":"100","qty":"1"}` + "\n"
	for name, tc := range map[string]struct{ line, want string }{
		"not json":       {`{oops`, "journal line 3: invalid character"},
		"no ts":          {`{"op":"cancel","id":"a"}`, `journal line 3: missing "ts"`},
		"bad ts":         {`{"ts":"yesterday","op":"cancel","id":"a"}`, `journal line 3: "ts": parsing time`},
		"backwards":      {`{"ts":"2026-03-02T08:00:00Z","op":"cancel","id":"a"}`, "journal line 3: \"ts\" 2026-03-02T08:00:00Z is earlier"},
		"unknown field":  {`{"ts":"2026-03-02T09:00:02Z","op":"cancel","id":"a","who":"me"}`, `journal line 3: json: unknown field "who"`},
		"unknown op":     {`{"ts":"2026-03-02T09:00:02Z","op":"amend","id":"a"}`, `journal line 3: unknown op "amend"`},
		"missing id":     {`{"ts":"2026-03-02T09:00:02Z","op":"cancel"}`, "journal line 3: missing id"},
		"trailing value": {`{"ts":"2026-03-02T09:00:02Z","op":"cancel","id":"a"} 1`, "journal line 3: trailing data"},
	} {
		t.Run(name, func(t *testing.T) {
			var out bytes.Buffer
			// A wash trade (with links) precedes the broken line: nothing of it may be printed.
			dir := t.TempDir()
			links := dir + "/links.jsonl"
			require.NoError(t, os.WriteFile(links, []byte(`{"account":"x","owner":"o"}`+"\n"+`{"account":"y","owner":"o"}`), 0o600))
			err := run([]string{"--links", links}, strings.NewReader(good+tc.line+"\n"), &out)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			assert.Empty(t, out.String())
		})
	}
	// The same journal without the broken line does alert: the emptiness above is the rule.
	var out bytes.Buffer
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(dir+"/links.jsonl", []byte(`{"account":"x","owner":"o"}`+"\n"+`{"account":"y","owner":"o"}`), 0o600))
	require.NoError(t, run([]string{"--links", dir + "/links.jsonl"}, strings.NewReader(good), &out))
	assert.Contains(t, out.String(), `"detector":"wash_trade"`)
}

func TestEngineRejectsAreMessagesNotErrors(t *testing.T) {
	in := `{"ts":"2026-03-02T09:00:00Z","op":"cancel","id":"nope"}` + "\n" +
		`{"ts":"2026-03-02T09:00:00Z","op":"new","id":"a","account":"x","market":"BTC-USD","side":"sell","type":"limit","price":"100.001","qty":"1"}` + "\n"
	var out bytes.Buffer
	require.NoError(t, run(nil, strings.NewReader(in), &out))
	assert.Empty(t, out.String())
}

func TestSettingsChangeTheDetectors(t *testing.T) {
	dir := t.TempDir()
	// Ladders need four levels now: the sample's three-level ladder is no longer layering.
	require.NoError(t, os.WriteFile(dir+"/settings.json", []byte(`{"layer_min_orders":4}`), 0o600))
	var out bytes.Buffer
	require.NoError(t, run([]string{"--settings", dir + "/settings.json", "testdata/journal.jsonl"}, nil, &out))
	assert.NotContains(t, out.String(), `"layering"`)
	assert.Contains(t, out.String(), `"spoofing"`)
	require.NoError(t, os.WriteFile(dir+"/bad.json", []byte(`{"layer_min_order":4}`), 0o600))
	err := run([]string{"--settings", dir + "/bad.json", "testdata/journal.jsonl"}, nil, &out)
	assert.ErrorContains(t, err, `unknown setting "layer_min_order"`)
}

func TestBadArguments(t *testing.T) {
	for _, args := range [][]string{{"--markets", "BTC-USD:0.01"}, {"a", "b"}, {"no-such-file"}, {"--links", "no-such-file"}, {"--config", "no-such-file"}, {"--settings", "no-such-file"}} {
		assert.Error(t, run(args, strings.NewReader(""), &bytes.Buffer{}), "run(%q) succeeded", args)
	}
}
