// Package authtest holds the test fixture the service's tests share: a
// settable clock, a migrated SQLite store in the test's temporary
// directory, an auth.Service on the real hasher, limiter and composer, and
// readers of the mail outbox.
//
// It is for tests only: no non-test code may import it.
package authtest

import (
	"context"
	"log/slog"
	"path/filepath"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/latchauth/latch/internal/auth"
	"github.com/latchauth/latch/internal/limit"
	"github.com/latchauth/latch/internal/mail"
	"github.com/latchauth/latch/internal/password"
	"github.com/latchauth/latch/internal/sqlstore"
)

// Secret is the auth.Config.Secret New uses when the config has none.
const Secret = "0123456789abcdef0123456789abcdef"

// Clock is a settable time source, safe for concurrent use. Pass its Now
// method wherever a component takes a clock.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a clock reading start.
func NewClock(start time.Time) *Clock { return &Clock{t: start} }

// DefaultStart is the time a Fixture's clock reads at first.
func DefaultStart() time.Time { return time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC) }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward by d (backward if d is negative).
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// Set sets the clock to t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

// Open opens the database at dbURL without migrating it and closes it
// when t ends.
func Open(t testing.TB, dbURL string) *sqlstore.DB {
	t.Helper()
	db, err := sqlstore.Open(context.Background(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// OpenMigrated is Open followed by the schema migrations.
func OpenMigrated(t testing.TB, dbURL string) *sqlstore.DB {
	t.Helper()
	db := Open(t, dbURL)
	if err := db.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return db
}

// OpenStore returns a migrated SQLite store in a file of t.TempDir(),
// closed when t ends.
func OpenStore(t testing.TB) *sqlstore.DB {
	t.Helper()
	return OpenMigrated(t, "sqlite:"+filepath.Join(t.TempDir(), "t.db"))
}

// Fixture is a service on a real store with a settable clock.
type Fixture struct {
	Service *auth.Service
	DB      *sqlstore.DB
	Clock   *Clock
}

// An Option changes what New builds.
type Option func(*options)

type options struct {
	db    *sqlstore.DB
	clock *Clock
	deps  []func(*auth.Deps)
}

// WithStore runs the service on db instead of a fresh OpenStore.
func WithStore(db *sqlstore.DB) Option { return func(o *options) { o.db = db } }

// WithClock runs the service on c instead of a fresh clock at
// DefaultStart.
func WithClock(c *Clock) Option { return func(o *options) { o.clock = c } }

// WithDeps lets edit change the service's dependencies (the hasher's
// parameters, a store wrapper, ...) after New has filled them in.
func WithDeps(edit func(*auth.Deps)) Option {
	return func(o *options) { o.deps = append(o.deps, edit) }
}

// New starts an auth.Service with cfg (Secret defaults to the constant
// Secret) on a migrated SQLite store, the real argon2id hasher with its
// default parameters, the in-memory limiter and the mail composer, all
// reading the fixture's clock. The service is closed when t ends.
func New(t testing.TB, cfg auth.Config, opts ...Option) *Fixture {
	t.Helper()
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	if o.db == nil {
		o.db = OpenStore(t)
	}
	if o.clock == nil {
		o.clock = NewClock(DefaultStart())
	}
	if cfg.Secret == nil {
		cfg.Secret = []byte(Secret)
	}
	deps := auth.Deps{
		Store:    o.db,
		Webhooks: o.db,
		Limiter:  limit.NewWithClock(o.clock.Now),
		Composer: mail.NewComposer(),
		Hasher:   password.NewHasher(password.Config{}),
		Policy:   password.Policy{},
		Now:      o.clock.Now,
		Logger:   slog.New(lostWebhooks{t}),
	}
	for _, edit := range o.deps {
		edit(&deps)
	}
	svc, err := auth.New(context.Background(), cfg, deps)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(svc.Close)
	return &Fixture{Service: svc, DB: o.db, Clock: o.clock}
}

// lostWebhooks fails the test when the service logs one of its bugs: an
// event whose webhooks its transaction did not queue
// (auth.ErrWebhooksNotQueued), an event that changed after its audit row
// was written (auth.ErrAuditStale), a rotation the store made and the
// service refused (auth.ErrRotationRefused). It drops every other record,
// as the default discard logger does.
type lostWebhooks struct{ t testing.TB }

func (h lostWebhooks) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelError }

func (h lostWebhooks) Handle(_ context.Context, r slog.Record) error {
	switch r.Message {
	case auth.ErrWebhooksNotQueued.Error(), auth.ErrAuditStale.Error(), auth.ErrRotationRefused.Error():
		var typ string
		r.Attrs(func(a slog.Attr) bool {
			if a.Key == "event" {
				typ = a.Value.String()
			}
			return true
		})
		h.t.Errorf("%s: %s", r.Message, typ)
	}
	return nil
}

func (h lostWebhooks) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h lostWebhooks) WithGroup(string) slog.Handler      { return h }

// PeekMail returns the mails in db's outbox due by an hour after now,
// oldest first, and leaves them there.
func PeekMail(t testing.TB, db *sqlstore.DB, now time.Time) []*auth.OutboxMessage {
	t.Helper()
	// A lease under a microsecond, the store's resolution, leaves the
	// mails due.
	msgs, err := db.ClaimMail(context.Background(), now.Add(time.Hour), 1000, time.Nanosecond)
	if err != nil {
		t.Fatal(err)
	}
	return msgs
}

// DrainMail returns the mails in db's outbox due by an hour after now,
// oldest first, and deletes them as delivered.
func DrainMail(t testing.TB, db *sqlstore.DB, now time.Time) []*auth.OutboxMessage {
	t.Helper()
	msgs, err := db.ClaimMail(context.Background(), now.Add(time.Hour), 1000, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range msgs {
		if err := db.MailSent(context.Background(), m.ID); err != nil {
			t.Fatal(err)
		}
	}
	return msgs
}

var linkToken = regexp.MustCompile(`token=([A-Za-z0-9_-]+)`)

// MailTokens returns the tokens in the links of the mails in msgs to addr
// of kind (any kind if kind is ""), oldest first.
func MailTokens(msgs []*auth.OutboxMessage, addr, kind string) []string {
	var out []string
	for _, m := range msgs {
		if m.Message.To != addr || (kind != "" && m.Kind != kind) {
			continue
		}
		if sm := linkToken.FindStringSubmatch(m.Message.Text); sm != nil {
			out = append(out, sm[1])
		}
	}
	return out
}

// LastToken returns the newest of MailTokens(msgs, addr, kind) and fails t
// if there is none.
func LastToken(t testing.TB, msgs []*auth.OutboxMessage, addr, kind string) string {
	t.Helper()
	toks := MailTokens(msgs, addr, kind)
	if len(toks) == 0 {
		what := "mail"
		if kind != "" {
			what = kind + " mail"
		}
		t.Fatalf("no %s with a token to %s among %d", what, addr, len(msgs))
	}
	return toks[len(toks)-1]
}

// LastMailToken returns the token in the newest mail to addr in db's
// outbox (as PeekMail reads it at now), leaving the outbox as it is.
func LastMailToken(t testing.TB, db *sqlstore.DB, now time.Time, addr string) string {
	t.Helper()
	return LastToken(t, PeekMail(t, db, now), addr, "")
}
