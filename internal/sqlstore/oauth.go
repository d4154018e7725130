package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/latchauth/latch/internal/auth"
)

// Registered OAuth clients, authorization codes and browser sessions, on
// the tables of migration 0011. A code is single-use by one conditional
// UPDATE: of concurrent redemptions, the one whose statement changed the
// row wins.

// ClientByID returns the registered client id, or auth.ErrNotFound.
func (db *DB) ClientByID(ctx context.Context, id string) (*auth.Client, error) {
	ctx, cancel := db.opCtx(ctx)
	defer cancel()
	return db.reader().ClientByID(ctx, id)
}

// Clients lists the registered clients.
func (db *DB) Clients(ctx context.Context) ([]*auth.Client, error) {
	ctx, cancel := db.opCtx(ctx)
	defer cancel()
	return db.reader().Clients(ctx)
}

// AuthCodeByHash returns the code with hash, or auth.ErrNotFound.
func (db *DB) AuthCodeByHash(ctx context.Context, hash []byte) (*auth.AuthCode, error) {
	ctx, cancel := db.opCtx(ctx)
	defer cancel()
	return db.reader().AuthCodeByHash(ctx, hash)
}

// BrowserSessionByHash returns the browser session with hash, or
// auth.ErrNotFound.
func (db *DB) BrowserSessionByHash(ctx context.Context, hash []byte) (*auth.BrowserSession, error) {
	ctx, cancel := db.opCtx(ctx)
	defer cancel()
	return db.reader().BrowserSessionByHash(ctx, hash)
}

// listArg stores a list of strings as a JSON array ("[]" for none).
func listArg(xs []string) (string, error) {
	if len(xs) == 0 {
		return "[]", nil
	}
	b, err := json.Marshal(xs)
	if err != nil {
		return "", fmt.Errorf("sqlstore: encode list: %w", err)
	}
	return string(b), nil
}

// listCol reads a JSON array of strings; an empty one is nil.
func listCol(s string) ([]string, error) {
	var xs []string
	if err := json.Unmarshal([]byte(s), &xs); err != nil {
		return nil, fmt.Errorf("sqlstore: decode list: %w", err)
	}
	if len(xs) == 0 {
		return nil, nil
	}
	return xs, nil
}

// amrArg and amrCol store amr values space-separated, as sessions do.
func amrArg(amr []string) string { return strings.Join(amr, " ") }

func amrCol(s string) []string { return strings.Fields(s) }

const clientCols = `id, name, type, secret_hash, redirect_uris, post_logout_redirect_uris,
	grant_types, created_at, updated_at, previous_secret_hash, previous_secret_until`

func scanClient(s scanner) (*auth.Client, error) {
	var (
		c                  auth.Client
		redirect, post, gt string
		created, updated   sql.NullInt64
		prevUntil          sql.NullInt64
	)
	if err := s.Scan(&c.ID, &c.Name, &c.Type, &c.SecretHash, &redirect, &post, &gt, &created, &updated,
		&c.PreviousSecretHash, &prevUntil); err != nil {
		return nil, err
	}
	var err error
	if c.RedirectURIs, err = listCol(redirect); err != nil {
		return nil, err
	}
	if c.PostLogoutRedirectURIs, err = listCol(post); err != nil {
		return nil, err
	}
	if c.GrantTypes, err = listCol(gt); err != nil {
		return nil, err
	}
	c.CreatedAt, c.UpdatedAt = timeCol(created), timeCol(updated)
	c.PreviousSecretUntil = timeCol(prevUntil)
	return &c, nil
}

func (r reader) ClientByID(ctx context.Context, id string) (*auth.Client, error) {
	c, err := scanClient(r.q.QueryRowContext(ctx, r.db.q(`SELECT `+clientCols+` FROM oauth_clients WHERE id = $1`), id))
	if err != nil {
		return nil, r.db.mapErr("client by id", err)
	}
	return c, nil
}

func (r reader) Clients(ctx context.Context) ([]*auth.Client, error) {
	const op = "clients"
	rows, err := r.q.QueryContext(ctx, r.db.q(`SELECT `+clientCols+` FROM oauth_clients ORDER BY created_at, id`))
	if err != nil {
		return nil, r.db.mapErr(op, err)
	}
	defer rows.Close()
	var out []*auth.Client
	for rows.Next() {
		c, err := scanClient(rows)
		if err != nil {
			return nil, r.db.mapErr(op, err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, r.db.mapErr(op, err)
	}
	return out, nil
}

// clientLists encodes c's three lists.
func clientLists(c *auth.Client) (redirect, post, gt string, err error) {
	if redirect, err = listArg(c.RedirectURIs); err != nil {
		return
	}
	if post, err = listArg(c.PostLogoutRedirectURIs); err != nil {
		return
	}
	gt, err = listArg(c.GrantTypes)
	return
}

func (t *tx) CreateClient(ctx context.Context, c *auth.Client) error {
	redirect, post, gt, err := clientLists(c)
	if err != nil {
		return err
	}
	_, err = t.execRecoverable(ctx, "create client", `INSERT INTO oauth_clients (`+clientCols+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
		c.ID, c.Name, c.Type, bytesArg(c.SecretHash), redirect, post, gt, timeArg(c.CreatedAt), timeArg(c.UpdatedAt),
		bytesArg(c.PreviousSecretHash), timeArg(c.PreviousSecretUntil))
	return err
}

func (t *tx) UpdateClientSecret(ctx context.Context, c *auth.Client) error {
	return t.execOne(ctx, "update client secret", `UPDATE oauth_clients SET secret_hash = $2,
		previous_secret_hash = $3, previous_secret_until = $4, updated_at = $5 WHERE id = $1`,
		c.ID, bytesArg(c.SecretHash), bytesArg(c.PreviousSecretHash), timeArg(c.PreviousSecretUntil), timeArg(c.UpdatedAt))
}

func (t *tx) UpdateClient(ctx context.Context, c *auth.Client) error {
	redirect, post, gt, err := clientLists(c)
	if err != nil {
		return err
	}
	return t.execOne(ctx, "update client", `UPDATE oauth_clients SET name = $2, redirect_uris = $3,
		post_logout_redirect_uris = $4, grant_types = $5, updated_at = $6 WHERE id = $1`,
		c.ID, c.Name, redirect, post, gt, timeArg(c.UpdatedAt))
}

func (t *tx) DeleteClient(ctx context.Context, id string) error {
	if err := t.execOne(ctx, "delete client", `DELETE FROM oauth_clients WHERE id = $1`, id); err != nil {
		return err
	}
	_, err := t.exec(ctx, "delete client codes", `DELETE FROM oauth_codes WHERE client_id = $1 AND used_at IS NULL`, id)
	return err
}

const codeCols = `hash, client_id, user_id, browser_session_id, redirect_uri, code_challenge, nonce,
	scope, auth_time, amr, created_at, expires_at, used_at, session_id`

func (r reader) AuthCodeByHash(ctx context.Context, hash []byte) (*auth.AuthCode, error) {
	var (
		c                                  auth.AuthCode
		amr                                string
		authTime, created, expires, usedAt sql.NullInt64
	)
	err := r.q.QueryRowContext(ctx, r.db.q(`SELECT `+codeCols+` FROM oauth_codes WHERE hash = $1`), hash).
		Scan(&c.Hash, &c.ClientID, &c.UserID, &c.BrowserSessionID, &c.RedirectURI, &c.CodeChallenge, &c.Nonce,
			&c.Scope, &authTime, &amr, &created, &expires, &usedAt, &c.SessionID)
	if err != nil {
		return nil, r.db.mapErr("auth code by hash", err)
	}
	c.AMR = amrCol(amr)
	c.AuthTime, c.CreatedAt, c.ExpiresAt, c.UsedAt = timeCol(authTime), timeCol(created), timeCol(expires), timeCol(usedAt)
	return &c, nil
}

func (t *tx) CreateAuthCode(ctx context.Context, c *auth.AuthCode) error {
	_, err := t.exec(ctx, "create auth code", `INSERT INTO oauth_codes (`+codeCols+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
		c.Hash, c.ClientID, c.UserID, c.BrowserSessionID, c.RedirectURI, c.CodeChallenge, c.Nonce,
		c.Scope, timeArg(c.AuthTime), amrArg(c.AMR), timeArg(c.CreatedAt), timeArg(c.ExpiresAt),
		timeArg(c.UsedAt), c.SessionID)
	return err
}

func (t *tx) RedeemAuthCode(ctx context.Context, hash []byte, at time.Time) (bool, error) {
	n, err := t.execCount(ctx, "redeem auth code", `UPDATE oauth_codes SET used_at = $2
		WHERE hash = $1 AND used_at IS NULL AND expires_at > $2`, hash, at.UnixMicro())
	return n == 1, err
}

func (t *tx) SetAuthCodeSession(ctx context.Context, hash []byte, sessionID string) error {
	return t.execOne(ctx, "set auth code session", `UPDATE oauth_codes SET session_id = $2 WHERE hash = $1`,
		hash, sessionID)
}

const browserSessionCols = `id, hash, user_id, amr, auth_time, created_at, expires_at, revoked_at`

func (r reader) BrowserSessionByHash(ctx context.Context, hash []byte) (*auth.BrowserSession, error) {
	var (
		b                                   auth.BrowserSession
		amr                                 string
		authTime, created, expires, revoked sql.NullInt64
	)
	err := r.q.QueryRowContext(ctx, r.db.q(`SELECT `+browserSessionCols+` FROM browser_sessions WHERE hash = $1`), hash).
		Scan(&b.ID, &b.Hash, &b.UserID, &amr, &authTime, &created, &expires, &revoked)
	if err != nil {
		return nil, r.db.mapErr("browser session by hash", err)
	}
	b.AMR = amrCol(amr)
	b.AuthTime, b.CreatedAt, b.ExpiresAt, b.RevokedAt = timeCol(authTime), timeCol(created), timeCol(expires), timeCol(revoked)
	return &b, nil
}

func (t *tx) CreateBrowserSession(ctx context.Context, b *auth.BrowserSession) error {
	_, err := t.exec(ctx, "create browser session", `INSERT INTO browser_sessions (`+browserSessionCols+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		b.ID, b.Hash, b.UserID, amrArg(b.AMR), timeArg(b.AuthTime), timeArg(b.CreatedAt),
		timeArg(b.ExpiresAt), timeArg(b.RevokedAt))
	return err
}

func (t *tx) RevokeBrowserSession(ctx context.Context, id string, at time.Time) (bool, error) {
	n, err := t.execCount(ctx, "revoke browser session", `UPDATE browser_sessions SET revoked_at = $2
		WHERE id = $1 AND revoked_at IS NULL`, id, at.UnixMicro())
	return n == 1, err
}
