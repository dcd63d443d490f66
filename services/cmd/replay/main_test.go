package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const testJournal = `{"op":"new","id":"s1","account":"a1","market":"ETH-USD","side":"sell","type":"limit","price":"2000.5","qty":"1.5"}
{"op":"new","id":"b1","account":"a2","market":"ETH-USD","side":"buy","type":"limit","price":"2001","qty":"1","tif":"IOC"}
{oops
{"op":"modify","id":"s1","qty":"0.1"}
`

func TestReplayFileTwiceWithConfigAndBook(t *testing.T) {
	dir := t.TempDir()
	jpath := filepath.Join(dir, "j.jsonl")
	cpath := filepath.Join(dir, "markets.json")
	require.NoError(t, os.WriteFile(jpath, []byte(testJournal), 0o600))
	require.NoError(t, os.WriteFile(cpath, []byte(`[{"symbol":"ETH-USD","tick_size":"0.5","lot_size":"0.1","max_qty":100}]`), 0o600))
	var first, second bytes.Buffer
	require.NoError(t, run([]string{"--config", cpath, "--book", jpath}, nil, &first))
	require.NoError(t, run([]string{"--config", cpath, "--book", jpath}, nil, &second))
	require.Equal(t, first.String(), second.String(), "two replays of one file differ")
	want := []string{
		`{"type":"accepted","seq":1,"market":"ETH-USD","id":"s1","account":"a1","side":"sell","price":"2000.5","qty":"1.5","remaining":"1.5"}`,
		`{"type":"accepted","seq":2,"market":"ETH-USD","id":"b1","account":"a2","side":"buy","price":"2001.0","qty":"1.0","remaining":"1.0"}`,
		`{"type":"trade","seq":2,"market":"ETH-USD","maker_id":"s1","taker_id":"b1","maker_account":"a1","taker_account":"a2","side":"buy","price":"2000.5","qty":"1.0","remaining":"0.0","maker_remaining":"0.5"}`,
		`{"type":"rejected","seq":3,"line":3,`,
		`{"type":"modified","seq":4,"market":"ETH-USD","id":"s1","account":"a1","side":"sell","price":"2000.5","qty":"0.1","remaining":"0.1"}`,
		`{"type":"book","market":"ETH-USD","seq":4,"bids":[],"asks":[{"price":"2000.5","qty":"0.1","orders":1}]}`,
	}
	lines := strings.Split(strings.TrimSuffix(first.String(), "\n"), "\n")
	require.Len(t, lines, len(want), "output:\n%s", first.String())
	for i, w := range want {
		assert.True(t, strings.HasPrefix(lines[i], w), "line %d:\n got %s\nwant %s", i+1, lines[i], w)
	}
}

func TestReplayStdinDefaultMarket(t *testing.T) {
	var out bytes.Buffer
	in := strings.NewReader(`{"op":"new","id":"o1","account":"a1","market":"BTC-USD","side":"buy","type":"limit","price":"100.50","qty":"2"}` + "\n")
	require.NoError(t, run(nil, in, &out))
	want := `{"type":"accepted","seq":1,"market":"BTC-USD","id":"o1","account":"a1","side":"buy","price":"100.50","qty":"2.0000","remaining":"2.0000"}` + "\n"
	require.Equal(t, want, out.String())
}

func TestReplayBadArguments(t *testing.T) {
	for _, args := range [][]string{{"--markets", "BTC-USD:0.01"}, {"--markets", "X:0:1"}, {"a", "b"}, {"no-such-file"}, {"--config", "no-such-file"}} {
		assert.Error(t, run(args, strings.NewReader(""), &bytes.Buffer{}), "run(%q) succeeded", args)
	}
}
