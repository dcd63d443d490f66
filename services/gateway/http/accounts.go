package http

import (
	"context"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/cantondex/platform/services/decimal"
	"github.com/cantondex/platform/services/trading"
)

type balanceJSON struct {
	Asset     string `json:"asset"`
	Total     string `json:"total"`
	Held      string `json:"held"`
	Available string `json:"available"`
}

func (s *Server) balancesOf(ctx context.Context, account string, scales map[string]int) ([]balanceJSON, error) {
	bs, err := s.deps.Accounts.Balances(ctx, account)
	if err != nil {
		return nil, err
	}
	out := make([]balanceJSON, len(bs))
	for i, b := range bs {
		sc := scales[b.Asset]
		out[i] = balanceJSON{Asset: b.Asset, Total: decimal.Format(b.Total, sc), Held: decimal.Format(b.Held, sc), Available: decimal.Format(b.Available, sc)}
	}
	return out, nil
}

func (s *Server) balances(c echo.Context) error {
	ctx := c.Request().Context()
	scales, err := s.assetScales(ctx)
	if err != nil {
		return err
	}
	out, err := s.balancesOf(ctx, principal(c).UserID, scales)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, page(out, ""))
}

// fillJSON is one of the caller's fills, in the form the stream's fills channel sends too.
// Fee and FeeAsset are null for a trade settled before fees were recorded with trades.
type fillJSON = trading.Fill

// fillOut is account's side of t in market m; scales are the assets' scales, in which a
// fee is formatted as balances are.
func fillOut(account string, t trading.Trade, m trading.MarketDef, st steps, scales map[string]int) fillJSON {
	f := fillJSON{TradeID: t.ID, Market: t.Market, Price: st.Price(t.Price), Quantity: st.Qty(t.Quantity), ExecutedAt: timestamp(t.ExecutedAt)}
	maker := t.TakerAccount != account
	if !maker {
		f.OrderID, f.Side, f.Liquidity = t.TakerOrderID, string(t.TakerSide), "taker"
	} else {
		f.OrderID, f.Liquidity = t.MakerOrderID, "maker"
		f.Side = string(trading.Buy)
		if t.TakerSide == trading.Buy {
			f.Side = string(trading.Sell)
		}
	}
	if fee, asset, ok := t.Fee(m, maker); ok {
		if sc, known := scales[asset]; known {
			amount := decimal.Format(fee, sc)
			f.Fee, f.FeeAsset = &amount, &asset
		}
	}
	return f
}

func (s *Server) fills(c echo.Context) error {
	ctx := c.Request().Context()
	cursor := c.QueryParam("cursor")
	if len(cursor) > 256 {
		return trading.Errorf(trading.EINVALID, "invalid cursor")
	}
	limit, err := intQuery(c, "limit", 50, 1, 500)
	if err != nil {
		return err
	}
	account := principal(c).UserID
	p, err := s.deps.Accounts.AccountTrades(ctx, account, cursor, limit)
	if err != nil {
		return err
	}
	scales, err := s.assetScales(ctx)
	if err != nil {
		return err
	}
	cache := s.stepsCache(ctx)
	out := make([]fillJSON, len(p.Items))
	for i, t := range p.Items {
		m, st, err := cache.market(t.Market)
		if err != nil {
			return err
		}
		out[i] = fillOut(account, t, m, st, scales)
	}
	return c.JSON(http.StatusOK, page(out, p.NextCursor))
}

type positionJSON struct {
	Market   string `json:"market"`
	Base     string `json:"base"`
	QuoteNet string `json:"quote_net"`
}

type portfolioJSON struct {
	Balances   []balanceJSON  `json:"balances"`
	Positions  []positionJSON `json:"positions"`
	OpenOrders []orderJSON    `json:"open_orders"`
}

func (s *Server) portfolio(c echo.Context) error {
	ctx := c.Request().Context()
	account := principal(c).UserID
	scales, err := s.assetScales(ctx)
	if err != nil {
		return err
	}
	out := portfolioJSON{Positions: []positionJSON{}, OpenOrders: []orderJSON{}}
	if out.Balances, err = s.balancesOf(ctx, account, scales); err != nil {
		return err
	}
	ms, err := s.deps.Markets.Markets(ctx)
	if err != nil {
		return err
	}
	defs := map[string]trading.MarketDef{}
	for _, m := range ms {
		defs[m.Symbol] = m
	}
	ps, err := s.deps.Accounts.Positions(ctx, account)
	if err != nil {
		return err
	}
	for _, p := range ps {
		m := defs[p.Market]
		out.Positions = append(out.Positions, positionJSON{Market: p.Market,
			Base: decimal.Format(p.Base, scales[m.Base]), QuoteNet: decimal.Format(p.QuoteNet, scales[m.Quote])})
	}
	open, err := s.deps.Orders.ListOrders(ctx, trading.OrderFilter{Account: account, OpenOnly: true, Limit: 500})
	if err != nil {
		return err
	}
	cache := s.stepsCache(ctx)
	for _, o := range open.Items {
		st, err := cache.of(o.Market)
		if err != nil {
			return err
		}
		out.OpenOrders = append(out.OpenOrders, orderOut(o, st))
	}
	return c.JSON(http.StatusOK, out)
}
