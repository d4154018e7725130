package auth

import (
	"context"
	"time"
)

// Retention is how long ended sessions (with their refresh tokens) and used
// or expired emailed links are kept before Prune deletes them. It outlasts
// every window that reads them: the mail caps (at most 24 h), the
// revocation feed (one access token lifetime) and the refresh grace.
const Retention = 7 * 24 * time.Hour

// PruneEvery is how often RunPrune prunes.
const PruneEvery = time.Hour

// UnconfirmedMargin is how long after its confirmation lifetime an
// unconfirmed account is kept: a signup squatting an address it cannot
// receive mail at expires, while an owner whose link just ran out has a day
// to ask for a new one.
const UnconfirmedMargin = 24 * time.Hour

// PruneBatch is how many accounts holding a confirmation link one
// transaction of Prune examines: each write transaction stays short
// however many users there are, so that requests needing a write (a login
// creates a session) wait for at most one batch, never for the whole prune.
const PruneBatch = 500

// Prune deletes sessions that ended or expired, one-time tokens that were
// used or expired and the record of notice mails, more than Retention ago
// (or longer, when a window that reads them is longer). With confirmation
// required it also deletes the accounts still unconfirmed ConfirmTTL +
// UnconfirmedMargin after they were created (unless they have a live
// session), so that nobody holds an address they never proved; those are
// deleted PruneBatch accounts per transaction. It returns how many rows
// went.
func (s *Service) Prune(ctx context.Context) (int64, error) {
	keep := max(Retention, 2*s.cfg.AccessTTL, s.cfg.ResendCap.Per, s.cfg.ForgotCap.Per, s.cfg.NoticeCap.Per)
	now := s.now()
	before := now.Add(-keep)
	var n int64
	if s.cfg.RequireConfirmation {
		// Before the links go (tx.Prune): an account is found through
		// its confirmation link.
		createdBefore := now.Add(-(s.cfg.ConfirmTTL + UnconfirmedMargin))
		after := ""
		for {
			var users int64
			var next string
			err := s.deps.Store.Tx(ctx, func(tx Tx) (err error) {
				users, next, err = tx.PruneUnconfirmed(ctx, createdBefore, now, after, PruneBatch)
				return err
			})
			if err != nil {
				return n, err
			}
			n += users
			if next == "" {
				break
			}
			after = next
		}
	}
	var rows int64
	err := s.deps.Store.Tx(ctx, func(tx Tx) (err error) {
		rows, err = tx.Prune(ctx, before)
		return err
	})
	return n + rows, err
}

// RunPrune prunes every PruneEvery until ctx ends. Failures are logged and
// tried again at the next tick.
func (s *Service) RunPrune(ctx context.Context) {
	t := time.NewTicker(PruneEvery)
	defer t.Stop()
	for {
		pctx, cancel := context.WithTimeout(ctx, time.Minute)
		n, err := s.Prune(pctx)
		cancel()
		switch {
		case err != nil && ctx.Err() == nil:
			s.log.Warn("pruning ended sessions and used links", "err", err)
		case n > 0:
			s.log.Info("pruned ended sessions and used links", "rows", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
