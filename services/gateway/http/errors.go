package http

import (
	"errors"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/cantondex/platform/services/trading"
)

// statusOf maps the platform's error codes to HTTP statuses: the one place that does.
var statusOf = map[string]int{
	trading.EINVALID:      http.StatusBadRequest,
	trading.ENOTFOUND:     http.StatusNotFound,
	trading.ECONFLICT:     http.StatusConflict,
	trading.EUNAUTHORIZED: http.StatusUnauthorized,
	trading.EFORBIDDEN:    http.StatusForbidden,
	trading.ERATELIMIT:    http.StatusTooManyRequests,
	trading.EUNAVAILABLE:  http.StatusServiceUnavailable,
	trading.EINSUFFICIENT: http.StatusUnprocessableEntity,
	trading.EINTERNAL:     http.StatusInternalServerError,
}

// echoErrors turns Echo's own errors (no route, wrong method, body too large) into the
// platform's codes.
var echoErrors = map[int]struct{ code, message string }{
	http.StatusNotFound:              {trading.ENOTFOUND, "no such route"},
	http.StatusMethodNotAllowed:      {"method_not_allowed", "method not allowed on this route"},
	http.StatusRequestEntityTooLarge: {"too_large", "request body too large"},
	http.StatusUnsupportedMediaType:  {trading.EINVALID, "content type must be application/json"},
}

// errorBody is the JSON every error answers with.
type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// retryAfter is implemented by errors that know when to try again (rate limits, lockouts).
type retryAfter interface{ RetryAfter() time.Duration }

type rateLimited struct{ after time.Duration }

func (e *rateLimited) Error() string             { return "rate limited" }
func (e *rateLimited) RetryAfter() time.Duration { return e.after }
func (e *rateLimited) Unwrap() error {
	return trading.Errorf(trading.ERATELIMIT, "too many requests; retry later")
}

func (s *Server) handleError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	status, code, message := http.StatusInternalServerError, trading.EINTERNAL, "internal error"
	var he *echo.HTTPError
	if errors.As(err, &he) {
		if m, ok := echoErrors[he.Code]; ok {
			status, code, message = he.Code, m.code, m.message
		} else if he.Code >= 400 && he.Code < 500 {
			status, code, message = he.Code, trading.EINVALID, http.StatusText(he.Code)
		}
	} else if code = trading.ErrorCode(err); code != trading.EINTERNAL {
		message = trading.ErrorMessage(err)
		var ok bool
		if status, ok = statusOf[code]; !ok {
			status = http.StatusBadRequest
		}
	}
	if status >= 500 && code == trading.EINTERNAL {
		s.log.ErrorContext(c.Request().Context(), "request failed", "method", c.Request().Method, "path", c.Path(), "err", err)
	}
	var ra retryAfter
	if errors.As(err, &ra) {
		secs := int(math.Ceil(ra.RetryAfter().Seconds()))
		c.Response().Header().Set("Retry-After", strconv.Itoa(max(secs, 1)))
	}
	if c.Request().Method == http.MethodHead {
		_ = c.NoContent(status)
		return
	}
	_ = c.JSON(status, errorBody{Error: errorDetail{Code: code, Message: message}})
}
