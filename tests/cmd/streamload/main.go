// Command streamload measures the WebSocket streams of the platform it starts (cmd/cantondex,
// built and run as a real process with embedded defaults): -traders private connections, each
// subscribed to its own account (spread over -users accounts), and -book-conns connections
// subscribed to the BTC-USD book and trades, while the users place crossing limit orders at
// -rate per second for -duration. It prints the delivery latency (p50/p99/p99.9) of every
// event from its record's log time (ts: when the engine or the settlement coordinator
// produced it, so what the stream adds) to the client's receipt, and, for public trades and
// private fills, from the execution's executed_at (the log time of the command the engine
// executed: it includes the engine's backlog and, for fills, settlement); the messages
// delivered per second; the
// sequence gaps (there must be none); the platform's CPU per 1,000 messages delivered; then
// it holds -idle more connections and prints the platform's memory per idle connection.
//
//	go run ./tests/cmd/streamload -traders 1000 -book-conns 100 -rate 2000 -duration 30s -idle 10000
//
// The figures are those of one shared machine: run it a few times and read medians.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cantondex/platform/tests/loadsetup"
	"github.com/cantondex/platform/tests/platformtest"
	"github.com/cantondex/platform/tests/streamclient"
)

type config struct {
	traders, users, bookConns, idle int
	rate                            float64
	duration                        time.Duration
	bin                             string
}

func main() {
	var c config
	flag.IntVar(&c.traders, "traders", 1000, "private connections (own account streams)")
	flag.IntVar(&c.users, "users", 200, "trader accounts the private connections and the orders are spread over")
	flag.IntVar(&c.bookConns, "book-conns", 100, "connections subscribed to book:BTC-USD and trades:BTC-USD")
	flag.IntVar(&c.idle, "idle", 10000, "idle connections held after the load, for memory per connection")
	flag.Float64Var(&c.rate, "rate", 2000, "orders per second offered")
	flag.DurationVar(&c.duration, "duration", 30*time.Second, "load duration")
	flag.StringVar(&c.bin, "bin", "", "a built cmd/cantondex (default: build one)")
	flag.Parse()
	if err := run(c); err != nil {
		fmt.Fprintln(os.Stderr, "streamload:", err)
		os.Exit(1)
	}
}

type lat struct {
	mu sync.Mutex
	d  map[string][]time.Duration
}

func (l *lat) add(kind string, d time.Duration) {
	l.mu.Lock()
	l.d[kind] = append(l.d[kind], d)
	l.mu.Unlock()
}

func pct(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	return ds[min(len(ds)-1, int(float64(len(ds))*p))]
}

type reader struct {
	msgs, gaps atomic.Int64
	lat        *lat
}

// read consumes c until ctx ends, checking each stream's sequence.
func (r *reader) read(ctx context.Context, c *streamclient.Conn, pos streamclient.Positions) {
	for {
		m, err := c.Next(ctx)
		if err != nil {
			return
		}
		now := time.Now()
		if m.Type != "event" {
			continue
		}
		r.msgs.Add(1)
		if gap, dup := pos.Track(m); gap || dup {
			r.gaps.Add(1)
		}
		if m.TS > 0 {
			// From the record's log time (the engine or settlement produced it; Kafka
			// timestamps are whole milliseconds, truncated): what the stream adds.
			r.lat.add("event", now.Sub(time.UnixMilli(m.TS)))
		}
		if m.Channel == "trades" || m.Channel == "fills" {
			var d struct {
				ExecutedAt time.Time `json:"executed_at"`
			}
			if json.Unmarshal(m.Data, &d) == nil && !d.ExecutedAt.IsZero() {
				r.lat.add(m.Channel, now.Sub(d.ExecutedAt))
			}
		}
	}
}

func run(c config) error {
	ctx := context.Background()
	if c.bin == "" {
		dir, err := os.MkdirTemp("", "streamload-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		if c.bin, err = platformtest.Build(dir); err != nil {
			return err
		}
	} else if c.bin, _ = filepath.Abs(c.bin); c.bin == "" {
		return fmt.Errorf("bad -bin")
	}
	p, err := platformtest.Start(c.bin, "RATE_LIMIT_PER_SECOND=1000000", "AUTH_RATE_LIMIT_PER_MINUTE=1000000",
		"STREAM_MAX_CONNS_PER_USER=100000", "FEE_MAKER_BPS=0", "FEE_TAKER_BPS=0", "LOG_LEVEL=warn")
	if err != nil {
		return err
	}
	defer p.Stop()
	fmt.Printf("platform pid %d, stream %s\n", p.Pid(), p.StreamURL)
	tokens, ids, err := users(p, c.users)
	if err != nil {
		return err
	}
	fmt.Printf("%d users registered and funded\n", len(tokens))

	rctx, stop := context.WithCancel(ctx)
	defer stop()
	r := &reader{lat: &lat{d: map[string][]time.Duration{}}}
	var wg sync.WaitGroup
	var conns []*streamclient.Conn
	for i := range c.traders + c.bookConns {
		dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		conn, err := streamclient.Dial(dctx, p.StreamURL, tokens[i%len(tokens)], nil)
		pos := streamclient.Positions{}
		if err == nil {
			streams := []string{"account:" + ids[i%len(ids)]}
			if i >= c.traders {
				streams = []string{"book:BTC-USD", "trades:BTC-USD"}
			}
			for _, s := range streams {
				var m streamclient.Msg
				if m, err = conn.Subscribe(dctx, s, nil, nil); err == nil && m.Type != "subscribed" {
					err = fmt.Errorf("subscribe %s: %s", s, m.Raw)
				}
				pos.Start(m)
			}
		}
		cancel()
		if err != nil {
			return fmt.Errorf("connection %d: %w", i, err)
		}
		conns = append(conns, conn)
		wg.Go(func() { r.read(rctx, conn, pos) })
	}
	fmt.Printf("%d private and %d book connections open\n", c.traders, c.bookConns)

	cpu0, err := cpuTime(p.Pid())
	if err != nil {
		return err
	}
	placed, failed := load(p, tokens, c.rate, c.duration)
	time.Sleep(2 * time.Second) // let the last events arrive
	cpu1, _ := cpuTime(p.Pid())
	elapsed := c.duration + 2*time.Second
	stop()
	for _, conn := range conns {
		conn.WS.CloseNow()
	}
	wg.Wait()
	msgs := r.msgs.Load()
	fmt.Printf("\norders placed %d (%.0f/s offered %.0f/s), refused %d\n", placed, float64(placed)/c.duration.Seconds(), c.rate, failed)
	fmt.Printf("messages delivered %d (%.0f/s), sequence gaps %d (target 0)\n", msgs, float64(msgs)/elapsed.Seconds(), r.gaps.Load())
	for _, kind := range []string{"trades", "fills"} {
		ds := r.lat.d[kind]
		slices.Sort(ds)
		fmt.Printf("latency since executed_at %-6s n=%-8d p50 %7.2f ms  p99 %7.2f ms  p99.9 %7.2f ms  (engine backlog and settlement included)\n",
			kind, len(ds), ms(pct(ds, .5)), ms(pct(ds, .99)), ms(pct(ds, .999)))
	}
	ds := r.lat.d["event"]
	slices.Sort(ds)
	fmt.Printf("latency event→client (from ts) n=%-8d p50 %7.2f ms  p99 %7.2f ms  p99.9 %7.2f ms  (target p99 < 5 ms)\n",
		len(ds), ms(pct(ds, .5)), ms(pct(ds, .99)), ms(pct(ds, .999)))
	if line, err := feedDelay(p.MetricsURL()); err == nil {
		fmt.Println(line)
	} else {
		fmt.Println("feed delay: metrics not read:", err)
	}
	if msgs > 0 {
		fmt.Printf("platform CPU %.2f s over the run: %.1f ms per 1,000 messages delivered (the whole platform: order entry, engine, settlement and the streams)\n",
			(cpu1 - cpu0).Seconds(), (cpu1-cpu0).Seconds()*1000/float64(msgs)*1000)
	}

	// Idle connections: memory per connection.
	time.Sleep(2 * time.Second)
	rss0, err := rss(p.Pid())
	if err != nil {
		return err
	}
	var idle []*streamclient.Conn
	for i := range c.idle {
		dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		conn, err := streamclient.Dial(dctx, p.StreamURL, tokens[i%len(tokens)], nil)
		cancel()
		if err != nil {
			fmt.Printf("idle connection %d: %v\n", i, err)
			break
		}
		idle = append(idle, conn)
	}
	time.Sleep(3 * time.Second)
	rss1, _ := rss(p.Pid())
	n := len(idle)
	fmt.Printf("idle connections held %d (target 10,000): platform RSS %.1f MiB -> %.1f MiB, %.1f KB per connection (target < 32 KB)\n",
		n, float64(rss0)/(1<<20), float64(rss1)/(1<<20), float64(rss1-rss0)/float64(max(n, 1))/1024)
	for _, conn := range idle {
		conn.WS.CloseNow()
	}
	return nil
}

// feedDelay reads the platform's cantondex_stream_feed_delay_seconds histogram (a record's
// age, from its log time, when its stream messages are published: the server side of the
// stream's delay, before the send queues and the sockets) and says, per topic, which share of
// records each bucket holds and the buckets of the median and the 99th percentile.
func feedDelay(url string) (string, error) {
	res, err := http.Get(url)
	if err != nil {
		return "", err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		return "", err
	}
	type bucket struct {
		le string
		n  float64
	}
	counts := map[string]float64{}
	buckets := map[string][]bucket{}
	var topics []string
	for _, l := range strings.Split(string(body), "\n") {
		rest, ok := strings.CutPrefix(l, `cantondex_stream_feed_delay_seconds_`)
		if !ok {
			continue
		}
		kind, rest, _ := strings.Cut(rest, `{topic="`)
		topic, rest, _ := strings.Cut(rest, `"`)
		f := strings.Fields(rest)
		if len(f) != 2 {
			continue
		}
		n, _ := strconv.ParseFloat(f[1], 64)
		switch kind {
		case "count":
			counts[topic] = n
			topics = append(topics, topic)
		case "bucket":
			le, _, _ := strings.Cut(strings.TrimPrefix(f[0], `,le="`), `"`)
			buckets[topic] = append(buckets[topic], bucket{le, n})
		}
	}
	var out []string
	for _, topic := range topics {
		count := counts[topic]
		if count == 0 {
			continue
		}
		var shares []string
		p50, p99 := "", ""
		for _, b := range buckets[topic] {
			shares = append(shares, fmt.Sprintf("≤%ss %.1f%%", b.le, 100*b.n/count))
			if p50 == "" && b.n >= .5*count {
				p50 = b.le
			}
			if p99 == "" && b.n >= .99*count {
				p99 = b.le
			}
		}
		out = append(out, fmt.Sprintf("feed delay %s (record log time → hub publish, server side), %.0f records: p50 ≤ %ss, p99 ≤ %ss; %s",
			topic, count, p50, p99, strings.Join(shares, ", ")))
	}
	if len(out) == 0 {
		return "", fmt.Errorf("no feed delay observed")
	}
	return strings.Join(out, "\n"), nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// users registers and funds n traders.
func users(p *platformtest.Platform, n int) (tokens, ids []string, err error) {
	hc := &http.Client{Timeout: 30 * time.Second}
	post := func(path, token string, body any, out any) (int, error) {
		// The gateway sheds sign-ins with 503 when its password-hashing pool is busy: wait
		// the answer's Retry-After and try again, as loadgen's set-up does.
		return loadsetup.Retry(context.Background(), func() (int, int, time.Duration, error) {
			st, wait, err := postOnce(hc, p.URL+path, token, body, out)
			return st, st, wait, err
		})
	}
	var login struct {
		AccessToken string `json:"access_token"`
		UserID      string `json:"user_id"`
	}
	if _, err := post("/auth/login", "", map[string]string{"email": p.AdminEmail, "password": p.AdminPassword}, &login); err != nil {
		return nil, nil, err
	}
	admin := login.AccessToken
	tokens, ids = make([]string, n), make([]string, n)
	var wg sync.WaitGroup
	var firstErr atomic.Value
	sem := make(chan struct{}, 2)
	stamp := strconv.FormatInt(time.Now().UnixNano(), 36)
	for i := range n {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			email := fmt.Sprintf("load-%s-%d@example.com", stamp, i)
			cred := map[string]string{"email": email, "password": "a load test password " + strconv.Itoa(i)}
			if st, err := post("/auth/register", "", cred, nil); err != nil || st != 202 {
				firstErr.CompareAndSwap(nil, fmt.Errorf("register: %d %v", st, err))
				return
			}
			var l struct {
				AccessToken string `json:"access_token"`
				UserID      string `json:"user_id"`
			}
			if st, err := post("/auth/login", "", cred, &l); err != nil || st != 200 {
				firstErr.CompareAndSwap(nil, fmt.Errorf("login: %d %v", st, err))
				return
			}
			tokens[i], ids[i] = l.AccessToken, l.UserID
			// KYC: the trader submits, the admin approves (unverified accounts cannot trade).
			app := map[string]string{"legal_name": fmt.Sprintf("Stream Trader %d", i), "date_of_birth": "1990-04-01", "nationality": "DE", "address": "1 Example Street"}
			if st, err := post("/kyc", l.AccessToken, app, nil); err != nil || st != 202 {
				firstErr.CompareAndSwap(nil, fmt.Errorf("kyc: %d %v", st, err))
				return
			}
			if st, err := post("/compliance/kyc/"+l.UserID+"/approve", admin, map[string]string{"reason": "load test onboarding"}, nil); err != nil || st != 200 {
				firstErr.CompareAndSwap(nil, fmt.Errorf("kyc approval: %d %v", st, err))
				return
			}
			for asset, amt := range map[string]string{"USD": "100000000", "BTC": "10000"} {
				if st, err := post("/admin/deposits", admin, map[string]string{"id": "load-" + asset + "-" + l.UserID, "account": l.UserID, "asset": asset, "amount": amt}, nil); err != nil || st != 201 {
					firstErr.CompareAndSwap(nil, fmt.Errorf("deposit: %d %v", st, err))
				}
			}
		})
	}
	wg.Wait()
	if e, ok := firstErr.Load().(error); ok {
		return nil, nil, e
	}
	return tokens, ids, nil
}

// load offers orders at rate (open model: arrivals follow the clock) for d.
func load(p *platformtest.Platform, tokens []string, rate float64, d time.Duration) (placed, failed int64) {
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 512}}
	var ok, bad atomic.Int64
	var wg sync.WaitGroup
	sem := make(chan struct{}, 512)
	start := time.Now()
	interval := time.Duration(float64(time.Second) / rate)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; ; i++ {
		due := start.Add(time.Duration(i) * interval)
		if due.Sub(start) >= d {
			break
		}
		time.Sleep(time.Until(due))
		side := "buy"
		if rng.IntN(2) == 0 {
			side = "sell"
		}
		body := fmt.Sprintf(`{"market":"BTC-USD","side":%q,"type":"limit","price":"%d.%02d","quantity":"0.%04d"}`,
			side, 29990+rng.IntN(20), rng.IntN(100), 1+rng.IntN(50))
		token := tokens[rng.IntN(len(tokens))]
		select {
		case sem <- struct{}{}:
		default:
			bad.Add(1) // more than 512 in flight: counted as refused, the clock goes on
			continue
		}
		wg.Go(func() {
			defer func() { <-sem }()
			req, _ := http.NewRequest("POST", p.URL+"/orders", strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+token)
			res, err := hc.Do(req)
			if err != nil {
				bad.Add(1)
				return
			}
			res.Body.Close()
			if res.StatusCode == 201 {
				ok.Add(1)
			} else {
				bad.Add(1)
			}
		})
	}
	wg.Wait()
	return ok.Load(), bad.Load()
}

// cpuTime is a process's user+system CPU time (/proc/<pid>/stat, clock ticks of 10 ms).
func cpuTime(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	u, _ := strconv.ParseInt(f[11], 10, 64)
	sy, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(u+sy) * 10 * time.Millisecond, nil
}

// rss is a process's resident memory in bytes.
func rss(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("no VmRSS for %d", pid)
}

// postOnce posts body and reads the answer into out; it returns the status and the answer's
// Retry-After.
func postOnce(hc *http.Client, url, token string, body, out any) (int, time.Duration, error) {
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest("POST", url, strings.NewReader(string(b)))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := hc.Do(req)
	if err != nil {
		return 0, 0, err
	}
	defer res.Body.Close()
	if out != nil && res.StatusCode < 300 {
		_ = json.NewDecoder(res.Body).Decode(out)
	}
	return res.StatusCode, loadsetup.RetryAfter(res.Header), nil
}
