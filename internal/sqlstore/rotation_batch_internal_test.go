package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/latchauth/latch/internal/auth"
)

// A batch whose transaction fails is tried again one rotation at a time:
// the rotation that fails gets the error, the others rotate.
func TestRotationBatchFailureIsTheFailingRotationsAlone(t *testing.T) {
	db := openTest(t, filepath.Join(t.TempDir(), "latch.db"), options{busyTimeout: defaultBusyTimeout})
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
