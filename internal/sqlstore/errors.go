package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"net"

	"github.com/latchauth/latch/internal/auth"
)

// mapErr wraps err, from operation op, with the auth sentinel it stands for
// (if any), keeping err in the chain.
func (db *DB) mapErr(op string, err error) error {
	if err == nil {
		return nil
	}
	var kind error
	switch {
	case errors.Is(err, sql.ErrNoRows):
		kind = auth.ErrNotFound
	default:
		switch db.flavor.classify(err) {
		case classConflict:
			kind = auth.ErrConflict
		case classMissingRef:
			kind = auth.ErrNotFound
		case classBusy, classDown:
			kind = auth.ErrStoreDown
		default:
			var ne net.Error
			// sql.ErrTxDone: the transaction's context ended and
			// database/sql rolled it back under the statement.
			if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, driver.ErrBadConn) ||
				errors.Is(err, sql.ErrConnDone) || errors.Is(err, sql.ErrTxDone) || errors.As(err, &ne) {
				kind = auth.ErrStoreDown
			}
		}
	}
	if kind == nil || errors.Is(err, kind) {
		return fmt.Errorf("sqlstore: %s: %w", op, err)
	}
	return fmt.Errorf("sqlstore: %s: %w: %w", op, kind, err)
}

// notFound is the error of an update or delete that matched no row.
func notFound(op string) error {
	return fmt.Errorf("sqlstore: %s: %w", op, auth.ErrNotFound)
}
