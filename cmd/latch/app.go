package main

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/latchauth/latch/internal/auth"
	"github.com/latchauth/latch/internal/limit"
	"github.com/latchauth/latch/internal/mail"
	"github.com/latchauth/latch/internal/password"
	"github.com/latchauth/latch/internal/sqlstore"
)

// app is latch built from its configuration: the store, the secret that
// seals the signing keys, and the auth.Service on them. serve and every
// subcommand build it the same way (openApp, then startService), so a
// command that mails a link, retires a key or imports users works with
// the server's settings, templates and password policy.
type app struct {
	cfg        *config
	log        *slog.Logger
	db         *sqlstore.DB
	secret     []byte
	secretFrom secretSource
	hasher     *password.Hasher
	svc        *auth.Service // set by startService
}

// openApp opens and migrates the configured database, then reads the
// secret. The database comes first: its errors say more than those of the
// secret file beside it would.
func openApp(ctx context.Context, c *config, log *slog.Logger) (*app, error) {
	db, err := openStore(ctx, c)
	if err != nil {
		return nil, err
	}
	secret, from, err := loadSecret(c)
	if err != nil {
		db.Close()
		return nil, err
	}
	return &app{cfg: c, log: log, db: db, secret: secret, secretFrom: from}, nil
}

// serviceHooks are what serve adds to the service; the zero value, what a
// subcommand uses, limits in process and tells no one about mail or
// events.
type serviceHooks struct {
	limiter    auth.Limiter // nil: in-process limits
	mailNotify func()
	onEvent    func(context.Context, auth.Event)
	// webhookNotify wakes the webhook worker after a commit that queued
	// deliveries.
	webhookNotify func()
}

// startService builds a.svc: the mail templates (embedded, or
// LATCH_TEMPLATES_DIR's overrides; a broken override is an error), the
// password hasher and policy, and the signing keys (loaded, or created on
// a new database).
func (a *app) startService(ctx context.Context, h serviceHooks) error {
	composer, err := mail.LoadComposer(a.cfg.TemplatesDir)
	if err != nil {
		return fmt.Errorf("LATCH_TEMPLATES_DIR: %w", err)
	}
	if h.limiter == nil {
		h.limiter = limit.New()
	}
	a.hasher = password.NewHasher(password.Config{MaxQueue: a.cfg.HashQueue})
	svc, err := auth.New(ctx, a.cfg.authConfig(a.secret), auth.Deps{
		Store:      a.db,
		Limiter:    h.limiter,
		Composer:   composer,
		Hasher:     a.hasher,
		Policy:     password.Policy{MinLength: a.cfg.PasswordMin},
		Logger:     a.log,
		MailNotify: h.mailNotify,
		OnEvent:    h.onEvent,
		// Webhooks live in the same database, queued by the same
		// transactions.
		Webhooks:      a.db,
		WebhookNotify: h.webhookNotify,
	})
	if err != nil {
		return explainServiceError(err, a.cfg, a.secretFrom)
	}
	a.svc = svc
	return nil
}

// close waits for the service's background work, then closes the store.
func (a *app) close() {
	if a.svc != nil {
		a.svc.Close()
	}
	a.db.Close()
}

// authConfig is the service configuration of c, the same for serve and
// every subcommand.
func (c *config) authConfig(secret []byte) auth.Config {
	return auth.Config{
		PublicURL:           c.PublicURL,
		Audience:            c.Audience,
		AccessTTL:           c.AccessTTL,
		RefreshGrace:        c.RefreshGrace,
		SessionIdle:         c.SessionIdle,
		SessionMax:          c.SessionMax,
		ResetTTL:            c.ResetTTL,
		ConfirmTTL:          c.ConfirmTTL,
		RequireConfirmation: c.ConfirmEmail,
		LoginAfterReset:     c.LoginAfterReset,
		RateLimits:          c.RateLimits,
		Product:             c.ProductName,
		MailUnknownAccounts: c.MailUnknownAccounts,
		UnicodeEmail:        c.UnicodeEmail,
		Secret:              secret,
		KeyAlg:              c.KeyAlg,
		KeyRotation:         c.KeyRotation,
		RedirectURLs:        c.RedirectURLs,
		WebAuthnOrigins:     c.WebAuthnOrigins,
		WebhookHTTPSOnly:    c.Env == "production",
		WebhookAllowPrivate: c.WebhookAllowPrivate,
	}
}
