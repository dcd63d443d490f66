// Command loadgen drives the trading REST API with many signed-in traders at a fixed rate of
// order placements (an open model: arrivals follow the clock, not the server, so a slow server
// cannot slow the offered load), prints a progress line each second, and ends with throughput,
// latency percentiles (p50/p95/p99/p99.9, measured from each request's scheduled time) per
// endpoint, and the error count.
//
//	go run ./tests/cmd/loadgen -url http://127.0.0.1:8080/api/v1 \
//	    -admin-email admin-...@cantondex.local -admin-password ... -rate 2000 -duration 60s
//
// It only talks to the URL it is given; run it against a local platform.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/signal"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

type config struct {
	url, adminEmail, adminPassword, market string
	traders, rate, maxInFlight             int
	duration                               time.Duration
	readEvery                              int
}

func main() {
	var c config
	flag.StringVar(&c.url, "url", "http://127.0.0.1:8080/api/v1", "API base URL (a local platform)")
	flag.StringVar(&c.adminEmail, "admin-email", os.Getenv("ADMIN_EMAIL"), "admin email (to fund the traders)")
	flag.StringVar(&c.adminPassword, "admin-password", os.Getenv("ADMIN_PASSWORD"), "admin password")
	flag.StringVar(&c.market, "market", "BTC-USD", "market to trade")
	flag.IntVar(&c.traders, "traders", 100, "signed-in traders sharing the load")
	flag.IntVar(&c.rate, "rate", 2000, "order placements per second")
	flag.DurationVar(&c.duration, "duration", 60*time.Second, "how long to offer load")
	flag.IntVar(&c.maxInFlight, "max-inflight", 4000, "requests in flight at most; arrivals beyond count as errors")
	flag.IntVar(&c.readEvery, "read-every", 10, "after every N-th placement, also GET that order (0: never)")
	flag.Parse()
	if c.adminEmail == "" || c.adminPassword == "" || c.rate < 1 || c.traders < 1 || c.duration <= 0 {
		fmt.Fprintln(os.Stderr, "loadgen: -admin-email and -admin-password are required; rate, traders and duration must be positive")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, c); err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
}

type client struct {
	base string
	http *http.Client
}

type reply struct {
	status int
	body   map[string]any
}

func (c *client) do(ctx context.Context, method, path, token string, body any) (reply, error) {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return reply{}, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := c.http.Do(req)
	if err != nil {
		return reply{}, err
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		return reply{}, err
	}
	r := reply{status: res.StatusCode}
	_ = json.Unmarshal(raw, &r.body)
	return r, nil
}

func str(m map[string]any, k string) string { s, _ := m[k].(string); return s }

type trader struct{ id, token string }

// setup registers, logs in and funds the traders, a few at a time.
func setup(ctx context.Context, c *client, cfg config) ([]trader, error) {
	r, err := c.do(ctx, "POST", "/auth/login", "", map[string]string{"email": cfg.adminEmail, "password": cfg.adminPassword})
	if err != nil || r.status != 200 {
		return nil, fmt.Errorf("admin login: %d %v %v", r.status, r.body, err)
	}
	admin := str(r.body, "access_token")
	run := time.Now().UnixNano()
	traders := make([]trader, cfg.traders)
	errs := make(chan error, cfg.traders)
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	for i := range traders {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			creds := map[string]string{"email": fmt.Sprintf("load-%d-%d@example.com", run, i), "password": "load trader password"}
			if r, err := c.do(ctx, "POST", "/auth/register", "", creds); err != nil || r.status != 202 {
				errs <- fmt.Errorf("register: %d %v %v", r.status, r.body, err)
				return
			}
			r, err := c.do(ctx, "POST", "/auth/login", "", creds)
			if err != nil || r.status != 200 {
				errs <- fmt.Errorf("login: %d %v %v", r.status, r.body, err)
				return
			}
			t := trader{id: str(r.body, "user_id"), token: str(r.body, "access_token")}
			for _, d := range []struct{ asset, amount string }{{"USD", "1000000000"}, {"BTC", "100000"}} {
				body := map[string]string{"id": fmt.Sprintf("load-%d-%d-%s", run, i, d.asset), "account": t.id, "asset": d.asset, "amount": d.amount}
				if r, err := c.do(ctx, "POST", "/admin/deposits", admin, body); err != nil || r.status != 201 {
					errs <- fmt.Errorf("deposit: %d %v %v", r.status, r.body, err)
					return
				}
			}
			traders[i] = t
		}()
	}
	wg.Wait()
	close(errs)
	return traders, <-errs
}

// stats collects latencies per endpoint and errors by kind.
type stats struct {
	mu      sync.Mutex
	lat     map[string][]time.Duration
	errs    map[string]int
	ok, bad atomic.Int64
	dropped atomic.Int64
}

func (s *stats) record(endpoint string, d time.Duration, errKind string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if errKind != "" {
		s.errs[endpoint+" "+errKind]++
		s.bad.Add(1)
		return
	}
	s.lat[endpoint] = append(s.lat[endpoint], d)
	s.ok.Add(1)
}

func run(ctx context.Context, cfg config) error {
	c := &client{base: strings.TrimRight(cfg.url, "/"), http: &http.Client{
		Timeout:   10 * time.Second,
		Transport: &http.Transport{MaxIdleConns: cfg.maxInFlight, MaxIdleConnsPerHost: cfg.maxInFlight, IdleConnTimeout: time.Minute},
	}}
	fmt.Printf("setting up %d traders...\n", cfg.traders)
	traders, err := setup(ctx, c, cfg)
	if err != nil {
		return err
	}
	st := &stats{lat: map[string][]time.Duration{}, errs: map[string]int{}}
	sem := make(chan struct{}, cfg.maxInFlight)
	var wg sync.WaitGroup
	var sent atomic.Int64
	interval := time.Second / time.Duration(cfg.rate)
	total := int64(cfg.duration / interval)
	start := time.Now()
	stopProgress := make(chan struct{})
	var progressDone sync.WaitGroup
	progressDone.Add(1)
	go func() {
		defer progressDone.Done()
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		var last int64
		for {
			select {
			case <-stopProgress:
				return
			case <-tick.C:
				done := st.ok.Load() + st.bad.Load()
				fmt.Printf("\r%6.1fs  sent %8d  done %8d  errors %6d  in flight %5d  %6d req/s   ",
					time.Since(start).Seconds(), sent.Load(), done, st.bad.Load(), len(sem), done-last)
				last = done
			}
		}
	}()
	call := func(endpoint, method, path, token string, body any, due time.Time, want int) (reply, bool) {
		r, err := c.do(ctx, method, path, token, body)
		d := time.Since(due)
		switch {
		case err != nil:
			kind := "transport"
			if errors.Is(err, context.DeadlineExceeded) {
				kind = "timeout"
			}
			st.record(endpoint, d, kind)
			return r, false
		case r.status != want:
			e, _ := r.body["error"].(map[string]any)
			st.record(endpoint, d, fmt.Sprintf("%d %s", r.status, str(e, "code")))
			return r, false
		}
		st.record(endpoint, d, "")
		return r, true
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := int64(0); i < total && ctx.Err() == nil; i++ {
		due := start.Add(time.Duration(i) * interval)
		if wait := time.Until(due); wait > 0 {
			time.Sleep(wait)
		}
		t := traders[i%int64(len(traders))]
		side, price := "buy", fmt.Sprintf("%d.%02d", 30000+rng.IntN(10), rng.IntN(100))
		if rng.IntN(2) == 0 {
			side, price = "sell", fmt.Sprintf("%d.%02d", 29990+rng.IntN(10), rng.IntN(100))
		}
		body := map[string]any{"market": cfg.market, "side": side, "type": "limit", "price": price, "quantity": "0.01",
			"client_order_id": fmt.Sprintf("lg-%d-%d", start.UnixNano(), i)}
		read := cfg.readEvery > 0 && i%int64(cfg.readEvery) == 0
		select {
		case sem <- struct{}{}:
		default:
			st.record("POST /orders", 0, "dropped (max in flight)")
			st.dropped.Add(1)
			continue
		}
		sent.Add(1)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			r, ok := call("POST /orders", "POST", "/orders", t.token, body, due, 201)
			if ok && read {
				call("GET /orders/{id}", "GET", "/orders/"+str(r.body, "id"), t.token, nil, time.Now(), 200)
			}
		}()
	}
	offered := time.Since(start)
	wg.Wait()
	close(stopProgress)
	progressDone.Wait()
	elapsed := time.Since(start)
	arrivals := sent.Load() + st.dropped.Load()
	fmt.Printf("\n\n%d arrivals in %.1fs (%.0f/s, target %d/s): %d sent, %d dropped at the in-flight cap; all answered after %.1fs\n",
		arrivals, offered.Seconds(), float64(arrivals)/offered.Seconds(), cfg.rate, sent.Load(), st.dropped.Load(), elapsed.Seconds())
	report(st, offered)
	if n := st.bad.Load(); n > 0 {
		return fmt.Errorf("%d errors", n)
	}
	return nil
}

func report(st *stats, window time.Duration) {
	var names []string
	for k := range st.lat {
		names = append(names, k)
	}
	sort.Strings(names)
	fmt.Printf("%-18s %9s %9s %9s %9s %9s %9s %9s\n", "endpoint", "ok", "per s", "p50 ms", "p95 ms", "p99 ms", "p99.9 ms", "max ms")
	for _, n := range names {
		l := st.lat[n]
		sort.Slice(l, func(i, j int) bool { return l[i] < l[j] })
		pct := func(p float64) float64 {
			if len(l) == 0 {
				return 0
			}
			i := int(p * float64(len(l)-1))
			return float64(l[i].Microseconds()) / 1000
		}
		fmt.Printf("%-18s %9d %9.0f %9.2f %9.2f %9.2f %9.2f %9.2f\n", n, len(l), float64(len(l))/window.Seconds(),
			pct(.50), pct(.95), pct(.99), pct(.999), pct(1))
	}
	fmt.Printf("errors: %d\n", st.bad.Load())
	var kinds []string
	for k := range st.errs {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	for _, k := range kinds {
		fmt.Printf("  %-40s %d\n", k, st.errs[k])
	}
}
