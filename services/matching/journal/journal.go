// Package journal is the JSON Lines edge of the matching engine: it decodes trader-facing
// commands with decimal prices and quantities, routes them to the book of their market, and
// encodes the resulting events, prices and quantities as decimal strings in each market's
// precision. The replay tool (services/cmd/replay) is a thin wrapper around Replayer.
package journal

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/cantondex/platform/services/matching"
)

// Wire is a command as it appears on a journal line:
//
//	{"op":"new","id":"o1","account":"a1","market":"BTC-USD","side":"buy","type":"limit",
//	 "price":"100.50","qty":"2","tif":"GTC","post_only":false,"stp":"cancel_newest"}
//	{"op":"cancel","id":"o1"}
//	{"op":"modify","id":"o1","price":"100.40","qty":"1"}
type Wire struct {
	Op       string `json:"op"`
	ID       string `json:"id"`
	Account  string `json:"account,omitempty"`
	Market   string `json:"market,omitempty"`
	Side     string `json:"side,omitempty"`
	Type     string `json:"type,omitempty"`
	Price    string `json:"price,omitempty"`
	Qty      string `json:"qty,omitempty"`
	TIF      string `json:"tif,omitempty"`
	PostOnly bool   `json:"post_only,omitempty"`
	STP      string `json:"stp,omitempty"`
}

// ErrMalformed is wrapped by every Decode error.
var ErrMalformed = errors.New("malformed command")

// Decode parses one journal line strictly: a single JSON object with only the known fields,
// and a known op with an id.
func Decode(line []byte) (Wire, error) {
	var w Wire
	if len(bytes.TrimSpace(line)) == 0 {
		return w, fmt.Errorf("%w: empty line", ErrMalformed)
	}
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&w); err != nil {
		return Wire{}, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return Wire{}, fmt.Errorf("%w: trailing data after the object", ErrMalformed)
	}
	switch w.Op {
	case "new", "cancel", "modify":
	default:
		return w, fmt.Errorf("%w: unknown op %q", ErrMalformed, w.Op)
	}
	if w.ID == "" {
		return w, fmt.Errorf("%w: missing id", ErrMalformed)
	}
	return w, nil
}

// Command converts a decoded new/cancel/modify into an engine command for market m, parsing
// decimals in m's precision. A non-empty reason means the command is to be rejected with it.
func (w *Wire) Command(m *matching.Market, seq uint64) (matching.Command, matching.Reason) {
	c := matching.Command{Seq: seq, ID: w.ID, Account: w.Account, PostOnly: w.PostOnly}
	var r matching.Reason
	switch w.Op {
	case "cancel":
		c.Op = matching.OpCancel
		return c, ""
	case "modify":
		c.Op = matching.OpModify
		if w.Price != "" {
			if c.Price, r = m.ParsePrice(w.Price); r != "" {
				return c, r
			}
		}
		if w.Qty != "" {
			if c.Qty, r = m.ParseQty(w.Qty); r != "" {
				return c, r
			}
		}
		return c, ""
	}
	c.Op = matching.OpNew
	var ok bool
	if c.Side, ok = matching.ParseSide(w.Side); !ok {
		return c, matching.ReasonMalformed
	}
	if c.Type, ok = matching.ParseOrderType(w.Type); !ok {
		return c, matching.ReasonMalformed
	}
	if c.TIF, ok = matching.ParseTIF(w.TIF); !ok {
		return c, matching.ReasonMalformed
	}
	if c.STP, ok = matching.ParseSTP(w.STP); !ok {
		return c, matching.ReasonMalformed
	}
	if c.Type == matching.Limit || w.Price != "" {
		if c.Price, r = m.ParsePrice(w.Price); r != "" {
			return c, r
		}
	}
	if c.Type == matching.MarketOrder {
		c.Price = 0
	}
	if c.Qty, r = m.ParseQty(w.Qty); r != "" {
		return c, r
	}
	return c, ""
}
