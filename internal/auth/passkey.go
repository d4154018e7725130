package auth

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/latchauth/latch/internal/mfa"
	"github.com/latchauth/latch/internal/passkey"
	"github.com/latchauth/latch/internal/token"
)

// Passkeys (api.md "Second factors"): WebAuthn credentials as a second
// factor after the password, or alone for a passwordless login (with user
// verification, which makes the passkey two factors by itself). The
// ceremonies' cryptography is internal/passkey's; the rules are here. A
// ceremony's challenge is kept in the store, bound to what began it, and
// spent by a conditional write in the transaction that acts on it; a
// passkey's sign counter advances by another, which refuses a counter
// that went backwards (a copied authenticator).

// Passkey event types.
const (
	EventPasskeyAdded            = "passkey_added"
	EventPasskeyRemoved          = "passkey_removed"
	EventPasskeyRenamed          = "passkey_renamed"
	EventPasskeyCounterRegressed = "passkey_counter_regressed"
)

// MailPasskeyCounter is the notice that a passkey was refused because its
// sign counter went backwards.
const MailPasskeyCounter = "passkey_counter"

const (
	// passkeyChallengeTTL is how long a ceremony waits for its finish.
	passkeyChallengeTTL = 5 * time.Minute
	// passkeyNameMax bounds a passkey's name, in characters.
	passkeyNameMax = 64
	// defaultPasskeyName names a passkey registered without one.
	defaultPasskeyName = "Passkey"
)

// PasskeyCeremony is a begun ceremony: the options for the browser
// (navigator.credentials.create or .get, as their publicKey member) and
// the challenge_id that finishes it.
type PasskeyCeremony struct {
	ChallengeID string
	Options     json.RawMessage
}

// PasskeyAdded is a finished registration: the new passkey and, when it
// is the account's first second factor, its recovery codes (shown once).
type PasskeyAdded struct {
	Passkey       *Factor
	RecoveryCodes []string
}

func errBadChallenge() error {
	return Errorf(CodeInvalidToken, "the challenge_id is invalid, expired or already used; begin the ceremony again")
}

func errPasskeyRefused(err error) error {
	return Errorf(CodeInvalidCredentials, "the passkey was refused: %s", strings.TrimPrefix(err.Error(), passkey.ErrRejected.Error()+": "))
}

func errNoPasskey() error { return Errorf(CodeNotFound, "no such passkey") }

// errCounterRegressed is the outcome of an assertion whose sign counter
// did not move forwards; it rolls its transaction back.
var errCounterRegressed = errors.New("auth: passkey sign counter went backwards")

// newPasskeyRP builds the relying party of cfg: its RP ID is the public
// URL's host, its origins the public URL's and WebAuthnOrigins.
func newPasskeyRP(cfg Config) (*passkey.RP, error) {
	u, err := url.Parse(cfg.PublicURL)
	if err != nil || u.Hostname() == "" {
		return nil, fmt.Errorf("auth: passkeys need a public URL with a host, not %q", cfg.PublicURL)
	}
	origin, err := passkey.OriginOf(cfg.PublicURL)
	if err != nil {
		return nil, fmt.Errorf("auth: passkeys: public URL: %w", err)
	}
	origins := []string{origin}
	for _, o := range cfg.WebAuthnOrigins {
		oo, err := passkey.OriginOf(o)
		if err != nil {
			return nil, fmt.Errorf("auth: passkeys: origin: %w", err)
		}
		origins = append(origins, oo)
	}
	return passkey.New(passkey.Config{RPID: u.Hostname(), RPName: cfg.Product, Origins: origins})
}

// rp answers the relying party, or why passkeys are off.
func (s *Service) rp() (*passkey.RP, error) {
	if s.passkeys == nil {
		return nil, Errorf(CodeInvalidRequest, "passkeys are not available: %v", s.passkeysErr)
	}
	return s.passkeys, nil
}

// passkeyName checks a name given to a passkey: trimmed, at most
// passkeyNameMax characters, no control characters; "" takes the default.
func passkeyName(name string) (string, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		return defaultPasskeyName, nil
	}
	if !utf8.ValidString(name) || utf8.RuneCountInString(name) > passkeyNameMax ||
		strings.IndexFunc(name, unicode.IsControl) >= 0 {
		return "", Errorf(CodeInvalidRequest, "a passkey's name is at most %d characters, without control characters", passkeyNameMax)
	}
	return name, nil
}

// passkeysOf returns the passkeys among factors, as ceremony credentials.
func passkeysOf(factors []*Factor) ([]*Factor, []passkey.Credential) {
	var (
		fs []*Factor
		cs []passkey.Credential
	)
	for _, f := range factors {
		if f.Kind == FactorPasskey && f.Active() {
			fs = append(fs, f)
			cs = append(cs, credentialOf(f))
		}
	}
	return fs, cs
}

// accountPasskeys returns userID's active passkeys, as factors and as
// ceremony credentials.
func (s *Service) accountPasskeys(ctx context.Context, userID string) ([]*Factor, []passkey.Credential, error) {
	factors, err := activeFactors(ctx, s.deps.Store, userID)
	if err != nil {
		return nil, nil, err
	}
	pks, creds := passkeysOf(factors)
	return pks, creds, nil
}

// passkeyWithID is the passkey of pks whose credential ID is id, or nil.
func passkeyWithID(pks []*Factor, id []byte) *Factor {
	for _, f := range pks {
		if bytes.Equal(f.CredentialID, id) {
			return f
		}
	}
	return nil
}

func credentialOf(f *Factor) passkey.Credential {
	return passkey.Credential{
		ID: f.CredentialID, PublicKey: f.SecretSealed, SignCount: uint32(max(f.LastStep, 0)),
		Transports: f.Transports, AAGUID: f.AAGUID,
		UserVerified: f.UserVerified, BackupEligible: f.BackupEligible, BackupState: f.BackupState,
	}
}

// userHandle is the WebAuthn user handle of u: its id, random and free of
// personal data, so that a discoverable login names the account by it.
func userHandle(u *User) []byte { return []byte(u.ID) }

// newPasskeyChallenge stores c with a fresh challenge_id and answers the
// ceremony.
func (s *Service) newPasskeyChallenge(ctx context.Context, c *PasskeyChallenge, options json.RawMessage) (*PasskeyCeremony, error) {
	id, err := token.NewOpaque()
	if err != nil {
		return nil, err
	}
	c.Hash, _ = token.HashOpaque(id)
	c.CreatedAt = s.now()
	c.ExpiresAt = c.CreatedAt.Add(passkeyChallengeTTL)
	if err := s.deps.Store.Tx(ctx, func(tx Tx) error { return tx.CreatePasskeyChallenge(ctx, c) }); err != nil {
		return nil, err
	}
	return &PasskeyCeremony{ChallengeID: id, Options: options}, nil
}

// livePasskeyChallenge finds the unused, unexpired challenge named by
// challengeID, of one of the purposes. It spends nothing.
func (s *Service) livePasskeyChallenge(ctx context.Context, challengeID string, purposes ...string) (*PasskeyChallenge, error) {
	h, ok := token.HashOpaque(challengeID)
	if !ok {
		return nil, errBadChallenge()
	}
	ch, err := s.deps.Store.PasskeyChallengeByHash(ctx, h)
	if notFound(err) {
		return nil, errBadChallenge()
	}
	if err != nil {
		return nil, err
	}
	if !slices.Contains(purposes, ch.Purpose) || !ch.UsedAt.IsZero() || !s.now().Before(ch.ExpiresAt) {
		return nil, errBadChallenge()
	}
	return ch, nil
}

// consumePasskeyChallenge spends ch inside tx: of concurrent finishes one
// wins.
func (s *Service) consumePasskeyChallenge(ctx context.Context, tx Tx, ch *PasskeyChallenge) error {
	won, err := tx.ConsumePasskeyChallenge(ctx, ch.Hash, s.now())
	if err != nil {
		return err
	}
	if !won {
		return errBadChallenge()
	}
	return nil
}

// BeginPasskeyRegistration starts adding a passkey to the caller's
// account. Like every factor change it needs the password and, when the
// account has a second factor, a current code (a TOTP or recovery code).
// The challenge is bound to the caller's user and session.
func (s *Service) BeginPasskeyRegistration(ctx context.Context, p *Principal, password, code string) (*PasskeyCeremony, error) {
	rp, err := s.rp()
	if err != nil {
		return nil, err
	}
	u, err := s.stepUp(ctx, p, password, code)
	if err != nil {
		return nil, err
	}
	_, creds, err := s.accountPasskeys(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	options, state, err := rp.BeginRegistration(passkey.User{Handle: userHandle(u), Name: u.Email, Credentials: creds})
	if err != nil {
		return nil, err
	}
	return s.newPasskeyChallenge(ctx, &PasskeyChallenge{Purpose: PasskeyRegister, UserID: u.ID, SessionID: p.SessionID, State: state}, options)
}

// FinishPasskeyRegistration verifies credential (the JSON of the
// browser's PublicKeyCredential) against the registration challengeID
// began in the caller's session, and stores the passkey under name. The
// account's first second factor comes with recovery codes.
func (s *Service) FinishPasskeyRegistration(ctx context.Context, p *Principal, challengeID, name string, credential []byte) (*PasskeyAdded, error) {
	rp, err := s.rp()
	if err != nil {
		return nil, err
	}
	if name, err = passkeyName(name); err != nil {
		return nil, err
	}
	ch, err := s.livePasskeyChallenge(ctx, challengeID, PasskeyRegister)
	if err != nil {
		return nil, err
	}
	if ch.UserID != p.User.ID || ch.SessionID != p.SessionID {
		return nil, errBadChallenge()
	}
	u, err := s.deps.Store.UserByID(ctx, p.User.ID)
	if notFound(err) {
		return nil, errInvalidBearer("the account no longer exists")
	}
	if err != nil {
		return nil, err
	}
	_, creds, err := s.accountPasskeys(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	c, err := rp.FinishRegistration(passkey.User{Handle: userHandle(u), Name: u.Email, Credentials: creds}, ch.State, credential)
	if errors.Is(err, passkey.ErrRejected) {
		return nil, Errorf(CodeInvalidRequest, "the passkey was refused: %s", strings.TrimPrefix(err.Error(), passkey.ErrRejected.Error()+": "))
	}
	if err != nil {
		return nil, err
	}
	now := s.now()
	f := &Factor{
		ID: newID(), UserID: u.ID, Kind: FactorPasskey, Name: name,
		SecretSealed: c.PublicKey, CredentialID: c.ID, LastStep: int64(c.SignCount),
		CreatedAt: now, ConfirmedAt: now,
		Transports: c.Transports, AAGUID: c.AAGUID,
		UserVerified: c.UserVerified, BackupEligible: c.BackupEligible, BackupState: c.BackupState,
	}
	out := &PasskeyAdded{Passkey: f}
	ev := Event{Type: EventPasskeyAdded, UserID: u.ID, SessionID: p.SessionID,
		Details: map[string]string{"kind": string(FactorPasskey), "factor_id": f.ID, "name": name}}
	err = s.deps.Store.Tx(ctx, func(tx Tx) error {
		if err := s.consumePasskeyChallenge(ctx, tx, ch); err != nil {
			return err
		}
		had, err := activeFactors(ctx, tx, u.ID)
		if err != nil {
			return err
		}
		if err := tx.CreateFactor(ctx, f); errors.Is(err, ErrConflict) {
			return Errorf(CodeMFAAlreadyEnabled, "this passkey is already registered")
		} else if err != nil {
			return err
		}
		change := fmt.Sprintf("A passkey named %q was added to your account; it signs you in, and counts as a second factor.", name)
		if len(had) == 0 {
			codes, err := mfa.NewRecoveryCodes(mfa.RecoveryCodeCount)
			if err != nil {
				return err
			}
			if err := tx.ReplaceRecoveryCodes(ctx, u.ID, recoveryHashes(codes), now); err != nil {
				return err
			}
			out.RecoveryCodes = codes
			change += " New recovery codes were made."
		}
		if err := s.publish(ctx, tx, u, &ev); err != nil {
			return err
		}
		return s.notify(ctx, tx, u, MailMFAChanged, u.Email, MailData{Change: change})
	})
	if err != nil {
		return nil, err
	}
	s.mailQueued()
	s.emit(ctx, ev)
	return out, nil
}

// RenamePasskey renames one of the caller's passkeys.
func (s *Service) RenamePasskey(ctx context.Context, p *Principal, id, name string) (*Factor, error) {
	name, err := passkeyName(name)
	if err != nil {
		return nil, err
	}
	var (
		f   *Factor
		old string
	)
	ev := Event{Type: EventPasskeyRenamed, UserID: p.User.ID, SessionID: p.SessionID,
		Details: map[string]string{"kind": string(FactorPasskey), "factor_id": id, "name": name}}
	err = s.deps.Store.Tx(ctx, func(tx Tx) error {
		u, err := tx.UserByID(ctx, p.User.ID)
		if notFound(err) {
			return errInvalidBearer("the account no longer exists")
		}
		if err != nil {
			return err
		}
		all, err := activeFactors(ctx, tx, u.ID)
		if err != nil {
			return err
		}
		pks, _ := passkeysOf(all)
		for _, x := range pks {
			if x.ID == id {
				f = x
			}
		}
		if f == nil {
			return errNoPasskey()
		}
		if ok, err := tx.RenameFactor(ctx, u.ID, id, name); err != nil {
			return err
		} else if !ok {
			return errNoPasskey()
		}
		old, f.Name = f.Name, name
		if err := s.publish(ctx, tx, u, &ev); err != nil {
			return err
		}
		return s.notify(ctx, tx, u, MailMFAChanged, u.Email, MailData{Change: fmt.Sprintf("The passkey named %q was renamed to %q.", old, name)})
	})
	if err != nil {
		return nil, err
	}
	s.mailQueued()
	s.emit(ctx, ev)
	return f, nil
}

// DeletePasskey removes one of the caller's passkeys after the password
// and, as for every factor change, a current code. With no factor left
// the recovery codes go too.
func (s *Service) DeletePasskey(ctx context.Context, p *Principal, id, password, code string) error {
	u, err := s.stepUp(ctx, p, password, code)
	if err != nil {
		return err
	}
	var (
		name string
		ev   Event
	)
	err = s.deps.Store.Tx(ctx, func(tx Tx) error {
		all, err := activeFactors(ctx, tx, u.ID)
		if err != nil {
			return err
		}
		pks, _ := passkeysOf(all)
		for _, x := range pks {
			if x.ID == id {
				name = x.Name
			}
		}
		ok, err := tx.DeleteFactor(ctx, u.ID, id, FactorPasskey)
		if err != nil {
			return err
		}
		if !ok {
			return errNoPasskey()
		}
		if len(all) == 1 {
			if err := tx.ReplaceRecoveryCodes(ctx, u.ID, nil, s.now()); err != nil {
				return err
			}
		}
		ev = Event{Type: EventPasskeyRemoved, UserID: u.ID, SessionID: p.SessionID,
			Details: map[string]string{"kind": string(FactorPasskey), "factor_id": id, "name": name}}
		if err := s.publish(ctx, tx, u, &ev); err != nil {
			return err
		}
		return s.notify(ctx, tx, u, MailMFAChanged, u.Email, MailData{Change: fmt.Sprintf("The passkey named %q was removed from your account.", name)})
	})
	if err != nil {
		return err
	}
	s.mailQueued()
	s.emit(ctx, ev)
	return nil
}

// BeginPasskeyLogin starts a login with a passkey: with mfaToken "" a
// passwordless one (any passkey of this relying party; the authenticator
// names the account and must verify the user), else the second factor of
// the login that answered mfa_required with mfaToken (only that account's
// passkeys). The mfa_token is not spent here, and the OAuth client it was
// issued through is not checked: beginning only names the account's
// passkeys (credential ids, no secret) to the holder of the mfa_token,
// and an OAuth client begins at the JSON API, which authenticates no
// client. The finish, which starts the session, checks the client.
func (s *Service) BeginPasskeyLogin(ctx context.Context, mfaToken string) (*PasskeyCeremony, error) {
	if err := s.limitIP(ctx, "login", s.cfg.LoginPerIP); err != nil {
		return nil, err
	}
	rp, err := s.rp()
	if err != nil {
		return nil, err
	}
	if mfaToken == "" {
		options, state, err := rp.BeginLogin(nil)
		if err != nil {
			return nil, err
		}
		return s.newPasskeyChallenge(ctx, &PasskeyChallenge{Purpose: PasskeyLogin, State: state}, options)
	}
	h, u, err := s.liveMFAChallenge(ctx, mfaToken, nil)
	if err != nil {
		return nil, err
	}
	return s.beginPasskeyAssertion(ctx, rp, "this account has no passkey; use a code from the authenticator app or a recovery code",
		&PasskeyChallenge{Purpose: PasskeyMFA, UserID: u.ID, MFATokenHash: h})
}

// beginPasskeyAssertion starts a ceremony in which one of ch.UserID's
// passkeys signs; ch, given the ceremony's state, is stored. noPasskey is
// the refusal when the account has none.
func (s *Service) beginPasskeyAssertion(ctx context.Context, rp *passkey.RP, noPasskey string, ch *PasskeyChallenge) (*PasskeyCeremony, error) {
	_, creds, err := s.accountPasskeys(ctx, ch.UserID)
	if err != nil {
		return nil, err
	}
	if len(creds) == 0 {
		return nil, Errorf(CodeInvalidRequest, "%s", noPasskey)
	}
	options, state, err := rp.BeginLogin(creds)
	if err != nil {
		return nil, err
	}
	ch.State = state
	return s.newPasskeyChallenge(ctx, ch, options)
}

// FinishPasskeyLogin verifies credential (the JSON of the browser's
// PublicKeyCredential from navigator.credentials.get) against the
// challenge challengeID and starts a session: passwordless when the
// challenge was begun without an mfa_token, else the second factor of
// mfaToken's login (which is then spent). amr says a key was proved
// (RFC 8176: "swk" for a synced passkey, whose key can leave the device,
// "hwk" otherwise) and "mfa", since a passwordless login verified the user
// too; acr is aal2.
func (s *Service) FinishPasskeyLogin(ctx context.Context, challengeID string, credential []byte, mfaToken string) (*TokenPair, error) {
	var (
		sess    *Session
		refresh string
	)
	via := ClientFromContext(ctx).OAuthClient
	u, err := s.passkeyLogin(ctx, challengeID, credential, mfaToken, func(tx Tx, u *User, amr []string, ev *Event) error {
		var err error
		if sess, refresh, err = s.newSessionAMR(ctx, tx, u, via, amr); err != nil {
			return err
		}
		ev.SessionID = sess.ID
		return nil
	})
	if err != nil {
		return nil, err
	}
	return s.pairUntil(u, sess.ID, sess.AMR, refresh, time.Time{})
}

// BrowserPasskeyLogin is FinishPasskeyLogin for the hosted login page: it
// starts a browser session instead of a token session.
func (s *Service) BrowserPasskeyLogin(ctx context.Context, challengeID string, credential []byte, mfaToken string) (*BrowserSignIn, error) {
	var in *BrowserSignIn
	_, err := s.passkeyLogin(ctx, challengeID, credential, mfaToken, func(tx Tx, u *User, amr []string, ev *Event) error {
		var err error
		if in, err = s.newBrowserSession(ctx, tx, u, amr); err != nil {
			return err
		}
		ev.Details["browser_session"] = in.Session.ID
		return nil
	})
	if err != nil {
		return nil, err
	}
	return in, nil
}

// passkeyLogin verifies a login assertion and, in the transaction that
// spends the challenge, calls start to open the session (which may fill
// in the login event).
func (s *Service) passkeyLogin(ctx context.Context, challengeID string, credential []byte, mfaToken string,
	start func(tx Tx, u *User, amr []string, ev *Event) error) (*User, error) {
	if err := s.limitIP(ctx, "login", s.cfg.LoginPerIP); err != nil {
		return nil, err
	}
	rp, err := s.rp()
	if err != nil {
		return nil, err
	}
	ch, err := s.livePasskeyChallenge(ctx, challengeID, PasskeyLogin, PasskeyMFA)
	if err != nil {
		return nil, err
	}
	parsed, err := passkey.ParseAssertion(credential)
	if err != nil {
		return nil, Errorf(CodeInvalidRequest, "the credential is not a WebAuthn assertion: %s", strings.TrimPrefix(err.Error(), passkey.ErrRejected.Error()+": "))
	}
	var (
		u       *User
		mfaHash []byte
	)
	switch ch.Purpose {
	case PasskeyLogin:
		if mfaToken != "" {
			return nil, Errorf(CodeInvalidRequest, "this challenge was begun without an mfa_token; do not send one")
		}
		if len(parsed.UserHandle) == 0 {
			return nil, Errorf(CodeInvalidCredentials, "the passkey named no account: it is not a discoverable credential; log in with the password first")
		}
		// latch's user handles are account ids: anything else names no
		// account (and must not reach the store as an id).
		handle := string(parsed.UserHandle)
		if len(handle) > 64 || !utf8.ValidString(handle) {
			return nil, errPasskeyRefused(errors.New("no account has this passkey"))
		}
		u, err = s.deps.Store.UserByID(ctx, handle)
		if notFound(err) {
			s.emit(ctx, Event{Type: EventLoginFailed, Details: map[string]string{"reason": "unknown_passkey"}})
			return nil, errPasskeyRefused(errors.New("no account has this passkey"))
		}
		if err != nil {
			return nil, err
		}
	case PasskeyMFA:
		if mfaToken == "" {
			return nil, Errorf(CodeInvalidRequest, `field "mfa_token" is required: this challenge finishes a login's second factor`)
		}
		via := ClientFromContext(ctx).OAuthClient
		if mfaHash, u, err = s.liveMFAChallenge(ctx, mfaToken, &via); err != nil {
			return nil, err
		}
		if subtle.ConstantTimeCompare(mfaHash, ch.MFATokenHash) != 1 || u.ID != ch.UserID {
			return nil, errBadChallenge()
		}
	}
	pks, _, err := s.accountPasskeys(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	f := passkeyWithID(pks, parsed.CredentialID)
	if f == nil {
		s.emit(ctx, Event{Type: EventLoginFailed, UserID: u.ID, Details: map[string]string{"reason": "unknown_passkey"}})
		return nil, errPasskeyRefused(errors.New("the account has no such passkey"))
	}
	if ch.Purpose == PasskeyMFA {
		if err := s.passwordAttempt(ctx, u.EmailNorm, u.ID); err != nil {
			return nil, err
		}
	}
	as, err := rp.FinishLogin(userHandle(u), credentialOf(f), ch.State, parsed)
	if errors.Is(err, passkey.ErrRejected) {
		if ch.Purpose == PasskeyMFA {
			// Whoever sent it has the password: a wrong second factor.
			s.codeFailed(ctx, u, "passkey_login")
		} else {
			s.emit(ctx, Event{Type: EventLoginFailed, UserID: u.ID, Details: map[string]string{"reason": "passkey_refused"}})
		}
		return nil, errPasskeyRefused(err)
	}
	if err != nil {
		return nil, err
	}
	// Told only to the holder of the passkey.
	if u.Disabled {
		return nil, Errorf(CodeAccountDisabled, "this account is disabled")
	}
	if ch.Purpose == PasskeyLogin && s.cfg.RequireConfirmation && !u.EmailConfirmed {
		return nil, Errorf(CodeEmailNotConfirmed, "confirm your email address first; we can send the link again")
	}
	key := "hwk"
	if f.BackupEligible || as.BackupEligible {
		key = "swk"
	}
	amr := []string{key, "mfa"}
	if ch.Purpose == PasskeyMFA {
		amr = []string{"pwd", key, "mfa"}
	}
	details := map[string]string{"method": MethodPasskey, "factor_id": f.ID}
	if ch.Purpose == PasskeyMFA {
		details = map[string]string{"second_factor": MethodPasskey, "factor_id": f.ID}
	}
	var ev Event
	err = s.deps.Store.Tx(ctx, func(tx Tx) error {
		if err := s.consumePasskeyChallenge(ctx, tx, ch); err != nil {
			return err
		}
		if mfaHash != nil {
			won, err := tx.ConsumeMFAChallenge(ctx, mfaHash, s.now())
			if err != nil {
				return err
			}
			if !won {
				return errBadMFAToken()
			}
		}
		won, err := tx.UsePasskey(ctx, f.ID, int64(as.SignCount), s.now())
		if err != nil {
			return err
		}
		if !won {
			return errCounterRegressed
		}
		ev = Event{Type: EventLogin, UserID: u.ID, Details: details}
		if err := start(tx, u, amr, &ev); err != nil {
			return err
		}
		return s.publish(ctx, tx, u, &ev)
	})
	if errors.Is(err, errCounterRegressed) {
		return nil, s.counterRegressed(ctx, u, f, ch, as.SignCount)
	}
	if err != nil {
		return nil, err
	}
	if ch.Purpose == PasskeyMFA {
		s.passwordSucceeded(ctx, u.EmailNorm)
	}
	s.emit(ctx, ev)
	return u, nil
}

// counterRegressed answers an assertion whose sign counter did not move
// forwards: the passkey may have been copied. The challenge is spent (the
// same response must not be tried again), the refusal audited and the
// user told.
func (s *Service) counterRegressed(ctx context.Context, u *User, f *Factor, ch *PasskeyChallenge, got uint32) error {
	err := s.deps.Store.Tx(ctx, func(tx Tx) error {
		if _, err := tx.ConsumePasskeyChallenge(ctx, ch.Hash, s.now()); err != nil {
			return err
		}
		return s.notify(ctx, tx, u, MailPasskeyCounter, u.Email, MailData{Change: f.Name})
	})
	if err != nil {
		return err
	}
	s.mailQueued()
	s.emit(ctx, Event{Type: EventPasskeyCounterRegressed, UserID: u.ID, Details: map[string]string{
		"factor_id": f.ID, "name": f.Name, "counter": fmt.Sprint(got)}})
	return Errorf(CodeInvalidCredentials, "the passkey was refused: its signature counter went backwards, a sign that it was copied; use another factor and remove this passkey")
}

// BeginPasskeyStepUp starts proving a passkey of the caller's account for
// a sensitive change (the "code" of a step-up, for accounts whose factor
// is a passkey). Only the account's passkeys are allowed.
func (s *Service) BeginPasskeyStepUp(ctx context.Context, p *Principal) (*PasskeyCeremony, error) {
	rp, err := s.rp()
	if err != nil {
		return nil, err
	}
	return s.beginPasskeyAssertion(ctx, rp, "this account has no passkey",
		&PasskeyChallenge{Purpose: PasskeyStepUp, UserID: p.User.ID, SessionID: p.SessionID})
}

// FinishPasskeyStepUp verifies the assertion for the step-up challenge
// challengeID and answers a code that the caller's session may send, once
// and within 5 minutes, as the "code" of a sensitive change.
func (s *Service) FinishPasskeyStepUp(ctx context.Context, p *Principal, challengeID string, credential []byte) (string, error) {
	rp, err := s.rp()
	if err != nil {
		return "", err
	}
	ch, err := s.livePasskeyChallenge(ctx, challengeID, PasskeyStepUp)
	if err != nil {
		return "", err
	}
	if ch.UserID != p.User.ID || ch.SessionID != p.SessionID {
		return "", errBadChallenge()
	}
	parsed, err := passkey.ParseAssertion(credential)
	if err != nil {
		return "", Errorf(CodeInvalidRequest, "the credential is not a WebAuthn assertion: %s", strings.TrimPrefix(err.Error(), passkey.ErrRejected.Error()+": "))
	}
	u, err := s.deps.Store.UserByID(ctx, p.User.ID)
	if notFound(err) {
		return "", errInvalidBearer("the account no longer exists")
	}
	if err != nil {
		return "", err
	}
	pks, _, err := s.accountPasskeys(ctx, u.ID)
	if err != nil {
		return "", err
	}
	f := passkeyWithID(pks, parsed.CredentialID)
	if f == nil {
		return "", errPasskeyRefused(errors.New("the account has no such passkey"))
	}
	as, err := rp.FinishLogin(userHandle(u), credentialOf(f), ch.State, parsed)
	if errors.Is(err, passkey.ErrRejected) {
		s.codeFailed(ctx, u, "passkey_step_up")
		return "", errPasskeyRefused(err)
	}
	if err != nil {
		return "", err
	}
	code, err := token.NewOpaque()
	if err != nil {
		return "", err
	}
	h, _ := token.HashOpaque(code)
	now := s.now()
	err = s.deps.Store.Tx(ctx, func(tx Tx) error {
		if err := s.consumePasskeyChallenge(ctx, tx, ch); err != nil {
			return err
		}
		won, err := tx.UsePasskey(ctx, f.ID, int64(as.SignCount), now)
		if err != nil {
			return err
		}
		if !won {
			return errCounterRegressed
		}
		return tx.CreatePasskeyChallenge(ctx, &PasskeyChallenge{Hash: h, Purpose: PasskeyStepUpCode,
			UserID: u.ID, SessionID: p.SessionID, State: []byte("{}"), CreatedAt: now, ExpiresAt: now.Add(passkeyChallengeTTL)})
	})
	if errors.Is(err, errCounterRegressed) {
		return "", s.counterRegressed(ctx, u, f, ch, as.SignCount)
	}
	if err != nil {
		return "", err
	}
	return code, nil
}

// spendPasskeyStepUp spends, inside tx, the step-up code with hash h that
// a passkey assertion of p's session earned. A code of another session,
// used or expired, is errWrongCode.
func (s *Service) spendPasskeyStepUp(ctx context.Context, tx Tx, p *Principal, h []byte) (*factorProof, error) {
	ch, err := tx.PasskeyChallengeByHash(ctx, h)
	if notFound(err) {
		return nil, errWrongCode()
	}
	if err != nil {
		return nil, err
	}
	if ch.Purpose != PasskeyStepUpCode || ch.UserID != p.User.ID || ch.SessionID != p.SessionID {
		return nil, errWrongCode()
	}
	won, err := tx.ConsumePasskeyChallenge(ctx, h, s.now())
	if err != nil {
		return nil, err
	}
	if !won {
		return nil, errWrongCode()
	}
	return &factorProof{method: MethodPasskey}, nil
}
