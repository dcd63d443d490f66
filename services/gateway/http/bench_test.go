package http_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cantondex/platform/services/auth"
	gwhttp "github.com/cantondex/platform/services/gateway/http"
	"github.com/cantondex/platform/services/trading"
)

// BenchmarkPlaceOrder measures the REST layer's cost of one authenticated, rate-limited,
// validated POST /orders (over the in-memory venue and an in-process Redis), without the
// network: go test -run ^$ -bench PlaceOrder ./services/gateway/http/
// The harness reuses its request and response writer, so what is counted is the server's
// (BenchmarkPlaceOrderHTTPTest is the same with a fresh httptest request and recorder per
// order, about 24 allocations of its own).
func BenchmarkPlaceOrder(b *testing.B) {
	e := newEnv(b, 1<<30)
	h := e.srv.Config.Handler
	id, token := e.trader("bench@example.com")
	e.deposit("usd", id, "USD", "1000000000")
	e.deposit("btc", id, "BTC", "1000000")
	req := httptest.NewRequest("POST", "/api/v1/orders", nil)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	var body []byte
	var rd bytes.Reader
	w := &reusedWriter{header: http.Header{}}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		side := "buy"
		if i%2 == 1 {
			side = "sell"
		}
		body = append(append(append(body[:0], `{"market":"BTC-USD","side":"`...), side...), `","type":"limit","price":"100.00","quantity":"0.01","client_order_id":"b-`...)
		body = append(strconv.AppendInt(body, int64(i), 10), `"}`...)
		rd.Reset(body)
		req.Body, req.ContentLength = io.NopCloser(&rd), int64(len(body))
		w.reset()
		h.ServeHTTP(w, req)
		if w.code != http.StatusCreated {
			require.Equal(b, http.StatusCreated, w.code, "%s", w.body)
		}
	}
}

// reusedWriter is a ResponseWriter kept from one request to the next.
type reusedWriter struct {
	header http.Header
	code   int
	body   []byte
}

func (w *reusedWriter) reset() {
	clear(w.header)
	w.code, w.body = 0, w.body[:0]
}

func (w *reusedWriter) Header() http.Header { return w.header }
func (w *reusedWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
}

func (w *reusedWriter) Write(p []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	w.body = append(w.body, p...)
	return len(p), nil
}

// BenchmarkPlaceOrderHTTPTest is BenchmarkPlaceOrder as it was first written, with an
// httptest request and recorder per order (the figures of the issue that set the target).
func BenchmarkPlaceOrderHTTPTest(b *testing.B) {
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

// BenchmarkPlaceOrderSteps prices the steps of POST /orders one by one, so that the cost of
// each is visible next to BenchmarkPlaceOrder's total (the rest is Echo, the middleware and
// the httptest plumbing): go test -run '^$' -bench PlaceOrderSteps -benchmem ./services/gateway/http/
func BenchmarkPlaceOrderSteps(b *testing.B) {
	e := newEnv(b, 1<<30)
	ctx := context.Background()
	id, token := e.trader("steps@example.com")
	e.deposit("usd", id, "USD", "1000000000")
	e.deposit("btc", id, "BTC", "1000000")
	body := func(i int) []byte {
		side := "buy"
		if i%2 == 1 {
			side = "sell"
		}
		return fmt.Appendf(nil, `{"market":"BTC-USD","side":"%s","type":"limit","price":"100.00","quantity":"0.01","client_order_id":"s-%d"}`, side, i)
	}

	b.Run("auth/token", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := e.auth.Authenticate(ctx, token); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("auth/api-key-signature", func(b *testing.B) {
		key, err := e.auth.CreateAPIKey(ctx, id, "bench", []auth.Scope{auth.ScopeTrade})
		require.NoError(b, err)
		ts := strconv.FormatInt(time.Now().Unix(), 10)
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			b.StopTimer()
			req := body(i)
			sig := auth.Sign(key.Secret, ts, "POST", "/api/v1/orders", req)
			b.StartTimer()
			if _, err := e.auth.VerifySigned(ctx, key.ID, ts, sig, "POST", "/api/v1/orders", req); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("ratelimit/redis", func(b *testing.B) {
		l := e.redis.NewLimiter(1<<30, time.Second)
		b.ReportAllocs()
		for b.Loop() {
			if ok, _, err := l.Allow(ctx, "u:"+id); err != nil || !ok {
				b.Fatal(ok, err)
			}
		}
	})
	b.Run("ratelimit/budget", func(b *testing.B) {
		l := e.redis.NewBudgetLimiter(1<<30, time.Second)
		b.ReportAllocs()
		for b.Loop() {
			if ok, _, err := l.Allow(ctx, "u:"+id); err != nil || !ok {
				b.Fatal(ok, err)
			}
		}
	})
	b.Run("json/decode", func(b *testing.B) {
		req := body(1)
		b.ReportAllocs()
		for b.Loop() {
			if err := gwhttp.DecodeOrderRequest(req); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("validate", func(b *testing.B) { // decoding included
		req := body(1)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := e.api.OrderEntry(ctx, id, req); err != nil {
				b.Fatal(err)
			}
		}
	})
	po, err := e.api.OrderEntry(ctx, id, body(0))
	require.NoError(b, err)
	b.Run("order-entry", func(b *testing.B) { // the in-memory venue: risk, matching, the client order id check
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			po.Side, po.ClientOrderID = trading.Buy, "e-"+strconv.Itoa(i)
			if i%2 == 1 {
				po.Side = trading.Sell
			}
			if _, err := e.venue.PlaceOrder(ctx, po); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("idempotency/repeated-client-order-id", func(b *testing.B) { // answered with the first order
		po.ClientOrderID = "dup"
		first, err := e.venue.PlaceOrder(ctx, po)
		require.NoError(b, err)
		b.ReportAllocs()
		for b.Loop() {
			if o, err := e.venue.PlaceOrder(ctx, po); err != nil || o.ID != first.ID {
				b.Fatal(o.ID, err)
			}
		}
	})
	o, err := e.venue.GetOrder(ctx, id, mustPlace(b, e, po))
	require.NoError(b, err)
	b.Run("json/encode", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := e.api.EncodeOrder(ctx, o); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func mustPlace(b *testing.B, e *env, po trading.PlaceOrder) string {
	po.ClientOrderID = "last"
	o, err := e.venue.PlaceOrder(context.Background(), po)
	require.NoError(b, err)
	return o.ID
}
