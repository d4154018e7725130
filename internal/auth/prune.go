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

// Prune deletes sessions that ended or expired, one-time tokens that were
// used or expired and the record of notice mails, more than Retention ago
// (or longer, when a window that reads them is longer). With confirmation
// required it also deletes the accounts still unconfirmed ConfirmTTL +
// UnconfirmedMargin after they were created (unless they have a live
// session), so that nobody holds an address they never proved. It returns
// how many rows went.
func (s *Service) Prune(ctx context.Context) (int64, error) {
	keep := max(Retention, 2*s.cfg.AccessTTL, s.cfg.ResendCap.Per, s.cfg.ForgotCap.Per, s.cfg.NoticeCap.Per)
	now := s.now()
	before := now.Add(-keep)
	var n int64
	err := s.deps.Store.Tx(ctx, func(tx Tx) error {
		n = 0
		if s.cfg.RequireConfirmation {
			users, err := tx.PruneUnconfirmed(ctx, now.Add(-(s.cfg.ConfirmTTL + UnconfirmedMargin)), now)
			if err != nil {
				return err
			}
			n += users
		}
		rows, err := tx.Prune(ctx, before)
		n += rows
		return err
	})
	return n, err
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
