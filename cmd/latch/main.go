// Command latch is an authentication server: email + password accounts,
// JWT access tokens and rotating refresh tokens over a JSON API.
//
//	latch serve      run the server
//	latch migrate    apply the database migrations and exit
//	latch user ...   manage accounts on the database directly
//	latch clients ...  manage registered OAuth clients
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
	"sync"
	"syscall"
	"time"

	"github.com/latchauth/latch/internal/auth"
	"github.com/latchauth/latch/internal/fanout"
	"github.com/latchauth/latch/internal/httpapi"
	"github.com/latchauth/latch/internal/mail"
	"github.com/latchauth/latch/internal/revfeed"
	"github.com/latchauth/latch/internal/sqlstore"
	"github.com/latchauth/latch/internal/webhook"
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
	{"clients", "manage registered OAuth clients on the database directly", clientsCmd},
	{"audit", "list audit events", auditCmd},
	{"import", "import users from a JSON Lines or CSV file", importCmd},
	{"keys", "list or rotate the signing keys", keysCmd},
	{"webhooks", "manage webhooks and their deliveries", webhooksCmd},
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

// serve runs the server until ctx ends: it wires latch from its
// configuration, starts the background work and answers HTTP on the
// listen address.
func serve(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	c, err := loadConfig(args, getenv)
	if err != nil {
		return err
	}
	log := newLogger(c, stderr)
	for _, w := range unknownVariables(ctx) {
		log.Warn(w)
	}
	a, err := openApp(ctx, c, log)
	if err != nil {
		return err
	}
	defer a.close()
	warnDevelopmentSecret(log, a.secretFrom)

	// Listen before building the service: with port 0 (and no
	// LATCH_PUBLIC_URL) the public URL takes the port actually bound.
	ln, err := listen(c)
	if err != nil {
		return err
	}
	defer ln.Close()

	// Metrics, shared limits and revocation fan-out: scale.go.
	sc, err := newScale(c, log, a.db)
	if err != nil {
		return err
	}
	defer sc.close()
	worker, err := newMailWorker(c, log, a.db, sc)
	if err != nil {
		return err
	}
	revocations := newRevocationFeed(c, log, a.db, sc)
	defer revocations.Close()

	hooks := newWebhookWorker(c, log, a, sc)
	if err := a.startService(ctx, serviceHooks{
		limiter:       sc.limiter,
		mailNotify:    worker.Notify,
		onEvent:       sc.onEvent(revocations.OnEvent),
		webhookNotify: hooks.Notify,
	}); err != nil {
		return err
	}
	sc.watchHasher(a.hasher)
	// The heap's bound follows from the hashing it must hold (unless
	// GOMEMLIMIT says otherwise); a login burst's memory goes back to the
	// system 2 s after the last hash.
	if limit, set := a.hasher.ApplyMemoryLimit(2 * time.Second); set {
		log.Debug("soft memory limit from the hashing configuration", "bytes", limit)
	}
	// Bearer checks keep sessions and users in memory: revocations by
	// other instances make them read those again.
	sc.hub.Subscribe(func(n fanout.Notice) { a.svc.Invalidate(n.UserID, n.SessionID) })
	sc.metrics.SessionCache(a.svc.SessionCacheStats)
	// Addresses stored under older matching rules get today's keys before
	// the first request is matched against them.
	if _, err := a.svc.RekeyEmails(ctx); err != nil {
		return fmt.Errorf("matching stored email addresses: %w", err)
	}

	// Metrics on their own listener, only when LATCH_METRICS_ADDR is set.
	metricsAddr, stopMetrics, err := sc.serveMetrics(c.MetricsAddr, log)
	if err != nil {
		return err
	}
	defer stopMetrics()
	srv := newHTTPServer(newHandler(c, log, a.svc, sc, revocations), log)
	// Answer waiting revocation feed polls at once when shutting down.
	srv.RegisterOnShutdown(revocations.Close)

	stopBackground := startBackground(ctx, log, worker, hooks, a.svc)
	defer stopBackground()
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	logListening(log, c, ln, metricsAddr)

	select {
	case err := <-serveErr:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down: finishing requests in flight")
	shutCtx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutCtx); err != nil {
		log.Warn("shutdown", "err", err)
	}
	a.svc.Close()
	stopBackground()
	log.Info("stopped")
	return nil
}

// warnDevelopmentSecret says, when LATCH_SECRET is unset, which
// development secret file seals the signing keys.
func warnDevelopmentSecret(log *slog.Logger, from secretSource) {
	if from.created {
		log.Warn("LATCH_SECRET is not set: generated a development secret; signing keys are sealed with it. Set LATCH_SECRET in production.", "file", from.file)
	} else if from.file != "" {
		log.Warn("LATCH_SECRET is not set: using the development secret file", "file", from.file)
	}
}

// listen binds LATCH_ADDR. A public URL (and audience) that follows the
// listen address takes the address bound, whose port differs for port 0.
func listen(c *config) (net.Listener, error) {
	ln, err := net.Listen("tcp", c.Addr)
	if err != nil {
		return nil, fmt.Errorf("LATCH_ADDR %s: %w", c.Addr, err)
	}
	if c.PublicURLFromAddr {
		c.PublicURL = publicURLForAddr(ln.Addr().String())
		if c.AudienceFromPublicURL {
			c.Audience = c.PublicURL
		}
	}
	return ln, nil
}

// newMailWorker returns the outbox worker: it sends through LATCH_SMTP_URL
// or, without one, writes each mail to the log.
func newMailWorker(c *config, log *slog.Logger, db *sqlstore.DB, sc *scale) (*mail.Worker, error) {
	var sender mail.Sender
	if c.SMTPURL != "" {
		s, err := mail.NewSMTPSender(c.SMTPURL, c.MailFrom)
		if err != nil {
			return nil, err
		}
		sender = s
	} else {
		log.Warn("LATCH_SMTP_URL is not set: mails are written to this log, links included (development only)")
		sender = mail.NewLogSender(log)
	}
	return mail.NewWorker(db, sc.sender(sender), mail.WorkerConfig{Logger: log}), nil
}

// newRevocationFeed returns the revocation feed: woken by every security
// event that may revoke tokens (its OnEvent, given to the service) and by
// the revocations of other instances, and re-reading the store while
// followers wait.
func newRevocationFeed(c *config, log *slog.Logger, db *sqlstore.DB, sc *scale) *revfeed.Feed {
	feed := revfeed.New(revfeed.Config{Store: db, AccessTTL: c.AccessTTL, Logger: log})
	sc.hub.Subscribe(func(fanout.Notice) { feed.Changed() })
	return feed
}

// newHandler is the HTTP API, pages and discovery documents of svc.
func newHandler(c *config, log *slog.Logger, svc *auth.Service, sc *scale, revocations *revfeed.Feed) http.Handler {
	return httpapi.NewServer(httpapi.Config{
		Service:          svc,
		Logger:           log,
		TrustedProxies:   c.TrustedProxies,
		CORSOrigins:      c.CORSOrigins,
		AdminKey:         c.AdminKey,
		OAuthClients:     c.OAuthClients,
		PasswordGrantOff: !c.PasswordGrant,
		Metrics:          sc.metrics,
		Revocations:      revocations,
		RevocationKey:    c.RevocationKey,
	})
}

// startBackground starts the work beside the requests: the mail outbox
// worker; signing keys reloaded every minute and rotated when due; ended
// sessions and used links deleted after auth.Retention, hourly. It
// outlives ctx (requests in flight still queue mail while shutting down)
// until the returned stop, which waits for all of it and may be called
// more than once.
func startBackground(ctx context.Context, log *slog.Logger, worker *mail.Worker, hooks *webhook.Worker, svc *auth.Service) (stop func()) {
	bgCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	wg.Add(4)
	go func() {
		defer wg.Done()
		if err := hooks.Run(bgCtx); err != nil {
			log.Error("webhook worker stopped", "err", err)
		}
	}()
	go func() {
		defer wg.Done()
		if err := worker.Run(bgCtx); err != nil && !errors.Is(err, context.Canceled) {
			log.Error("mail worker stopped", "err", err)
		}
	}()
	go func() {
		defer wg.Done()
		svc.RunKeyMaintenance(bgCtx)
	}()
	go func() {
		defer wg.Done()
		svc.RunPrune(bgCtx)
	}()
	return func() { cancel(); wg.Wait() }
}

// logListening announces the server, with where its data, mail and
// shared limits go (never a password).
func logListening(log *slog.Logger, c *config, ln net.Listener, metricsAddr string) {
	attrs := []any{"addr", ln.Addr().String(), "public_url", c.PublicURL,
		"database", describeDatabase(c.DatabaseURL), "mail", describeMail(c.SMTPURL),
		"redis", describeRedis(c.RedisURL), "env", c.Env, "version", version}
	if metricsAddr != "" {
		attrs = append(attrs, "metrics_addr", metricsAddr)
	}
	log.Info("listening", attrs...)
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
