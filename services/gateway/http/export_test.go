package http

import (
	"context"

	"github.com/cantondex/platform/services/trading"
)

// Exported for the per-step benchmarks of the external test package.

// DecodeOrderRequest is the JSON decoding step of POST /orders.
func DecodeOrderRequest(body []byte) error {
	var req placeOrderRequest
	return decodeJSON(body, &req)
}

// OrderEntry is POST /orders' validation step (decoding included: it takes the body).
func (s *Server) OrderEntry(ctx context.Context, account string, body []byte) (trading.PlaceOrder, error) {
	var req placeOrderRequest
	if err := decodeJSON(body, &req); err != nil {
		return trading.PlaceOrder{}, err
	}
	po, _, err := s.orderEntry(ctx, account, &req)
	return po, err
}

// EncodeOrder is the JSON encoding step of POST /orders' answer.
func (s *Server) EncodeOrder(ctx context.Context, o trading.Order) ([]byte, error) {
	_, st, err := s.cachedMarket(ctx, o.Market)
	if err != nil {
		return nil, err
	}
	return appendOrder(make([]byte, 0, 512), o, st), nil
}
