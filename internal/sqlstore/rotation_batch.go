package sqlstore

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/latchauth/latch/internal/auth"
)

// Group commit for refresh rotations. Rotations that arrive while a batch
// is being written wait, and the next batch runs them all at once; each
// caller gets its answer only after its batch committed.
//
// On SQLite a batch is one transaction. SQLite commits one transaction at
// a time, and a commit writes every page the transaction changed to the
// WAL: a rotation changes five or six pages (the token's row, the
// successor's row and its three index entries, the session), most of them
// the same pages as the rotations waiting behind it. One commit writes
// each shared page once.
//
// On PostgreSQL a batch is one statement (rotateSetSQL). Most of the
// database's time for a lone rotation is what every statement and every
// commit costs whatever it does (executor start-up, the plan, the round
// trip, the commit record and the WAL flush); a batch pays it once. The
// price: while a batch waits for a session row that a revocation holds,
// the rotations queued behind it wait too (a revocation is one short
// transaction; the statement timeout bounds the worst case). One batch
// at a time per process left the cores idle while its commit reached the
// disk; two overlap that wait with the next batch's execution.

// maxRotationBatch bounds a batch, and so the time it holds SQLite's write
// lock or PostgreSQL's row locks.
const maxRotationBatch = 64

// rotationBatchTimeout bounds one batch. A batch serves many requests, so
// it runs on its own context, not on the context of the caller that runs
// it (whose client may go away).
const rotationBatchTimeout = 5 * time.Second

// rotationQueue holds the rotations waiting for a batch.
type rotationQueue struct {
	leader  chan struct{} // a semaphore of flavor.rotationBatches: held by the callers running a batch
	mu      sync.Mutex
	pending []*rotationRequest
}

// rotation is one rotation of a batch: the request and, on single-writer
// flavours, the session and user its token belongs to (read before it was
// queued).
type rotation struct {
	auth.RefreshRotation
	sessionID, userID string
}

type rotationRequest struct {
	r    rotation
	st   *auth.RefreshState // what the batch read (PostgreSQL only)
	won  bool
	err  error
	done chan struct{} // closed when st, won and err are set
}

// rotateBatched queues r for the next batch, and runs batches itself while
// a batch slot (flavor.rotationBatches) is free, until r's batch committed
// or failed. While r is
// still queued, the end of ctx withdraws it; once a batch has taken it,
// the outcome is waited for (it is being written).
func (db *DB) rotateBatched(ctx context.Context, r rotation) (*auth.RefreshState, bool, error) {
	q := &db.rotations
	req := &rotationRequest{r: r, done: make(chan struct{})}
	q.mu.Lock()
	q.pending = append(q.pending, req)
	q.mu.Unlock()
	for {
		select {
		case <-req.done:
			return req.st, req.won, req.err
		default:
		}
		select {
		case <-req.done:
			return req.st, req.won, req.err
		case q.leader <- struct{}{}:
			q.mu.Lock()
			n := min(len(q.pending), maxRotationBatch)
			batch := slices.Clone(q.pending[:n])
			q.pending = slices.Delete(q.pending, 0, n)
			queued := slices.Contains(q.pending, req)
			q.mu.Unlock()
			if len(batch) > 0 {
				db.runRotationBatch(batch)
			}
			<-q.leader
			if !queued {
				// In this batch, or in one another caller is running:
				// only its outcome is left to wait for.
				<-req.done
				return req.st, req.won, req.err
			}
		case <-ctx.Done():
			q.mu.Lock()
			i := slices.Index(q.pending, req)
			if i >= 0 {
				q.pending = slices.Delete(q.pending, i, i+1)
			}
			q.mu.Unlock()
			if i >= 0 {
				return nil, false, db.mapErr("rotate refresh token", ctx.Err())
			}
			<-req.done
			return req.st, req.won, req.err
		}
	}
}

// runRotationBatch runs batch and answers each request. When the batch
// fails and it held more than one rotation, each is tried again alone, so
// that one rotation's failure is not the others'.
func (db *DB) runRotationBatch(batch []*rotationRequest) {
	ctx, cancel := context.WithTimeout(context.Background(), rotationBatchTimeout)
	defer cancel()
	if err := db.rotateMany(ctx, batch); err != nil {
		for i, req := range batch {
			if len(batch) == 1 {
				req.err = err
			} else if err := db.rotateMany(ctx, batch[i:i+1]); err != nil {
				req.err = err
			}
		}
	}
	for _, req := range batch {
		close(req.done)
	}
}

// rotateMany runs batch in one transaction, and answers each of its
// requests when that committed: as one statement on PostgreSQL, as
// rotateInTx on single-writer flavours.
func (db *DB) rotateMany(ctx context.Context, batch []*rotationRequest) error {
	if !db.flavor.singleWriter {
		return db.rotateSet(ctx, batch)
	}
	rs := make([]rotation, len(batch))
	for i, req := range batch {
		rs[i] = req.r
	}
	won, err := db.rotateInTx(ctx, rs)
	if err != nil {
		return err
	}
	for i, req := range batch {
		req.won = won[i]
	}
	return nil
}
