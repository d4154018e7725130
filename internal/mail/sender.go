// Package mail composes latch's mails and delivers them: a Composer renders
// each mail kind from embedded templates, a Sender delivers one message
// (SMTPSender over SMTP, LogSender to the log in development) and a Worker
// drains the outbox that the service fills inside its transactions.
package mail

import (
	"context"
	"log/slog"

	"github.com/latchauth/latch/internal/auth"
)

// Sender delivers one message.
type Sender interface {
	Send(ctx context.Context, m auth.Message) error
}

// LogSender is the development Sender used when LATCH_SMTP_URL is unset: it
// writes each message, including its full text body and therefore any link
// with its token (the HTML alternative only as its size), to the log at
// INFO so that every flow works without SMTP.
// It must not be used in production.
type LogSender struct {
	l *slog.Logger
}

// NewLogSender returns a LogSender writing to l (slog.Default() when nil).
func NewLogSender(l *slog.Logger) *LogSender {
	if l == nil {
		l = slog.Default()
	}
	return &LogSender{l: l}
}

// LogMessage is the log message LogSender writes for each mail.
const LogMessage = "mail (not sent: LATCH_SMTP_URL unset)"

// Send logs m; it never fails.
func (s *LogSender) Send(ctx context.Context, m auth.Message) error {
	attrs := []slog.Attr{
		slog.String("to", m.To),
		slog.String("subject", m.Subject),
		slog.String("text", m.Text),
	}
	if m.HTML != "" {
		// The HTML part says what the text says; its size is enough here.
		attrs = append(attrs, slog.Int("html_bytes", len(m.HTML)))
	}
	s.l.LogAttrs(ctx, slog.LevelInfo, LogMessage, attrs...)
	return nil
}
