package sqlstore

import (
	"context"

	"github.com/latchauth/latch/internal/auth"
)

// MailAbandoned deletes a message the mail worker gave up on:
// like a sent one, it leaves no body behind; auth.ErrNotFound if it is
// gone.
func (db *DB) MailAbandoned(ctx context.Context, id int64) error {
	return db.Tx(ctx, func(atx auth.Tx) error {
		return atx.(*tx).execOne(ctx, "mail abandoned", `DELETE FROM outbox WHERE id = $1`, id)
	})
}
