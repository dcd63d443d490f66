package auth

import (
	"context"
	"log/slog"
	"time"
)

// LogMailer "delivers" password reset tokens by writing them to the log: for the local
// platform, which has no mail service. Never use it where the log is shared with others.
type LogMailer struct{ Log *slog.Logger }

var _ Mailer = LogMailer{}

// SendPasswordReset logs the token for email.
func (m LogMailer) SendPasswordReset(ctx context.Context, email, token string, expires time.Time) error {
	m.Log.InfoContext(ctx, "password reset (local mailer)", "email", email, "reset_token", token, "expires_at", expires.UTC().Format(time.RFC3339))
	return nil
}

// NoMailer is the mailer of a deployment without one: it logs that a reset was requested,
// never the token, and delivers nothing.
type NoMailer struct{ Log *slog.Logger }

var _ Mailer = NoMailer{}

// SendPasswordReset logs the request only.
func (m NoMailer) SendPasswordReset(ctx context.Context, _, _ string, _ time.Time) error {
	m.Log.WarnContext(ctx, "password reset requested, but no mailer is configured (PASSWORD_RESET_MAILER)")
	return nil
}
