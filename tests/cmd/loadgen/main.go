// Command loadgen drives the trading REST API with many signed-in traders on an open model
// (arrivals follow the clock, not the server, so a slow server cannot slow the offered load),
// prints a progress line each second, and ends with throughput, latency percentiles
// (p50/p95/p99/p99.9, measured from each request's scheduled time, so queueing is counted) per
// endpoint, the error count, and the CPU time per order of every process it is told to watch.
//
//	go run ./tests/cmd/loadgen -url http://127.0.0.1:8080/api/v1 \
//	    -admin-email admin-...@cantondex.local -admin-password ... \
//	    -profile steady -rate 2000 -duration 60s \
//	    -cpu platform=$(pgrep -f services/cmd/cantondex),postgres=$(pgrep -o postgres),redis=$(pgrep -o redis-server)
//
// Profiles (-profile): steady (the rate for the duration), ramp (0 rising linearly to the
// rate), spike (the rate, with 5x the rate for 10 s in the middle), stress (steps of
// -step-duration, each -step-factor times the last, from the rate until a step's p99 passes
// -p99-bound or a request fails; it reports the knee: the last rate under the bound) and
// endurance (the rate for 30 minutes unless -duration says otherwise, with a line per minute:
// latency, errors and the watched processes' memory, then the drift from the first minute to
// the last). -mix sets the workload's proportions, e.g. place=80,cancel=10,book=5,read=5
// (cancels and reads act on the trader's own earlier orders). -cpu name=pid,... names process
// trees (a process and its descendants: PostgreSQL's postmaster covers its backends) whose CPU
// time is read from /proc before and after; loadgen itself is always listed.
//
// Book reads (-mix book=...) are public market data, limited per client address
// (PUBLIC_RATE_LIMIT_PER_SECOND, 20 by default): start the platform with a higher limit for a
// mixed run from one machine. It only talks to the URL it is given; run it against a local
// platform.
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

	"github.com/cantondex/platform/tests/loadsetup"
)

type config struct {
	url, adminEmail, adminPassword, market string
	traders, maxInFlight                   int
	rate                                   float64
	duration                               time.Duration
	readEvery                              int
	profile                                string
	mix                                    mix
	watch                                  []watched
	p99Bound, stepDuration                 time.Duration
	stepFactor                             float64
	maxRate                                float64
	window                                 time.Duration // endurance report period
}

func main() {
	var c config
	var mixFlag, cpuFlag string
	flag.StringVar(&c.url, "url", "http://127.0.0.1:8080/api/v1", "API base URL (a local platform)")
	flag.StringVar(&c.adminEmail, "admin-email", os.Getenv("ADMIN_EMAIL"), "admin email (to fund the traders)")
	flag.StringVar(&c.adminPassword, "admin-password", os.Getenv("ADMIN_PASSWORD"), "admin password")
	flag.StringVar(&c.market, "market", "BTC-USD", "market to trade")
	flag.IntVar(&c.traders, "traders", 100, "signed-in traders sharing the load")
	flag.Float64Var(&c.rate, "rate", 2000, "requests per second (the profile's base rate)")
	flag.DurationVar(&c.duration, "duration", 60*time.Second, "how long to offer load (endurance: 30m unless set)")
	flag.IntVar(&c.maxInFlight, "max-inflight", 4000, "requests in flight at most; arrivals beyond count as errors")
	flag.IntVar(&c.readEvery, "read-every", 10, "after every N-th placement, also GET that order (0: never)")
	flag.StringVar(&c.profile, "profile", steady, "steady, ramp, spike, stress or endurance")
	flag.StringVar(&mixFlag, "mix", "place=100", "workload proportions: place, cancel, book, read weights")
	flag.StringVar(&cpuFlag, "cpu", "", "process trees to account CPU per order for: name=pid,...")
	flag.DurationVar(&c.p99Bound, "p99-bound", 10*time.Millisecond, "stress: the p99 that ends the ramp")
	flag.DurationVar(&c.stepDuration, "step-duration", 10*time.Second, "stress: length of each step")
	flag.Float64Var(&c.stepFactor, "step-factor", 1.25, "stress: each step's rate over the last")
	flag.Float64Var(&c.maxRate, "max-rate", 50000, "stress: stop before a step above this rate")
	flag.DurationVar(&c.window, "window", time.Minute, "endurance: report period")
	flag.Parse()
	durationSet := false
	flag.Visit(func(f *flag.Flag) { durationSet = durationSet || f.Name == "duration" })
	if c.profile == endurance && !durationSet {
		c.duration = 30 * time.Minute
	}
	err := c.validate(mixFlag, cpuFlag)
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, c, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
}

// validate checks the flags and parses the mix and the watched processes.
func (c *config) validate(mixFlag, cpuFlag string) error {
	var errs []error
	if c.adminEmail == "" || c.adminPassword == "" {
		errs = append(errs, errors.New("-admin-email and -admin-password are required"))
	}
	if c.rate <= 0 || c.traders < 1 || c.duration <= 0 || c.maxInFlight < 1 {
		errs = append(errs, errors.New("-rate, -traders, -duration and -max-inflight must be positive"))
	}
	if c.profile == stress && (c.stepFactor <= 1 || c.stepDuration <= 0 || c.p99Bound <= 0) {
		errs = append(errs, errors.New("-profile stress needs -step-factor above 1 and positive -step-duration and -p99-bound"))
	}
	if c.profile != stress {
		if _, err := scheduleFor(c.profile, c.rate, c.duration); err != nil {
			errs = append(errs, err)
		}
	}
	var err error
	if c.mix, err = parseMix(mixFlag); err != nil {
		errs = append(errs, err)
	}
	if c.watch, err = parseWatch(cpuFlag); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

type client struct {
	base string
	http *http.Client
}

type reply struct {
	status int
	body   map[string]any
	// retryAfter is the answer's Retry-After (1 s when it gave none).
	retryAfter time.Duration
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
	r := reply{status: res.StatusCode, retryAfter: loadsetup.RetryAfter(res.Header)}
	_ = json.Unmarshal(raw, &r.body)
	return r, nil
}

// setupDo is do for the set-up requests: an answer 503 is tried again after its
// Retry-After (loadsetup.Retry). The measured load never retries: there a 503 is an error.
func (c *client) setupDo(ctx context.Context, method, path, token string, body any) (reply, error) {
	return loadsetup.Retry(ctx, func() (reply, int, time.Duration, error) {
		r, err := c.do(ctx, method, path, token, body)
		return r, r.status, r.retryAfter, err
	})
}

func str(m map[string]any, k string) string { s, _ := m[k].(string); return s }

type trader struct{ id, token string }

// setup registers, logs in and funds the traders, a few at a time.
func setup(ctx context.Context, c *client, cfg config) ([]trader, error) {
	r, err := c.setupDo(ctx, "POST", "/auth/login", "", map[string]string{"email": cfg.adminEmail, "password": cfg.adminPassword})
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
			if r, err := c.setupDo(ctx, "POST", "/auth/register", "", creds); err != nil || r.status != 202 {
				errs <- fmt.Errorf("register: %d %v %v", r.status, r.body, err)
				return
			}
			r, err := c.setupDo(ctx, "POST", "/auth/login", "", creds)
			if err != nil || r.status != 200 {
				errs <- fmt.Errorf("login: %d %v %v", r.status, r.body, err)
				return
			}
			t := trader{id: str(r.body, "user_id"), token: str(r.body, "access_token")}
			// KYC: the trader submits, the admin approves (unverified accounts cannot trade).
			app := map[string]string{"legal_name": fmt.Sprintf("Load Trader %d", i), "date_of_birth": "1990-04-01", "nationality": "DE", "address": "1 Example Street"}
			if r, err := c.setupDo(ctx, "POST", "/kyc", t.token, app); err != nil || r.status != 202 {
				errs <- fmt.Errorf("kyc: %d %v %v", r.status, r.body, err)
				return
			}
			if r, err := c.setupDo(ctx, "POST", "/compliance/kyc/"+t.id+"/approve", admin, map[string]string{"reason": "load test onboarding"}); err != nil || r.status != 200 {
				errs <- fmt.Errorf("kyc approval: %d %v %v", r.status, r.body, err)
				return
			}
			for _, d := range []struct{ asset, amount string }{{"USD", "1000000000"}, {"BTC", "100000"}} {
				body := map[string]string{"id": fmt.Sprintf("load-%d-%d-%s", run, i, d.asset), "account": t.id, "asset": d.asset, "amount": d.amount}
				if r, err := c.setupDo(ctx, "POST", "/admin/deposits", admin, body); err != nil || r.status != 201 {
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

// stats collects latencies per endpoint, errors by kind, and the placements' latencies per
// report window (endurance).
type stats struct {
	mu      sync.Mutex
	lat     map[string][]time.Duration
	errs    map[string]int
	windows map[int][]time.Duration // POST /orders latencies by window of their due time
	werrs   map[int]int
	window  time.Duration
	ok, bad atomic.Int64
	placed  atomic.Int64 // successful placements
	dropped atomic.Int64
}

func newStats(window time.Duration) *stats {
	return &stats{lat: map[string][]time.Duration{}, errs: map[string]int{}, windows: map[int][]time.Duration{}, werrs: map[int]int{}, window: window}
}

// record counts one answered request; at is its due time's offset from the start.
func (s *stats) record(endpoint string, at, d time.Duration, errKind string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	w := int(at / s.window)
	if errKind != "" {
		s.errs[endpoint+" "+errKind]++
		s.werrs[w]++
		s.bad.Add(1)
		return
	}
	s.lat[endpoint] = append(s.lat[endpoint], d)
	if endpoint == "POST /orders" {
		s.windows[w] = append(s.windows[w], d)
		s.placed.Add(1)
	}
	s.ok.Add(1)
}

// percentile of sorted l (0 when empty).
func percentile(l []time.Duration, p float64) time.Duration {
	if len(l) == 0 {
		return 0
	}
	return l[int(p*float64(len(l)-1))]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// orders keeps each trader's recent order ids for cancels and reads.
type orders struct {
	mu  sync.Mutex
	ids [][]string
}

const keptOrders = 64

func (o *orders) add(trader int, id string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	l := append(o.ids[trader], id)
	if len(l) > keptOrders {
		l = l[len(l)-keptOrders:]
	}
	o.ids[trader] = l
}

// take removes and returns one of the trader's orders ("" when none).
func (o *orders) take(trader int, rng *rand.Rand, remove bool) string {
	o.mu.Lock()
	defer o.mu.Unlock()
	l := o.ids[trader]
	if len(l) == 0 {
		return ""
	}
	i := rng.IntN(len(l))
	id := l[i]
	if remove {
		o.ids[trader] = append(l[:i], l[i+1:]...)
	}
	return id
}

// driver offers one schedule's load.
type driver struct {
	c       *client
	cfg     config
	traders []trader
	orders  *orders
	sem     chan struct{}
	rng     *rand.Rand
	run     int64 // makes client order ids unique per loadgen run
	seq     atomic.Int64
}

func newDriver(c *client, cfg config, traders []trader) *driver {
	return &driver{c: c, cfg: cfg, traders: traders, orders: &orders{ids: make([][]string, len(traders))},
		sem: make(chan struct{}, cfg.maxInFlight), rng: rand.New(rand.NewPCG(1, 2)), run: time.Now().UnixNano()}
}

// call sends one request and records it against its due time.
func (d *driver) call(ctx context.Context, st *stats, start time.Time, endpoint, method, path, token string, body any, due time.Time, want ...int) (reply, bool) {
	r, err := d.c.do(ctx, method, path, token, body)
	lat := time.Since(due)
	at := due.Sub(start)
	switch {
	case err != nil:
		kind := "transport"
		if errors.Is(err, context.DeadlineExceeded) {
			kind = "timeout"
		}
		st.record(endpoint, at, lat, kind)
		return r, false
	case !containsInt(want, r.status):
		e, _ := r.body["error"].(map[string]any)
		st.record(endpoint, at, lat, fmt.Sprintf("%d %s", r.status, str(e, "code")))
		return r, false
	}
	st.record(endpoint, at, lat, "")
	return r, true
}

func containsInt(l []int, v int) bool {
	for _, x := range l {
		if x == v {
			return true
		}
	}
	return false
}

// offer runs sched from start, recording into st, and waits for every answer.
func (d *driver) offer(ctx context.Context, sched schedule, st *stats, start time.Time, sent *atomic.Int64) {
	var wg sync.WaitGroup
	for i := int64(0); ctx.Err() == nil; i++ {
		off, ok := sched.due(i)
		if !ok {
			break
		}
		due := start.Add(off)
		if wait := time.Until(due); wait > 0 {
			time.Sleep(wait)
		}
		n := d.seq.Add(1)
		ti := int(n % int64(len(d.traders)))
		t := d.traders[ti]
		op := d.cfg.mix.draw(d.rng)
		var id string
		switch op {
		case opCancel, opRead:
			if id = d.orders.take(ti, d.rng, op == opCancel); id == "" {
				op = opPlace // nothing of this trader's to act on yet
			}
		}
		side, price := "buy", fmt.Sprintf("%d.%02d", 30000+d.rng.IntN(10), d.rng.IntN(100))
		if d.rng.IntN(2) == 0 {
			side, price = "sell", fmt.Sprintf("%d.%02d", 29990+d.rng.IntN(10), d.rng.IntN(100))
		}
		read := op == opPlace && d.cfg.readEvery > 0 && n%int64(d.cfg.readEvery) == 0
		select {
		case d.sem <- struct{}{}:
		default:
			st.record("POST /orders", off, 0, "dropped (max in flight)")
			st.dropped.Add(1)
			continue
		}
		sent.Add(1)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-d.sem }()
			switch op {
			case opPlace:
				body := map[string]any{"market": d.cfg.market, "side": side, "type": "limit", "price": price, "quantity": "0.01",
					"client_order_id": fmt.Sprintf("lg-%d-%d", d.run, n)}
				r, ok := d.call(ctx, st, start, "POST /orders", "POST", "/orders", t.token, body, due, 201)
				if ok {
					d.orders.add(ti, str(r.body, "id"))
					if read {
						d.call(ctx, st, start, "GET /orders/{id}", "GET", "/orders/"+str(r.body, "id"), t.token, nil, time.Now(), 200)
					}
				}
			case opCancel:
				// An order filled meanwhile answers 409: an outcome of the market, not an error.
				d.call(ctx, st, start, "DELETE /orders/{id}", "DELETE", "/orders/"+id, t.token, nil, due, 200, 409)
			case opRead:
				d.call(ctx, st, start, "GET /orders/{id}", "GET", "/orders/"+id, t.token, nil, due, 200)
			case opBook:
				d.call(ctx, st, start, "GET /markets/{m}/book", "GET", "/markets/"+d.cfg.market+"/book", "", nil, due, 200)
			}
		}()
	}
	wg.Wait()
}

func run(ctx context.Context, cfg config, out io.Writer) error {
	c := &client{base: strings.TrimRight(cfg.url, "/"), http: &http.Client{
		Timeout:   10 * time.Second,
		Transport: &http.Transport{MaxIdleConns: cfg.maxInFlight, MaxIdleConnsPerHost: cfg.maxInFlight, IdleConnTimeout: time.Minute},
	}}
	fmt.Fprintf(out, "setting up %d traders...\n", cfg.traders)
	traders, err := setup(ctx, c, cfg)
	if err != nil {
		return err
	}
	d := newDriver(c, cfg, traders)
	before := treeUsage(cfg.watch)
	start := time.Now()
	var st *stats
	if cfg.profile == stress {
		st, err = d.stress(ctx, out)
	} else {
		sched, err := scheduleFor(cfg.profile, cfg.rate, cfg.duration)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "profile %s: %s\n", cfg.profile, sched.describe())
		st = newStats(cfg.window)
		d.offerWithProgress(ctx, sched, st, start, out)
	}
	elapsed := time.Since(start)
	after := treeUsage(cfg.watch)
	report(out, st, elapsed)
	reportCPU(out, cfg.watch, before, after, st.placed.Load(), elapsed)
	if err != nil {
		return err
	}
	// Past the knee, errors are the stress profile's measurement, not a failure of the run.
	if n := st.bad.Load(); n > 0 && cfg.profile != stress {
		return fmt.Errorf("%d errors", n)
	}
	return nil
}

// offerWithProgress offers sched with a progress line each second and, for endurance, a
// summary line per window.
func (d *driver) offerWithProgress(ctx context.Context, sched schedule, st *stats, start time.Time, out io.Writer) {
	var sent atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var first, last windowLine
	windows := 0
	wg.Go(func() {
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		var prev int64
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			done := st.ok.Load() + st.bad.Load()
			fmt.Fprintf(out, "\r%6.1fs  sent %8d  done %8d  errors %6d  in flight %5d  %6d req/s   ",
				time.Since(start).Seconds(), sent.Load(), done, st.bad.Load(), len(d.sem), done-prev)
			prev = done
			if d.cfg.profile != endurance {
				continue
			}
			// Window k is reported 2 s after it ends, when its requests have been answered.
			if el := time.Since(start); el >= time.Duration(windows+1)*st.window+2*time.Second {
				l := d.windowLine(st, windows)
				fmt.Fprintf(out, "\n%s\n", l)
				if windows == 0 {
					first = l
				}
				last = l
				windows++
			}
		}
	})
	d.offer(ctx, sched, st, start, &sent)
	close(stop)
	wg.Wait()
	fmt.Fprintln(out)
	if d.cfg.profile == endurance && windows > 1 {
		fmt.Fprintf(out, "drift over %d windows: p99 %.2f -> %.2f ms", windows, ms(first.p99), ms(last.p99))
		for _, w := range d.cfg.watch {
			fmt.Fprintf(out, ", %s RSS %.0f -> %.0f MiB", w.name, mib(first.rss[w.name]), mib(last.rss[w.name]))
		}
		fmt.Fprintln(out)
	}
}

// windowLine is one endurance window's summary.
type windowLine struct {
	k        int
	n, errs  int
	p50, p99 time.Duration
	rss      map[string]int64
	names    []string
}

func (l windowLine) String() string {
	s := fmt.Sprintf("window %3d: %7d orders  p50 %7.2f ms  p99 %7.2f ms  errors %d", l.k+1, l.n, ms(l.p50), ms(l.p99), l.errs)
	for _, n := range l.names {
		s += fmt.Sprintf("  %s %.0f MiB", n, mib(l.rss[n]))
	}
	return s
}

func (d *driver) windowLine(st *stats, k int) windowLine {
	st.mu.Lock()
	l := append([]time.Duration(nil), st.windows[k]...)
	errs := st.werrs[k]
	st.mu.Unlock()
	sort.Slice(l, func(i, j int) bool { return l[i] < l[j] })
	u := treeUsage(d.cfg.watch)
	w := windowLine{k: k, n: len(l), errs: errs, p50: percentile(l, .5), p99: percentile(l, .99), rss: map[string]int64{}}
	for _, p := range d.cfg.watch {
		w.rss[p.name] = u[p.name].rss
		w.names = append(w.names, p.name)
	}
	return w
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

// stress raises the rate step by step until a step's placement p99 passes the bound or a
// request fails, and reports the knee. Each step is a steady schedule of its own; the next
// starts once the last answer of the previous one came back.
func (d *driver) stress(ctx context.Context, out io.Writer) (*stats, error) {
	all := newStats(d.cfg.window)
	fmt.Fprintf(out, "profile stress: from %.0f/s, x%.2f every %s, until p99 > %s\n", d.cfg.rate, d.cfg.stepFactor, d.cfg.stepDuration, d.cfg.p99Bound)
	fmt.Fprintf(out, "%10s %10s %9s %9s %9s %7s\n", "rate", "achieved", "p50 ms", "p99 ms", "p99.9 ms", "errors")
	knee, kneeP99 := 0.0, time.Duration(0)
	for rate := d.cfg.rate; rate <= d.cfg.maxRate && ctx.Err() == nil; rate *= d.cfg.stepFactor {
		st := newStats(d.cfg.window)
		var sent atomic.Int64
		stepStart := time.Now()
		d.offer(ctx, piecewise{{rate, d.cfg.stepDuration}}, st, stepStart, &sent)
		merge(all, st)
		l := append([]time.Duration(nil), st.lat["POST /orders"]...)
		sort.Slice(l, func(i, j int) bool { return l[i] < l[j] })
		p99 := percentile(l, .99)
		fmt.Fprintf(out, "%10.0f %10.0f %9.2f %9.2f %9.2f %7d\n", rate, float64(st.placed.Load())/d.cfg.stepDuration.Seconds(),
			ms(percentile(l, .5)), ms(p99), ms(percentile(l, .999)), st.bad.Load())
		if p99 > d.cfg.p99Bound || st.bad.Load() > 0 {
			if knee == 0 {
				fmt.Fprintf(out, "knee: below %.0f/s: the first step already had p99 %.2f ms (bound %s) or errors\n", rate, ms(p99), d.cfg.p99Bound)
			} else {
				fmt.Fprintf(out, "knee: %.0f orders/s (p99 %.2f ms); at %.0f/s p99 was %.2f ms with %d errors (bound %s)\n", knee, ms(kneeP99), rate, ms(p99), st.bad.Load(), d.cfg.p99Bound)
			}
			return all, nil
		}
		knee, kneeP99 = rate, p99
	}
	fmt.Fprintf(out, "no knee up to %.0f/s (p99 %.2f ms at the last step)\n", knee, ms(kneeP99))
	return all, nil
}

// merge adds st's figures to all.
func merge(all, st *stats) {
	all.mu.Lock()
	defer all.mu.Unlock()
	for k, l := range st.lat {
		all.lat[k] = append(all.lat[k], l...)
	}
	for k, n := range st.errs {
		all.errs[k] += n
	}
	all.ok.Add(st.ok.Load())
	all.bad.Add(st.bad.Load())
	all.placed.Add(st.placed.Load())
	all.dropped.Add(st.dropped.Load())
}

func report(out io.Writer, st *stats, window time.Duration) {
	var names []string
	for k := range st.lat {
		names = append(names, k)
	}
	sort.Strings(names)
	fmt.Fprintf(out, "\n%-22s %9s %9s %9s %9s %9s %9s %9s\n", "endpoint", "ok", "per s", "p50 ms", "p95 ms", "p99 ms", "p99.9 ms", "max ms")
	for _, n := range names {
		l := st.lat[n]
		sort.Slice(l, func(i, j int) bool { return l[i] < l[j] })
		fmt.Fprintf(out, "%-22s %9d %9.0f %9.2f %9.2f %9.2f %9.2f %9.2f\n", n, len(l), float64(len(l))/window.Seconds(),
			ms(percentile(l, .50)), ms(percentile(l, .95)), ms(percentile(l, .99)), ms(percentile(l, .999)), ms(percentile(l, 1)))
	}
	fmt.Fprintf(out, "errors: %d (dropped at the in-flight cap: %d)\n", st.bad.Load(), st.dropped.Load())
	var kinds []string
	for k := range st.errs {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	for _, k := range kinds {
		fmt.Fprintf(out, "  %-40s %d\n", k, st.errs[k])
	}
}

// reportCPU prints each watched process tree's CPU time over the run and per successful
// placement.
func reportCPU(out io.Writer, ws []watched, before, after map[string]usage, placed int64, elapsed time.Duration) {
	fmt.Fprintf(out, "\n%-12s %10s %12s %8s %10s\n", "process", "CPU s", "ms/order", "cores", "RSS MiB")
	var total float64
	for _, w := range ws {
		cpu := after[w.name].cpu - before[w.name].cpu
		total += cpu
		fmt.Fprintf(out, "%-12s %10.2f %12.4f %8.2f %10.0f\n", w.name, cpu, perOrder(cpu, placed), cpu/elapsed.Seconds(), mib(after[w.name].rss))
	}
	fmt.Fprintf(out, "%-12s %10.2f %12.4f %8.2f\n", "all", total, perOrder(total, placed), total/elapsed.Seconds())
	fmt.Fprintf(out, "(%d orders placed in %.1fs)\n", placed, elapsed.Seconds())
}

func perOrder(cpu float64, placed int64) float64 {
	if placed == 0 {
		return 0
	}
	return cpu * 1000 / float64(placed)
}
