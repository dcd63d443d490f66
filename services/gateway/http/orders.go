package http

import (
	"context"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/cantondex/platform/services/trading"
)

type placeOrderRequest struct {
	Market        string  `json:"market"`
	Side          string  `json:"side"`
	Type          string  `json:"type"`
	Price         *string `json:"price"`
	Quantity      string  `json:"quantity"`
	TimeInForce   string  `json:"time_in_force"`
	PostOnly      bool    `json:"post_only"`
	ClientOrderID string  `json:"client_order_id"`
}

type orderJSON struct {
	ID                string  `json:"id"`
	ClientOrderID     *string `json:"client_order_id"`
	Market            string  `json:"market"`
	Side              string  `json:"side"`
	Type              string  `json:"type"`
	TimeInForce       string  `json:"time_in_force"`
	PostOnly          bool    `json:"post_only"`
	Price             *string `json:"price"`
	Quantity          string  `json:"quantity"`
	FilledQuantity    string  `json:"filled_quantity"`
	RemainingQuantity string  `json:"remaining_quantity"`
	Status            string  `json:"status"`
	Reason            *string `json:"reason"`
	CreatedAt         string  `json:"created_at"`
	UpdatedAt         string  `json:"updated_at"`
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func orderOut(o trading.Order, st steps) orderJSON {
	out := orderJSON{ID: o.ID, ClientOrderID: optional(o.ClientOrderID), Market: o.Market, Side: string(o.Side), Type: string(o.Type),
		TimeInForce: string(o.TimeInForce), PostOnly: o.PostOnly, Quantity: st.Qty(o.Quantity), FilledQuantity: st.Qty(o.Filled),
		RemainingQuantity: st.Qty(o.Remaining()), Status: string(o.Status), Reason: optional(o.Reason),
		CreatedAt: timestamp(o.CreatedAt), UpdatedAt: timestamp(o.UpdatedAt)}
	if o.Type == trading.Limit {
		out.Price = optional(st.Price(o.Price))
	}
	return out
}

// placeOrder decodes the request, maps it to a trading.PlaceOrder (orderEntry) and places it.
func (s *Server) placeOrder(c echo.Context) error {
	ctx := c.Request().Context()
	var req placeOrderRequest
	if err := decode(c, &req); err != nil {
		return err
	}
	po, st, err := s.orderEntry(ctx, principal(c).UserID, &req)
	if err != nil {
		return err
	}
	o, err := s.deps.Orders.PlaceOrder(ctx, po)
	if err != nil {
		return err
	}
	if c.Request().URL.RawQuery != "" { // ?pretty
		return c.JSON(http.StatusCreated, orderOut(o, st))
	}
	return c.JSONBlob(http.StatusCreated, appendOrder(make([]byte, 0, 512), o, st))
}

// orderEntry maps the request to a trading.PlaceOrder explicitly: decimals to ticks and lots,
// enumerations checked, defaults filled.
func (s *Server) orderEntry(ctx context.Context, account string, req *placeOrderRequest) (trading.PlaceOrder, steps, error) {
	if req.Market == "" {
		return trading.PlaceOrder{}, steps{}, trading.Errorf(trading.EINVALID, "market is required")
	}
	m, st, err := s.cachedMarket(ctx, req.Market)
	if err != nil {
		return trading.PlaceOrder{}, steps{}, err
	}
	po := trading.PlaceOrder{Account: account, Market: m.Symbol, PostOnly: req.PostOnly, ClientOrderID: req.ClientOrderID}
	switch trading.Side(req.Side) {
	case trading.Buy, trading.Sell:
		po.Side = trading.Side(req.Side)
	default:
		return trading.PlaceOrder{}, steps{}, trading.Errorf(trading.EINVALID, "side must be buy or sell")
	}
	switch trading.OrderType(req.Type) {
	case trading.Limit:
		po.Type, po.TimeInForce = trading.Limit, trading.GTC
		if req.Price == nil {
			return trading.PlaceOrder{}, steps{}, trading.Errorf(trading.EINVALID, "price is required for limit orders")
		}
		if po.Price, err = st.ParsePrice("price", *req.Price); err != nil {
			return trading.PlaceOrder{}, steps{}, err
		}
		if po.Price < m.MinPrice || po.Price > m.MaxPrice {
			return trading.PlaceOrder{}, steps{}, trading.Errorf(trading.EINVALID, "price must be from %s to %s", st.Price(m.MinPrice), st.Price(m.MaxPrice))
		}
	case trading.Market:
		po.Type, po.TimeInForce = trading.Market, trading.IOC
		if req.Price != nil {
			return trading.PlaceOrder{}, steps{}, trading.Errorf(trading.EINVALID, "market orders take no price")
		}
		if req.PostOnly {
			return trading.PlaceOrder{}, steps{}, trading.Errorf(trading.EINVALID, "market orders cannot be post-only")
		}
	default:
		return trading.PlaceOrder{}, steps{}, trading.Errorf(trading.EINVALID, "type must be limit or market")
	}
	if req.Quantity == "" {
		return trading.PlaceOrder{}, steps{}, trading.Errorf(trading.EINVALID, "quantity is required")
	}
	if po.Quantity, err = st.ParseQty("quantity", req.Quantity); err != nil {
		return trading.PlaceOrder{}, steps{}, err
	}
	if po.Quantity < m.MinQty || po.Quantity > m.MaxQty {
		return trading.PlaceOrder{}, steps{}, trading.Errorf(trading.EINVALID, "quantity must be from %s to %s", st.Qty(m.MinQty), st.Qty(m.MaxQty))
	}
	if req.TimeInForce != "" {
		switch tif := trading.TimeInForce(req.TimeInForce); {
		case tif != trading.GTC && tif != trading.IOC && tif != trading.FOK:
			return trading.PlaceOrder{}, steps{}, trading.Errorf(trading.EINVALID, "time_in_force must be GTC, IOC or FOK")
		case po.Type == trading.Market && tif == trading.GTC:
			return trading.PlaceOrder{}, steps{}, trading.Errorf(trading.EINVALID, "market orders are IOC or FOK")
		default:
			po.TimeInForce = tif
		}
	}
	if po.PostOnly && po.TimeInForce != trading.GTC {
		return trading.PlaceOrder{}, steps{}, trading.Errorf(trading.EINVALID, "post-only orders are GTC")
	}
	if req.ClientOrderID != "" && !trading.ValidClientOrderID(req.ClientOrderID) {
		return trading.PlaceOrder{}, steps{}, trading.Errorf(trading.EINVALID, trading.ClientOrderIDRule)
	}
	return po, st, nil
}

func (s *Server) getOrder(c echo.Context) error { return s.onOrder(c, s.deps.Orders.GetOrder) }

func (s *Server) cancelOrder(c echo.Context) error { return s.onOrder(c, s.deps.Orders.CancelOrder) }

// onOrder applies f to the caller's order named in the path and answers with the result.
func (s *Server) onOrder(c echo.Context, f func(ctx context.Context, account, id string) (trading.Order, error)) error {
	ctx := c.Request().Context()
	id, err := pathID(c, "id", "order")
	if err != nil {
		return err
	}
	o, err := f(ctx, principal(c).UserID, id)
	if err != nil {
		return err
	}
	st, err := s.stepsCache(ctx).of(o.Market)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, orderOut(o, st))
}

func (s *Server) listOrders(c echo.Context) error {
	ctx := c.Request().Context()
	f := trading.OrderFilter{Account: principal(c).UserID, Cursor: c.QueryParam("cursor")}
	switch c.QueryParam("status") {
	case "", "open":
		f.OpenOnly = true
	case "all":
	default:
		return trading.Errorf(trading.EINVALID, "status must be open or all")
	}
	if m := c.QueryParam("market"); m != "" {
		if _, _, err := s.market(ctx, m); err != nil {
			return err
		}
		f.Market = m
	}
	if len(f.Cursor) > 256 {
		return trading.Errorf(trading.EINVALID, "invalid cursor")
	}
	var err error
	if f.Limit, err = intQuery(c, "limit", 50, 1, 500); err != nil {
		return err
	}
	p, err := s.deps.Orders.ListOrders(ctx, f)
	if err != nil {
		return err
	}
	cache := s.stepsCache(ctx)
	out := make([]orderJSON, len(p.Items))
	for i, o := range p.Items {
		st, err := cache.of(o.Market)
		if err != nil {
			return err
		}
		out[i] = orderOut(o, st)
	}
	return c.JSON(http.StatusOK, page(out, p.NextCursor))
}

func (s *Server) cancelAll(c echo.Context) error {
	ctx := c.Request().Context()
	market := c.QueryParam("market")
	if market != "" {
		if _, _, err := s.market(ctx, market); err != nil {
			return err
		}
	}
	n, err := s.deps.Orders.CancelAll(ctx, principal(c).UserID, market)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]int{"cancelled": n})
}
