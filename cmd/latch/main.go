// Command latch is an authentication server: email + password accounts,
// JWT access tokens and rotating refresh tokens over a JSON API.
//
//	latch serve      run the server
//	latch migrate    apply the database migrations and exit
//	latch user ...   manage accounts on the database directly
//	latch audit      list audit events
//	latch import F   import users from a JSON Lines or CSV file
//	latch keys ...   list or rotate the signing keys
//	latch version    print the version and commit
//	latch help       list the commands; latch help CMD or latch CMD -h: its usage
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
)

// version is set at build time with -ldflags "-X main.version=..."; when
// it is not, `latch version` reports the module version from the build
// information.
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx = withEnvNames(ctx, os.Environ())
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "latch:", err)
		os.Exit(1)
	}
}

// command is one subcommand of latch.
type command struct {
	name  string
	short string // one line in `latch help`
	run   func(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error
}

// commands lists latch's subcommands in the order `latch help` shows them.
// Each one answers -h with its own usage and flags.
var commands = []command{
	{"serve", "run the server; flags override LATCH_* variables", func(ctx context.Context, args []string, getenv func(string) string, _, stderr io.Writer) error {
		return serve(ctx, args, getenv, stderr)
	}},
	{"migrate", "apply the embedded database migrations and exit", migrate},
	{"user", "manage accounts on the database directly", userCmd},
	{"audit", "list audit events", auditCmd},
	{"import", "import users from a JSON Lines or CSV file", importCmd},
	{"keys", "list or rotate the signing keys", keysCmd},
	{"version", "print the version and commit", func(_ context.Context, args []string, _ func(string) string, stdout, _ io.Writer) error {
		if len(args) > 0 {
			if args[0] == "-h" || args[0] == "--help" || args[0] == "-help" {
				return &helpRequest{"usage: latch version\n\nPrints latch's version, the commit it was built from and the Go version.\n"}
			}
			return fmt.Errorf("latch version: unexpected arguments %q", args)
		}
		fmt.Fprintln(stdout, versionLine())
		return nil
	}},
}

// usage is what `latch`, `latch -h` and `latch help` print.
func usage() string {
	var b strings.Builder
	b.WriteString("latch is an authentication server.\n\nusage: latch <command> [arguments]\n\ncommands:\n")
	for _, c := range commands {
		fmt.Fprintf(&b, "  %-9s %s\n", c.name, c.short)
	}
	fmt.Fprintf(&b, "  %-9s %s\n", "help", "show a command's usage (latch help <command>)")
	b.WriteString("\nRun 'latch <command> -h' for a command's usage and flags; 'latch --version' prints\n" +
		"the version. Settings are LATCH_* environment variables (docs/configuration.md).\n")
	return b.String()
}

// helpRequest is returned by a command asked for help (-h): run prints
// the usage to stdout and succeeds, as the go command does.
type helpRequest struct{ usage string }

func (h *helpRequest) Error() string { return h.usage }

// run is latch's whole program with the operating system passed in.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	err := dispatch(ctx, args, getenv, stdout, stderr)
	var help *helpRequest
	if errors.As(err, &help) {
		fmt.Fprint(stdout, help.usage)
		return nil
	}
	return err
}

func dispatch(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stdout, usage())
		return nil
	}
	name, rest := args[0], args[1:]
	switch name {
	case "help", "-h", "-help", "--help":
		if len(rest) == 0 || name != "help" {
			fmt.Fprint(stdout, usage())
			return nil
		}
		// latch help CMD is latch CMD -h.
		if c := findCommand(rest[0]); c != nil {
			return c.run(ctx, append(rest[1:], "-h"), getenv, stdout, stderr)
		}
		return fmt.Errorf("latch help %s: unknown command; run 'latch help' for the list", rest[0])
	case "-version", "--version":
		name = "version"
	}
	if strings.HasPrefix(name, "-") {
		return fmt.Errorf("flag %s before a command: flags follow the command, as in 'latch serve %s'; run 'latch help' for the commands", name, strings.Join(args, " "))
	}
	c := findCommand(name)
	if c == nil {
		return fmt.Errorf("latch %s: unknown command; run 'latch help' for the list", name)
	}
	return c.run(ctx, rest, getenv, stdout, stderr)
}

func findCommand(name string) *command {
	for i := range commands {
		if commands[i].name == name {
			return &commands[i]
		}
	}
	return nil
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

func migrate(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	c, err := loadCommandConfig("migrate", args, getenv)
	if err != nil {
		return err
	}
	warnUnknownVariables(ctx, stderr)
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
	for _, w := range unknownVariables(ctx) {
		log.Warn(w)
	}

	// The database first: its errors say more than the secret file's
	// beside it would.
	db, err := openStore(ctx, c)
	if err != nil {
		return err
	}
	defer db.Close()

	secret, secretFrom, err := loadSecret(c)
	if err != nil {
		return err
	}
	if secretFrom.created {
		log.Warn("LATCH_SECRET is not set: generated a development secret; signing keys are sealed with it. Set LATCH_SECRET in production.", "file", secretFrom.file)
	} else if secretFrom.file != "" {
		log.Warn("LATCH_SECRET is not set: using the development secret file", "file", secretFrom.file)
	}

	// Listen before building the service: with port 0 (and no
	// LATCH_PUBLIC_URL) the public URL takes the port actually bound.
	ln, err := net.Listen("tcp", c.Addr)
	if err != nil {
		return fmt.Errorf("LATCH_ADDR %s: %w", c.Addr, err)
	}
	defer ln.Close()
	if c.PublicURLFromAddr {
		c.PublicURL = publicURLForAddr(ln.Addr().String())
		if c.AudienceFromPublicURL {
			c.Audience = c.PublicURL
		}
	}

	// Metrics, shared limits and revocation fan-out: scale.go.
	sc, err := newScale(c, log, db)
	if err != nil {
		return err
	}
	defer sc.close()

	// Mail templates: the embedded ones, or overrides from
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

	// The revocation feed: woken by every security event that
	// may revoke tokens, and re-reading the store while followers wait.
	revocations := auth.NewRevocationFeed(auth.RevocationConfig{Store: db, AccessTTL: c.AccessTTL, Logger: log})
	defer revocations.Close()
	// Revocations made by other instances wake the feed at once.
	sc.hub.Subscribe(func(fanout.Notice) { revocations.Changed() })

	hasher := password.NewHasher(password.Config{MaxQueue: c.HashQueue})
	sc.watchHasher(hasher)
	// The heap's bound follows from the hashing it must hold (unless
	// GOMEMLIMIT says otherwise); a login burst's memory goes back to the
	// system 2 s after the last hash.
	if limit, set := hasher.ApplyMemoryLimit(2 * time.Second); set {
		log.Debug("soft memory limit from the hashing configuration", "bytes", limit)
	}
	svc, err := auth.New(ctx, c.authConfig(secret), auth.Deps{
		Store:      db,
		Limiter:    sc.limiter,
		Composer:   composer,
		Hasher:     hasher,
		Policy:     password.Policy{MinLength: c.PasswordMin},
		Logger:     log,
		MailNotify: worker.Notify,
		OnEvent:    sc.onEvent(revocations.OnEvent),
	})
	if err != nil {
		return explainServiceError(err, c, secretFrom)
	}
	// Bearer checks keep sessions and users in memory: revocations by
	// other instances make them read those again.
	sc.hub.Subscribe(func(n fanout.Notice) { svc.Invalidate(n.UserID, n.SessionID) })
	sc.metrics.SessionCache(svc.SessionCacheStats)
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
		OAuthClients:   c.OAuthClients,
		Metrics:        sc.metrics,
		Revocations:    revocations,
		RevocationKey:  c.RevocationKey,
	})
	// Metrics on their own listener, only when LATCH_METRICS_ADDR is set.
	metricsAddr, stopMetrics, err := sc.serveMetrics(c.MetricsAddr, log)
	if err != nil {
		return err
	}
	defer stopMetrics()
	srv := newHTTPServer(handler, log)
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

	// Signing keys: reload every minute, rotate when due.
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
	listening := []any{"addr", ln.Addr().String(), "public_url", c.PublicURL,
		"database", describeDatabase(c.DatabaseURL), "mail", describeMail(c.SMTPURL),
		"redis", describeRedis(c.RedisURL), "env", c.Env, "version", version}
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

// newHTTPServer is latch's http.Server for h: timeouts that a slow or idle
// client cannot stretch, bounded headers, and net/http's own complaints in
// the JSON log.
func newHTTPServer(h http.Handler, log *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}

// authConfig is the service configuration of c, the same for serve and
// every subcommand: a command that mails a link, retires a key or prunes
// must use the server's lifetimes, not the package defaults.
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
	}
}
