// Package passkey runs the WebAuthn ceremonies of latch's passkeys with
// github.com/go-webauthn/webauthn, behind plain values: the options to send
// to the browser as JSON, the ceremony's state as bytes to keep
// server-side, and what a verified registration or assertion proved. The
// rules (who may register, which challenge is still good, what a counter
// that went backwards means) are internal/auth's; this package only
// checks signatures, origins, the RP ID, challenges and flags.
package passkey

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"
)

// MaxResponse bounds the size of a credential the browser sends back.
// Real ones are a few KiB (an attestation with a certificate chain the
// largest); the HTTP layer limits bodies before this.
const MaxResponse = 64 << 10

// ErrRejected is what every refused response wraps: malformed JSON,
// a wrong origin, RP ID or challenge, a bad signature, missing user
// verification. The error's text says which, for the client.
var ErrRejected = errors.New("passkey: the response was refused")

// Config is a relying party.
type Config struct {
	RPID    string   // a domain: the public URL's host
	RPName  string   // shown by the browser
	Origins []string // every origin ceremonies may come from
}

// RP runs ceremonies for one relying party. It is safe for concurrent
// use.
type RP struct {
	w *webauthn.WebAuthn
}

// New checks c and builds its relying party.
func New(c Config) (*RP, error) {
	if c.RPName == "" {
		c.RPName = c.RPID
	}
	if err := protocol.ValidateRPID(c.RPID); err != nil {
		return nil, fmt.Errorf("passkey: RP ID %q: %w", c.RPID, err)
	}
	w, err := webauthn.New(&webauthn.Config{
		RPID:          c.RPID,
		RPDisplayName: c.RPName,
		RPOrigins:     c.Origins,
		// Challenges expire by latch's own (injectable) clock.
		Timeouts: webauthn.TimeoutsConfig{
			Login:        webauthn.TimeoutConfig{Timeout: 5 * 60e9, TimeoutUVD: 5 * 60e9},
			Registration: webauthn.TimeoutConfig{Timeout: 5 * 60e9, TimeoutUVD: 5 * 60e9},
		},
		AttestationPreference: protocol.PreferNoAttestation,
	})
	if err != nil {
		return nil, fmt.Errorf("passkey: %w", err)
	}
	return &RP{w: w}, nil
}

// OriginOf is the origin (scheme://host[:port]) of an absolute http(s)
// URL.
func OriginOf(raw string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return "", fmt.Errorf("%q is not an http(s) origin", raw)
	}
	return u.Scheme + "://" + u.Host, nil
}

// User is the account a ceremony is for.
type User struct {
	Handle      []byte // the WebAuthn user handle: stable, opaque, at most 64 bytes
	Name        string // the email address
	Credentials []Credential
}

// Credential is a registered passkey.
type Credential struct {
	ID             []byte
	PublicKey      []byte // COSE
	SignCount      uint32
	Transports     []string
	AAGUID         []byte
	UserVerified   bool
	BackupEligible bool
	BackupState    bool
}

// Assertion is what a verified login ceremony proved.
type Assertion struct {
	CredentialID   []byte
	SignCount      uint32 // as the authenticator reported it
	UserVerified   bool
	BackupEligible bool
	BackupState    bool
}

type waUser struct{ u User }

func (w waUser) WebAuthnID() []byte          { return w.u.Handle }
func (w waUser) WebAuthnName() string        { return w.u.Name }
func (w waUser) WebAuthnDisplayName() string { return w.u.Name }
func (w waUser) WebAuthnCredentials() []webauthn.Credential {
	out := make([]webauthn.Credential, len(w.u.Credentials))
	for i, c := range w.u.Credentials {
		ts := make([]protocol.AuthenticatorTransport, len(c.Transports))
		for j, t := range c.Transports {
			ts[j] = protocol.AuthenticatorTransport(t)
		}
		out[i] = webauthn.Credential{
			ID: c.ID, PublicKey: c.PublicKey, Transport: ts,
			Flags: webauthn.CredentialFlags{UserPresent: true, UserVerified: c.UserVerified,
				BackupEligible: c.BackupEligible, BackupState: c.BackupState},
			Authenticator: webauthn.Authenticator{AAGUID: c.AAGUID, SignCount: c.SignCount},
		}
	}
	return out
}

func descriptors(cs []Credential) []protocol.CredentialDescriptor {
	return waUser{User{Credentials: cs}}.credentials().CredentialDescriptors()
}

func (w waUser) credentials() webauthn.Credentials { return w.WebAuthnCredentials() }

// BeginRegistration starts adding a passkey for u: it answers the
// publicKey creation options for navigator.credentials.create, and the
// state FinishRegistration needs. u's passkeys are excluded (an
// authenticator that holds one of them declines). A discoverable
// credential (resident key) is preferred, so that the passkey also serves
// passwordless login.
func (rp *RP) BeginRegistration(u User) (options json.RawMessage, state []byte, err error) {
	creation, session, err := rp.w.BeginRegistration(waUser{u},
		webauthn.WithExclusions(descriptors(u.Credentials)),
		webauthn.WithAuthenticatorSelection(protocol.AuthenticatorSelection{
			ResidentKey:      protocol.ResidentKeyRequirementPreferred,
			UserVerification: protocol.VerificationPreferred,
		}))
	if err != nil {
		return nil, nil, fmt.Errorf("passkey: begin registration: %w", err)
	}
	return marshalPair(creation.Response, session)
}

// FinishRegistration verifies response (the JSON of the browser's
// PublicKeyCredential) against state for u and answers the new
// credential. A refused response wraps ErrRejected.
func (rp *RP) FinishRegistration(u User, state, response []byte) (*Credential, error) {
	session, err := unmarshalState(state)
	if err != nil {
		return nil, err
	}
	parsed, err := ParseCreation(response)
	if err != nil {
		return nil, err
	}
	c, err := rp.w.CreateCredential(waUser{u}, *session, parsed)
	if err != nil {
		return nil, rejected(err)
	}
	out := &Credential{
		ID: c.ID, PublicKey: c.PublicKey, SignCount: c.Authenticator.SignCount, AAGUID: c.Authenticator.AAGUID,
		UserVerified: c.Flags.UserVerified, BackupEligible: c.Flags.BackupEligible, BackupState: c.Flags.BackupState,
	}
	for _, t := range c.Transport {
		if s := string(t); s != "" && !strings.ContainsAny(s, " \t\n") && len(out.Transports) < 8 {
			out.Transports = append(out.Transports, s)
		}
	}
	return out, nil
}

// BeginLogin starts an assertion. With allowed (a second factor: the
// credentials of the account that passed the password) only those may
// answer and user verification is preferred; without (a passwordless,
// discoverable login) any passkey of this RP may, and user verification
// is required, so that the passkey alone is two factors.
func (rp *RP) BeginLogin(allowed []Credential) (options json.RawMessage, state []byte, err error) {
	var (
		assertion *protocol.CredentialAssertion
		session   *webauthn.SessionData
	)
	if len(allowed) == 0 {
		assertion, session, err = rp.w.BeginDiscoverableLogin(webauthn.WithUserVerification(protocol.VerificationRequired))
	} else {
		assertion, session, err = rp.w.BeginLogin(waUser{User{Handle: []byte{0}, Credentials: allowed}},
			webauthn.WithUserVerification(protocol.VerificationPreferred))
		if session != nil {
			session.UserID = nil // the account is fixed by the caller, not by the state
		}
	}
	if err != nil {
		return nil, nil, fmt.Errorf("passkey: begin login: %w", err)
	}
	return marshalPair(assertion.Response, session)
}

// Parsed is a browser's assertion, parsed but not verified: enough to
// find the account (UserHandle, in a discoverable login) and the
// credential (CredentialID).
type Parsed struct {
	CredentialID []byte
	UserHandle   []byte
	p            *protocol.ParsedCredentialAssertionData
}

// ParseAssertion parses response, the JSON of the browser's
// PublicKeyCredential from navigator.credentials.get. A malformed one
// wraps ErrRejected.
func ParseAssertion(response []byte) (*Parsed, error) {
	if len(response) > MaxResponse {
		return nil, fmt.Errorf("%w: the credential is too large", ErrRejected)
	}
	p, err := protocol.ParseCredentialRequestResponseBytes(response)
	if err != nil {
		return nil, rejected(err)
	}
	return &Parsed{CredentialID: p.RawID, UserHandle: p.Response.UserHandle, p: p}, nil
}

// ParseCreation parses response, the JSON of the browser's
// PublicKeyCredential from navigator.credentials.create. A malformed one
// wraps ErrRejected.
func ParseCreation(response []byte) (*protocol.ParsedCredentialCreationData, error) {
	if len(response) > MaxResponse {
		return nil, fmt.Errorf("%w: the credential is too large", ErrRejected)
	}
	p, err := protocol.ParseCredentialCreationResponseBytes(response)
	if err != nil {
		return nil, rejected(err)
	}
	return p, nil
}

// FinishLogin verifies the parsed assertion against state and cred, the
// stored credential it names (found by the caller from p.CredentialID,
// and owned by the account with handle). The sign counter is reported,
// not judged: the caller's store decides whether it moved forwards.
func (rp *RP) FinishLogin(handle []byte, cred Credential, state []byte, p *Parsed) (*Assertion, error) {
	session, err := unmarshalState(state)
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(p.CredentialID, cred.ID) {
		return nil, fmt.Errorf("%w: the credential is not the one given", ErrRejected)
	}
	if len(p.UserHandle) > 0 && !bytes.Equal(p.UserHandle, handle) {
		return nil, fmt.Errorf("%w: the user handle does not name the passkey's account", ErrRejected)
	}
	u := waUser{User{Handle: handle, Credentials: []Credential{cred}}}
	var c *webauthn.Credential
	if len(session.AllowedCredentialIDs) == 0 {
		// Discoverable: the authenticator must name the account.
		_, c, err = rp.w.ValidatePasskeyLogin(func(rawID, userHandle []byte) (webauthn.User, error) { return u, nil }, *session, p.p)
	} else {
		if !containsID(session.AllowedCredentialIDs, cred.ID) {
			return nil, fmt.Errorf("%w: the credential was not asked for", ErrRejected)
		}
		// Allowed credentials were those of one account; validate against
		// that one credential.
		session.AllowedCredentialIDs = [][]byte{cred.ID}
		session.UserID = handle
		c, err = rp.w.ValidateLogin(u, *session, p.p)
	}
	if err != nil {
		return nil, rejected(err)
	}
	f := p.p.Response.AuthenticatorData.Flags
	return &Assertion{
		CredentialID: c.ID, SignCount: p.p.Response.AuthenticatorData.Counter,
		UserVerified: f.HasUserVerified(), BackupEligible: f.HasBackupEligible(), BackupState: f.HasBackupState(),
	}, nil
}

func containsID(ids [][]byte, id []byte) bool {
	for _, x := range ids {
		if bytes.Equal(x, id) {
			return true
		}
	}
	return false
}

func marshalPair(options any, session *webauthn.SessionData) (json.RawMessage, []byte, error) {
	o, err := json.Marshal(options)
	if err != nil {
		return nil, nil, fmt.Errorf("passkey: options: %w", err)
	}
	s, err := json.Marshal(session)
	if err != nil {
		return nil, nil, fmt.Errorf("passkey: state: %w", err)
	}
	return o, s, nil
}

func unmarshalState(state []byte) (*webauthn.SessionData, error) {
	var s webauthn.SessionData
	if err := json.Unmarshal(state, &s); err != nil {
		return nil, fmt.Errorf("passkey: stored state: %w", err)
	}
	return &s, nil
}

// rejected wraps a go-webauthn error into ErrRejected with its details.
func rejected(err error) error {
	var pe *protocol.Error
	if errors.As(err, &pe) {
		msg := pe.Details
		if msg == "" {
			msg = pe.Type
		}
		return fmt.Errorf("%w: %s", ErrRejected, msg)
	}
	return fmt.Errorf("%w: %v", ErrRejected, err)
}
