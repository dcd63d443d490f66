package trading

import (
	"errors"
	"fmt"
)

// Error codes: the platform's one error vocabulary. Adapters translate their own errors
// (pgx.ErrNoRows, SQLSTATE 23505, ...) into these; the HTTP adapter maps them to statuses.
const (
	EINVALID      = "invalid"      // bad input: 400/422
	ENOTFOUND     = "not_found"    // 404, also for things that exist but belong to someone else
	ECONFLICT     = "conflict"     // 409
	EUNAUTHORIZED = "unauthorized" // 401
	EFORBIDDEN    = "forbidden"    // 403
	ERATELIMIT    = "rate_limited" // 429
	EUNAVAILABLE  = "unavailable"  // 503: a dependency is down or the market is halted
	EINTERNAL     = "internal"     // 500: never shown to a user with its details
	EINSUFFICIENT = "insufficient_funds"
)

// Error is a domain error: a code from the list above and a message safe to show a user.
type Error struct {
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Errorf returns a domain error with a formatted, user-safe message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first domain error in err's chain, EINTERNAL for any other
// non-nil error and "" for nil.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the user-safe message of err: the domain error's message, or
// "internal error" for anything else.
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "internal error"
}
