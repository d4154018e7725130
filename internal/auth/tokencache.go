package auth

import (
	"container/list"
	"sync"
	"time"

	"github.com/latchauth/latch/internal/token"
)

// verifiedTokens remembers access tokens whose signature and claims
// Authenticate has checked, keyed by the whole token, so that a client
// presenting the same token again (every request for its lifetime, 15
// minutes by default) costs a map lookup instead of a signature check:
// the signature check is most of a bearer check once the session and user
// come from memory.
//
// Only the exact bytes that were verified match an entry. An entry is used
// only while the key that verified it is still in the key ring, and the
// time checks (exp, nbf, iat) run again on every use; whatever fails them
// goes through the full verification, which gives the precise answer.
// Only tokens with a valid signature get in, so the cache can hold only
// what latch issued; it is bounded (least recently used out).
type verifiedTokens struct {
	max int

	mu  sync.Mutex
	lru list.List // of *verifiedToken, most recently used at the front
	m   map[string]*list.Element
}

type verifiedToken struct {
	tok    string
	claims *token.Claims
	key    *token.Key // the ring's key that verified it
}

// maxVerifiedTokens bounds verifiedTokens: a token and its claims are
// about a kilobyte.
const maxVerifiedTokens = 4096

func newVerifiedTokens(max int) *verifiedTokens {
	if max <= 0 {
		return nil
	}
	return &verifiedTokens{max: max, m: make(map[string]*list.Element)}
}

// get returns what verified tok, if it is remembered. The claims are
// shared: the caller must not modify them.
func (v *verifiedTokens) get(tok string) (*token.Claims, *token.Key, bool) {
	if v == nil {
		return nil, nil, false
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	el, ok := v.m[tok]
	if !ok {
		return nil, nil, false
	}
	v.lru.MoveToFront(el)
	e := el.Value.(*verifiedToken)
	return e.claims, e.key, true
}

// put remembers that key verified tok with claims.
func (v *verifiedTokens) put(tok string, claims *token.Claims, key *token.Key) {
	if v == nil || key == nil {
		return
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if el, ok := v.m[tok]; ok {
		v.lru.MoveToFront(el)
		return
	}
	v.m[tok] = v.lru.PushFront(&verifiedToken{tok: tok, claims: claims, key: key})
	for v.lru.Len() > v.max {
		e := v.lru.Remove(v.lru.Back()).(*verifiedToken)
		delete(v.m, e.tok)
	}
}

// verifyAccess checks bearer's signature and claims like token.IssuerVerifier,
// answering a token verified before from memory (see verifiedTokens).
func (s *Service) verifyAccess(bearer string) (*token.Claims, error) {
	now := s.now()
	if cl, key, ok := s.verified.get(bearer); ok {
		if s.ring().byKID[key.KID] == key && now.Before(cl.ExpiresAt) &&
			!cl.NotBefore.After(now) && !cl.IssuedAt.After(now) {
			return cl, nil
		}
	}
	var used *token.Key
	v := token.IssuerVerifier{
		Keys: func(kid string) (*token.Key, bool) {
			k, ok := s.keyByKID(kid)
			used = k
			return k, ok
		},
		Issuer:   s.iss,
		Audience: s.cfg.Audience,
		Now:      func() time.Time { return now },
	}
	cl, err := v.Verify(bearer)
	if err != nil {
		return nil, err
	}
	s.verified.put(bearer, cl, used)
	return cl, nil
}
