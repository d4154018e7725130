package auth

import (
	"context"
	"errors"
	"strings"

	"github.com/latchauth/latch/internal/emailaddr"
)

// Accounts are matched on emailaddr's Key and mailed at its Mail form:
// every spelling that reaches an account is one whose mail goes to that
// account's mailbox.

// parseEmail parses an address a client gave under the configured rules
// (Config.UnicodeEmail). One latch does not accept is 422 invalid_email,
// saying why.
func (s *Service) parseEmail(email string) (emailaddr.Address, error) {
	a, err := emailaddr.Parse(email, s.cfg.UnicodeEmail)
	if err != nil {
		return a, Errorf(CodeInvalidEmail, "%s", err.Error())
	}
	return a, nil
}

// NormalizeEmail returns the key accounts are matched on for email under
// the default rules (local parts in ASCII), or "", which no account has,
// when email is not such an address.
func NormalizeEmail(email string) string {
	a, err := emailaddr.Parse(email, false)
	if err != nil {
		return ""
	}
	return a.Key
}

// emailPrefixKey turns an admin's search for an address prefix into a
// prefix of keys: a whole address is its key; anything else is matched
// with its ASCII letters lower-cased (and no other folding, so that "İ"
// does not find "i...").
func (s *Service) emailPrefixKey(prefix string) string {
	if a, err := emailaddr.Parse(prefix, s.cfg.UnicodeEmail); err == nil {
		return a.Key
	}
	return strings.Map(func(r rune) rune {
		if 'A' <= r && r <= 'Z' {
			return r + 'a' - 'A'
		}
		return r
	}, strings.TrimSpace(prefix))
}

// unmatchedKeyPrefix starts the key of a stored address that no spelling
// may reach. No parsed address has a ":" before its "@".
const unmatchedKeyPrefix = "unmatched:"

// RekeyResult counts what RekeyEmails changed.
type RekeyResult struct {
	Rekeyed   int // keys (and A-label domains) brought to the current rules
	Unmatched int // addresses no spelling reaches any more (logged by user id)
	// UnicodeLocal counts accounts whose local part is outside ASCII:
	// they can log in only with Config.UnicodeEmail.
	UnicodeLocal int
}

// RekeyEmails brings the stored match keys of addresses outside ASCII to
// the current rules. Keys used to be strings.ToLower of the address,
// which gave "İnfo@corp.example" the key of "info@corp.example" (so that
// spelling held, or reached, the ASCII address's account while its mail
// went elsewhere) and kept "kate@exämple.com" apart from
// "kate@xn--exmple-cua.com".
//
// An account whose address normalises to itself (the local part unchanged
// by PRECIS, the domain to its A-label, which DNS resolves alike) gets the
// current key and its domain in A-label form. Any other account (its
// local part is refused, or normalises to a different spelling, such as
// the Kelvin sign to "K", or the key is taken by another account) keeps
// its data, but gets a key no spelling reaches, so it squats nothing: an
// admin can give it an address or delete it. ASCII addresses are left
// alone: their keys do not change.
//
// It is idempotent and safe to run from several instances at once.
func (s *Service) RekeyEmails(ctx context.Context) (RekeyResult, error) {
	var res RekeyResult
	q := UserQuery{NonASCIIEmail: true, Limit: 500}
	for {
		users, err := s.deps.Store.ListUsers(ctx, q)
		if err != nil {
			return res, err
		}
		for _, u := range users {
			if err := s.rekey(ctx, u.ID, &res); err != nil {
				return res, err
			}
		}
		if len(users) < q.Limit {
			break
		}
		last := users[len(users)-1]
		q.AfterCreated, q.AfterID = last.CreatedAt, last.ID
	}
	if res.Rekeyed > 0 || res.Unmatched > 0 {
		s.log.Info("stored email addresses matched by the current rules", "rekeyed", res.Rekeyed, "unmatched", res.Unmatched)
	}
	if res.UnicodeLocal > 0 && !s.cfg.UnicodeEmail {
		s.log.Warn("accounts whose address has a local part outside ASCII cannot log in or reset their password; set LATCH_UNICODE_EMAIL=true to let them",
			"accounts", res.UnicodeLocal)
	}
	return res, nil
}

// rekey gives the user with id the key of storedKey, or an unmatched one
// when another account holds that key.
func (s *Service) rekey(ctx context.Context, id string, res *RekeyResult) error {
	var unmatched, changed, unicodeLocal bool
	err := s.deps.Store.Tx(ctx, func(tx Tx) error {
		unmatched, changed, unicodeLocal = false, false, false
		u, err := tx.UserByID(ctx, id)
		if notFound(err) {
			return nil
		}
		if err != nil {
			return err
		}
		mail, key, ok := storedKey(u)
		unicodeLocal = ok && !isASCII(key)
		if !ok {
			mail, key, unmatched = u.Email, unmatchedKeyPrefix+u.ID, true
		}
		if !unmatched && u.EmailNorm != key {
			switch other, err := tx.UserByEmail(ctx, key); {
			case err == nil && other.ID != u.ID:
				mail, key, unmatched = u.Email, unmatchedKeyPrefix+u.ID, true
			case err != nil && !notFound(err):
				return err
			}
		}
		if u.Email == mail && u.EmailNorm == key {
			return nil
		}
		u.Email, u.EmailNorm, u.UpdatedAt = mail, key, s.now()
		changed = true
		return tx.UpdateUser(ctx, u)
	})
	if errors.Is(err, ErrConflict) {
		// Another account took the key between the check and the update.
		err = s.deps.Store.Tx(ctx, func(tx Tx) error {
			u, err := tx.UserByID(ctx, id)
			if err != nil {
				return err
			}
			u.EmailNorm, u.UpdatedAt = unmatchedKeyPrefix+u.ID, s.now()
			return tx.UpdateUser(ctx, u)
		})
		changed, unmatched = err == nil, true
	}
	if err != nil {
		return err
	}
	if unicodeLocal && !unmatched {
		res.UnicodeLocal++
	}
	if !changed {
		return nil
	}
	if unmatched {
		res.Unmatched++
		s.log.Warn("an account's stored address is not one latch accepts or is another account's: no spelling reaches it now; give it an address (admin API) or delete it",
			"user_id", id)
		return nil
	}
	res.Rekeyed++
	return nil
}

// storedKey returns the forms of a stored address under the current rules
// (local parts outside ASCII allowed), and false unless the address
// normalises to itself: the same local part, the domain at most turned to
// its A-label.
func storedKey(u *User) (mail, key string, ok bool) {
	a, err := emailaddr.Parse(u.Email, true)
	if err != nil {
		return "", "", false
	}
	stored := strings.TrimSpace(u.Email)
	if a.Mail[:strings.LastIndexByte(a.Mail, '@')] != stored[:strings.LastIndexByte(stored, '@')] {
		return "", "", false
	}
	return a.Mail, a.Key, true
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
