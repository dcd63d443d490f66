package matching

// Events are written field by field into the slice of the command being applied (b.out).
// Appending a composite literal makes the compiler build the 168-byte Event in a temporary and
// copy it (two passes over three cache lines, plus a write-barrier copy while the GC marks);
// storing the fields in place is one pass. Keeping the slice in the book rather than passing
// and returning it, and passing the command or the order rather than their fields, keeps every
// helper's arguments in registers.

// event returns a new last event of b.out, which the caller must set completely.
func (b *Book) event() *Event {
	n := len(b.out)
	if n < cap(b.out) {
		b.out = b.out[:n+1]
	} else {
		b.out = append(b.out, Event{})
	}
	return &b.out[n]
}

// reject appends the rejection of c.
func (b *Book) reject(c *Command, r Reason) {
	e := b.event()
	e.Type, e.Seq, e.ID, e.Account, e.Side = EvRejected, c.Seq, c.ID, "", c.Side
	e.Price, e.Qty, e.Remaining, e.Reason = c.Price, c.Qty, 0, r
	e.MakerID, e.TakerID, e.MakerAccount, e.TakerAccount, e.MakerRemaining = "", "", "", "", 0
}

// commandEvent appends an event about the order c places (accepted or cancelled).
func (b *Book) commandEvent(typ EventType, c *Command, price, qty, remaining int64, r Reason) {
	e := b.event()
	e.Type, e.Seq, e.ID, e.Account, e.Side = typ, c.Seq, c.ID, c.Account, c.Side
	e.Price, e.Qty, e.Remaining, e.Reason = price, qty, remaining, r
	e.MakerID, e.TakerID, e.MakerAccount, e.TakerAccount, e.MakerRemaining = "", "", "", "", 0
}

// orderEvent appends an event about resting order o (cancelled or modified).
func (b *Book) orderEvent(typ EventType, seq uint64, o *order, price, qty, remaining int64, r Reason) {
	e := b.event()
	e.Type, e.Seq, e.ID, e.Account, e.Side = typ, seq, o.id, o.account, o.side
	e.Price, e.Qty, e.Remaining, e.Reason = price, qty, remaining, r
	e.MakerID, e.TakerID, e.MakerAccount, e.TakerAccount, e.MakerRemaining = "", "", "", "", 0
}
