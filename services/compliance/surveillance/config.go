package surveillance

import (
	"errors"
	"fmt"
	"time"
)

// Config holds every threshold of the detectors. Start from Default and change what you need;
// New validates it.
type Config struct {
	// Wash trades. A trade whose maker and taker have one beneficial owner is a wash trade at
	// once. Between accounts of different owners, trades back and forth that net to no change of
	// position for both within WashWindow, at prices at most WashMaxPriceTicks apart, are a
	// round trip (a pre-arranged wash). Each leg of a round trip must be a matched trade: the
	// resting order entered at most WashMatchWindow before the trade, and the two orders filled
	// each other completely (the same quantity, no one else involved), as pre-arranged orders
	// do; offsetting trades that happen by chance between honest traders rarely look like that.
	WashWindow        time.Duration // default 60s
	WashMaxPriceTicks int64         // default 1
	WashMatchWindow   time.Duration // default 2s
	WashMaxPairTrades int           // trades remembered per account pair; default 32

	// Spoofing: a new order of at least max(SpoofMinQty, SpoofSizeMultiple × the market's
	// average order size) within SpoofNearTouchTicks of the touch on its side; an own trade on
	// the opposite side within SpoofTradeWindow of it; then the order cancelled within
	// SpoofCancelWindow of that trade with at least SpoofMinCancelledFraction of its quantity
	// unfilled.
	SpoofMinQty               int64         // lots; default 1
	SpoofSizeMultiple         float64       // default 5
	SpoofNearTouchTicks       int64         // default 5
	SpoofTradeWindow          time.Duration // default 10s
	SpoofCancelWindow         time.Duration // default 10s
	SpoofMinCancelledFraction float64       // default 0.8
	// AvgSizeWeight is the weight of each new order in the market's exponentially weighted
	// average order size. Default 0.01 (about the last 100 orders).
	AvgSizeWeight float64

	// Layering: at least LayerMinOrders own orders on one side at distinct prices, each at most
	// LayerMaxGapTicks from the next (successive levels), all placed within LayerPlaceWindow
	// before an own trade on the opposite side; then at least LayerMinOrders of them cancelled,
	// each with at least LayerMinCancelledFraction unfilled, within LayerCancelWindow of the
	// trade and within LayerCancelSpread of each other (a ladder is withdrawn at once; a market
	// maker's random cancels are spread out).
	LayerMinOrders            int           // default 3
	LayerMaxGapTicks          int64         // default 2
	LayerPlaceWindow          time.Duration // default 5s
	LayerCancelWindow         time.Duration // default 5s
	LayerCancelSpread         time.Duration // default 1s
	LayerMinCancelledFraction float64       // default 0.8

	// Order-to-trade ratio (RTS 9 Art. 3) per account and market per session: number ratio
	// (messages / transactions) − 1 and volume ratio (message volume / traded volume) − 1. An
	// alert when either exceeds its maximum, for accounts that sent at least OTRMinMessages
	// messages in the session. Sessions are SessionLength long, starting at SessionOffset after
	// midnight UTC.
	OTRMaxNumberRatio float64       // default 100
	OTRMaxVolumeRatio float64       // default 100
	OTRMinMessages    int           // default 50
	SessionLength     time.Duration // default 24h
	SessionOffset     time.Duration // default 0

	// Quote stuffing: more than StuffMaxMessages messages (new, modify, cancel, reject) of one
	// account within any StuffWindow. One alert per burst, when it ends.
	StuffWindow      time.Duration // default 1s
	StuffMaxMessages int           // default 50

	// OrderTTL is how long a resting order is remembered: older orders are forgotten (their
	// later fills and cancels still count for the ratios). Default 1h.
	OrderTTL time.Duration
	// MaxIDsPerAlert caps the order and trade ids listed in one alert. Default 50.
	MaxIDsPerAlert int
}

// Default returns the documented defaults.
func Default() Config {
	return Config{
		WashWindow:        60 * time.Second,
		WashMaxPriceTicks: 1,
		WashMatchWindow:   2 * time.Second,
		WashMaxPairTrades: 32,

		SpoofMinQty:               1,
		SpoofSizeMultiple:         5,
		SpoofNearTouchTicks:       5,
		SpoofTradeWindow:          10 * time.Second,
		SpoofCancelWindow:         10 * time.Second,
		SpoofMinCancelledFraction: 0.8,
		AvgSizeWeight:             0.01,

		LayerMinOrders:            3,
		LayerMaxGapTicks:          2,
		LayerPlaceWindow:          5 * time.Second,
		LayerCancelWindow:         5 * time.Second,
		LayerCancelSpread:         time.Second,
		LayerMinCancelledFraction: 0.8,

		OTRMaxNumberRatio: 100,
		OTRMaxVolumeRatio: 100,
		OTRMinMessages:    50,
		SessionLength:     24 * time.Hour,

		StuffWindow:      time.Second,
		StuffMaxMessages: 50,

		OrderTTL:       time.Hour,
		MaxIDsPerAlert: 50,
	}
}

// Validate reports the first setting that cannot work.
func (c Config) Validate() error {
	var errs []error
	pos := func(name string, d time.Duration) {
		if d <= 0 {
			errs = append(errs, fmt.Errorf("%s must be positive", name))
		}
	}
	pos("WashWindow", c.WashWindow)
	pos("SpoofTradeWindow", c.SpoofTradeWindow)
	pos("SpoofCancelWindow", c.SpoofCancelWindow)
	pos("LayerPlaceWindow", c.LayerPlaceWindow)
	pos("LayerCancelWindow", c.LayerCancelWindow)
	pos("LayerCancelSpread", c.LayerCancelSpread)
	pos("WashMatchWindow", c.WashMatchWindow)
	pos("SessionLength", c.SessionLength)
	pos("StuffWindow", c.StuffWindow)
	pos("OrderTTL", c.OrderTTL)
	frac := func(name string, f float64) {
		if f < 0 || f > 1 {
			errs = append(errs, fmt.Errorf("%s must be within [0, 1]", name))
		}
	}
	frac("SpoofMinCancelledFraction", c.SpoofMinCancelledFraction)
	frac("LayerMinCancelledFraction", c.LayerMinCancelledFraction)
	frac("AvgSizeWeight", c.AvgSizeWeight)
	if c.WashMaxPairTrades < 2 {
		errs = append(errs, errors.New("WashMaxPairTrades must be at least 2"))
	}
	if c.LayerMinOrders < 2 {
		errs = append(errs, errors.New("LayerMinOrders must be at least 2"))
	}
	if c.StuffMaxMessages < 1 || c.MaxIDsPerAlert < 1 {
		errs = append(errs, errors.New("StuffMaxMessages and MaxIDsPerAlert must be at least 1"))
	}
	if c.WashMaxPriceTicks < 0 || c.SpoofNearTouchTicks < 0 || c.LayerMaxGapTicks < 1 || c.SpoofMinQty < 1 {
		errs = append(errs, errors.New("tick and quantity thresholds out of range"))
	}
	if c.SpoofSizeMultiple < 0 || c.OTRMaxNumberRatio < 0 || c.OTRMaxVolumeRatio < 0 || c.OTRMinMessages < 0 {
		errs = append(errs, errors.New("multiples and ratios must not be negative"))
	}
	if c.SessionOffset < 0 || c.SessionOffset >= c.SessionLength {
		errs = append(errs, errors.New("SessionOffset must be within [0, SessionLength)"))
	}
	return errors.Join(errs...)
}
