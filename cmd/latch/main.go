// Command latch is an authentication server: email + password accounts,
// JWT access tokens and rotating refresh tokens over a JSON API.
//
//	latch serve      run the server (the default)
//	latch migrate    apply the database migrations and exit
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
	"github.com/latchauth/latch/internal/httpapi"
	"github.com/latchauth/latch/internal/limit"
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
	if c.RedisURL != "" {
		log.Warn("LATCH_REDIS_URL is set but shared limits are not available in this version; limits are per instance")
	}

	db, err := openStore(ctx, c)
	if err != nil {
		return err
	}
	defer db.Close()

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
	worker := mail.NewWorker(db, sender, mail.WorkerConfig{Logger: log})

	hasher := password.NewHasher(password.Config{})
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
		Secret:              secret,
		KeyAlg:              c.KeyAlg,
	}, auth.Deps{
		Store:      db,
		Limiter:    limit.New(),
		Composer:   mail.NewComposer(),
		Hasher:     hasher,
		Policy:     password.Policy{MinLength: c.PasswordMin},
		Logger:     log,
		MailNotify: worker.Notify,
		IsBusy:     func(err error) bool { return errors.Is(err, password.ErrBusy) },
	})
	if err != nil {
		return err
	}

	handler := httpapi.NewServer(httpapi.Config{
		Service:        svc,
		Logger:         log,
		TrustedProxies: c.TrustedProxies,
		CORSOrigins:    c.CORSOrigins,
		AdminKey:       c.AdminKey,
	})
	ln, err := net.Listen("tcp", c.Addr)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}

	workerCtx, stopWorker := context.WithCancel(context.WithoutCancel(ctx))
	workerDone := make(chan struct{})
	go func() {
		defer close(workerDone)
		if err := worker.Run(workerCtx); err != nil && !errors.Is(err, context.Canceled) {
			log.Error("mail worker stopped", "err", err)
		}
	}()

	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	log.Info("listening", "addr", ln.Addr().String(), "public_url", c.PublicURL, "env", c.Env, "version", version)

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
