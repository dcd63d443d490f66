package flow

import (
	"container/heap"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/cantondex/platform/services/matching"
)

// RegimeMarket is the market of the regime flows: tick 0.005, lot 1 (quantities 1 - 100 lots).
var RegimeMarket = matching.Market{Symbol: "SIM-USD", TickSize: "0.005", LotSize: "1"}

// RegimeMid is the regimes' starting mid price in ticks: 100.000 at tick 0.005.
const RegimeMid = 20_000

// Regime describes a flow of the cross-engine methodology: orders arrive one per step around a
// mid price that follows geometric Brownian motion (plus a deterministic swing or flash crash),
// at a distance from the mid drawn from a power law; resting orders are later cancelled or
// modified, and a few cancels and modifications name orders that are already gone.
type Regime struct {
	Orders int    // new orders (the flow holds them plus their cancels and modifications)
	Seed   uint64 // same seed, same flow

	Vol   float64 // volatility of the log mid over the whole run (GBM); 0: a constant mid
	Swing float64 // the mid rises by this fraction over the first half of the run and returns in the second
	Crash float64 // flash crash: at mid-run the mid falls by this fraction within 1% of the run, recovering over the next 5%

	Alpha   float64 // power-law exponent of the distance from the mid: density ∝ d^-Alpha for d >= MinDist
	MinDist float64 // ticks, the power law's scale
	MaxDist float64 // ticks, a cap on the distance (0: half the mid)

	IOC      float64 // share of new orders that are IOC, priced through the mid by a power-law distance
	IOCDist  float64 // ticks, the scale of the IOC orders' power law (0: MinDist)
	Cancel   float64 // share of resting orders that are eventually cancelled
	Modify   float64 // share of resting orders modified once (open quantity + 1) before any cancel
	Reprice  float64 // share of modifications that also move the price by one tick
	Ghost    float64 // share of cancels and modifications that name an order already gone (rejected)
	Lifetime float64 // mean delay, in arrivals, from an order's arrival to its cancel (exponential)
	Accounts int     // distinct accounts
}

// Regimes are the named regimes: the five of the cross-engine methodology (gbm-0, gbm-0.15,
// swing-25, swing-40, crash-60) and addcancel, plain add/cancel around a moving mid. Each holds a
// million orders. Named also knows venue (the Venue regime) and exchange-core and deep (flows of
// Generate).
var Regimes = map[string]Regime{
	"gbm-0":     methodology(0, 0, 0),
	"gbm-0.15":  methodology(0.15, 0, 0),
	"swing-25":  methodology(0.15, 0.25, 0),
	"swing-40":  methodology(0.15, 0.40, 0),
	"crash-60":  methodology(0.15, 0, 0.60),
	"addcancel": {Orders: 1_000_000, Seed: 1, Vol: 0.15, Alpha: 2.23, MinDist: 1, MaxDist: 50, Cancel: 1, Lifetime: 1000, Accounts: 1000},
}

func methodology(vol, swing, crash float64) Regime {
	return Regime{Orders: 1_000_000, Seed: 1, Vol: vol, Swing: swing, Crash: crash,
		Alpha: 2.23, MinDist: 2, IOC: 0.15, Cancel: 0.95, Modify: 0.20, Reprice: 0.80, Ghost: 0.02,
		Lifetime: 2000, Accounts: 1000}
}

// Venue is a venue-shaped flow on a dense book of about 15,000 resting orders (peak 20,000)
// around a slowly moving mid: 55 % new GTC orders, 15 % IOC, 27 % cancels, 3 % modifies. It
// imitates a 42.5 / 15 / 37.6 / 5 % mix; half of its orders fill before their cancel is due.
var Venue = Regime{Orders: 1_150_000, Seed: 1, Vol: 0.003, Alpha: 2.23, MinDist: 1, MaxDist: 2000,
	IOC: 0.21, IOCDist: 0.5, Cancel: 1, Modify: 0.1, Reprice: 0.8, Lifetime: 40_000, Accounts: 1000}

// Named returns a named flow and its market: "venue", a key of Regimes, "exchange-core" (the
// Generate flow with ExchangeCore's mix on a 1,000-order book) or "deep" (the same on 50,000
// resting orders over 5,000 levels). orders scales the size (0: the default: a million orders
// for the regimes, 2,000,000 commands for exchange-core and deep).
func Named(name string, orders int, seed uint64) (Flow, matching.Market, error) {
	cfg := func(n, depth, accounts int, spread int64) (Flow, matching.Market, error) {
		if orders > 0 {
			n = orders
		}
		m := matching.Market{Symbol: "BTC-USD", TickSize: "0.01", LotSize: "0.0001"}
		f, err := Generate(Config{Market: m, Commands: n, Depth: depth, Accounts: accounts, Mix: ExchangeCore,
			Seed: seed, Mid: 10_000_000, Spread: spread})
		return f, m, err
	}
	var r Regime
	switch name {
	case "exchange-core":
		return cfg(2_000_000, 1_000, 100, 200)
	case "deep":
		return cfg(2_000_000, 50_000, 1000, 2_500)
	case "venue":
		r = Venue
	default:
		var ok bool
		if r, ok = Regimes[name]; !ok {
			return Flow{}, matching.Market{}, fmt.Errorf("flow: unknown regime %q (known: %s)", name, strings.Join(Names(), ", "))
		}
	}
	if orders > 0 {
		r.Orders = orders
	}
	r.Seed = seed
	f, err := r.Generate()
	return f, RegimeMarket, err
}

// Names lists the names Named knows, sorted.
func Names() []string {
	names := []string{"exchange-core", "deep", "venue"}
	for n := range Regimes {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// action is a scheduled cancel or modification of one order.
type action struct {
	due    int // arrival step
	order  int // tie-break: scheduling order, so the flow is deterministic
	id     string
	modify bool
}

type actions []action

func (a actions) Len() int { return len(a) }
func (a actions) Less(i, j int) bool {
	return a[i].due < a[j].due || (a[i].due == a[j].due && a[i].order < a[j].order)
}
func (a actions) Swap(i, j int) { a[i], a[j] = a[j], a[i] }
func (a *actions) Push(x any)   { *a = append(*a, x.(action)) }
func (a *actions) Pop() any {
	old := *a
	x := old[len(old)-1]
	*a = old[:len(old)-1]
	return x
}

// Generate builds the regime's flow (all of it in Commands; the book starts empty). It drives
// a real book, so every scheduled cancel or modification names an order that is resting when
// it is sent, except the Ghost share, which names orders filled or cancelled earlier.
func (r Regime) Generate() (Flow, error) {
	switch {
	case r.Orders <= 0 || r.Accounts <= 0 || r.Alpha <= 1 || r.MinDist <= 0 || r.Lifetime <= 0:
		return Flow{}, fmt.Errorf("flow: regime needs orders, accounts, lifetime > 0, min distance > 0 and alpha > 1")
	case r.Swing < 0 || r.Swing >= 1 || r.Crash < 0 || r.Crash >= 1 || r.Vol < 0:
		return Flow{}, fmt.Errorf("flow: regime swing and crash must be in [0, 1), vol >= 0")
	}
	book, err := matching.NewBook(RegimeMarket)
	if err != nil {
		return Flow{}, err
	}
	rng := rand.New(rand.NewPCG(r.Seed, r.Seed^0x243f6a8885a308d3))
	accounts := make([]string, r.Accounts)
	for i := range accounts {
		accounts[i] = fmt.Sprintf("acct-%d", i)
	}
	var (
		f       Flow
		events  []matching.Event
		pending actions
		gone    []string // ids no longer resting, most recent last (a window of them)
		logW    float64  // Brownian motion of the log mid
		nextAct int
	)
	const goneWindow = 4096
	step := r.Vol / math.Sqrt(float64(r.Orders))
	emit := func(c matching.Command) {
		c.Seq = uint64(len(f.Commands) + 1)
		events = book.Apply(c, events[:0])
		f.Commands = append(f.Commands, c)
		for _, e := range events {
			switch {
			case e.Type == matching.EvCancelled:
				gone = append(gone, e.ID)
			case e.Type == matching.EvTrade && e.MakerRemaining == 0:
				gone = append(gone, e.MakerID)
			}
		}
		if len(gone) > 2*goneWindow {
			gone = append(gone[:0], gone[len(gone)-goneWindow:]...)
		}
	}
	ghost := func() {
		if len(gone) == 0 || rng.Float64() >= r.Ghost/(1-r.Ghost) {
			return
		}
		id := gone[len(gone)-1-rng.IntN(min(len(gone), goneWindow))]
		if rng.IntN(2) == 0 {
			emit(matching.Command{Op: matching.OpCancel, ID: id})
		} else {
			emit(matching.Command{Op: matching.OpModify, ID: id, Qty: 2})
		}
	}
	for t := 0; t < r.Orders; t++ {
		// Scheduled cancels and modifications due now, of orders still resting.
		for len(pending) > 0 && pending[0].due <= t {
			a := heap.Pop(&pending).(action)
			o, ok := book.Order(a.id)
			if !ok {
				continue
			}
			c := matching.Command{Op: matching.OpCancel, ID: a.id}
			if a.modify {
				c = matching.Command{Op: matching.OpModify, ID: a.id, Qty: o.Qty + 1}
				if rng.Float64() < r.Reprice {
					c.Price = o.Price + int64(1-2*rng.IntN(2))
				}
			}
			emit(c)
			ghost()
		}
		logW += step * rng.NormFloat64()
		mid := RegimeMid * math.Exp(logW) * r.shape(float64(t)/float64(r.Orders))
		maxDist := r.MaxDist
		if maxDist <= 0 {
			maxDist = mid / 2
		}
		d := min(maxDist, r.MinDist*math.Pow(1-rng.Float64(), -1/(r.Alpha-1)))
		side := matching.Side(1 + rng.IntN(2))
		tif := matching.GTC
		if rng.Float64() < r.IOC {
			tif, d = matching.IOC, -d // through the mid
			if r.IOCDist > 0 {
				d *= r.IOCDist / r.MinDist
			}
		}
		price := int64(math.Floor(mid - d))
		if side == matching.Sell {
			price = int64(math.Ceil(mid + d))
		}
		id := fmt.Sprintf("r%d", t)
		emit(matching.Command{Op: matching.OpNew, ID: id, Account: accounts[rng.IntN(len(accounts))], Side: side,
			Type: matching.Limit, TIF: tif, Price: max(1, price), Qty: 1 + int64(rng.IntN(100))})
		if _, rests := book.Order(id); !rests {
			continue
		}
		life := rng.ExpFloat64() * r.Lifetime
		if rng.Float64() < r.Modify {
			nextAct++
			heap.Push(&pending, action{due: t + 1 + int(rng.Float64()*life), order: nextAct, id: id, modify: true})
		}
		if rng.Float64() < r.Cancel {
			nextAct++
			heap.Push(&pending, action{due: t + 2 + int(life), order: nextAct, id: id})
		}
	}
	return f, nil
}

// shape is the deterministic part of the mid at fraction x of the run: a swing up and back,
// or a flash crash at mid-run.
func (r Regime) shape(x float64) float64 {
	s := 1.0
	if r.Swing > 0 {
		s *= 1 + r.Swing*(1-math.Abs(2*x-1))
	}
	if r.Crash > 0 {
		switch {
		case x >= 0.5 && x < 0.51:
			s *= 1 - r.Crash*(x-0.5)/0.01
		case x >= 0.51 && x < 0.56:
			s *= 1 - r.Crash*(0.56-x)/0.05
		}
	}
	return s
}
