package http

import (
	"bytes"
	"io"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/cantondex/platform/services/auth"
	"github.com/cantondex/platform/services/trading"
)

// Headers of a request signed with an API key.
const (
	headerKey       = "X-CDX-Key"
	headerTimestamp = "X-CDX-Timestamp"
	headerSignature = "X-CDX-Signature"
)

const principalKey = "cantondex.principal"

func principal(c echo.Context) auth.Principal {
	p, _ := c.Get(principalKey).(auth.Principal)
	return p
}

// authenticate admits a request with a bearer access token or an API key signature, checks
// the route's access level, then counts the request against the caller's rate limit.
func (s *Server) authenticate(level access, next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		ctx := c.Request().Context()
		req := c.Request()
		var p auth.Principal
		var err error
		switch bearer, isBearer := strings.CutPrefix(req.Header.Get("Authorization"), "Bearer "); {
		case isBearer:
			p, err = s.deps.Auth.Authenticate(ctx, bearer)
		case req.Header.Get(headerKey) != "":
			body, rerr := io.ReadAll(req.Body)
			if rerr != nil {
				return rerr // the body limit's 413, or a broken connection
			}
			req.Body = io.NopCloser(bytes.NewReader(body))
			p, err = s.deps.Auth.VerifySigned(ctx, req.Header.Get(headerKey), req.Header.Get(headerTimestamp),
				req.Header.Get(headerSignature), req.Method, req.URL.RequestURI(), body)
		default:
			err = trading.Errorf(trading.EUNAUTHORIZED, "authentication required")
		}
		if err != nil {
			return err
		}
		switch {
		case level == admin && (p.Role != auth.RoleAdmin || p.KeyID != ""):
			return trading.Errorf(trading.EFORBIDDEN, "admin only")
		case level == officer && (!p.Role.Officer() || p.KeyID != ""):
			return trading.Errorf(trading.EFORBIDDEN, "compliance officers only")
		case level == session && p.KeyID != "":
			return trading.Errorf(trading.EFORBIDDEN, "API keys cannot manage API keys")
		case level == read && !p.Can(auth.ScopeRead):
			return trading.Errorf(trading.EFORBIDDEN, "API key lacks the read scope")
		case level == trade && !p.Can(auth.ScopeTrade):
			return trading.Errorf(trading.EFORBIDDEN, "API key lacks the trade scope")
		}
		key := "u:" + p.UserID
		if p.KeyID != "" {
			key = "k:" + p.KeyID
		}
		if err := s.limit(c, key); err != nil {
			return err
		}
		c.Set(principalKey, p)
		return next(c)
	}
}

func (s *Server) limit(c echo.Context, key string) error {
	return allow(c, s.deps.RequestLimiter, key)
}

func allow(c echo.Context, l Limiter, key string) error {
	ok, after, err := l.Allow(c.Request().Context(), key)
	if err != nil {
		return err
	}
	if !ok {
		return &rateLimited{after: after}
	}
	return nil
}

// limitByAddress counts unauthenticated requests per client address on l: writes (register,
// login, refresh, reset) before any password is hashed, and public reads (market data).
func (s *Server) limitByAddress(l Limiter, next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if err := allow(c, l, "ip:"+c.RealIP()); err != nil {
			return err
		}
		return next(c)
	}
}

type credentials struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

type acceptedJSON struct {
	Status string `json:"status"`
}

// registerUser answers 202 whether or not the e-mail was registered before, so the answer
// does not tell who has an account; the new trader logs in to learn their id.
func (s *Server) registerUser(c echo.Context) error {
	var req credentials
	if err := decode(c, &req); err != nil {
		return err
	}
	if err := s.deps.Auth.Register(c.Request().Context(), req.Email, req.Password); err != nil {
		return err
	}
	return c.JSON(http.StatusAccepted, acceptedJSON{Status: "accepted"})
}

type passwordChange struct {
	CurrentPassword string `json:"current_password"`
	NewPassword     string `json:"new_password"`
}

func (s *Server) changePassword(c echo.Context) error {
	var req passwordChange
	if err := decode(c, &req); err != nil {
		return err
	}
	if err := s.deps.Auth.ChangePassword(c.Request().Context(), principal(c), req.CurrentPassword, req.NewPassword, c.RealIP()); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

type resetRequest struct {
	Email string `json:"email"`
}

// requestPasswordReset answers 202 whatever the e-mail.
func (s *Server) requestPasswordReset(c echo.Context) error {
	var req resetRequest
	if err := decode(c, &req); err != nil {
		return err
	}
	if err := s.deps.Auth.RequestPasswordReset(c.Request().Context(), req.Email, c.RealIP()); err != nil {
		return err
	}
	return c.JSON(http.StatusAccepted, acceptedJSON{Status: "accepted"})
}

type resetConfirm struct {
	Token       string `json:"token"`
	NewPassword string `json:"new_password"`
}

func (s *Server) confirmPasswordReset(c echo.Context) error {
	var req resetConfirm
	if err := decode(c, &req); err != nil {
		return err
	}
	if err := s.deps.Auth.ResetPassword(c.Request().Context(), req.Token, req.NewPassword); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

type tokensJSON struct {
	AccessToken      string `json:"access_token"`
	TokenType        string `json:"token_type"`
	ExpiresAt        string `json:"expires_at"`
	RefreshToken     string `json:"refresh_token"`
	RefreshExpiresAt string `json:"refresh_expires_at"`
	UserID           string `json:"user_id"`
	Role             string `json:"role"`
}

func tokens(t auth.Tokens) tokensJSON {
	return tokensJSON{AccessToken: t.AccessToken, TokenType: "Bearer", ExpiresAt: timestamp(t.AccessExpiresAt),
		RefreshToken: t.RefreshToken, RefreshExpiresAt: timestamp(t.RefreshExpiresAt), UserID: t.UserID, Role: string(t.Role)}
}

func (s *Server) login(c echo.Context) error {
	var req credentials
	if err := decode(c, &req); err != nil {
		return err
	}
	t, err := s.deps.Auth.Login(c.Request().Context(), req.Email, req.Password, c.RealIP())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, tokens(t))
}

type refreshRequest struct {
	RefreshToken string `json:"refresh_token"`
}

func (s *Server) refresh(c echo.Context) error {
	var req refreshRequest
	if err := decode(c, &req); err != nil {
		return err
	}
	t, err := s.deps.Auth.Refresh(c.Request().Context(), req.RefreshToken)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, tokens(t))
}

func (s *Server) logout(c echo.Context) error {
	var req refreshRequest
	if err := decode(c, &req); err != nil {
		return err
	}
	if err := s.deps.Auth.Logout(c.Request().Context(), req.RefreshToken); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

type apiKeyRequest struct {
	Label  string   `json:"label"`
	Scopes []string `json:"scopes"`
}

type apiKeyJSON struct {
	ID        string   `json:"id"`
	Label     string   `json:"label"`
	Scopes    []string `json:"scopes"`
	CreatedAt string   `json:"created_at"`
	RevokedAt *string  `json:"revoked_at"`
	Secret    string   `json:"secret,omitempty"`
}

func apiKey(k auth.APIKey) apiKeyJSON {
	out := apiKeyJSON{ID: k.ID, Label: k.Label, Scopes: []string{}, CreatedAt: timestamp(k.CreatedAt)}
	for _, sc := range k.Scopes {
		out.Scopes = append(out.Scopes, string(sc))
	}
	if !k.RevokedAt.IsZero() {
		t := timestamp(k.RevokedAt)
		out.RevokedAt = &t
	}
	return out
}

func (s *Server) createAPIKey(c echo.Context) error {
	var req apiKeyRequest
	if err := decode(c, &req); err != nil {
		return err
	}
	scopes := make([]auth.Scope, len(req.Scopes))
	for i, sc := range req.Scopes {
		scopes[i] = auth.Scope(sc)
	}
	k, err := s.deps.Auth.CreateAPIKey(c.Request().Context(), principal(c).UserID, req.Label, scopes)
	if err != nil {
		return err
	}
	out := apiKey(k.APIKey)
	out.Secret = k.Secret
	return c.JSON(http.StatusCreated, out)
}

func (s *Server) listAPIKeys(c echo.Context) error {
	limit, err := intQuery(c, "limit", 50, 1, 100)
	if err != nil {
		return err
	}
	keys, next, err := s.deps.Auth.APIKeys(c.Request().Context(), principal(c).UserID, c.QueryParam("cursor"), limit)
	if err != nil {
		return err
	}
	out := make([]apiKeyJSON, len(keys))
	for i, k := range keys {
		out[i] = apiKey(k)
	}
	return c.JSON(http.StatusOK, page(out, next))
}

func (s *Server) revokeAPIKey(c echo.Context) error {
	id, err := pathID(c, "id", "api key")
	if err != nil {
		return err
	}
	if err := s.deps.Auth.RevokeAPIKey(c.Request().Context(), principal(c).UserID, id); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}
