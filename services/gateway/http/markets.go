package http

import (
	"context"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/cantondex/platform/services/trading"
)

// market looks a market up with the steps to convert its numbers.
func (s *Server) market(ctx context.Context, symbol string) (trading.MarketDef, steps, error) {
	if !trading.ValidMarketSymbol(symbol) {
		return trading.MarketDef{}, steps{}, trading.Errorf(trading.ENOTFOUND, "market not found")
	}
	m, err := s.deps.Markets.Market(ctx, symbol)
	if err != nil {
		return trading.MarketDef{}, steps{}, err
	}
	st, err := stepsOf(m)
	return m, st, err
}

// marketSteps memoises the definitions and steps of the markets one response mentions.
type marketSteps struct {
	s    *Server
	ctx  context.Context
	seen map[string]marketSeen
}

type marketSeen struct {
	def trading.MarketDef
	st  steps
}

func (s *Server) stepsCache(ctx context.Context) *marketSteps {
	return &marketSteps{s: s, ctx: ctx, seen: map[string]marketSeen{}}
}

func (m *marketSteps) of(symbol string) (steps, error) {
	_, st, err := m.market(symbol)
	return st, err
}

func (m *marketSteps) market(symbol string) (trading.MarketDef, steps, error) {
	if ms, ok := m.seen[symbol]; ok {
		return ms.def, ms.st, nil
	}
	def, st, err := m.s.cachedMarket(m.ctx, symbol)
	if err != nil {
		return def, st, err
	}
	m.seen[symbol] = marketSeen{def: def, st: st}
	return def, st, nil
}

// marketSpec is a market's definition as decimal strings, as an admin creates it.
type marketSpec struct {
	Symbol      string `json:"symbol"`
	Base        string `json:"base"`
	Quote       string `json:"quote"`
	TickSize    string `json:"tick_size"`
	LotSize     string `json:"lot_size"`
	MinPrice    string `json:"min_price"`
	MaxPrice    string `json:"max_price"`
	MinQuantity string `json:"min_quantity"`
	MaxQuantity string `json:"max_quantity"`
}

type marketJSON struct {
	marketSpec
	Halted    bool   `json:"halted"`
	CreatedAt string `json:"created_at"`
}

func marketOut(m trading.MarketDef, st steps) marketJSON {
	return marketJSON{marketSpec: marketSpec{Symbol: m.Symbol, Base: m.Base, Quote: m.Quote, TickSize: m.TickSize, LotSize: m.LotSize,
		MinPrice: st.Price(m.MinPrice), MaxPrice: st.Price(m.MaxPrice), MinQuantity: st.Qty(m.MinQty), MaxQuantity: st.Qty(m.MaxQty)},
		Halted: m.Halted, CreatedAt: timestamp(m.CreatedAt)}
}

func (s *Server) listMarkets(c echo.Context) error {
	ms, err := s.deps.Markets.Markets(c.Request().Context())
	if err != nil {
		return err
	}
	out := make([]marketJSON, 0, len(ms))
	for _, m := range ms {
		st, err := stepsOf(m)
		if err != nil {
			return err
		}
		out = append(out, marketOut(m, st))
	}
	return c.JSON(http.StatusOK, page(out, ""))
}

func (s *Server) getMarket(c echo.Context) error {
	m, st, err := s.market(c.Request().Context(), c.Param("market"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, marketOut(m, st))
}

type levelJSON struct {
	Price    string `json:"price"`
	Quantity string `json:"quantity"`
	Orders   int    `json:"orders"`
}

type bookJSON struct {
	Market   string      `json:"market"`
	Bids     []levelJSON `json:"bids"`
	Asks     []levelJSON `json:"asks"`
	Sequence uint64      `json:"sequence"`
	// LastUpdateID is the id of the last book change the snapshot reflects.
	LastUpdateID uint64 `json:"last_update_id"`
}

func levelsOut(ls []trading.Level, st steps) []levelJSON {
	out := make([]levelJSON, len(ls))
	for i, l := range ls {
		out[i] = levelJSON{Price: st.Price(l.Price), Quantity: st.Qty(l.Quantity), Orders: l.Orders}
	}
	return out
}

func (s *Server) book(c echo.Context) error {
	ctx := c.Request().Context()
	depth, err := intQuery(c, "depth", 20, 1, 500)
	if err != nil {
		return err
	}
	m, st, err := s.market(ctx, c.Param("market"))
	if err != nil {
		return err
	}
	b, err := s.deps.Markets.Book(ctx, m.Symbol, depth)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, bookJSON{Market: m.Symbol, Bids: levelsOut(b.Bids, st), Asks: levelsOut(b.Asks, st), Sequence: b.Seq, LastUpdateID: b.UpdateID})
}

type tradeJSON struct {
	ID         string `json:"id"`
	Market     string `json:"market"`
	Price      string `json:"price"`
	Quantity   string `json:"quantity"`
	TakerSide  string `json:"taker_side"`
	ExecutedAt string `json:"executed_at"`
}

func (s *Server) marketTrades(c echo.Context) error {
	ctx := c.Request().Context()
	limit, err := intQuery(c, "limit", 50, 1, 500)
	if err != nil {
		return err
	}
	m, st, err := s.market(ctx, c.Param("market"))
	if err != nil {
		return err
	}
	ts, err := s.deps.Markets.MarketTrades(ctx, m.Symbol, limit)
	if err != nil {
		return err
	}
	out := make([]tradeJSON, len(ts))
	for i, t := range ts {
		out[i] = tradeJSON{ID: t.ID, Market: t.Market, Price: st.Price(t.Price), Quantity: st.Qty(t.Quantity),
			TakerSide: string(t.TakerSide), ExecutedAt: timestamp(t.ExecutedAt)}
	}
	return c.JSON(http.StatusOK, page(out, ""))
}

type tickerJSON struct {
	Market    string  `json:"market"`
	Last      *string `json:"last"`
	BestBid   *string `json:"best_bid"`
	BestAsk   *string `json:"best_ask"`
	Volume24h string  `json:"volume_24h"`
	High24h   *string `json:"high_24h"`
	Low24h    *string `json:"low_24h"`
}

func (s *Server) ticker(c echo.Context) error {
	ctx := c.Request().Context()
	m, st, err := s.market(ctx, c.Param("market"))
	if err != nil {
		return err
	}
	t, err := s.deps.Markets.Ticker(ctx, m.Symbol)
	if err != nil {
		return err
	}
	opt := func(ticks int64) *string {
		if ticks == 0 {
			return nil
		}
		p := st.Price(ticks)
		return &p
	}
	return c.JSON(http.StatusOK, tickerJSON{Market: m.Symbol, Last: opt(t.Last), BestBid: opt(t.BestBid), BestAsk: opt(t.BestAsk),
		Volume24h: st.Qty(t.Volume24h), High24h: opt(t.High24h), Low24h: opt(t.Low24h)})
}
