package matching

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
)

// Snapshot format, version 1 (all integers varint-encoded unless noted):
//
//	magic "CDXBOOK" | version byte (1)
//	market: symbol, tick size, lot size (strings: uvarint length + bytes),
//	        min price, max price, min qty, max qty
//	last seq (uvarint)
//	bids then asks: level count, then per level from worst to best:
//	        price, order count, then per order in queue order:
//	        id, account (strings), open qty, stp (byte), post-only (byte 0/1)
//	crc32 (IEEE, 4 bytes little endian) of everything before it
//
// The encoding walks the book in price-time order, never a map, so equal books give equal bytes.
const (
	snapshotMagic   = "CDXBOOK"
	snapshotVersion = 1
)

// ErrSnapshot wraps every reason Restore refuses its input.
var ErrSnapshot = errors.New("invalid book snapshot")

// Snapshot writes the book's complete state (market, last sequence, resting orders in
// price-time order) to w in a versioned, deterministic binary format. A book restored from it
// behaves exactly as this one does.
func (b *Book) Snapshot(w io.Writer) error {
	_, err := w.Write(b.AppendSnapshot(nil))
	return err
}

// AppendSnapshot appends the snapshot Snapshot writes to buf.
func (b *Book) AppendSnapshot(buf []byte) []byte {
	start := len(buf)
	buf = append(buf, snapshotMagic...)
	buf = append(buf, snapshotVersion)
	m := &b.market
	buf = appendString(buf, m.Symbol)
	buf = appendString(buf, m.TickSize)
	buf = appendString(buf, m.LotSize)
	buf = binary.AppendVarint(buf, m.MinPrice)
	buf = binary.AppendVarint(buf, m.MaxPrice)
	buf = binary.AppendVarint(buf, m.MinQty)
	buf = binary.AppendVarint(buf, m.MaxQty)
	buf = binary.AppendUvarint(buf, b.seq)
	for _, s := range []*bookSide{&b.bids, &b.asks} {
		buf = binary.AppendUvarint(buf, uint64(s.count))
		for l := range s.worstFirst {
			buf = binary.AppendVarint(buf, l.price)
			buf = binary.AppendUvarint(buf, uint64(l.count))
			for i := l.head; i != 0; {
				o := &b.ords[i]
				i = o.next
				buf = appendString(buf, o.id)
				buf = appendString(buf, o.account)
				buf = binary.AppendVarint(buf, o.qty)
				post := byte(0)
				if o.postOnly {
					post = 1
				}
				buf = append(buf, byte(o.stp), post)
			}
		}
	}
	return binary.LittleEndian.AppendUint32(buf, crc32.ChecksumIEEE(buf[start:]))
}

func appendString(buf []byte, s string) []byte {
	buf = binary.AppendUvarint(buf, uint64(len(s)))
	return append(buf, s...)
}

// Restore reads a snapshot written by Snapshot and returns the book it describes. Input that is
// truncated, corrupted, of an unknown version or describing an impossible book (crossed, out of
// order, duplicate ids, values outside the market's limits) is refused with an error wrapping
// ErrSnapshot.
func Restore(r io.Reader) (*Book, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("read book snapshot: %w", err)
	}
	return RestoreBytes(data)
}

// RestoreBytes is Restore from a byte slice.
func RestoreBytes(data []byte) (*Book, error) {
	if len(data) < len(snapshotMagic)+1+4 || string(data[:len(snapshotMagic)]) != snapshotMagic {
		return nil, fmt.Errorf("%w: not a book snapshot", ErrSnapshot)
	}
	if v := data[len(snapshotMagic)]; v != snapshotVersion {
		return nil, fmt.Errorf("%w: unsupported version %d", ErrSnapshot, v)
	}
	body, sum := data[:len(data)-4], binary.LittleEndian.Uint32(data[len(data)-4:])
	if crc32.ChecksumIEEE(body) != sum {
		return nil, fmt.Errorf("%w: checksum mismatch", ErrSnapshot)
	}
	d := snapReader{r: bytes.NewReader(body[len(snapshotMagic)+1:])}
	m := Market{Symbol: d.str(), TickSize: d.str(), LotSize: d.str(),
		MinPrice: d.varint(), MaxPrice: d.varint(), MinQty: d.varint(), MaxQty: d.varint()}
	seq := d.uvarint()
	if d.err != nil {
		return nil, d.err
	}
	b, err := NewBook(m)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrSnapshot, err)
	}
	b.seq = seq
	for _, s := range []Side{Buy, Sell} {
		nlevels := d.uvarint()
		var prev int64
		for i := uint64(0); i < nlevels && d.err == nil; i++ {
			price := d.varint()
			count := d.uvarint()
			switch {
			case d.err != nil:
				return nil, d.err
			case price < b.market.MinPrice || price > b.market.MaxPrice:
				return nil, fmt.Errorf("%w: price %d out of range", ErrSnapshot, price)
			case i > 0 && b.sideOf(s).key(price) <= b.sideOf(s).key(prev):
				return nil, fmt.Errorf("%w: levels out of order", ErrSnapshot)
			case count == 0 || count > uint64(d.r.Len()):
				return nil, fmt.Errorf("%w: bad order count %d", ErrSnapshot, count)
			}
			prev = price
			for j := uint64(0); j < count; j++ {
				id, account, qty := d.str(), d.str(), d.varint()
				stp, post := d.byte(), d.byte()
				switch {
				case d.err != nil:
					return nil, d.err
				case id == "" || account == "":
					return nil, fmt.Errorf("%w: empty order id or account", ErrSnapshot)
				case qty <= 0 || qty > b.market.MaxQty:
					return nil, fmt.Errorf("%w: order %q quantity %d out of range", ErrSnapshot, id, qty)
				case STP(stp) > STPCancelBoth || post > 1:
					return nil, fmt.Errorf("%w: order %q has bad flags", ErrSnapshot, id)
				}
				h := uint32(b.orders.hash(id))
				if b.orders.has(id, h, b.ords) {
					return nil, fmt.Errorf("%w: duplicate order id %q", ErrSnapshot, id)
				}
				b.rest(id, h, account, s, price, qty, STP(stp), post == 1)
			}
		}
	}
	if d.err != nil {
		return nil, d.err
	}
	if d.r.Len() != 0 {
		return nil, fmt.Errorf("%w: %d trailing bytes", ErrSnapshot, d.r.Len())
	}
	if bid, ok := b.BestBid(); ok {
		if ask, ok := b.BestAsk(); ok && bid.Price >= ask.Price {
			return nil, fmt.Errorf("%w: crossed book", ErrSnapshot)
		}
	}
	return b, nil
}

// snapReader decodes snapshot fields, remembering the first error.
type snapReader struct {
	r   *bytes.Reader
	err error
}

func (d *snapReader) fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: truncated or bad %s", ErrSnapshot, what)
	}
}

func (d *snapReader) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, err := binary.ReadUvarint(d.r)
	if err != nil {
		d.fail("integer")
	}
	return v
}

func (d *snapReader) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, err := binary.ReadVarint(d.r)
	if err != nil {
		d.fail("integer")
	}
	return v
}

func (d *snapReader) byte() byte {
	if d.err != nil {
		return 0
	}
	c, err := d.r.ReadByte()
	if err != nil {
		d.fail("byte")
	}
	return c
}

func (d *snapReader) str() string {
	n := d.uvarint()
	if d.err != nil {
		return ""
	}
	if n > uint64(d.r.Len()) {
		d.fail("string")
		return ""
	}
	s := make([]byte, n)
	_, _ = d.r.Read(s)
	return string(s)
}
