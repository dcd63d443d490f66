package http

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/cantondex/platform/services/decimal"
	"github.com/cantondex/platform/services/trading"
)

type fundingRequest struct {
	ID      string `json:"id"`
	Account string `json:"account"`
	Asset   string `json:"asset"`
	Amount  string `json:"amount"`
	// Address is a withdrawal's destination (a crypto address), screened against the lists.
	Address string `json:"address,omitempty"`
}

type fundingJSON struct {
	ID      string `json:"id"`
	Kind    string `json:"kind"`
	Account string `json:"account"`
	Asset   string `json:"asset"`
	Amount  string `json:"amount"`
	Address string `json:"address,omitempty"`
}

func (s *Server) deposit(c echo.Context) error { return s.fund(c, "deposit", s.deps.Accounts.Deposit) }
func (s *Server) withdraw(c echo.Context) error {
	return s.fund(c, "withdrawal", s.deps.Accounts.Withdraw)
}

type fundFunc func(ctx context.Context, id, account, asset string, amount int64) error

func (s *Server) fund(c echo.Context, kind string, move fundFunc) error {
	ctx := c.Request().Context()
	var req fundingRequest
	if err := decode(c, &req); err != nil {
		return err
	}
	if !idRE.MatchString(req.ID) {
		return trading.Errorf(trading.EINVALID, "id must be 1 to 128 letters, digits or '_.:-' (it makes the %s idempotent)", kind)
	}
	if !idRE.MatchString(req.Account) {
		return trading.Errorf(trading.EINVALID, "account is required")
	}
	if err := s.accountExists(ctx, req.Account); err != nil {
		return err
	}
	scales, err := s.assetScales(ctx)
	if err != nil {
		return err
	}
	scale, ok := scales[req.Asset]
	if !ok {
		return trading.Errorf(trading.EINVALID, "unknown asset")
	}
	amount, err := parseAmount("amount", req.Amount, scale)
	if err != nil {
		return err
	}
	if kind == "deposit" {
		if req.Address != "" {
			return trading.Errorf(trading.EINVALID, "address is a withdrawal's destination")
		}
		if err := s.checkDepositLimit(req.Asset, amount, scale); err != nil {
			return err
		}
	}
	if kind == "withdrawal" && s.deps.Compliance != nil {
		// Screened before any funds move: a hit or an uncleared screening case refuses it.
		if err := s.deps.Compliance.ScreenWithdrawal(ctx, principal(c).UserID, req.ID, req.Account, req.Asset, req.Address); err != nil {
			return err
		}
	}
	if err := move(ctx, req.ID, req.Account, req.Asset, amount); err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, fundingJSON{ID: req.ID, Kind: kind, Account: req.Account, Asset: req.Asset, Amount: req.Amount, Address: req.Address})
}

// createMarketRequest is what an admin sends to create a market: its definition.
type createMarketRequest = marketSpec

func (s *Server) createMarket(c echo.Context) error {
	var req createMarketRequest
	if err := decode(c, &req); err != nil {
		return err
	}
	if !trading.ValidMarketSymbol(req.Symbol) || req.Symbol != req.Base+"-"+req.Quote {
		return trading.Errorf(trading.EINVALID, "symbol must be BASE-QUOTE in capitals")
	}
	def := trading.MarketDef{Symbol: req.Symbol, Base: req.Base, Quote: req.Quote, TickSize: req.TickSize, LotSize: req.LotSize}
	st, err := stepsOf(def)
	if err != nil {
		return trading.Errorf(trading.EINVALID, "tick_size and lot_size must be positive decimal strings")
	}
	for _, f := range []struct {
		name, v string
		dst     *int64
		parse   func(string, string) (int64, error)
	}{
		{"min_price", req.MinPrice, &def.MinPrice, st.ParsePrice},
		{"max_price", req.MaxPrice, &def.MaxPrice, st.ParsePrice},
		{"min_quantity", req.MinQuantity, &def.MinQty, st.ParseQty},
		{"max_quantity", req.MaxQuantity, &def.MaxQty, st.ParseQty},
	} {
		if *f.dst, err = f.parse(f.name, f.v); err != nil {
			return err
		}
	}
	m, err := s.deps.Markets.CreateMarket(c.Request().Context(), def)
	if err != nil {
		return err
	}
	st, err = stepsOf(m)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, marketOut(m, st))
}

type switchRequest struct {
	On *bool `json:"on"`
}

func (r switchRequest) value() (bool, error) {
	if r.On == nil {
		return false, trading.Errorf(trading.EINVALID, "on is required")
	}
	return *r.On, nil
}

type switchJSON struct {
	Target string `json:"target"`
	On     bool   `json:"on"`
}

// toggle decodes {"on": bool} and applies it to the path's market or account.
func (s *Server) toggle(c echo.Context, target string, apply func(ctx context.Context, on bool) error) error {
	var req switchRequest
	if err := decode(c, &req); err != nil {
		return err
	}
	on, err := req.value()
	if err != nil {
		return err
	}
	if err := apply(c.Request().Context(), on); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, switchJSON{Target: target, On: on})
}

func (s *Server) haltMarket(c echo.Context) error {
	m, _, err := s.market(c.Request().Context(), c.Param("market"))
	if err != nil {
		return err
	}
	defer s.refs.forget(m.Symbol)
	return s.toggle(c, m.Symbol, func(ctx context.Context, on bool) error { return s.deps.Markets.SetHalted(ctx, m.Symbol, on) })
}

func (s *Server) killMarket(c echo.Context) error {
	m, _, err := s.market(c.Request().Context(), c.Param("market"))
	if err != nil {
		return err
	}
	return s.toggle(c, m.Symbol, func(ctx context.Context, on bool) error { return s.deps.Risk.SetMarketKillSwitch(ctx, m.Symbol, on) })
}

func (s *Server) killAccount(c echo.Context) error {
	account, err := pathID(c, "account", "account")
	if err != nil {
		return err
	}
	if err := s.accountExists(c.Request().Context(), account); err != nil {
		return err
	}
	return s.toggle(c, account, func(ctx context.Context, on bool) error { return s.deps.Risk.SetAccountKillSwitch(ctx, account, on) })
}

// accountExists answers trading.ENOTFOUND for an account no user has: admin actions name
// real accounts only.
func (s *Server) accountExists(ctx context.Context, account string) error {
	_, err := s.deps.Auth.User(ctx, account)
	if trading.ErrorCode(err) == trading.ENOTFOUND {
		return trading.Errorf(trading.ENOTFOUND, "account not found")
	}
	return err
}

// DefaultDepositLimit is the largest deposit of an asset without a limit of its own, in
// whole units.
const DefaultDepositLimit = "1000000000"

// checkDepositLimit refuses a deposit above the asset's limit (in minor units of scale).
func (s *Server) checkDepositLimit(asset string, amount int64, scale int) error {
	lim, ok := s.cfg.DepositLimits[asset]
	if !ok {
		lim = s.cfg.DefaultDepositLimit
	}
	max, err := decimal.Parse(lim, scale)
	if errors.Is(err, decimal.ErrRange) {
		max = math.MaxInt64
	} else if err != nil {
		return fmt.Errorf("deposit limit of %s %q: %w", asset, lim, err)
	}
	if amount > max {
		return trading.Errorf(trading.EINVALID, "amount is above the deposit limit of %s %s", decimal.Format(max, scale), asset)
	}
	return nil
}
