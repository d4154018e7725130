package mail_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/latchauth/latch/internal/auth"
	"github.com/latchauth/latch/internal/mail"
	"github.com/latchauth/latch/internal/mail/smtptest"
)

func TestSMTPSenderTLS(t *testing.T) {
	tests := []struct {
		name   string
		mode   smtptest.TLSMode
		scheme string
	}{
		{"smtps", smtptest.ImplicitTLS, "smtps://"},
		{"STARTTLS", smtptest.StartTLS, "smtp://"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := smtptest.StartWith(t, smtptest.Options{TLS: tt.mode})
			if !strings.HasPrefix(srv.URL(), tt.scheme) {
				t.Fatalf("URL() = %q, want scheme %q", srv.URL(), tt.scheme)
			}
			s, err := mail.NewSMTPSender(srv.URL(), from, mail.WithRootCAs(srv.CertPool()))
			if err != nil {
				t.Fatalf("NewSMTPSender: %v", err)
			}
			msg := auth.Message{To: "tls@example.org", Subject: "Over TLS", Text: "secret link\n", HTML: "<p>secret link</p>"}
			if err := s.Send(context.Background(), msg); err != nil {
				t.Fatalf("Send: %v", err)
			}
			got := srv.WaitFor(t, 1, 5*time.Second)[0]
			if !got.TLS {
				t.Errorf("message came over plain SMTP, want TLS")
			}
			if got.Username != smtptest.Username || got.Password != smtptest.Password {
				t.Errorf("server saw credentials %q/%q, want the URL's", got.Username, got.Password)
			}
			if got.Subject != msg.Subject || strings.TrimSpace(got.Text) != "secret link" {
				t.Errorf("got subject %q text %q, want %q %q", got.Subject, got.Text, msg.Subject, msg.Text)
			}

			// A certificate nobody vouches for is refused, and that is
			// retried (the operator may fix the trust), not given up.
			untrusting := newSender(t, srv.URL())
			err = untrusting.Send(context.Background(), msg)
			if err == nil {
				t.Fatal("Send trusting only the system's CAs succeeded, want a certificate error")
			}
			if errors.Is(err, mail.ErrPermanent) {
				t.Errorf("certificate error %v is marked permanent", err)
			}
			if n := len(srv.Messages()); n != 1 {
				t.Errorf("server got %d messages, want 1", n)
			}
		})
	}
}

func TestSMTPSenderPermanentErrors(t *testing.T) {
	srv := smtptest.Start(t)
	srv.RejectRecipient("gone@example.org", 550, smtp.EnhancedCode{5, 1, 1})
	srv.RejectRecipient("relay@example.org", 554, smtp.EnhancedCode{5, 7, 1})
	srv.RejectRecipient("busy@example.org", 450, smtp.EnhancedCode{4, 2, 1})
	s := newSender(t, srv.URL())
	tests := []struct {
		to        string
		permanent bool
	}{
		{"gone@example.org", true},   // no such mailbox: never deliverable
		{"not an address", true},     // malformed: never deliverable
		{"relay@example.org", false}, // policy: maybe our configuration
		{"busy@example.org", false},  // 4xx: try again later
		{"fine@example.org", false},  // (delivered)
	}
	for _, tt := range tests {
		err := s.Send(context.Background(), auth.Message{To: tt.to, Subject: "s", Text: "t"})
		if tt.to == "fine@example.org" {
			if err != nil {
				t.Errorf("Send(%q): %v", tt.to, err)
			}
			continue
		}
		if err == nil {
			t.Errorf("Send(%q) succeeded, want an error", tt.to)
			continue
		}
		if got := errors.Is(err, mail.ErrPermanent); got != tt.permanent {
			t.Errorf("Send(%q): permanent = %v, want %v (error %v)", tt.to, got, tt.permanent, err)
		}
	}
}

func TestWorkerGivesUp(t *testing.T) {
	srv := smtptest.Start(t)
	srv.RejectRecipient("gone@example.org", 550, smtp.EnhancedCode{5, 1, 1})
	sender := newSender(t, srv.URL())
	clk := newClock()
	ob := newMemOutbox()
	var logs logBuf
	w := mail.NewWorker(ob, sender, mail.WorkerConfig{Now: clk.Now, Logger: newLogger(&logs), MaxAttempts: 3})
	ctx := context.Background()

	gone := ob.enqueue(clk.Now(), auth.MailReset, auth.Message{To: "gone@example.org", Subject: "s", Text: "SECRET-TOKEN-gone\n"})
	ok := ob.enqueue(clk.Now(), auth.MailReset, message(1))

	// A permanent refusal drops the message at once; the other goes out.
	if sent, err := w.RunOnce(ctx); sent != 1 || err != nil {
		t.Fatalf("first pass: sent %d, err %v; want 1, nil", sent, err)
	}
	if _, still := ob.get(gone); still {
		t.Errorf("message refused for good is still in the outbox")
	}
	if got, want := ob.sentIDs(), []int64{ok}; !slices.Equal(got, want) {
		t.Errorf("sent ids %v, want %v", got, want)
	}

	// With the server down, a message gets MaxAttempts tries, then is
	// dropped.
	srv.Stop()
	down := ob.enqueue(clk.Now(), auth.MailConfirm, message(2))
	for attempt := 1; attempt <= 3; attempt++ {
		if sent, err := w.RunOnce(ctx); sent != 0 || err != nil {
			t.Fatalf("attempt %d: sent %d, err %v; want 0, nil", attempt, sent, err)
		}
		m, still := ob.get(down)
		if still != (attempt < 3) {
			t.Fatalf("after attempt %d: in the outbox = %v, want %v", attempt, still, attempt < 3)
		}
		if still && m.Attempts != attempt {
			t.Errorf("after attempt %d: attempts = %d", attempt, m.Attempts)
		}
		clk.Advance(time.Hour)
	}
	ob.mu.Lock()
	dropped := slices.Clone(ob.dropped)
	ob.mu.Unlock()
	if want := []int64{gone, down}; !slices.Equal(dropped, want) {
		t.Errorf("dropped ids %v, want %v", dropped, want)
	}

	// Each give-up is one ERROR record saying why, without the body.
	var reasons []string
	for _, r := range logs.records(t) {
		if r["level"] != "ERROR" {
			continue
		}
		reasons = append(reasons, fmt.Sprint(r["reason"]))
		for _, k := range []string{"kind", "outbox_id", "to", "attempts", "error"} {
			if _, ok := r[k]; !ok {
				t.Errorf("ERROR record %v lacks %q", r, k)
			}
		}
	}
	if want := []string{"permanent failure", "too many attempts"}; !slices.Equal(reasons, want) {
		t.Errorf("give-up reasons %q, want %q\n%s", reasons, want, logs.String())
	}
	if strings.Contains(logs.String(), "SECRET-TOKEN") {
		t.Errorf("the log holds a token:\n%s", logs.String())
	}
}
