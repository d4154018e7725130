package sqlstore

// Admin: the user listing, imports and the audit log.

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/latchauth/latch/internal/auth"
)

// ListUsers lists the users matching q in (created_at, id) order.
func (db *DB) ListUsers(ctx context.Context, q auth.UserQuery) ([]*auth.User, error) {
	ctx, cancel := db.opCtx(ctx)
	defer cancel()
	return db.reader().ListUsers(ctx, q)
}

// AuditEvents lists the audit events matching q, newest first.
func (db *DB) AuditEvents(ctx context.Context, q auth.AuditQuery) ([]*auth.AuditEvent, error) {
	ctx, cancel := db.opCtx(ctx)
	defer cancel()
	return db.reader().AuditEvents(ctx, q)
}

// likeEscaper makes a string match itself literally in LIKE ... ESCAPE '\'.
var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)

// where collects the conditions and arguments of a query, numbering the
// placeholders.
type where struct {
	conds []string
	args  []any
}

// add appends cond, in which every "?" stands for the next argument.
func (w *where) add(cond string, args ...any) {
	for _, a := range args {
		w.args = append(w.args, a)
		cond = strings.Replace(cond, "?", fmt.Sprintf("$%d", len(w.args)), 1)
	}
	w.conds = append(w.conds, cond)
}

func (w *where) String() string {
	if len(w.conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(w.conds, " AND ")
}

// ListUsers lists the users matching q in (created_at, id) order. Every
// user has a created_at (the service always sets it), so the row-value
// comparison pages through all of them, on the users_created index.
func (r reader) ListUsers(ctx context.Context, q auth.UserQuery) ([]*auth.User, error) {
	const op = "list users"
	var w where
	if q.EmailPrefix != "" {
		w.add(`email_norm LIKE ? ESCAPE '\'`, likeEscaper.Replace(q.EmailPrefix)+"%")
	}
	if q.NonASCIIEmail {
		// length counts characters in both flavours, octet_length bytes.
		w.add(`octet_length(email) <> length(email)`)
	}
	if q.AfterID != "" {
		at := q.AfterCreated.UnixMicro()
		w.add(`(created_at, id) > (?, ?)`, at, q.AfterID)
	}
	limit := q.Limit
	if limit <= 0 {
		limit = auth.DefaultPageSize
	}
	args := append(w.args, limit)
	query := `SELECT ` + userCols + ` FROM users` + w.String() +
		fmt.Sprintf(` ORDER BY created_at, id LIMIT $%d`, len(args))
	return queryRows(ctx, r, op, query, scanUser, args...)
}

// importChunk is how many users one INSERT statement carries: parsing a
// statement costs more than a row, and 12 columns x 100 rows stays well
// under every flavour's limit on parameters.
const importChunk = 100

// placeholder is the flavour's n-th parameter in a statement built here.
// SQLite gets plain "?" (in order): binding numbered parameters costs
// modernc.org/sqlite a search through the statement's parameter names,
// per parameter.
func (db *DB) placeholder(n int) string {
	if db.flavor.name == "sqlite" {
		return "?"
	}
	return fmt.Sprintf("$%d", n)
}

// insertUsersSQL is an INSERT of n users that skips those whose id or
// email exists and returns the ids of those it inserted.
func (db *DB) insertUsersSQL(n int) string {
	var b strings.Builder
	b.WriteString(`INSERT INTO users (` + userCols + `) VALUES `)
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('(')
		for j := range userColCount {
			if j > 0 {
				b.WriteString(", ")
			}
			b.WriteString(db.placeholder(i*userColCount + j + 1))
		}
		b.WriteByte(')')
	}
	b.WriteString(` ON CONFLICT DO NOTHING RETURNING id`)
	return b.String()
}

// CreateUsersIfAbsent inserts each of users unless a user with its id or
// email exists, importChunk rows per statement (prepared once per call);
// RETURNING names the rows that went in.
func (t *tx) CreateUsersIfAbsent(ctx context.Context, users []*auth.User) ([]bool, error) {
	const op = "create users if absent"
	created := make([]bool, len(users))
	var full *sql.Stmt
	if len(users) >= importChunk {
		p, ok := t.q.(interface {
			PrepareContext(ctx context.Context, query string) (*sql.Stmt, error)
		})
		if ok {
			var err error
			if full, err = p.PrepareContext(ctx, t.db.insertUsersSQL(importChunk)); err != nil {
				return nil, t.db.mapErr(op, err)
			}
			defer full.Close()
		}
	}
	args := make([]any, 0, importChunk*userColCount)
	for start := 0; start < len(users); start += importChunk {
		chunk := users[start:min(start+importChunk, len(users))]
		args = args[:0]
		for _, u := range chunk {
			roles, err := rolesArg(u.Roles)
			if err != nil {
				return nil, err
			}
			args = append(args, u.ID, u.Email, u.EmailNorm, u.PasswordHash, u.EmailConfirmed, roles, u.Disabled,
				timeArg(u.CreatedAt), timeArg(u.UpdatedAt), timeArg(u.TokensValidAfter),
				metadataArg(u.AppMetadata), metadataArg(u.UserMetadata))
		}
		var (
			rows *sql.Rows
			err  error
		)
		if full != nil && len(chunk) == importChunk {
			rows, err = full.QueryContext(ctx, args...)
		} else {
			rows, err = t.q.QueryContext(ctx, t.db.insertUsersSQL(len(chunk)), args...)
		}
		if err != nil {
			return nil, t.db.mapErr(op, err)
		}
		in := make(map[string]bool, len(chunk))
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return nil, t.db.mapErr(op, err)
			}
			in[id] = true
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, t.db.mapErr(op, err)
		}
		// Of several rows with one id only the first can have gone in.
		for i, u := range chunk {
			if in[u.ID] {
				created[start+i] = true
				delete(in, u.ID)
			}
		}
	}
	return created, nil
}

const auditCols = `id, type, user_id, session_id, actor, ip, user_agent, details, created_at`

// AppendAudit appends e to the audit log and sets e.ID.
func (t *tx) AppendAudit(ctx context.Context, e *auth.AuditEvent) error {
	details := "{}"
	if len(e.Details) > 0 {
		b, err := json.Marshal(e.Details)
		if err != nil {
			return fmt.Errorf("sqlstore: encode audit details: %w", err)
		}
		details = string(b)
	}
	err := t.q.QueryRowContext(ctx, t.db.q(`INSERT INTO audit_events (type, user_id, session_id,
		actor, ip, user_agent, details, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id`),
		e.Type, e.UserID, e.SessionID, e.Actor, e.IP, e.UserAgent, details, e.CreatedAt.UnixMicro()).Scan(&e.ID)
	if err != nil {
		return t.db.mapErr("append audit", err)
	}
	return nil
}

// AuditEvents lists the audit events matching q, newest first.
func (r reader) AuditEvents(ctx context.Context, q auth.AuditQuery) ([]*auth.AuditEvent, error) {
	const op = "audit events"
	var w where
	if q.UserID != "" {
		w.add(`user_id = ?`, q.UserID)
	}
	if q.Type != "" {
		w.add(`type = ?`, q.Type)
	}
	if !q.Since.IsZero() {
		w.add(`created_at >= ?`, q.Since.UnixMicro())
	}
	if !q.Until.IsZero() {
		w.add(`created_at < ?`, q.Until.UnixMicro())
	}
	if q.BeforeID > 0 {
		w.add(`id < ?`, q.BeforeID)
	}
	limit := q.Limit
	if limit <= 0 {
		limit = auth.DefaultPageSize
	}
	args := append(w.args, limit)
	query := `SELECT ` + auditCols + ` FROM audit_events` + w.String() +
		fmt.Sprintf(` ORDER BY id DESC LIMIT $%d`, len(args))
	return queryRows(ctx, r, op, query, scanAuditEvent, args...)
}

func scanAuditEvent(s scanner) (*auth.AuditEvent, error) {
	var (
		e       auth.AuditEvent
		details string
		created sql.NullInt64
	)
	if err := s.Scan(&e.ID, &e.Type, &e.UserID, &e.SessionID, &e.Actor, &e.IP, &e.UserAgent,
		&details, &created); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(details), &e.Details); err != nil {
		return nil, fmt.Errorf("sqlstore: decode audit details: %w", err)
	}
	e.CreatedAt = timeCol(created)
	return &e, nil
}
