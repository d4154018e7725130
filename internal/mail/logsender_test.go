package mail_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"testing"

	"github.com/latchauth/latch/internal/auth"
	"github.com/latchauth/latch/internal/mail"
)

func TestLogSender(t *testing.T) {
	tests := []struct {
		name string
		msg  auth.Message
	}{
		{"text", auth.Message{To: "a@example.org", Subject: "Reset", Text: "Open https://x.example/reset?token=T0KEN\n"}},
		{"text and html", auth.Message{To: "b@example.org", Subject: "Hi", Text: "plain", HTML: "<p>html</p>"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			s := mail.NewLogSender(slog.New(slog.NewJSONHandler(&buf, nil)))
			if err := s.Send(context.Background(), tt.msg); err != nil {
				t.Fatalf("Send: %v", err)
			}
			var rec map[string]any
			if err := json.Unmarshal(buf.Bytes(), &rec); err != nil {
				t.Fatalf("log is not one JSON record: %v\n%s", err, buf.String())
			}
			want := map[string]any{
				"level":   "INFO",
				"msg":     "mail (not sent: LATCH_SMTP_URL unset)",
				"to":      tt.msg.To,
				"subject": tt.msg.Subject,
				"text":    tt.msg.Text,
			}
			if tt.msg.HTML != "" {
				want["html_bytes"] = float64(len(tt.msg.HTML))
			}
			for k, v := range want {
				if rec[k] != v {
					t.Errorf("record[%q] = %v, want %v", k, rec[k], v)
				}
			}
			if _, ok := rec["html_bytes"]; ok && tt.msg.HTML == "" {
				t.Errorf("record has html_bytes %v for a text-only message", rec["html_bytes"])
			}
			if _, ok := rec["html"]; ok {
				t.Errorf("record has the HTML part: %v", rec["html"])
			}
		})
	}
}
