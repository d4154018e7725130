package sqlstore

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/latchauth/latch/internal/auth"
)

// Group commit for single-writer flavours. SQLite commits one transaction
// at a time, and a commit writes every page the transaction changed to the
// WAL: a rotation changes five or six pages (the token's row, the
// successor's row and its three index entries, the session), most of them
// the same pages as the rotations waiting behind it. So rotations that
// arrive while a batch is being written wait, and the next batch runs them
// all in one transaction: one commit, each shared page written once. Each
// caller gets its answer only after its batch committed.

// maxRotationBatch bounds a batch, and so the time the write lock is held.
const maxRotationBatch = 64

// rotationBatchTimeout bounds one batch. A batch serves many requests, so
// it runs on its own context, not on the context of the caller that runs
// it (whose client may go away).
const rotationBatchTimeout = 5 * time.Second

// rotationQueue holds the rotations waiting for a batch.
type rotationQueue struct {
	leader  chan struct{} // a semaphore of one: held by the caller running a batch
	mu      sync.Mutex
	pending []*rotationRequest
}

// rotation is one rotation of a batch: the request, with the session and
// user its token belongs to (read before it was queued).
type rotation struct {
	auth.RefreshRotation
	sessionID, userID string
}

type rotationRequest struct {
	r    rotation
	won  bool
	err  error
	done chan struct{} // closed when won and err are set
}

// rotateBatched queues r for the next batch, and runs batches itself while
// no other caller does, until r's batch committed or failed. While r is
// still queued, the end of ctx withdraws it; once a batch has taken it,
// the outcome is waited for (it is being written).
func (db *DB) rotateBatched(ctx context.Context, r rotation) (bool, error) {
	q := &db.rotations
	req := &rotationRequest{r: r, done: make(chan struct{})}
	q.mu.Lock()
	q.pending = append(q.pending, req)
	q.mu.Unlock()
	for {
		select {
		case <-req.done:
			return req.won, req.err
		default:
		}
		select {
		case <-req.done:
			return req.won, req.err
		case q.leader <- struct{}{}:
			q.mu.Lock()
			n := min(len(q.pending), maxRotationBatch)
			batch := slices.Clone(q.pending[:n])
			q.pending = slices.Delete(q.pending, 0, n)
			q.mu.Unlock()
			if len(batch) > 0 {
				db.runRotationBatch(batch)
			}
			<-q.leader
		case <-ctx.Done():
			q.mu.Lock()
			i := slices.Index(q.pending, req)
			if i >= 0 {
				q.pending = slices.Delete(q.pending, i, i+1)
			}
			q.mu.Unlock()
			if i >= 0 {
				return false, db.mapErr("rotate refresh token", ctx.Err())
			}
			<-req.done
			return req.won, req.err
		}
	}
}

// runRotationBatch runs batch in one transaction and answers each request.
// When that transaction fails and it held more than one rotation, each is
// tried again alone, so that one rotation's failure is not the others'.
func (db *DB) runRotationBatch(batch []*rotationRequest) {
	ctx, cancel := context.WithTimeout(context.Background(), rotationBatchTimeout)
	defer cancel()
	rs := make([]rotation, len(batch))
	for i, req := range batch {
		rs[i] = req.r
	}
	won, err := db.rotateInTx(ctx, rs)
	for i, req := range batch {
		switch {
		case err == nil:
			req.won = won[i]
		case len(batch) == 1:
			req.err = err
		default:
			var one []bool
			if one, req.err = db.rotateInTx(ctx, rs[i:i+1]); req.err == nil {
				req.won = one[0]
			}
		}
		close(req.done)
	}
}
