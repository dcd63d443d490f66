// Command surveil replays a journal offline through the matching engine and the trade
// surveillance detectors (services/compliance/surveillance) and prints their alerts as JSON
// Lines.
//
//	surveil [--links links.jsonl] [--settings settings.json] [--markets BTC-USD:0.01:0.0001,...] [--config markets.json] [journal.jsonl]
//
// The journal is the replay tool's command format (services/matching/journal.Wire; the account
// is the "account" field of a new order, cancels and modifies act on the order's account) plus
// a "ts" field on every line, RFC 3339 with optional fractional seconds, never earlier than
// the line before:
//
//	{"ts":"2026-03-02T09:00:00.125Z","op":"new","id":"o1","account":"a1","market":"BTC-USD","side":"buy","type":"limit","price":"100.50","qty":"2"}
//	{"ts":"2026-03-02T09:00:01Z","op":"cancel","id":"o1"}
//
// links.jsonl lines are {"account":…,"owner":…} (beneficial owners from KYC). settings.json
// overrides detector thresholds (surveillance.LoadConfig: {"wash_window":"2m",...}). Each alert is
//
//	{"type":"alert","detector":"wash_trade|spoofing|layering|order_to_trade|quote_stuffing","account":…,"market":…,
//	 "order_ids":[…],"trade_ids":[…],"from_ts":…,"to_ts":…,"score":…,"reason":…}
//
// A command the engine refuses (unknown order, tick size, ...) is a rejected message, as on
// the venue. A line that is not a command at all (bad JSON, unknown field or op, missing id,
// missing or bad ts, time going backwards) stops the run with an error naming the line, and no
// alert is printed: the alerts are written only once the whole journal has been read.
// Without a file it reads stdin.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/cantondex/platform/services/compliance/surveillance"
	"github.com/cantondex/platform/services/matching"
	"github.com/cantondex/platform/services/matching/journal"
)

func main() {
	if err := run(os.Args[1:], os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "surveil:", err)
		os.Exit(1)
	}
}

func run(args []string, stdin io.Reader, stdout io.Writer) error {
	fs := flag.NewFlagSet("surveil", flag.ContinueOnError)
	spec := fs.String("markets", journal.DefaultMarkets, "markets as SYMBOL:TICK:LOT[,SYMBOL:TICK:LOT...]")
	config := fs.String("config", "", "JSON file with the markets (overrides --markets)")
	linksPath := fs.String("links", "", "JSON Lines file of {\"account\":…,\"owner\":…}")
	settings := fs.String("settings", "", "JSON file of detector settings over the defaults, e.g. {\"wash_window\":\"2m\"}")
	if err := fs.Parse(args); err != nil {
		return err
	}
	markets, err := journal.Markets(*spec, *config)
	if err != nil {
		return err
	}
	var links surveillance.LinkMap
	if *linksPath != "" {
		f, err := os.Open(*linksPath)
		if err != nil {
			return err
		}
		links, err = surveillance.LoadLinks(f)
		f.Close()
		if err != nil {
			return err
		}
	}
	cfg := surveillance.Default()
	if *settings != "" {
		f, err := os.Open(*settings)
		if err != nil {
			return err
		}
		cfg, err = surveillance.LoadConfig(f)
		f.Close()
		if err != nil {
			return err
		}
	}
	in := stdin
	switch fs.NArg() {
	case 0:
	case 1:
		f, err := os.Open(fs.Arg(0))
		if err != nil {
			return err
		}
		defer f.Close()
		in = f
	default:
		return fmt.Errorf("at most one journal file, got %d", fs.NArg())
	}
	alerts, err := replay(in, markets, cfg, links)
	if err != nil {
		return err
	}
	bw := bufio.NewWriter(stdout)
	enc := json.NewEncoder(bw)
	for i := range alerts {
		if err := enc.Encode(wireAlert(&alerts[i])); err != nil {
			return err
		}
	}
	return bw.Flush()
}

// line is one journal line: a command and its time.
type line struct {
	TS string `json:"ts"`
	journal.Wire
}

// decodeLine parses one line strictly.
func decodeLine(b []byte, prev time.Time) (line, time.Time, error) {
	var l line
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&l); err != nil {
		return l, prev, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return l, prev, errors.New("trailing data after the object")
	}
	if l.TS == "" {
		return l, prev, errors.New(`missing "ts"`)
	}
	ts, err := time.Parse(time.RFC3339Nano, l.TS)
	if err != nil {
		return l, prev, fmt.Errorf(`"ts": %w`, err)
	}
	if ts.Before(prev) {
		return l, prev, fmt.Errorf(`"ts" %s is earlier than the line before (%s)`, l.TS, prev.Format(time.RFC3339Nano))
	}
	switch l.Op {
	case "new", "cancel", "modify":
	default:
		return l, prev, fmt.Errorf("unknown op %q", l.Op)
	}
	if l.ID == "" {
		return l, prev, errors.New("missing id")
	}
	return l, ts, nil
}

// replay runs the journal and returns every alert, or the first broken line's error.
func replay(in io.Reader, markets []matching.Market, cfg surveillance.Config, links surveillance.Links) ([]surveillance.Alert, error) {
	r, err := surveillance.NewReplayer(markets)
	if err != nil {
		return nil, err
	}
	d := surveillance.New(cfg, links)
	d.SetUnits(r)
	var alerts []surveillance.Alert
	var last time.Time
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 64<<10), journal.MaxLine)
	n := uint64(0)
	for sc.Scan() {
		n++
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		l, ts, err := decodeLine(b, last)
		if err != nil {
			return nil, fmt.Errorf("journal line %d: %w", n, err)
		}
		last = ts
		for _, ev := range r.Apply(n, ts, &l.Wire) {
			alerts = append(alerts, d.Observe(ev)...)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("journal line %d: %w", n+1, err)
	}
	return append(alerts, d.Flush(last)...), nil
}

type alertJSON struct {
	Type     string   `json:"type"`
	Detector string   `json:"detector"`
	Account  string   `json:"account"`
	Market   string   `json:"market"`
	OrderIDs []string `json:"order_ids"`
	TradeIDs []string `json:"trade_ids"`
	From     string   `json:"from_ts"`
	To       string   `json:"to_ts"`
	Score    float64  `json:"score"`
	Reason   string   `json:"reason"`
}

func wireAlert(a *surveillance.Alert) alertJSON {
	j := alertJSON{Type: "alert", Detector: a.Detector, Account: a.Account, Market: a.Market,
		OrderIDs: a.OrderIDs, TradeIDs: a.TradeIDs, From: a.From.UTC().Format(time.RFC3339Nano),
		To: a.To.UTC().Format(time.RFC3339Nano), Score: a.Score, Reason: a.Reason}
	if j.OrderIDs == nil {
		j.OrderIDs = []string{}
	}
	if j.TradeIDs == nil {
		j.TradeIDs = []string{}
	}
	return j
}
