package kafka

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cantondex/platform/services/trading"
)

// The body's decoding is the command package's (tested there); DecodeCommand adds the trace,
// which travels in the record header, never in the body.
func TestDecodeCommandTakesTheTraceFromTheHeader(t *testing.T) {
	c, err := DecodeCommand(Message{Value: []byte(`{"op":"cancel","id":"o-1","account":"a","market":"BTC-USD"}`), Trace: "00-header"})
	require.NoError(t, err)
	assert.Equal(t, trading.OrderCommand{Op: trading.OpCancel, OrderID: "o-1", Account: "a", Market: "BTC-USD", Trace: "00-header"}, c)

	_, err = DecodeCommand(Message{Value: []byte(`{"op":`), Trace: "00-header"})
	require.Error(t, err, "a broken body is refused")
}
