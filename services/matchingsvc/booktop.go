package matchingsvc

import (
	"hash/crc32"
	"strconv"

	"github.com/cantondex/platform/services/matching"
	"github.com/cantondex/platform/services/trading"
)

// bookTop is a book's top trading.ChecksumLevels levels of each side (bids, asks) as of its
// last change, with their checksum. A change whose levels on a side are all worse than that
// side's last remembered level (a full top) leaves the side's top as it was: the side is not
// read again, and when neither side is, the checksum is the same.
type bookTop struct {
	book  *matching.Book // the book it describes (another one, e.g. restored: read it afresh)
	sides [2][]trading.Level
	crc   uint32
	text  []byte // the checksum's input, kept to be reused
}

var checksumSides = [2]matching.Side{matching.Buy, matching.Sell}

// update brings t up to date with book after a change of the levels touched, reading from
// the book only the sides whose top the change may have altered.
func (t *bookTop) update(book *matching.Book, touched []bookLevel, scratch []matching.Level) []matching.Level {
	fresh := t.book != book
	t.book = book
	changed := false
	for i, side := range checksumSides {
		if !fresh && !t.reaches(i, side, touched) {
			continue
		}
		changed = true
		scratch = book.Depth(side, trading.ChecksumLevels, scratch[:0])
		t.sides[i] = t.sides[i][:0]
		for _, l := range scratch {
			t.sides[i] = append(t.sides[i], trading.Level{Price: l.Price, Quantity: l.Qty, Orders: l.Orders})
		}
	}
	if changed {
		t.crc = t.checksum()
	}
	return scratch
}

// reaches reports whether a touched level of side (index i) is within the remembered top:
// at or better than its last level, or anywhere when the side had fewer levels than the top
// holds (then the whole side was in it).
func (t *bookTop) reaches(i int, side matching.Side, touched []bookLevel) bool {
	top := t.sides[i]
	for _, l := range touched {
		if l.side != side {
			continue
		}
		if len(top) < trading.ChecksumLevels {
			return true
		}
		last := top[len(top)-1].Price
		if side == matching.Buy && l.price >= last || side == matching.Sell && l.price <= last {
			return true
		}
	}
	return false
}

// checksum is trading.BookChecksum(t.sides[0], t.sides[1]), written into t.text instead of a
// buffer of its own (which trading.BookChecksum allocates on each call). TestBookTopChecksum
// and TestBookChangesRebuildTheBook hold the two to the same value.
func (t *bookTop) checksum() uint32 {
	b := t.text[:0]
	for i, side := range t.sides {
		if i > 0 {
			b = append(b, '|')
		}
		for j, l := range side {
			if j > 0 {
				b = append(b, ',')
			}
			b = strconv.AppendInt(b, l.Price, 10)
			b = append(b, ':')
			b = strconv.AppendInt(b, l.Quantity, 10)
		}
	}
	t.text = b
	return crc32.ChecksumIEEE(b)
}
