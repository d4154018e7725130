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

// BenchmarkRefreshTx times the store work of one refresh rotation as
// auth.Service.Refresh does it (RotateRefreshTokenIfAllowed: read the
// token, its session and user, judge them, mark the token used, insert its
// successor and touch the session) on SQLite and on PostgreSQL, one
// rotation at a time and with parallel sessions (docs/benchmarks.md).
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
				_, won, err := db.RotateRefreshTokenIfAllowed(ctx, auth.RefreshRotation{
					Hash: tok, At: time.Now(), SuccessorHash: next, SuccessorSealed: []byte("sealed successor"),
				})
				if err != nil || !won {
					b.Fatalf("rotate: %v %v", won, err)
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
