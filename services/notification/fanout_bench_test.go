package notification_test

import (
	"fmt"
	"testing"

	"github.com/cantondex/platform/services/notification"
)

// discard is a Sink that takes every frame and keeps none but their count.
type discard struct{ n int }

func (d *discard) Offer([]byte) bool { d.n++; return true }
func (d *discard) Overflow()         {}

// BenchmarkPublishFanout is the partition goroutine's work for one public message with n
// subscribers: the frame is made once and the same bytes offered to each.
func BenchmarkPublishFanout(b *testing.B) {
	data := []byte(`{"market":"BTC-USD","update_id":1,"bids":[["30000.00","0.0100"]],"asks":[],"checksum":1}`)
	for _, n := range []int{1, 100, 1000} {
		b.Run(fmt.Sprintf("subs=%d", n), func(b *testing.B) {
			h := started(notification.HubOptions{}, map[string]int64{"trades/0": 0})
			for range n {
				h.Subscribe("book:BTC-USD", &discard{}, nil, nil)
			}
			b.ReportAllocs()
			i := int64(0)
			for b.Loop() {
				h.Publish("book:BTC-USD", "book", at(i), data)
				i++
			}
		})
	}
}
