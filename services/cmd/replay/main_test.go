package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
	if err := os.WriteFile(jpath, []byte(testJournal), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cpath, []byte(`[{"symbol":"ETH-USD","tick_size":"0.5","lot_size":"0.1","max_qty":100}]`), 0o600); err != nil {
		t.Fatal(err)
	}
	var first, second bytes.Buffer
	if err := run([]string{"--config", cpath, "--book", jpath}, nil, &first); err != nil {
		t.Fatal(err)
	}
	if err := run([]string{"--config", cpath, "--book", jpath}, nil, &second); err != nil {
		t.Fatal(err)
	}
	if first.String() != second.String() {
		t.Fatal("two replays of one file differ")
	}
	want := []string{
		`{"type":"accepted","seq":1,"market":"ETH-USD","id":"s1","account":"a1","side":"sell","price":"2000.5","qty":"1.5","remaining":"1.5"}`,
		`{"type":"accepted","seq":2,"market":"ETH-USD","id":"b1","account":"a2","side":"buy","price":"2001.0","qty":"1.0","remaining":"1.0"}`,
		`{"type":"trade","seq":2,"market":"ETH-USD","maker_id":"s1","taker_id":"b1","maker_account":"a1","taker_account":"a2","side":"buy","price":"2000.5","qty":"1.0","remaining":"0.0","maker_remaining":"0.5"}`,
		`{"type":"rejected","seq":3,"line":3,`,
		`{"type":"modified","seq":4,"market":"ETH-USD","id":"s1","account":"a1","side":"sell","price":"2000.5","qty":"0.1","remaining":"0.1"}`,
		`{"type":"book","market":"ETH-USD","seq":4,"bids":[],"asks":[{"price":"2000.5","qty":"0.1","orders":1}]}`,
	}
	lines := strings.Split(strings.TrimSuffix(first.String(), "\n"), "\n")
	if len(lines) != len(want) {
		t.Fatalf("got %d lines:\n%s", len(lines), first.String())
	}
	for i, w := range want {
		if !strings.HasPrefix(lines[i], w) {
			t.Errorf("line %d:\n got %s\nwant %s", i+1, lines[i], w)
		}
	}
}

func TestReplayStdinDefaultMarket(t *testing.T) {
	var out bytes.Buffer
	in := strings.NewReader(`{"op":"new","id":"o1","account":"a1","market":"BTC-USD","side":"buy","type":"limit","price":"100.50","qty":"2"}` + "\n")
	if err := run(nil, in, &out); err != nil {
		t.Fatal(err)
	}
	if want := `{"type":"accepted","seq":1,"market":"BTC-USD","id":"o1","account":"a1","side":"buy","price":"100.50","qty":"2.0000","remaining":"2.0000"}` + "\n"; out.String() != want {
		t.Fatalf("got %s", out.String())
	}
}

func TestReplayBadArguments(t *testing.T) {
	for _, args := range [][]string{{"--markets", "BTC-USD:0.01"}, {"--markets", "X:0:1"}, {"a", "b"}, {"no-such-file"}, {"--config", "no-such-file"}} {
		if err := run(args, strings.NewReader(""), &bytes.Buffer{}); err == nil {
			t.Errorf("run(%q) succeeded", args)
		}
	}
}
