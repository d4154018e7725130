// Command latch is an authentication server: email + password accounts,
// JWT access tokens and rotating refresh tokens over a JSON API.
//
//	latch serve      run the server (the default)
//	latch migrate    apply the database migrations and exit
//	latch user ...   manage accounts on the database directly
//	latch audit      list audit events
//	latch import F   import users from a JSON Lines or CSV file
//	latch keys ...   list or rotate the signing keys
//	latch version    print the version
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/latchauth/latch/internal/auth"
	"github.com/latchauth/latch/internal/fanout"
	"github.com/latchauth/latch/internal/httpapi"
	"github.com/latchauth/latch/internal/mail"
	"github.com/latchauth/latch/internal/password"
	"github.com/latchauth/latch/internal/sqlstore"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "latch:", err)
		os.Exit(1)
	}
}

const usage = `usage: latch [command] [flags]

commands:
  serve     run the server (default); flags override LATCH_* variables
  migrate   apply the embedded database migrations and exit
  user      manage accounts on the database directly (latch user help)
  audit     list audit events (latch audit -h)
  import    import users from a JSON Lines or CSV file (latch import -h)
  keys      list or rotate the signing keys (latch keys help)
  version   print the version
`

// run is latch's whole program with the operating system passed in.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cmd := "serve"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "serve":
		return serve(ctx, args, getenv, stderr)
	case "migrate":
		return migrate(ctx, args, getenv, stdout, stderr)
	case "user": // administration (issue 5): cli.go, import.go
		return userCmd(ctx, args, getenv, stdout, stderr)
	case "audit":
		return auditCmd(ctx, args, getenv, stdout, stderr)
	case "keys": // signing keys (issue 6): keys.go
		return keysCmd(ctx, args, getenv, stdout, stderr)
	case "import":
		return importCmd(ctx, args, getenv, stdout, stderr)
	case "version":
		fmt.Fprintln(stdout, "latch", version)
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		return fmt.Errorf("unknown command %q\n%s", cmd, usage)
	}
}

func newLogger(c *config, w io.Writer) *slog.Logger {
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.LogLevel)); err != nil {
		level = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: level}
	if c.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

func openStore(ctx context.Context, c *config) (*sqlstore.DB, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	db, err := sqlstore.Open(ctx, c.DatabaseURL)
	if err != nil {
		return nil, err
	}
	if err := db.Migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

func migrate(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	c, err := loadConfig(args, getenv)
	if err != nil {
		return err
	}
	db, err := openStore(ctx, c)
	if err != nil {
		return err
	}
	defer db.Close()
	fmt.Fprintln(stdout, "migrations applied")
	return nil
}

func serve(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	c, err := loadConfig(args, getenv)
	if err != nil {
		return err
	}
	log := newLogger(c, stderr)

	secret := []byte(c.Secret)
	if len(secret) == 0 {
		s, path, created, err := developmentSecret(c.DatabaseURL)
		if err != nil {
			return fmt.Errorf("development secret: %w", err)
		}
		secret = s
		if created {
			log.Warn("LATCH_SECRET is not set: generated a development secret; signing keys are sealed with it. Set LATCH_SECRET in production.", "file", path)
		} else {
			log.Warn("LATCH_SECRET is not set: using the development secret file", "file", path)
		}
	}

	db, err := openStore(ctx, c)
	if err != nil {
		return err
	}
	defer db.Close()

	// Metrics, shared limits and revocation fan-out (issue 4): scale.go.
	sc, err := newScale(c, log, db)
	if err != nil {
		return err
	}
	defer sc.close()

	// Mail templates (issue 3): the embedded ones, or overrides from
	// LATCH_TEMPLATES_DIR; a broken override fails the start.
	composer, err := mail.LoadComposer(c.TemplatesDir)
	if err != nil {
		return fmt.Errorf("LATCH_TEMPLATES_DIR: %w", err)
	}

	var sender mail.Sender
	if c.SMTPURL != "" {
		s, err := mail.NewSMTPSender(c.SMTPURL, c.MailFrom)
		if err != nil {
			return err
		}
		sender = s
	} else {
		log.Warn("LATCH_SMTP_URL is not set: mails are written to this log, links included (development only)")
		sender = mail.NewLogSender(log)
	}
	worker := mail.NewWorker(db, sc.sender(sender), mail.WorkerConfig{Logger: log})

	// The revocation feed (issue 6): woken by every security event that
	// may revoke tokens, and re-reading the store while followers wait.
	revocations := auth.NewRevocationFeed(auth.RevocationConfig{Store: db, AccessTTL: c.AccessTTL, Logger: log})
	defer revocations.Close()
	// Revocations made by other instances wake the feed at once.
	sc.hub.Subscribe(func(fanout.Notice) { revocations.Changed() })

	hasher := password.NewHasher(password.Config{})
	sc.watchHasher(hasher)
	svc, err := auth.New(ctx, auth.Config{
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
		KeyRotation:         c.KeyRotation, // issue 6
	}, auth.Deps{
		Store:      db,
		Limiter:    sc.limiter,
		Composer:   composer,
		Hasher:     hasher,
		Policy:     password.Policy{MinLength: c.PasswordMin},
		Logger:     log,
		MailNotify: worker.Notify,
		IsBusy:     func(err error) bool { return errors.Is(err, password.ErrBusy) },
		OnEvent:    sc.onEvent(revocations.OnEvent),
	})
	if err != nil {
		return err
	}
	// Addresses stored under older matching rules get today's keys before
	// the first request is matched against them.
	if _, err := svc.RekeyEmails(ctx); err != nil {
		return fmt.Errorf("matching stored email addresses: %w", err)
	}

	handler := httpapi.NewServer(httpapi.Config{
		Service:        svc,
		Logger:         log,
		TrustedProxies: c.TrustedProxies,
		CORSOrigins:    c.CORSOrigins,
		AdminKey:       c.AdminKey,
		OAuthClients:   c.OAuthClients, // issue 6
		Metrics:        sc.metrics,
		Revocations:    revocations,
		RevocationKey:  c.RevocationKey,
	})
	ln, err := net.Listen("tcp", c.Addr)
	if err != nil {
		return err
	}
	// Metrics on their own listener, only when LATCH_METRICS_ADDR is set.
	metricsAddr, stopMetrics, err := sc.serveMetrics(c.MetricsAddr, log)
	if err != nil {
		ln.Close()
		return err
	}
	defer stopMetrics()
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	// Answer waiting revocation feed polls at once when shutting down.
	srv.RegisterOnShutdown(revocations.Close)

	workerCtx, stopWorker := context.WithCancel(context.WithoutCancel(ctx))
	workerDone := make(chan struct{})
	go func() {
		defer close(workerDone)
		if err := worker.Run(workerCtx); err != nil && !errors.Is(err, context.Canceled) {
			log.Error("mail worker stopped", "err", err)
		}
	}()

	// Signing keys (issue 6): reload every minute, rotate when due.
	// Housekeeping: delete ended sessions and used links after
	// auth.Retention, hourly.
	keysDone := make(chan struct{})
	go func() {
		defer close(keysDone)
		svc.RunKeyMaintenance(workerCtx)
	}()
	pruneDone := make(chan struct{})
	go func() {
		defer close(pruneDone)
		svc.RunPrune(workerCtx)
	}()
	defer func() { stopWorker(); <-keysDone; <-pruneDone }()

	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	listening := []any{"addr", ln.Addr().String(), "public_url", c.PublicURL, "env", c.Env, "version", version}
	if metricsAddr != "" {
		listening = append(listening, "metrics_addr", metricsAddr)
	}
	log.Info("listening", listening...)

	select {
	case err := <-serveErr:
		stopWorker()
		<-workerDone
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down: finishing requests in flight")
	shutCtx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutCtx); err != nil {
		log.Warn("shutdown", "err", err)
	}
	svc.Close()
	stopWorker()
	<-workerDone
	log.Info("stopped")
	return nil
}
