package sqlstore

import "context"

// queryRows runs query and scans every row it returns with scan; every
// failure is mapped as op. It is the one place that closes the rows and
// checks rows.Err, which a hand-written loop can forget.
func queryRows[T any](ctx context.Context, r reader, op, query string, scan func(scanner) (T, error), args ...any) ([]T, error) {
	rows, err := r.q.QueryContext(ctx, r.db.q(query), args...)
	if err != nil {
		return nil, r.db.mapErr(op, err)
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, r.db.mapErr(op, err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, r.db.mapErr(op, err)
	}
	return out, nil
}

// scanString scans a row of one text column.
func scanString(s scanner) (string, error) {
	var v string
	err := s.Scan(&v)
	return v, err
}
