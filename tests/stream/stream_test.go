// Package stream drives the platform's WebSocket streams (the notification service inside
// cmd/cantondex, started as a real process) with a real WebSocket client: own events only with
// many traders trading with each other, resume after a reconnect, token expiry, a slow
// consumer disconnected while others keep their pace, and the book rebuilt from the REST
// snapshot and the diffs, every checksum matching. Every message received is validated
// against the AsyncAPI document the service serves.
package stream

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pb33f/jsonschema/v6"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cantondex/platform/tests/platformtest"
	"github.com/cantondex/platform/tests/streamclient"
)

var suite = platformtest.Suite{Env: []string{"FEE_MAKER_BPS=0", "FEE_TAKER_BPS=0"}}

func TestMain(m *testing.M) { os.Exit(suite.Main(m, nil)) }

// schemas validates server messages against the AsyncAPI document a platform serves.
type schemas struct {
	mu      sync.Mutex
	byName  map[string]*jsonschema.Schema
	checked map[string]int
}

func loadSchemas(t *testing.T, p *platformtest.Platform) *schemas {
	t.Helper()
	u := "http" + strings.TrimPrefix(strings.TrimSuffix(p.StreamURL, "/stream"), "ws") + "/asyncapi.json"
	res, err := http.Get(u)
	require.NoError(t, err)
	defer res.Body.Close()
	require.Equal(t, 200, res.StatusCode)
	body, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	// The REST API serves the same document beside its /openapi.json.
	code, _, beside, err := p.Raw("GET", "/asyncapi.json", nil)
	require.NoError(t, err)
	require.Equal(t, 200, code)
	require.JSONEq(t, string(body), string(beside))
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	require.NoError(t, err)
	m := doc.(map[string]any)
	require.Equal(t, "3.0.0", m["asyncapi"])
	c := jsonschema.NewCompiler()
	require.NoError(t, c.AddResource("asyncapi.json", doc))
	s := &schemas{byName: map[string]*jsonschema.Schema{}, checked: map[string]int{}}
	for name := range m["components"].(map[string]any)["schemas"].(map[string]any) {
		sch, err := c.Compile("asyncapi.json#/components/schemas/" + name)
		require.NoError(t, err, name)
		s.byName[name] = sch
	}
	return s
}

var schemaOf = map[string]string{
	"orders": "OrderEvent", "fills": "FillEvent", "balances": "BalancesEvent", "alerts": "AlertEvent",
	"trades": "TradeEvent", "ticker": "TickerEvent", "book": "BookEvent",
	"welcome": "Welcome", "authenticated": "Authenticated", "subscribed": "Subscribed", "resync": "Resync",
	"unsubscribed": "Unsubscribed", "pong": "Pong", "error": "Error",
}

func (s *schemas) check(t testing.TB, m streamclient.Msg) {
	t.Helper()
	key := m.Type
	if m.Type == "event" {
		key = m.Channel
	}
	name, ok := schemaOf[key]
	require.True(t, ok, "message of no documented kind: %s", m.Raw)
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(m.Raw))
	require.NoError(t, err)
	require.NoError(t, s.byName[name].Validate(inst), "%s does not validate against %s", m.Raw, name)
	s.mu.Lock()
	s.checked[name]++
	s.mu.Unlock()
}

func dial(t *testing.T, p *platformtest.Platform, token string) *streamclient.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := streamclient.Dial(ctx, p.StreamURL, token, nil)
	require.NoError(t, err)
	t.Cleanup(func() { c.WS.CloseNow() })
	return c
}

func subscribe(t *testing.T, sch *schemas, c *streamclient.Conn, stream string, r streamclient.Resume) streamclient.Msg {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	m, err := c.Subscribe(ctx, stream, r, nil)
	require.NoError(t, err)
	sch.check(t, m)
	return m
}

func deposit(t *testing.T, adm *platformtest.Client, tr platformtest.Trader) {
	t.Helper()
	for asset, amt := range map[string]string{"USD": "1000000", "BTC": "100"} {
		r := adm.Do("POST", "/admin/deposits", map[string]string{"id": "stream-" + asset + "-" + tr.ID, "account": tr.ID, "asset": asset, "amount": amt})
		require.Equal(t, 201, r.Status, "deposit: %s", r.Body)
	}
}

// trade places n random limit orders per trader around 30000 (they cross one another often)
// and returns each trader's order ids.
func trade(t *testing.T, traders []platformtest.Trader, n int, seed uint64) []map[string]bool {
	t.Helper()
	ids := make([]map[string]bool, len(traders))
	var wg sync.WaitGroup
	for i, tr := range traders {
		ids[i] = map[string]bool{}
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(seed, uint64(i)))
			for range n {
				side := "buy"
				if rng.IntN(2) == 0 {
					side = "sell"
				}
				price := fmt.Sprintf("%d.%02d", 29990+rng.IntN(20), rng.IntN(100))
				r := tr.Do("POST", "/orders", map[string]any{"market": "BTC-USD", "side": side, "type": "limit", "price": price,
					"quantity": fmt.Sprintf("0.%04d", 1+rng.IntN(50))})
				if r.Status != 201 {
					t.Errorf("order: %d %s", r.Status, r.Body)
					return
				}
				ids[i][r.Str("id")] = true
			}
		})
	}
	wg.Wait()
	return ids
}

// collect reads c until quiet for the given time, validating each message.
func collect(t *testing.T, sch *schemas, c *streamclient.Conn, quiet time.Duration, f func(streamclient.Msg)) {
	t.Helper()
	for {
		ctx, cancel := context.WithTimeout(context.Background(), quiet)
		m, err := c.Next(ctx)
		cancel()
		if errors.Is(err, context.DeadlineExceeded) {
			return
		}
		require.NoError(t, err)
		sch.check(t, m)
		f(m)
	}
}

func TestOwnEventsOnlyAmongManyTraders(t *testing.T) {
	p := suite.Shared
	sch := loadSchemas(t, p)
	adm := p.Admin(t)
	const n = 8
	var traders []platformtest.Trader
	var conns []*streamclient.Conn
	var positions []streamclient.Positions
	for i := range n {
		tr := suite.Register(t, p, fmt.Sprint("own", i))
		deposit(t, adm, tr)
		traders = append(traders, tr)
		c := dial(t, p, tr.Token)
		require.Equal(t, tr.ID, c.Welcome.Account)
		sub := subscribe(t, sch, c, "account:"+tr.ID, nil)
		require.Equal(t, "subscribed", sub.Type)
		pos := streamclient.Positions{}
		pos.Start(sub)
		positions = append(positions, pos)
		conns = append(conns, c)
	}
	// Another trader's stream is refused.
	r := subscribe(t, sch, conns[0], "account:"+traders[1].ID, nil)
	assert.Equal(t, "error", r.Type)
	assert.Equal(t, "forbidden", r.Code)

	type seen struct {
		orders, fills, balances int
		foreign, badFees        []string
		gaps                    int
		fees                    map[string]string // "trade_id liquidity" -> "fee fee_asset" of the stream's fills
	}
	results := make([]seen, n)
	var wg sync.WaitGroup
	ids := trade(t, traders, 25, 1)
	for i, c := range conns {
		wg.Go(func() {
			collect(t, sch, c, 3*time.Second, func(m streamclient.Msg) {
				s := &results[i]
				if m.Type != "event" {
					return
				}
				if gap, dup := positions[i].Track(m); gap || dup {
					s.gaps++
				}
				if m.Stream != "account:"+traders[i].ID {
					s.foreign = append(s.foreign, string(m.Raw))
				}
				var d struct {
					OrderID   string  `json:"order_id"`
					TradeID   string  `json:"trade_id"`
					Liquidity string  `json:"liquidity"`
					Side      string  `json:"side"`
					Fee       *string `json:"fee"`
					FeeAsset  *string `json:"fee_asset"`
				}
				_ = jsonUnmarshal(m.Data, &d)
				switch m.Channel {
				case "orders":
					s.orders++
				case "fills":
					s.fills++
					// The settlement's fee, in the asset the side received (this suite
					// charges 0 bps: "0.00000000" BTC or "0.000000" USD).
					want := map[string]string{"buy": "BTC", "sell": "USD"}[d.Side]
					if d.Fee == nil || d.FeeAsset == nil || *d.FeeAsset != want || strings.Trim(*d.Fee, "0.") != "" {
						s.badFees = append(s.badFees, string(m.Data))
					} else {
						if s.fees == nil {
							s.fees = map[string]string{}
						}
						s.fees[d.TradeID+" "+d.Liquidity] = *d.Fee + " " + *d.FeeAsset
					}
				case "balances":
					s.balances++
				}
				if d.OrderID != "" && !ids[i][d.OrderID] {
					s.foreign = append(s.foreign, string(m.Raw))
				}
			})
		})
	}
	wg.Wait()
	fills := 0
	for i, s := range results {
		assert.Empty(t, s.foreign, "trader %d received events not their own", i)
		assert.Zero(t, s.gaps, "trader %d: sequence gaps", i)
		assert.Empty(t, s.badFees, "trader %d: fills without the settlement's fee", i)
		assert.GreaterOrEqual(t, s.orders, 25, "trader %d: an update per order at least", i)
		fills += s.fills
		if s.fills > 0 {
			assert.Positive(t, s.balances, "trader %d traded: balances after settlement", i)
		}
		// The REST API lists each fill with the stream's fee, in the same format.
		rest := traders[i].Do("GET", "/trades?limit=500", nil)
		require.Equal(t, 200, rest.Status, "trader %d fills: %s", i, rest.Body)
		for _, f := range rest.Items() {
			k := fmt.Sprint(f["trade_id"], " ", f["liquidity"])
			if got, ok := s.fees[k]; assert.True(t, ok, "trader %d: fill %s not on the stream", i, k) {
				assert.Equal(t, got, fmt.Sprint(f["fee"], " ", f["fee_asset"]), "trader %d: fill %s fee, stream against REST: %v", i, k, f)
			}
		}
	}
	assert.Positive(t, fills, "the traders traded with each other")
}

func TestBookRebuiltFromSnapshotAndDiffs(t *testing.T) {
	p := suite.Shared
	sch := loadSchemas(t, p)
	adm := p.Admin(t)
	var traders []platformtest.Trader
	for i := range 4 {
		tr := suite.Register(t, p, fmt.Sprint("book", i))
		deposit(t, adm, tr)
		traders = append(traders, tr)
	}
	c := dial(t, p, traders[0].Token)
	require.Equal(t, "subscribed", subscribe(t, sch, c, "book:BTC-USD", nil).Type)

	// Diffs flow while the snapshot is taken: buffer them, then apply after the snapshot.
	var mu sync.Mutex
	var buffered []streamclient.BookDiff
	readDone := make(chan error, 1)
	stop := make(chan struct{})
	go func() {
		for {
			ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
			m, err := c.Next(ctx)
			cancel()
			if errors.Is(err, context.DeadlineExceeded) {
				select {
				case <-stop:
					readDone <- nil
					return
				default:
					continue
				}
			}
			if err != nil {
				readDone <- err
				return
			}
			sch.check(t, m)
			var d streamclient.BookDiff
			if err := jsonUnmarshal(m.Data, &d); err != nil {
				readDone <- err
				return
			}
			mu.Lock()
			buffered = append(buffered, d)
			mu.Unlock()
		}
	}()
	var wg sync.WaitGroup
	wg.Go(func() { trade(t, traders, 40, 2) })
	platformtest.Eventually(t, "diffs buffered before the snapshot", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(buffered) >= 5
	})
	snap := snapshot(t, traders[0])
	book := streamclient.NewBook(snap, "0.01", "0.0001")
	wg.Wait()
	// Let the book settle, then stop reading.
	platformtest.Eventually(t, "the diffs reach the REST book's id", func() bool {
		s := snapshot(t, traders[0])
		mu.Lock()
		defer mu.Unlock()
		return len(buffered) > 0 && buffered[len(buffered)-1].UpdateID == s.LastUpdateID
	})
	close(stop)
	require.NoError(t, <-readDone)
	applied := 0
	for _, d := range buffered {
		ok, err := book.Apply(d)
		require.NoError(t, err)
		if ok {
			applied++
		}
	}
	final := snapshot(t, traders[0])
	require.Equal(t, final.LastUpdateID, book.UpdateID)
	bids, asks := book.Levels()
	assert.Equal(t, final.Bids, orEmpty(bids), "bids rebuilt from snapshot and diffs")
	assert.Equal(t, final.Asks, orEmpty(asks), "asks rebuilt from snapshot and diffs")
	assert.Positive(t, applied)
	assert.Equal(t, applied, book.Checked, "every checksum matched")
}

func orEmpty(ls []streamclient.Level) []streamclient.Level {
	if ls == nil {
		return []streamclient.Level{}
	}
	return ls
}

func snapshot(t *testing.T, c platformtest.Trader) streamclient.Snapshot {
	t.Helper()
	r := c.Do("GET", "/markets/BTC-USD/book?depth=500", nil)
	require.Equal(t, 200, r.Status)
	var s streamclient.Snapshot
	require.NoError(t, jsonUnmarshal(r.Body, &s))
	return s
}

func TestResumeWithoutGapsOrDuplicates(t *testing.T) {
	p := suite.Shared
	sch := loadSchemas(t, p)
	adm := p.Admin(t)
	var traders []platformtest.Trader
	for i := range 2 {
		tr := suite.Register(t, p, fmt.Sprint("resume", i))
		deposit(t, adm, tr)
		traders = append(traders, tr)
	}
	tok := traders[0].Token
	streams := []string{"trades:BTC-USD", "account:" + traders[0].ID}
	c := dial(t, p, tok)
	pos := streamclient.Positions{}
	for _, s := range streams {
		pos.Start(subscribe(t, sch, c, s, nil))
	}
	trade(t, traders, 20, 3)
	var seen []string
	var problems []string
	track := func(m streamclient.Msg) {
		if m.Type != "event" {
			return
		}
		if gap, dup := pos.Track(m); gap || dup {
			problems = append(problems, fmt.Sprintf("gap %v dup %v: %s", gap, dup, m.Raw))
		}
		seen = append(seen, fmt.Sprint(m.Stream, m.Src, m.Seq))
	}
	collect(t, sch, c, 2*time.Second, track)
	require.NotEmpty(t, seen)
	c.WS.CloseNow()
	trade(t, traders, 20, 4) // missed while away
	c = dial(t, p, tok)
	before := len(seen)
	for _, s := range streams {
		// The first stream's replay flows while the second is subscribed: track it too.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		r, err := c.Subscribe(ctx, s, pos[s], func(m streamclient.Msg) {
			sch.check(t, m)
			track(m)
		})
		cancel()
		require.NoError(t, err)
		sch.check(t, r)
		require.Equal(t, "subscribed", r.Type, "%s", r.Raw)
		assert.Positive(t, r.Replayed, s)
	}
	collect(t, sch, c, 2*time.Second, track)
	assert.Greater(t, len(seen), before)
	assert.Empty(t, problems, "no gap, no duplicate")
	// A resume from a position this replica never had is told to resync.
	c2 := dial(t, p, tok)
	old := streamclient.Resume{}
	for src := range pos["trades:BTC-USD"] {
		old[src] = 1
	}
	r := subscribe(t, sch, c2, "trades:BTC-USD", old)
	assert.Equal(t, "resync", r.Type)
}

// On a platform with short tokens, a connection is closed at its token's expiry with 4001.
func TestTokenExpiry(t *testing.T) {
	p := suite.Start(t, "ACCESS_TOKEN_TTL=3s")
	sch := loadSchemas(t, p)
	tr := suite.Register(t, p, "expiry")
	c := dial(t, p, tr.Token)
	sch.check(t, c.Welcome)
	subscribe(t, sch, c, "account:"+tr.ID, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	var err error
	for err == nil {
		_, err = c.Next(ctx)
	}
	assert.Equal(t, 4001, int(streamclient.CloseCode(err)), "closed at token expiry: %v", err)
}

// On a platform with short send queues, a client that reads nothing is closed with 4008
// while a reader on the same streams gets every message.
func TestSlowConsumerDisconnected(t *testing.T) {
	p := suite.Start(t, "STREAM_QUEUE=128", "STREAM_WRITE_TIMEOUT=2m", "STREAM_SEND_BUFFER=4096", "RATE_LIMIT_PER_SECOND=100000")
	sch := loadSchemas(t, p)
	adm := p.Admin(t)
	var traders []platformtest.Trader
	for i := range 2 {
		tr := suite.Register(t, p, fmt.Sprint("slow", i))
		deposit(t, adm, tr)
		traders = append(traders, tr)
	}
	slowTok, fastTok := traders[0].Token, traders[1].Token
	d := &net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) { serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
		return errors.Join(err, serr)
	}}
	sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer scancel()
	slow, err := streamclient.Dial(sctx, p.StreamURL, slowTok, &http.Client{Transport: &http.Transport{DialContext: d.DialContext}})
	require.NoError(t, err)
	defer slow.WS.CloseNow()
	fast := dial(t, p, fastTok)
	pos := streamclient.Positions{}
	for _, s := range []string{"book:BTC-USD", "trades:BTC-USD", "ticker:BTC-USD"} {
		subscribe(t, sch, slow, s, nil)
		pos.Start(subscribe(t, sch, fast, s, nil))
	}

	var fastSeqs = map[string]int{}
	problems := 0
	var fwg sync.WaitGroup
	fwg.Go(func() {
		collect(t, sch, fast, 5*time.Second, func(m streamclient.Msg) {
			if m.Type != "event" {
				return
			}
			fastSeqs[m.Stream]++
			if gap, dup := pos.Track(m); gap || dup {
				problems++
			}
		})
	})
	// Orders while the slow reader reads nothing (its queue holds 128 messages, its socket a
	// few KB): it is cut, the other reader gets every message.
	trade(t, traders, 150, 10)
	fwg.Wait()
	rctx, rcancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer rcancel()
	err = nil
	for err == nil {
		_, err = slow.Next(rctx)
	}
	assert.Equal(t, 4008, int(streamclient.CloseCode(err)), "slow consumer closed with 4008: %v", err)
	require.Len(t, fastSeqs, 3)
	assert.Zero(t, problems, "the reader that keeps pace gets every message")
}
