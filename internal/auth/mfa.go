package auth

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/latchauth/latch/internal/mfa"
	"github.com/latchauth/latch/internal/token"
)

// Second factors (api.md "Second factors"): TOTP with replay protection,
// recovery codes, the mfa_token a password login answers for an account
// with a factor, and the step-up re-checks. Which time step a factor last
// accepted, which recovery code is spent and which mfa_token is used is
// decided in the store by conditional writes; a code is checked and spent
// in the same transaction that starts the session or makes the change.

// CodeMFARequired (403 mfa_required): the account has a second factor and
// the request did not carry it.
const CodeMFARequired Code = "mfa_required"

// CodeMFAAlreadyEnabled (409): an authenticator app is already on.
const CodeMFAAlreadyEnabled Code = "mfa_already_enabled"

// Second factor event types.
const (
	EventMFAEnabled               = "mfa_enabled"                // a factor finished enrolment
	EventMFADisabled              = "mfa_disabled"               // the user turned a factor off
	EventMFAReset                 = "mfa_reset"                  // an admin removed every factor
	EventRecoveryCodesRegenerated = "recovery_codes_regenerated" // a new set replaced the old one
	EventRecoveryCodeUsed         = "recovery_code_used"
	EventMFAFailed                = "mfa_failed"        // a wrong or replayed code
	EventMFAFailureBurst          = "mfa_failure_burst" // many wrong codes in a short time
)

// Mail kinds of second factors. Each is a notice with its own per-kind cap,
// so that failures someone else causes cannot use up the notices of real
// changes.
const (
	MailMFAChanged       = "mfa_changed"        // MailData.Change says what changed
	MailRecoveryCodeUsed = "recovery_code_used" // MailData.Change says how many are left
	MailMFAFailures      = "mfa_failures"
)

// Method names in mfa_required answers.
const (
	MethodTOTP         = "totp"
	MethodRecoveryCode = "recovery_code"
	MethodPasskey      = "passkey"
)

// amr values (RFC 8176) and acr values (NIST SP 800-63B levels).
var (
	amrPassword     = []string{"pwd"}
	amrTOTP         = []string{"pwd", "otp", "mfa"}
	amrRecoveryCode = []string{"pwd", "mfa"}
)

// acrOf is the assurance level of a session authenticated by amr: "aal2"
// when more than one factor took part.
func acrOf(amr []string) string {
	if slices.Contains(amr, "mfa") {
		return "aal2"
	}
	return "aal1"
}

const (
	// mfaTokenTTL is how long an mfa_token waits for the second factor.
	mfaTokenTTL = 5 * time.Minute
	// A burst: more than mfaBurst.N wrong codes within mfaBurst.Per; at
	// most one burst notice per mfaBurstNotice.
	mfaBurstNotice = time.Hour
)

var mfaBurst = Rate{N: 5, Per: 15 * time.Minute}

// MFARequiredError is the answer to a password check of an account with a
// second factor: a login's carries the mfa_token to redeem at
// /v1/login/mfa (or the OAuth MFA grant); a step-up's has none (send the
// code with the request). It unwraps to an *Error with CodeMFARequired.
type MFARequiredError struct {
	Token   string   // the mfa_token; "" for a step-up
	Methods []string // MethodTOTP, MethodRecoveryCode, MethodPasskey
	err     *Error
}

func (e *MFARequiredError) Error() string { return e.err.Error() }
func (e *MFARequiredError) Unwrap() error { return e.err }

// MFAStatus is what GET /v1/mfa tells a user of their factors.
type MFAStatus struct {
	TOTP              bool
	Passkeys          []*Factor
	RecoveryCodesLeft int
}

// TOTPEnrolment is a new, not yet active, TOTP secret.
type TOTPEnrolment struct {
	Secret     string // base32
	OtpauthURL string
	QRPNG      []byte
}

func errWrongCode() error {
	return Errorf(CodeInvalidCredentials, "the code is wrong or was already used")
}

func errTOTPOn() error {
	return Errorf(CodeMFAAlreadyEnabled, "an authenticator app is already on; turn it off first to set up another")
}

func errBadMFAToken() error {
	return Errorf(CodeInvalidToken, "the mfa_token is invalid, expired or already used; log in again")
}

// totpAD binds a sealed TOTP secret to its factor.
func totpAD(factorID string) []byte { return []byte("latch totp secret " + factorID) }

// passwordBinding ties an mfa_token to the password hash the login
// checked: after a password change or reset the token is void.
func passwordBinding(u *User) []byte {
	h := sha256.Sum256([]byte("latch mfa binding\x00" + u.PasswordHash))
	return h[:]
}

// activeFactors returns userID's enrolled factors.
func activeFactors(ctx context.Context, r Reader, userID string) ([]*Factor, error) {
	all, err := r.Factors(ctx, userID)
	if err != nil {
		return nil, err
	}
	out := all[:0]
	for _, f := range all {
		if f.Active() {
			out = append(out, f)
		}
	}
	return out, nil
}

// methodsOf lists the ways the holder of factors may prove the second
// factor.
func methodsOf(ctx context.Context, r Reader, userID string, factors []*Factor) ([]string, error) {
	var m []string
	for _, k := range []FactorKind{FactorTOTP, FactorPasskey} {
		if slices.ContainsFunc(factors, func(f *Factor) bool { return f.Kind == k }) {
			m = append(m, string(k))
		}
	}
	n, err := r.RecoveryCodesLeft(ctx, userID)
	if err != nil {
		return nil, err
	}
	if n > 0 {
		m = append(m, MethodRecoveryCode)
	}
	return m, nil
}

// newMFAChallenge stores an mfa_token for u, checked through the OAuth
// client via, and returns its plaintext.
func (s *Service) newMFAChallenge(ctx context.Context, tx Tx, u *User, via OAuthClient) (string, error) {
	plain, err := token.NewOpaque()
	if err != nil {
		return "", err
	}
	h, _ := token.HashOpaque(plain)
	now := s.now()
	err = tx.CreateMFAChallenge(ctx, &MFAChallenge{
		Hash: h, UserID: u.ID, PasswordBinding: passwordBinding(u),
		ClientID: via.ID, ClientConfidential: via.Confidential,
		CreatedAt: now, ExpiresAt: now.Add(mfaTokenTTL),
	})
	return plain, err
}

// requireSecondFactor answers a right password for u, whose account has
// factors, with an mfa_token. newHash, when set, replaces u's password hash
// first (the upgrade of an old hash on login).
func (s *Service) requireSecondFactor(ctx context.Context, u *User, factors []*Factor, newHash string) error {
	var (
		tok     string
		methods []string
	)
	err := s.deps.Store.Tx(ctx, func(tx Tx) error {
		fresh, err := tx.UserByID(ctx, u.ID)
		if err != nil {
			return err
		}
		if newHash != "" && fresh.PasswordHash == u.PasswordHash {
			fresh.PasswordHash = newHash
			fresh.UpdatedAt = s.now()
			if err := tx.UpdateUser(ctx, fresh); err != nil {
				return err
			}
		}
		if methods, err = methodsOf(ctx, tx, u.ID, factors); err != nil {
			return err
		}
		tok, err = s.newMFAChallenge(ctx, tx, fresh, ClientFromContext(ctx).OAuthClient)
		return err
	})
	if err != nil {
		return err
	}
	return mfaRequired(tok, methods)
}

func mfaRequired(tok string, methods []string) error {
	msg := "this account has a second factor: send the mfa_token with a code from the authenticator app (or a recovery code) to /v1/login/mfa"
	if tok == "" {
		msg = `this account has a second factor: send a current code from the authenticator app (or a recovery code) in "code"`
	}
	if slices.Contains(methods, MethodPasskey) {
		if tok == "" {
			msg += `, or the code of a passkey (POST /v1/passkeys/step-up/begin and /finish)`
		} else {
			msg += `, or use a passkey (POST /v1/passkeys/login/begin with the mfa_token)`
		}
	}
	return &MFARequiredError{Token: tok, Methods: methods, err: Errorf(CodeMFARequired, "%s", msg)}
}

// factorProof is what spending a second factor proved.
type factorProof struct {
	method string // MethodTOTP or MethodRecoveryCode
	amr    []string
	left   int // recovery codes left, after a recovery code
}

// spendFactor checks a TOTP code, or a recovery code, against u's active
// factors inside tx and spends it: the TOTP factor's last step advances to
// the code's step, or the recovery code is marked used, each by a
// conditional write, so of concurrent requests with the same code one
// wins. A wrong, replayed or lost-race code is errWrongCode.
func (s *Service) spendFactor(ctx context.Context, tx Tx, u *User, code, recovery string) (*factorProof, error) {
	now := s.now()
	if recovery != "" {
		canon, ok := mfa.ParseRecoveryCode(recovery)
		if !ok {
			return nil, errWrongCode()
		}
		won, err := tx.UseRecoveryCode(ctx, u.ID, mfa.HashRecoveryCode(canon), now)
		if err != nil {
			return nil, err
		}
		if !won {
			return nil, errWrongCode()
		}
		left, err := tx.RecoveryCodesLeft(ctx, u.ID)
		if err != nil {
			return nil, err
		}
		return &factorProof{method: MethodRecoveryCode, amr: amrRecoveryCode, left: left}, nil
	}
	digits, ok := mfa.ParseCode(code)
	if !ok {
		return nil, errWrongCode()
	}
	factors, err := activeFactors(ctx, tx, u.ID)
	if err != nil {
		return nil, err
	}
	for _, f := range factors {
		if f.Kind != FactorTOTP {
			continue
		}
		secret, err := s.openTOTP(f)
		if err != nil {
			return nil, err
		}
		step, ok, err := mfa.Match(secret, digits, now, f.LastStep)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, errWrongCode()
		}
		won, err := tx.AdvanceFactor(ctx, f.ID, step, now)
		if err != nil {
			return nil, err
		}
		if !won {
			return nil, errWrongCode() // the same code won in another request
		}
		return &factorProof{method: MethodTOTP, amr: amrTOTP}, nil
	}
	return nil, errWrongCode()
}

func (s *Service) openTOTP(f *Factor) (string, error) {
	b, err := token.Open(s.cfg.Secret, f.SecretSealed, totpAD(f.ID))
	if err != nil {
		return "", fmt.Errorf("auth: opening the TOTP secret of factor %s: %w", f.ID, err)
	}
	return string(b), nil
}

// codeFailed records a wrong second-factor code: an event, and on a burst
// (more than mfaBurst within its window) one more event and a notice
// mail, at most one per mfaBurstNotice.
func (s *Service) codeFailed(ctx context.Context, u *User, where string) {
	s.emit(ctx, Event{Type: EventMFAFailed, UserID: u.ID, Details: map[string]string{"during": where}})
	ok, _, err := s.deps.Limiter.Allow(ctx, "mfa:failures:"+u.ID, mfaBurst)
	if err != nil || ok {
		return
	}
	if first, _, err := s.deps.Limiter.Allow(ctx, "mfa:burst:"+u.ID, Rate{N: 1, Per: mfaBurstNotice}); err != nil || !first {
		return
	}
	s.emit(ctx, Event{Type: EventMFAFailureBurst, UserID: u.ID})
	err = s.deps.Store.Tx(ctx, func(tx Tx) error {
		return s.notify(ctx, tx, u, MailMFAFailures, u.Email, MailData{})
	})
	if err != nil {
		s.log.Error("mfa: failure notice not queued", "user_id", u.ID, "err", err)
		return
	}
	s.mailQueued()
}

// LoginMFA completes a login that answered mfa_required: mfaToken with a
// TOTP code or a recovery code starts the session. A wrong code leaves the
// token usable (until it expires) and counts against the account's login
// throttle; the right one uses the token up.
func (s *Service) LoginMFA(ctx context.Context, mfaToken, code, recovery string) (*TokenPair, error) {
	var (
		sess    *Session
		refresh string
	)
	via := ClientFromContext(ctx).OAuthClient
	u, _, err := s.redeemMFA(ctx, mfaToken, code, recovery, via, func(tx Tx, u *User, amr []string) (string, error) {
		var err error
		sess, refresh, err = s.newSessionAMR(ctx, tx, u, via, amr)
		if err != nil {
			return "", err
		}
		return sess.ID, nil
	})
	if err != nil {
		return nil, err
	}
	return s.pairUntil(u, sess.ID, sess.AMR, refresh, time.Time{})
}

// redeemMFA checks mfaToken (issued through the OAuth client via) and the
// code or recovery code, and, in the transaction that spends them, calls
// start to begin what the login opens (a session, a browser session),
// which returns its id for the events.
func (s *Service) redeemMFA(ctx context.Context, mfaToken, code, recovery string, via OAuthClient,
	start func(tx Tx, u *User, amr []string) (string, error)) (*User, *factorProof, error) {
	if err := s.limitIP(ctx, "login", s.cfg.LoginPerIP); err != nil {
		return nil, nil, err
	}
	if code == "" && recovery == "" {
		return nil, nil, Errorf(CodeInvalidRequest, `send "code" (from the authenticator app) or "recovery_code"`)
	}
	h, u, err := s.liveMFAChallenge(ctx, mfaToken, &via)
	if err != nil {
		return nil, nil, err
	}
	if u.Disabled {
		return nil, nil, Errorf(CodeAccountDisabled, "this account is disabled")
	}
	if err := s.passwordAttempt(ctx, u.EmailNorm, u.ID); err != nil {
		return nil, nil, err
	}
	var (
		sid   string
		proof *factorProof
		ev    Event
	)
	err = s.deps.Store.Tx(ctx, func(tx Tx) error {
		won, err := tx.ConsumeMFAChallenge(ctx, h, s.now())
		if err != nil {
			return err
		}
		if !won {
			return errBadMFAToken()
		}
		if proof, err = s.spendFactor(ctx, tx, u, code, recovery); err != nil {
			return err
		}
		if sid, err = start(tx, u, proof.amr); err != nil {
			return err
		}
		ev = Event{Type: EventLogin, UserID: u.ID, SessionID: sid, Details: map[string]string{"second_factor": proof.method}}
		if sid == "" {
			// A browser session (the hosted login's second step): the
			// code exchange that follows is the user.login.
			ev.noWebhooks()
		} else if err := s.publish(ctx, tx, u, &ev); err != nil {
			return err
		}
		return s.noticeRecoveryCodeUse(ctx, tx, u, proof)
	})
	if err != nil {
		if ErrorCode(err) == CodeInvalidCredentials {
			s.codeFailed(ctx, u, "login")
		}
		return nil, nil, err
	}
	s.passwordSucceeded(ctx, u.EmailNorm)
	s.factorUsed(ctx, u, sid, proof)
	s.emit(ctx, ev)
	return u, proof, nil
}

// liveMFAChallenge finds the unused, unexpired mfa_token mfaToken, usable
// by the OAuth client via (by any when via is nil) and still bound to its
// user's password, and answers its hash and user. It spends nothing: the
// caller's transaction consumes it.
func (s *Service) liveMFAChallenge(ctx context.Context, mfaToken string, via *OAuthClient) ([]byte, *User, error) {
	h, ok := token.HashOpaque(mfaToken)
	if !ok {
		return nil, nil, errBadMFAToken()
	}
	now := s.now()
	ch, err := s.deps.Store.MFAChallengeByHash(ctx, h)
	if notFound(err) {
		return nil, nil, errBadMFAToken()
	}
	if err != nil {
		return nil, nil, err
	}
	bound := Session{ClientID: ch.ClientID, ClientConfidential: ch.ClientConfidential}
	if !ch.UsedAt.IsZero() || !now.Before(ch.ExpiresAt) || (via != nil && !bound.UsableBy(*via)) {
		return nil, nil, errBadMFAToken()
	}
	u, err := s.deps.Store.UserByID(ctx, ch.UserID)
	if notFound(err) {
		return nil, nil, errBadMFAToken()
	}
	if err != nil {
		return nil, nil, err
	}
	// Bound to the password check: a password changed since, or a cut-off
	// (logout everywhere, force logout, disable), voids the token.
	if !bytes.Equal(ch.PasswordBinding, passwordBinding(u)) || u.TokensValidAfter.After(ch.CreatedAt) {
		return nil, nil, errBadMFAToken()
	}
	return h, u, nil
}

// noticeRecoveryCodeUse queues the notice of a recovery code's use.
func (s *Service) noticeRecoveryCodeUse(ctx context.Context, tx Tx, u *User, p *factorProof) error {
	if p.method != MethodRecoveryCode {
		return nil
	}
	return s.notify(ctx, tx, u, MailRecoveryCodeUsed, u.Email, MailData{Change: strconv.Itoa(p.left)})
}

// factorUsed emits what spending a factor is worth recording.
func (s *Service) factorUsed(ctx context.Context, u *User, sid string, p *factorProof) {
	if p.method != MethodRecoveryCode {
		return
	}
	s.mailQueued()
	s.emit(ctx, Event{Type: EventRecoveryCodeUsed, UserID: u.ID, SessionID: sid,
		Details: map[string]string{"codes_left": strconv.Itoa(p.left)}})
}

// stepUp re-checks the caller before a sensitive change: the password
// and, when the account has a second factor, a current code (a TOTP code
// or a recovery code), spent at once. It shares login's per-account
// throttle, and clears it only when everything asked for was right, so
// that the right password does not buy more guesses at the code.
func (s *Service) stepUp(ctx context.Context, p *Principal, password, code string) (*User, error) {
	u, err := s.verifyPrincipalPassword(ctx, p, password)
	if err != nil {
		return nil, err
	}
	factors, err := activeFactors(ctx, s.deps.Store, u.ID)
	if err != nil {
		return nil, err
	}
	if len(factors) == 0 {
		s.passwordSucceeded(ctx, u.EmailNorm)
		return u, nil
	}
	if code == "" {
		methods, err := methodsOf(ctx, s.deps.Store, u.ID, factors)
		if err != nil {
			return nil, err
		}
		return nil, mfaRequired("", methods)
	}
	if err := s.passwordAttempt(ctx, u.EmailNorm, u.ID); err != nil {
		return nil, err
	}
	totpCode, recovery := code, ""
	if _, ok := mfa.ParseCode(code); !ok {
		totpCode, recovery = "", code
	}
	var proof *factorProof
	err = s.deps.Store.Tx(ctx, func(tx Tx) error {
		var err error
		if h, ok := token.HashOpaque(code); ok {
			// A passkey's step-up code (FinishPasskeyStepUp).
			proof, err = s.spendPasskeyStepUp(ctx, tx, p, h)
			return err
		}
		if proof, err = s.spendFactor(ctx, tx, u, totpCode, recovery); err != nil {
			return err
		}
		return s.noticeRecoveryCodeUse(ctx, tx, u, proof)
	})
	if err != nil {
		if ErrorCode(err) == CodeInvalidCredentials {
			s.codeFailed(ctx, u, "step_up")
		}
		return nil, err
	}
	s.passwordSucceeded(ctx, u.EmailNorm)
	s.factorUsed(ctx, u, p.SessionID, proof)
	return u, nil
}

// MFAStatus tells the caller which factors their account has.
func (s *Service) MFAStatus(ctx context.Context, p *Principal) (*MFAStatus, error) {
	return s.mfaStatus(ctx, p.User.ID)
}

func (s *Service) mfaStatus(ctx context.Context, userID string) (*MFAStatus, error) {
	factors, err := activeFactors(ctx, s.deps.Store, userID)
	if err != nil {
		return nil, err
	}
	st := &MFAStatus{Passkeys: []*Factor{}}
	for _, f := range factors {
		switch f.Kind {
		case FactorTOTP:
			st.TOTP = true
		case FactorPasskey:
			st.Passkeys = append(st.Passkeys, f)
		}
	}
	if st.RecoveryCodesLeft, err = s.deps.Store.RecoveryCodesLeft(ctx, userID); err != nil {
		return nil, err
	}
	return st, nil
}

// EnrolTOTP starts turning on an authenticator app: after the password
// (and a code, if another factor is on) it stores a new secret, sealed,
// pending until ConfirmTOTP sees its first code. A pending secret from an
// earlier attempt is replaced; an active one is CodeMFAAlreadyEnabled.
func (s *Service) EnrolTOTP(ctx context.Context, p *Principal, password, code string) (*TOTPEnrolment, error) {
	// Said before asking for a code: that would be the app's own.
	on, err := activeFactors(ctx, s.deps.Store, p.User.ID)
	if err != nil {
		return nil, err
	}
	if slices.ContainsFunc(on, func(f *Factor) bool { return f.Kind == FactorTOTP }) {
		return nil, errTOTPOn()
	}
	u, err := s.stepUp(ctx, p, password, code)
	if err != nil {
		return nil, err
	}
	secret, url, err := mfa.NewTOTP(s.cfg.Product, u.Email)
	if err != nil {
		return nil, err
	}
	png, err := mfa.QRPNG(url)
	if err != nil {
		return nil, err
	}
	f := &Factor{ID: newID(), UserID: u.ID, Kind: FactorTOTP, Name: "Authenticator app", LastStep: -1, CreatedAt: s.now()}
	if f.SecretSealed, err = token.Seal(s.cfg.Secret, []byte(secret), totpAD(f.ID)); err != nil {
		return nil, err
	}
	err = s.deps.Store.Tx(ctx, func(tx Tx) error {
		all, err := tx.Factors(ctx, u.ID)
		if err != nil {
			return err
		}
		for _, old := range all {
			if old.Kind == FactorTOTP && old.Active() {
				return errTOTPOn()
			}
		}
		if _, err := tx.DeleteFactors(ctx, u.ID, FactorTOTP); err != nil {
			return err
		}
		err = tx.CreateFactor(ctx, f)
		if errors.Is(err, ErrConflict) {
			return Errorf(CodeMFAAlreadyEnabled, "an authenticator app is being set up by another request; try again")
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return &TOTPEnrolment{Secret: secret, OtpauthURL: url, QRPNG: png}, nil
}

// ConfirmTOTP activates the pending authenticator app with its first
// code and answers the recovery codes (shown once; stored hashed). A wrong
// code counts against the login throttle.
func (s *Service) ConfirmTOTP(ctx context.Context, p *Principal, code string) ([]string, error) {
	u, err := s.deps.Store.UserByID(ctx, p.User.ID)
	if notFound(err) {
		return nil, errInvalidBearer("the account no longer exists")
	}
	if err != nil {
		return nil, err
	}
	if err := s.passwordAttempt(ctx, u.EmailNorm, u.ID); err != nil {
		return nil, err
	}
	codes, err := mfa.NewRecoveryCodes(mfa.RecoveryCodeCount)
	if err != nil {
		return nil, err
	}
	hashes := recoveryHashes(codes)
	var ev Event
	err = s.deps.Store.Tx(ctx, func(tx Tx) error {
		all, err := tx.Factors(ctx, u.ID)
		if err != nil {
			return err
		}
		var pending *Factor
		for _, f := range all {
			if f.Kind == FactorTOTP && !f.Active() {
				pending = f
			}
		}
		if pending == nil {
			return Errorf(CodeInvalidRequest, "no authenticator app is being set up: start with POST /v1/mfa/totp")
		}
		digits, ok := mfa.ParseCode(code)
		if !ok {
			return errWrongCode()
		}
		secret, err := s.openTOTP(pending)
		if err != nil {
			return err
		}
		now := s.now()
		step, ok, err := mfa.Match(secret, digits, now, pending.LastStep)
		if err != nil {
			return err
		}
		if !ok {
			return errWrongCode()
		}
		won, err := tx.ConfirmFactor(ctx, pending.ID, step, now)
		if err != nil {
			return err
		}
		if !won {
			return errWrongCode()
		}
		if err := tx.ReplaceRecoveryCodes(ctx, u.ID, hashes, now); err != nil {
			return err
		}
		ev = Event{Type: EventMFAEnabled, UserID: u.ID, SessionID: p.SessionID, Details: map[string]string{"kind": string(FactorTOTP)}}
		if err := s.publish(ctx, tx, u, &ev); err != nil {
			return err
		}
		return s.notify(ctx, tx, u, MailMFAChanged, u.Email, MailData{Change: "An authenticator app was turned on as a second factor, and new recovery codes were made."})
	})
	if err != nil {
		if ErrorCode(err) == CodeInvalidCredentials {
			s.codeFailed(ctx, u, "enrolment")
		}
		return nil, err
	}
	s.passwordSucceeded(ctx, u.EmailNorm)
	s.mailQueued()
	s.emit(ctx, ev)
	return codes, nil
}

func recoveryHashes(codes []string) [][]byte {
	out := make([][]byte, len(codes))
	for i, c := range codes {
		canon, _ := mfa.ParseRecoveryCode(c)
		out[i] = mfa.HashRecoveryCode(canon)
	}
	return out
}

// DisableTOTP turns the authenticator app off after the password and a
// current code. With no factor left the recovery codes go too.
func (s *Service) DisableTOTP(ctx context.Context, p *Principal, password, code string) error {
	u, err := s.stepUp(ctx, p, password, code)
	if err != nil {
		return err
	}
	ev := Event{Type: EventMFADisabled, UserID: u.ID, SessionID: p.SessionID, Details: map[string]string{"kind": string(FactorTOTP)}}
	err = s.deps.Store.Tx(ctx, func(tx Tx) error {
		n, err := tx.DeleteFactors(ctx, u.ID, FactorTOTP)
		if err != nil {
			return err
		}
		if n == 0 {
			return Errorf(CodeNotFound, "no authenticator app is on")
		}
		left, err := activeFactors(ctx, tx, u.ID)
		if err != nil {
			return err
		}
		if len(left) == 0 {
			if err := tx.ReplaceRecoveryCodes(ctx, u.ID, nil, s.now()); err != nil {
				return err
			}
		}
		if err := s.publish(ctx, tx, u, &ev); err != nil {
			return err
		}
		return s.notify(ctx, tx, u, MailMFAChanged, u.Email, MailData{Change: "The authenticator app was turned off as a second factor."})
	})
	if err != nil {
		return err
	}
	s.mailQueued()
	s.emit(ctx, ev)
	return nil
}

// RegenerateRecoveryCodes replaces the caller's recovery codes with a new
// set after the password and a current code.
func (s *Service) RegenerateRecoveryCodes(ctx context.Context, p *Principal, password, code string) ([]string, error) {
	u, err := s.stepUp(ctx, p, password, code)
	if err != nil {
		return nil, err
	}
	codes, err := mfa.NewRecoveryCodes(mfa.RecoveryCodeCount)
	if err != nil {
		return nil, err
	}
	err = s.deps.Store.Tx(ctx, func(tx Tx) error {
		factors, err := activeFactors(ctx, tx, u.ID)
		if err != nil {
			return err
		}
		if len(factors) == 0 {
			return Errorf(CodeInvalidRequest, "recovery codes need a second factor: turn on an authenticator app first")
		}
		if err := tx.ReplaceRecoveryCodes(ctx, u.ID, recoveryHashes(codes), s.now()); err != nil {
			return err
		}
		return s.notify(ctx, tx, u, MailMFAChanged, u.Email, MailData{Change: "New recovery codes were made; the old ones no longer work."})
	})
	if err != nil {
		return nil, err
	}
	s.mailQueued()
	s.emit(ctx, Event{Type: EventRecoveryCodesRegenerated, UserID: u.ID, SessionID: p.SessionID})
	return codes, nil
}

// AdminMFA tells an admin which factors the user with id has.
func (s *Service) AdminMFA(ctx context.Context, id string) (*MFAStatus, error) {
	if _, err := s.AdminUser(ctx, id); err != nil {
		return nil, err
	}
	return s.mfaStatus(ctx, id)
}

// AdminResetMFA removes every second factor and recovery code of the user
// with id (someone who lost their phone and their codes, and proved who
// they are some other way). The user is told by mail.
func (s *Service) AdminResetMFA(ctx context.Context, actor, id string) error {
	var ev Event
	err := s.deps.Store.Tx(ctx, func(tx Tx) error {
		u, err := tx.UserByID(ctx, id)
		if notFound(err) {
			return errNoUser()
		}
		if err != nil {
			return err
		}
		removed, err := tx.DeleteFactors(ctx, id, "")
		if err != nil {
			return err
		}
		if err := tx.ReplaceRecoveryCodes(ctx, id, nil, s.now()); err != nil {
			return err
		}
		ev = Event{Type: EventMFAReset, UserID: id, Actor: actor, Details: map[string]string{"factors_removed": strconv.FormatInt(removed, 10)}}
		if removed == 0 {
			ev.noWebhooks() // nothing changed
			return nil
		}
		if err := s.publish(ctx, tx, u, &ev); err != nil {
			return err
		}
		return s.notify(ctx, tx, u, MailMFAChanged, u.Email, MailData{Change: "An administrator removed every second factor of your account; you sign in with your password alone until you set one up again."})
	})
	if err != nil {
		return err
	}
	s.mailQueued()
	s.emit(ctx, ev)
	return nil
}
