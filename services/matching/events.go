package matching

// Events are written field by field into the caller's slice. Appending a composite literal
// makes the compiler build the 168-byte Event in a temporary and copy it (two passes over three
// cache lines, plus a write-barrier copy while the GC marks); storing the fields in place is
// one pass.

// grow returns out with one more element, which the caller must set completely.
func grow(out []Event) ([]Event, *Event) {
	n := len(out)
	if n == cap(out) {
		out = append(out, Event{})
	} else {
		out = out[:n+1]
	}
	return out, &out[n]
}

// appendOrderEvent appends an event about one order (accepted, rejected, cancelled, modified).
func appendOrderEvent(out []Event, typ EventType, seq uint64, id, account string, side Side, price, qty, remaining int64, r Reason) []Event {
	out, e := grow(out)
	e.Type, e.Seq, e.ID, e.Account, e.Side = typ, seq, id, account, side
	e.Price, e.Qty, e.Remaining, e.Reason = price, qty, remaining, r
	e.MakerID, e.TakerID, e.MakerAccount, e.TakerAccount, e.MakerRemaining = "", "", "", "", 0
	return out
}

// appendTrade appends a trade of qty lots at price between maker o and taker t.
func appendTrade(out []Event, seq uint64, t *taker, o *order, price, qty int64) []Event {
	out, e := grow(out)
	e.Type, e.Seq, e.ID, e.Account, e.Side = EvTrade, seq, "", "", t.side
	e.Price, e.Qty, e.Remaining, e.Reason = price, qty, t.qty, ""
	e.MakerID, e.TakerID, e.MakerAccount, e.TakerAccount, e.MakerRemaining = o.id, t.id, o.account, t.account, o.qty
	return out
}
