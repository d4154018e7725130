package sqlstore_test

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/latchauth/latch/internal/auth"
	"github.com/latchauth/latch/internal/authtest"
	"github.com/latchauth/latch/internal/sqlstore"
	"github.com/latchauth/latch/internal/svctest"
)

// BenchmarkRefreshTx times the store work of one refresh rotation (the
// transaction of auth.Service.Refresh: read the token, its session and
// user, mark the token used, insert its successor, touch the session) on
// SQLite and on PostgreSQL, one rotation at a time and with parallel
// sessions (docs/benchmarks.md).
func BenchmarkRefreshTx(b *testing.B) {
	flavours := []struct {
		name string
		open func(b *testing.B) *sqlstore.DB
	}{
		{"sqlite", func(b *testing.B) *sqlstore.DB {
			return authtest.OpenMigrated(b, "sqlite:"+b.TempDir()+"/latch.db")
		}},
		{"postgres", func(b *testing.B) *sqlstore.DB { return authtest.OpenMigrated(b, svctest.PostgresURL(b)) }},
	}
	for _, fl := range flavours {
		b.Run(fl.name, func(b *testing.B) {
			db := fl.open(b)
			defer db.Close()
			ctx := context.Background()
			var seq atomic.Int64
			// newChain creates a user, a session and its first token.
			newChain := func() (n int64, tok []byte) {
				n = seq.Add(1)
				uid, sid := fmt.Sprint("u", n), fmt.Sprint("s", n)
				tok = tokenHash(n, 0)
				now := time.Now()
				err := db.Tx(ctx, func(tx auth.Tx) error {
					if err := tx.CreateUser(ctx, &auth.User{ID: uid, Email: uid + "@example.com", EmailNorm: uid + "@example.com", CreatedAt: now}); err != nil {
						return err
					}
					if err := tx.CreateSession(ctx, &auth.Session{ID: sid, UserID: uid, CreatedAt: now, LastUsedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
						return err
					}
					return tx.CreateRefreshToken(ctx, &auth.RefreshToken{Hash: tok, SessionID: sid, UserID: uid, CreatedAt: now})
				})
				if err != nil {
					b.Fatal(err)
				}
				return n, tok
			}
			rotate := func(tok []byte, next []byte) {
				err := db.Tx(ctx, func(tx auth.Tx) error {
					now := time.Now()
					rt, err := tx.RefreshTokenByHash(ctx, tok)
					if err != nil {
						return err
					}
					if _, err := tx.SessionByID(ctx, rt.SessionID); err != nil {
						return err
					}
					if _, err := tx.UserByID(ctx, rt.UserID); err != nil {
						return err
					}
					won, err := tx.MarkRefreshTokenUsed(ctx, tok, now, next, []byte("sealed successor"))
					if err != nil || !won {
						return fmt.Errorf("mark used: %v %v", won, err)
					}
					if err := tx.CreateRefreshToken(ctx, &auth.RefreshToken{Hash: next, SessionID: rt.SessionID, UserID: rt.UserID, CreatedAt: now}); err != nil {
						return err
					}
					return tx.TouchSession(ctx, rt.SessionID, now)
				})
				if err != nil {
					b.Fatal(err)
				}
			}
			b.Run("serial", func(b *testing.B) {
				n, tok := newChain()
				i := int64(0)
				for b.Loop() {
					i++
					next := tokenHash(n, i)
					rotate(tok, next)
					tok = next
				}
			})
			b.Run("parallel", func(b *testing.B) {
				b.SetParallelism(4) // 4 x GOMAXPROCS sessions rotating at once
				b.RunParallel(func(pb *testing.PB) {
					n, tok := newChain()
					i := int64(0)
					for pb.Next() {
						i++
						next := tokenHash(n, i)
						rotate(tok, next)
						tok = next
					}
				})
			})
		})
	}
}

func tokenHash(chain, i int64) []byte {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(chain))
	binary.BigEndian.PutUint64(b[8:], uint64(i))
	h := sha256.Sum256(b[:])
	return h[:]
}
