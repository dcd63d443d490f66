package http_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// BenchmarkPlaceOrder measures the REST layer's cost of one authenticated, rate-limited,
// validated POST /orders (over the in-memory venue and an in-process Redis), without the
// network: go test -run ^$ -bench PlaceOrder ./services/gateway/http/
func BenchmarkPlaceOrder(b *testing.B) {
	e := newEnv(b, 1<<30)
	h := e.srv.Config.Handler
	id, token := e.trader("bench@example.com")
	e.deposit("usd", id, "USD", "1000000000")
	e.deposit("btc", id, "BTC", "1000000")
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		side, price := "buy", "100.00"
		if i%2 == 1 {
			side = "sell"
		}
		body := fmt.Sprintf(`{"market":"BTC-USD","side":"%s","type":"limit","price":"%s","quantity":"0.01","client_order_id":"b-%d"}`, side, price, i)
		req := httptest.NewRequest("POST", "/api/v1/orders", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+token)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusCreated {
			require.Equal(b, http.StatusCreated, rec.Code, "%s", rec.Body)
		}
	}
}
