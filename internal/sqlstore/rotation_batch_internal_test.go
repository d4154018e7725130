package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/latchauth/latch/internal/auth"
	"github.com/latchauth/latch/internal/svctest"
)

// openFlavours opens a migrated store of each flavour: SQLite in a file,
// PostgreSQL in a new schema (skipped when PostgreSQL is absent).
func openFlavours(t *testing.T) map[string]func(t *testing.T) *DB {
	return map[string]func(t *testing.T) *DB{
		"sqlite": func(t *testing.T) *DB {
			return openTest(t, filepath.Join(t.TempDir(), "latch.db"), options{busyTimeout: defaultBusyTimeout})
		},
		"postgres": openTestPostgres,
	}
}

func openTestPostgres(t *testing.T) *DB {
	t.Helper()
	return openTestURL(t, svctest.PostgresURL(t), options{})
}

// seedToken creates user u1, its session s1 and the session's refresh
// token "rt", all at now.
func seedToken(t *testing.T, db *DB, now time.Time) {
	t.Helper()
	ctx := context.Background()
	err := db.Tx(ctx, func(tx auth.Tx) error {
		if err := tx.CreateUser(ctx, &auth.User{ID: "u1", Email: "a@example.com", EmailNorm: "a@example.com", CreatedAt: now}); err != nil {
			return err
		}
		if err := tx.CreateSession(ctx, &auth.Session{ID: "s1", UserID: "u1", CreatedAt: now, LastUsedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
			return err
		}
		return tx.CreateRefreshToken(ctx, &auth.RefreshToken{Hash: []byte("rt"), SessionID: "s1", UserID: "u1", CreatedAt: now})
	})
	if err != nil {
		t.Fatal(err)
	}
}

// A batch whose transaction fails is tried again one rotation at a time:
// the rotation that fails gets the error, the others rotate.
func TestRotationBatchFailureIsTheFailingRotationsAlone(t *testing.T) {
	for name, open := range openFlavours(t) {
		t.Run(name, func(t *testing.T) { testRotationBatchFailure(t, open(t)) })
	}
}

func testRotationBatchFailure(t *testing.T, db *DB) {
	ctx := context.Background()
	now := time.Now()
	var batch []*rotationRequest
	err := db.Tx(ctx, func(tx auth.Tx) error {
		if err := tx.CreateUser(ctx, &auth.User{ID: "u1", Email: "a@example.com", EmailNorm: "a@example.com", CreatedAt: now}); err != nil {
			return err
		}
		for i := range 3 {
			sid := fmt.Sprint("s", i)
			if err := tx.CreateSession(ctx, &auth.Session{ID: sid, UserID: "u1", CreatedAt: now, LastUsedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
				return err
			}
			if err := tx.CreateRefreshToken(ctx, &auth.RefreshToken{Hash: []byte("rt" + sid), SessionID: sid, UserID: "u1", CreatedAt: now}); err != nil {
				return err
			}
			succ := []byte("next" + sid)
			if i == 1 {
				succ = []byte("rts0") // taken: session 0's token
			}
			batch = append(batch, &rotationRequest{
				r: rotation{RefreshRotation: auth.RefreshRotation{Hash: []byte("rt" + sid), At: now, SuccessorHash: succ, SuccessorSealed: []byte("x")},
					sessionID: sid, userID: "u1"},
				done: make(chan struct{}),
			})
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	db.runRotationBatch(batch)
	for i, req := range batch {
		select {
		case <-req.done:
		default:
			t.Fatalf("request %d not answered", i)
		}
		if i == 1 {
			if req.won || !errors.Is(req.err, auth.ErrConflict) {
				t.Errorf("request 1 = %v, %v; want false, ErrConflict", req.won, req.err)
			}
			continue
		}
		if !req.won || req.err != nil {
			t.Errorf("request %d = %v, %v; want true, nil", i, req.won, req.err)
		}
	}
	rt, err := db.RefreshTokenByHash(ctx, []byte("rts1"))
	if err != nil || !rt.UsedAt.IsZero() {
		t.Errorf("the failed rotation's token: %+v, %v; want it unused", rt, err)
	}
}

// A caller whose context ends while its rotation still waits for a batch
// withdraws it: nothing is written for it.
func TestRotationWithdrawnWhileQueued(t *testing.T) {
	db := openTest(t, filepath.Join(t.TempDir(), "latch.db"), options{busyTimeout: defaultBusyTimeout})
	ctx := context.Background()
	now := time.Now()
	seedToken(t, db, now)
	// Another caller runs a batch: this one can only queue.
	db.rotations.leader <- struct{}{}
	cctx, cancel := context.WithCancel(ctx)
	res := make(chan error, 1)
	go func() {
		_, _, err := db.RotateRefreshTokenIfAllowed(cctx, auth.RefreshRotation{Hash: []byte("rt"), At: now, SuccessorHash: []byte("next"), SuccessorSealed: []byte("x")})
		res <- err
	}()
	for {
		db.rotations.mu.Lock()
		n := len(db.rotations.pending)
		db.rotations.mu.Unlock()
		if n == 1 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-res; !errors.Is(err, context.Canceled) {
		t.Errorf("withdrawn rotation: %v, want context.Canceled", err)
	}
	<-db.rotations.leader
	if n := len(db.rotations.pending); n != 0 {
		t.Errorf("%d rotations still queued", n)
	}
	rt, err := db.RefreshTokenByHash(ctx, []byte("rt"))
	if err != nil || !rt.UsedAt.IsZero() {
		t.Errorf("token after the withdrawn rotation: %+v, %v; want it unused", rt, err)
	}
}

// On PostgreSQL a batch is one statement, and each of its rotations is
// judged on its own: by its own client, time and idle lifetime, even
// beside an allowed rotation of the same session; among rotations of one
// token exactly one wins; a token that is not there is that rotation's
// ErrNotFound alone.
func TestPostgresRotationBatchJudgesEachRotation(t *testing.T) {
	db := openTestPostgres(t)
	ctx := context.Background()
	now := time.Now().Truncate(time.Microsecond)
	later := now.Add(time.Minute)
	err := db.Tx(ctx, func(tx auth.Tx) error {
		for _, u := range []*auth.User{
			{ID: "u1", Email: "a@example.com", EmailNorm: "a@example.com", CreatedAt: now},
			{ID: "u2", Email: "b@example.com", EmailNorm: "b@example.com", CreatedAt: now, Disabled: true},
		} {
			if err := tx.CreateUser(ctx, u); err != nil {
				return err
			}
		}
		for _, s := range []*auth.Session{
			{ID: "s1", UserID: "u1", CreatedAt: now, LastUsedAt: now, ExpiresAt: now.Add(time.Hour)},
			{ID: "s2", UserID: "u1", CreatedAt: now, LastUsedAt: now, ExpiresAt: now.Add(time.Hour), ClientID: "app", ClientConfidential: true},
			{ID: "s3", UserID: "u2", CreatedAt: now, LastUsedAt: now, ExpiresAt: now.Add(time.Hour)},
		} {
			if err := tx.CreateSession(ctx, s); err != nil {
				return err
			}
		}
		for _, rt := range []*auth.RefreshToken{
			{Hash: []byte("rt1"), SessionID: "s1", UserID: "u1", CreatedAt: now},
			{Hash: []byte("rt2"), SessionID: "s2", UserID: "u1", CreatedAt: now},
			{Hash: []byte("rt2b"), SessionID: "s2", UserID: "u1", CreatedAt: now},
			{Hash: []byte("rt3"), SessionID: "s3", UserID: "u2", CreatedAt: now},
		} {
			if err := tx.CreateRefreshToken(ctx, rt); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	app := auth.OAuthClient{ID: "app", Confidential: true}
	reqs := []auth.RefreshRotation{
		{Hash: []byte("rt1"), At: later, SuccessorHash: []byte("rt1-next-a")},
		{Hash: []byte("rt1"), At: later, SuccessorHash: []byte("rt1-next-b")},
		{Hash: []byte("rt2"), At: later, SuccessorHash: []byte("rt2-next"), Client: app},
		{Hash: []byte("rt2b"), At: later, SuccessorHash: []byte("rt2b-next"), Client: auth.OAuthClient{ID: "other"}},
		{Hash: []byte("absent"), At: later, SuccessorHash: []byte("absent-next")},
		{Hash: []byte("rt3"), At: later, SuccessorHash: []byte("rt3-next")},
		// Idle for longer than the lifetime it names: the session ended.
		{Hash: []byte("rt2b"), At: later, SuccessorHash: []byte("rt2b-next-idle"), Client: app, Idle: time.Second},
	}
	var batch []*rotationRequest
	for i, r := range reqs {
		r.SuccessorSealed = []byte(fmt.Sprint("sealed", i))
		batch = append(batch, &rotationRequest{r: rotation{RefreshRotation: r}, done: make(chan struct{})})
	}
	db.runRotationBatch(batch)
	wantWon := []bool{true, false, true, false, false, false, false}
	for i, req := range batch {
		<-req.done
		if i == 4 {
			if !errors.Is(req.err, auth.ErrNotFound) {
				t.Errorf("rotation 4 of an absent token: %v, want ErrNotFound", req.err)
			}
			continue
		}
		if req.err != nil || req.won != wantWon[i] {
			t.Errorf("rotation %d = won %v, %v; want won %v", i, req.won, req.err, wantWon[i])
			continue
		}
		// Each gets the state it was judged on, as read before the batch
		// wrote: every token still unused.
		if !slices.Equal(req.st.Token.Hash, reqs[i].Hash) || !req.st.Token.UsedAt.IsZero() || req.r.Allows(req.st) != (i < 3) {
			t.Errorf("rotation %d read %+v (allows %v)", i, req.st.Token, req.r.Allows(req.st))
		}
	}
	if batch[5].st != nil && !batch[5].st.User.Disabled {
		t.Errorf("rotation 5 read its user as enabled")
	}
	tok := func(h string) *auth.RefreshToken {
		t.Helper()
		rt, err := db.RefreshTokenByHash(ctx, []byte(h))
		if err != nil {
			t.Fatalf("token %s: %v", h, err)
		}
		return rt
	}
	if rt := tok("rt1"); !rt.UsedAt.Equal(later) || string(rt.SuccessorHash) != "rt1-next-a" || string(rt.SuccessorSealed) != "sealed0" {
		t.Errorf("rt1 after the batch: %+v; want used by rotation 0", rt)
	}
	if rt := tok("rt1-next-a"); rt.SessionID != "s1" || rt.UserID != "u1" || !rt.CreatedAt.Equal(later) {
		t.Errorf("rt1's successor: %+v", rt)
	}
	if _, err := db.RefreshTokenByHash(ctx, []byte("rt1-next-b")); !errors.Is(err, auth.ErrNotFound) {
		t.Errorf("the losing rotation's successor: %v, want ErrNotFound", err)
	}
	if rt := tok("rt2"); !rt.UsedAt.Equal(later) {
		t.Errorf("rt2 after the batch: %+v; want used", rt)
	}
	for _, h := range []string{"rt2b", "rt3"} {
		if rt := tok(h); !rt.UsedAt.IsZero() || rt.SuccessorHash != nil {
			t.Errorf("%s after the batch: %+v; want it untouched", h, rt)
		}
	}
	for id, want := range map[string]time.Time{"s1": later, "s2": later, "s3": now} {
		s, err := db.SessionByID(ctx, id)
		if err != nil || !s.LastUsedAt.Equal(want) {
			t.Errorf("session %s: %+v, %v; want last used %v", id, s, err, want)
		}
	}
}

// On PostgreSQL a rotation does not wait for a batch in progress to end:
// a second batch runs beside it (its commit's wait for the disk is not
// the next batch's).
func TestPostgresRotationBesideABatchInProgress(t *testing.T) {
	db := openTestPostgres(t)
	ctx := context.Background()
	now := time.Now()
	seedToken(t, db, now)
	db.rotations.leader <- struct{}{} // a batch in progress
	defer func() { <-db.rotations.leader }()
	// Bounded, so that a rotation queued behind the batch fails the test
	// instead of hanging it.
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	_, won, err := db.RotateRefreshTokenIfAllowed(ctx, auth.RefreshRotation{Hash: []byte("rt"), At: now, SuccessorHash: []byte("next"), SuccessorSealed: []byte("x")})
	if err != nil || !won {
		t.Fatalf("rotation beside a batch in progress: %v, %v; want it to win", won, err)
	}
}
