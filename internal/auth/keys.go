package auth

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/latchauth/latch/internal/token"
)

// keyRing is the loaded signing key set: the current key signs, every
// published key verifies.
type keyRing struct {
	current  *token.Key
	byKID    map[string]*token.Key
	jwks     []byte
	loadedAt time.Time
}

// keyAD binds a sealed private key to its kid.
func keyAD(kid string) []byte { return []byte("latch signing key " + kid) }

// loadKeys reads the signing keys from the store, creating the first one
// when there is none.
func (s *Service) loadKeys(ctx context.Context) error {
	ring, err := s.readKeys(ctx)
	if err != nil {
		return err
	}
	if ring.current == nil {
		if err := s.createKey(ctx); err != nil {
			return err
		}
		if ring, err = s.readKeys(ctx); err != nil {
			return err
		}
		if ring.current == nil {
			return fmt.Errorf("auth: no usable signing key after creating one")
		}
	}
	s.keysMu.Lock()
	s.keys = ring
	s.keysMu.Unlock()
	return nil
}

func (s *Service) readKeys(ctx context.Context) (*keyRing, error) {
	stored, err := s.deps.Store.SigningKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("auth: reading signing keys: %w", err)
	}
	now := s.now()
	// Newest active key first: it is the current one.
	sort.Slice(stored, func(i, j int) bool {
		if !stored[i].ActiveAt.Equal(stored[j].ActiveAt) {
			return stored[i].ActiveAt.After(stored[j].ActiveAt)
		}
		return stored[i].KID < stored[j].KID
	})
	ring := &keyRing{byKID: make(map[string]*token.Key), loadedAt: now}
	var published []*token.Key
	for _, sk := range stored {
		if !sk.ExpiresAt.IsZero() && !now.Before(sk.ExpiresAt) {
			continue // no token it signed can still be valid
		}
		der, err := token.Open(s.cfg.Secret, sk.PrivateEnc, keyAD(sk.KID))
		if err != nil {
			return nil, fmt.Errorf("auth: signing key %s cannot be opened with LATCH_SECRET (was the secret changed?): %w", sk.KID, err)
		}
		k, err := token.ParsePrivate(sk.Alg, sk.KID, der)
		if err != nil {
			return nil, fmt.Errorf("auth: signing key %s: %w", sk.KID, err)
		}
		ring.byKID[k.KID] = k
		published = append(published, k)
		if ring.current == nil && sk.RetiredAt.IsZero() && !now.Before(sk.ActiveAt) {
			ring.current = k
		}
	}
	if ring.jwks, err = token.JWKS(published); err != nil {
		return nil, err
	}
	return ring, nil
}

func (s *Service) createKey(ctx context.Context) error {
	k, err := token.GenerateKey(s.cfg.KeyAlg)
	if err != nil {
		return err
	}
	der, err := k.MarshalPrivate()
	if err != nil {
		return err
	}
	sealed, err := token.Seal(s.cfg.Secret, der, keyAD(k.KID))
	if err != nil {
		return err
	}
	jwk, err := k.PublicJWK()
	if err != nil {
		return err
	}
	now := s.now()
	sk := &SigningKey{KID: k.KID, Alg: k.Alg, PrivateEnc: sealed, PublicJWK: jwk, CreatedAt: now, ActiveAt: now}
	err = s.deps.Store.Tx(ctx, func(tx Tx) error { return tx.CreateSigningKey(ctx, sk) })
	if err != nil {
		return fmt.Errorf("auth: storing signing key: %w", err)
	}
	s.log.Info("generated a signing key", "kid", k.KID, "alg", k.Alg)
	return nil
}

// ring returns the loaded key ring.
func (s *Service) ring() *keyRing {
	s.keysMu.RLock()
	defer s.keysMu.RUnlock()
	return s.keys
}

// keyByKID finds a verification key, reloading the set from the store (at
// most once a second) when the kid is unknown, so that keys created by
// another instance are picked up.
func (s *Service) keyByKID(kid string) (*token.Key, bool) {
	r := s.ring()
	if k, ok := r.byKID[kid]; ok {
		return k, true
	}
	if s.now().Sub(r.loadedAt) < time.Second {
		return nil, false
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.loadKeys(ctx); err != nil {
		s.log.Warn("reloading signing keys", "err", err)
		return nil, false
	}
	k, ok := s.ring().byKID[kid]
	return k, ok
}

// JWKS returns the published key set as JSON.
func (s *Service) JWKS(ctx context.Context) ([]byte, error) {
	return s.ring().jwks, nil
}
