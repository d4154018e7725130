package auth

import (
	"context"
	"errors"
	"strconv"
	"time"
)

// ImportUser is one account to move in from another system with its
// password hash as it is (bcrypt from Devise, Passport or bcryptjs, or
// argon2). A bcrypt hash is replaced by argon2id at the user's next login.
type ImportUser struct {
	ID             string // kept when set (see validImportID); "" gets a new UUID
	Email          string
	PasswordHash   string
	EmailConfirmed bool
	Roles          []string  // nil gives ["user"]
	CreatedAt      time.Time // zero gives the import time
}

// ImportStatus is what became of one ImportUser.
type ImportStatus int

const (
	ImportCreated ImportStatus = iota + 1 // inserted
	ImportExists                          // skipped: a user with its id or email exists
	ImportInvalid                         // refused: see ImportResult.Err
)

// ImportResult is the outcome of one ImportUser. Err, for ImportInvalid,
// says what is wrong in words safe to print: it never repeats the hash.
type ImportResult struct {
	Status ImportStatus
	Err    error
}

// HashChecker is implemented by Hashers that can tell, without hashing,
// whether they can verify an encoded hash (internal/password.Hasher does).
type HashChecker interface {
	Recognized(encoded string) error
}

// ImportUsers validates every row and inserts the valid ones that are not
// there yet, all in one transaction: callers send batches (a thousand rows
// is a good size). Re-running an import skips what it inserted before, so
// it is idempotent. The results are in the order of rows; the error is
// only for a failure of the whole batch (nothing was inserted then).
//
// Imports never mail anyone and change nothing the public API answers for
// an address: an imported account behaves like one that signed up.
func (s *Service) ImportUsers(ctx context.Context, actor string, rows []ImportUser) ([]ImportResult, error) {
	hc, ok := s.deps.Hasher.(HashChecker)
	if !ok {
		return nil, errors.New("auth: the password hasher cannot check imported hashes")
	}
	now := s.now()
	res := make([]ImportResult, len(rows))
	users := make([]*User, len(rows))
	for i, r := range rows {
		u, err := s.importRow(hc, r, now)
		if err != nil {
			res[i] = ImportResult{Status: ImportInvalid, Err: err}
			continue
		}
		users[i] = u
	}
	valid := make([]*User, 0, len(users))
	for _, u := range users {
		if u != nil {
			valid = append(valid, u)
		}
	}
	err := s.deps.Store.Tx(ctx, func(tx Tx) error {
		created, err := tx.CreateUsersIfAbsent(ctx, valid)
		if err != nil {
			return err
		}
		j := 0
		for i, u := range users {
			if u == nil {
				continue
			}
			res[i].Status = ImportExists
			if created[j] {
				res[i].Status = ImportCreated
				// Each account imported is a user.created webhook.
				ev := Event{Type: EventUserCreated, UserID: u.ID, Actor: actor}
				if err := s.publish(ctx, tx, u, &ev); err != nil {
					return err
				}
			}
			j++
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.webhookQueued()
	var n [4]int
	for _, r := range res {
		n[r.Status]++
	}
	s.emit(ctx, Event{Type: EventUsersImported, Actor: actor, Details: map[string]string{
		"created":  strconv.Itoa(n[ImportCreated]),
		"existing": strconv.Itoa(n[ImportExists]),
		"invalid":  strconv.Itoa(n[ImportInvalid]),
	}})
	return res, nil
}

// importRow checks one row and builds its user.
func (s *Service) importRow(hc HashChecker, r ImportUser, now time.Time) (*User, error) {
	id := r.ID
	if id == "" {
		id = newUUID()
	} else if !validImportID(id) {
		return nil, errors.New("id must be 1 to 128 characters of A-Z, a-z, 0-9 and . _ ~ : @ + -")
	}
	addr, err := s.parseEmail(r.Email)
	if err != nil {
		var e *Error
		if errors.As(err, &e) {
			return nil, errors.New(e.Message)
		}
		return nil, err
	}
	if r.PasswordHash == "" {
		return nil, errors.New("password hash is missing")
	}
	if err := hc.Recognized(r.PasswordHash); err != nil {
		return nil, errors.New("password hash is not recognised (a bcrypt or argon2 hash is expected)")
	}
	roles := []string{RoleUser}
	if r.Roles != nil {
		var err error
		if roles, err = NormalizeRoles(r.Roles); err != nil {
			var e *Error
			if errors.As(err, &e) {
				return nil, errors.New(e.Message)
			}
			return nil, err
		}
	}
	created := r.CreatedAt.UTC()
	switch {
	case created.IsZero():
		created = now
	case created.After(now.Add(24 * time.Hour)):
		return nil, errors.New("created_at is in the future")
	}
	return &User{
		ID:             id,
		Email:          addr.Mail,
		EmailNorm:      addr.Key,
		PasswordHash:   r.PasswordHash,
		EmailConfirmed: r.EmailConfirmed,
		Roles:          roles,
		CreatedAt:      created,
		UpdatedAt:      now,
	}, nil
}

// validImportID reports whether id can be kept as a user id: it must be
// safe in a URL path segment and a token's sub without escaping.
func validImportID(id string) bool {
	if len(id) == 0 || len(id) > 128 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			c == '.' || c == '_' || c == '~' || c == ':' || c == '@' || c == '+' || c == '-') {
			return false
		}
	}
	return id != "." && id != ".."
}
