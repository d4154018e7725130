package auth

import (
	"context"
	"time"
)

// FactorKind names a kind of second factor.
type FactorKind string

// Factor kinds. Passkeys (WebAuthn credentials) share the table and the
// rules of listing, resetting and counting.
const (
	FactorTOTP    FactorKind = "totp"
	FactorPasskey FactorKind = "passkey"
)

// Factor is one second factor of an account.
type Factor struct {
	ID     string
	UserID string
	Kind   FactorKind
	Name   string
	// SecretSealed is the TOTP secret sealed with Config.Secret (AD: the
	// factor's id); for a passkey, its public key data.
	SecretSealed []byte
	// CredentialID is a passkey's credential id (nil for TOTP).
	CredentialID []byte
	// LastStep is what the factor advances on each use, by a conditional
	// write: the last accepted TOTP time step (-1: none yet), a passkey's
	// sign counter.
	LastStep    int64
	CreatedAt   time.Time
	ConfirmedAt time.Time // zero while enrolment waits for the first code
	LastUsedAt  time.Time

	// A passkey's registration facts, checked again on each assertion:
	// the transports the browser reported, the authenticator's AAGUID and
	// its flags.
	Transports     []string
	AAGUID         []byte
	UserVerified   bool
	BackupEligible bool
	BackupState    bool
}

// Active reports whether the factor finished enrolment.
func (f *Factor) Active() bool { return !f.ConfirmedAt.IsZero() }

// MFAChallenge is the stored form of an mfa_token: the proof that a login
// passed the password, waiting for the second factor.
type MFAChallenge struct {
	Hash   []byte // SHA-256 of the token
	UserID string
	// PasswordBinding is a hash of the password hash the login checked: a
	// password changed since voids the challenge.
	PasswordBinding []byte
	// The OAuth client the login came through (see Session).
	ClientID           string
	ClientConfidential bool
	CreatedAt          time.Time
	ExpiresAt          time.Time
	UsedAt             time.Time
}

// Purposes of a PasskeyChallenge.
const (
	PasskeyRegister = "register" // bound to the user and session adding a passkey
	PasskeyLogin    = "login"    // passwordless: bound to nothing
	PasskeyMFA      = "mfa"      // second factor: bound to an mfa_token
	PasskeyStepUp   = "step_up"  // a step-up assertion: bound to the user and session
	// PasskeyStepUpCode is no ceremony but its outcome: the single-use
	// code a step-up assertion earned, bound to the user and session.
	PasskeyStepUpCode = "step_up_code"
)

// PasskeyChallenge is a WebAuthn ceremony waiting for its finish: the
// challenge and what it is bound to, kept server-side.
type PasskeyChallenge struct {
	Hash         []byte // SHA-256 of the challenge_id
	Purpose      string // PasskeyRegister, PasskeyLogin, PasskeyMFA, ...
	UserID       string // "" for PasskeyLogin
	SessionID    string // PasskeyRegister: the session that began it
	MFATokenHash []byte // PasskeyMFA: the mfa_token's hash
	State        []byte // the ceremony's data (internal/passkey)
	CreatedAt    time.Time
	ExpiresAt    time.Time
	UsedAt       time.Time
}

// MFAReader is the read side of second factors, part of Reader.
type MFAReader interface {
	// Factors lists userID's factors, active or pending, oldest first.
	Factors(ctx context.Context, userID string) ([]*Factor, error)
	// RecoveryCodesLeft counts userID's unused recovery codes.
	RecoveryCodesLeft(ctx context.Context, userID string) (int, error)
	// MFAChallengeByHash returns the challenge with hash, or ErrNotFound.
	MFAChallengeByHash(ctx context.Context, hash []byte) (*MFAChallenge, error)
	// PasskeyChallengeByHash returns the challenge with hash, or
	// ErrNotFound.
	PasskeyChallengeByHash(ctx context.Context, hash []byte) (*PasskeyChallenge, error)
}

// MFAWriter is the write side of second factors, part of Tx. Each
// single-use thing has one conditional write that decides, among
// concurrent callers, the one winner.
type MFAWriter interface {
	// CreateFactor inserts f; ErrConflict when userID already has a TOTP
	// factor (pending or active) or the credential id is taken.
	CreateFactor(ctx context.Context, f *Factor) error
	// ConfirmFactor activates the pending factor id at step: it sets
	// confirmed_at and last_step only if the factor is still pending and
	// its last step is below step. Exactly one concurrent caller gets true.
	ConfirmFactor(ctx context.Context, id string, step int64, at time.Time) (bool, error)
	// AdvanceFactor sets the active factor id's last step to step (and
	// last_used_at) only if its last step is below step. Exactly one of
	// concurrent callers with the same step gets true: a TOTP code is
	// accepted at most once.
	AdvanceFactor(ctx context.Context, id string, step int64, at time.Time) (bool, error)
	// DeleteFactors deletes userID's factors of kind ("" for every kind)
	// and returns how many went.
	DeleteFactors(ctx context.Context, userID string, kind FactorKind) (int64, error)
	// ReplaceRecoveryCodes deletes userID's recovery codes and stores
	// hashes as the new set (none: the set is simply gone).
	ReplaceRecoveryCodes(ctx context.Context, userID string, hashes [][]byte, at time.Time) error
	// UseRecoveryCode marks userID's unused code with hash used. Exactly
	// one concurrent caller gets true.
	UseRecoveryCode(ctx context.Context, userID string, hash []byte, at time.Time) (bool, error)
	// CreateMFAChallenge inserts c.
	CreateMFAChallenge(ctx context.Context, c *MFAChallenge) error
	// ConsumeMFAChallenge sets used_at on the challenge with hash if it is
	// unused and not expired at at. Exactly one concurrent caller gets
	// true.
	ConsumeMFAChallenge(ctx context.Context, hash []byte, at time.Time) (bool, error)

	// CreatePasskeyChallenge inserts c.
	CreatePasskeyChallenge(ctx context.Context, c *PasskeyChallenge) error
	// ConsumePasskeyChallenge sets used_at on the challenge with hash if
	// it is unused and not expired at at. Exactly one concurrent caller
	// gets true.
	ConsumePasskeyChallenge(ctx context.Context, hash []byte, at time.Time) (bool, error)
	// UsePasskey records an assertion of the active passkey id with sign
	// counter n: it sets last_step to n (and last_used_at) only if n is
	// above the stored counter, or both are 0 (an authenticator that keeps
	// no counter). A counter that went backwards, or repeats a non-zero
	// value, is refused: false. Of concurrent callers with the same
	// non-zero n exactly one gets true.
	UsePasskey(ctx context.Context, id string, n int64, at time.Time) (bool, error)
	// RenameFactor sets the name of userID's factor id; false when userID
	// has no such factor.
	RenameFactor(ctx context.Context, userID, id, name string) (bool, error)
	// DeleteFactor deletes userID's factor id of kind; false when there
	// is none.
	DeleteFactor(ctx context.Context, userID, id string, kind FactorKind) (bool, error)
}
