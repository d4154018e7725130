package auth

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/latchauth/latch/internal/token"
)

// Signing keys and their rotation.
//
// Every stored key is in one of these states, read from its fields:
//
//   - next: RetiredAt and ActiveAt zero. Published in the JWKS, signs
//     nothing yet, so that verifiers know it before it signs.
//   - current: RetiredAt zero, ActiveAt set. It signs. Should two keys be in
//     this state (two instances creating the first key at once) the one with
//     the newest ActiveAt (then the smallest KID) is current; the others are
//     superseded and retired by the next maintenance.
//   - retired: RetiredAt set. Published, and trusted by latch itself, until
//     ExpiresAt, after which no token it signed can still be valid.
//
// A rotation is one store transaction that re-reads the keys, retires the
// current key with RetireSigningKey (a compare-and-set, so that of two
// instances rotating at once exactly one succeeds), promotes the next key
// and creates a new next key.

// Key states as KeyInfo.State reports them.
const (
	KeyNext    = "next"
	KeyCurrent = "current"
	KeyRetired = "retired"
	KeyExpired = "expired"
)

// keySkew is added to a retired key's publication on top of the access
// token lifetime and the reload period: verifiers' clocks may be behind.
const keySkew = 5 * time.Minute

// ErrSecretMismatch is wrapped by New when a stored signing key cannot be
// opened with Config.Secret: the keys were sealed with another secret.
var ErrSecretMismatch = errors.New("auth: the stored signing keys were sealed with another secret")

// ErrRotationConflict is returned by RotateKeys when another rotation changed
// the keys between its read and its write; nothing was changed.
var ErrRotationConflict = errors.New("auth: another key rotation ran at the same time; nothing changed")

// errNotDue aborts a scheduled rotation that another instance already did.
var errNotDue = errors.New("auth: key rotation not due")

// keyRing is the loaded signing key set: the current key signs, every
// published key verifies.
type keyRing struct {
	current      *token.Key
	currentSince time.Time // the current key's ActiveAt
	next         *token.Key
	byKID        map[string]*token.Key
	jwks         []byte
	algs         []string // algorithms of the published keys, current first
	loadedAt     time.Time
}

// keyAD binds a sealed private key to its kid.
func keyAD(kid string) []byte { return []byte("latch signing key " + kid) }

// keySet is the stored keys sorted into their states at some instant.
type keySet struct {
	current    *SigningKey
	next       *SigningKey
	superseded []*SigningKey // current-like keys older than current
	surplus    []*SigningKey // next-like keys besides next
	retired    []*SigningKey // retired, still published
	expired    []*SigningKey
}

// classifyKeys sorts stored keys into their states at now.
func classifyKeys(stored []*SigningKey, now time.Time) keySet {
	keys := append([]*SigningKey(nil), stored...)
	// Newest first: by ActiveAt, then CreatedAt, then the smaller KID.
	sort.Slice(keys, func(i, j int) bool {
		a, b := keys[i], keys[j]
		if !a.ActiveAt.Equal(b.ActiveAt) {
			return a.ActiveAt.After(b.ActiveAt)
		}
		if !a.CreatedAt.Equal(b.CreatedAt) {
			return a.CreatedAt.After(b.CreatedAt)
		}
		return a.KID < b.KID
	})
	var ks keySet
	for _, k := range keys {
		switch {
		case !k.ExpiresAt.IsZero() && !now.Before(k.ExpiresAt):
			ks.expired = append(ks.expired, k)
		case !k.RetiredAt.IsZero():
			ks.retired = append(ks.retired, k)
		case k.ActiveAt.IsZero():
			if ks.next == nil {
				ks.next = k
			} else {
				ks.surplus = append(ks.surplus, k)
			}
		default:
			if ks.current == nil {
				ks.current = k
			} else {
				ks.superseded = append(ks.superseded, k)
			}
		}
	}
	return ks
}

// retiredUntil is when a key retired at at stops being published: every
// token it signed has expired by then, including tokens signed by an
// instance that had not reloaded the key set yet, allowing for clock skew.
func (s *Service) retiredUntil(at time.Time) time.Time {
	return at.Add(s.cfg.AccessTTL + s.cfg.KeyReload + keySkew)
}

// loadKeys brings the stored key set into shape (a current and a next key
// of the configured algorithm) and loads it. It never rotates: scheduled
// rotations are for RunKeyMaintenance, which servers run with their full
// configuration (a rotation's retirement period depends on AccessTTL).
func (s *Service) loadKeys(ctx context.Context) error {
	return s.maintainKeys(ctx, false)
}

// reloadKeys reads the key set from the store and makes it the loaded one.
func (s *Service) reloadKeys(ctx context.Context) error {
	ring, err := s.readKeys(ctx)
	if err != nil {
		return err
	}
	if ring.current == nil {
		return errors.New("auth: the store holds no current signing key")
	}
	s.keysMu.Lock()
	s.keys = ring
	s.keysMu.Unlock()
	return nil
}

// readKeys reads the stored keys and opens the published ones.
func (s *Service) readKeys(ctx context.Context) (*keyRing, error) {
	stored, err := s.deps.Store.SigningKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("auth: reading signing keys: %w", err)
	}
	now := s.now()
	ks := classifyKeys(stored, now)
	ring := &keyRing{byKID: make(map[string]*token.Key), loadedAt: now}
	var published []*token.Key
	open := func(sk *SigningKey) (*token.Key, error) {
		der, err := token.Open(s.cfg.Secret, sk.PrivateEnc, keyAD(sk.KID))
		if err != nil {
			return nil, fmt.Errorf("auth: signing key %s: %w: %w", sk.KID, ErrSecretMismatch, err)
		}
		k, err := token.ParsePrivate(sk.Alg, sk.KID, der)
		if err != nil {
			return nil, fmt.Errorf("auth: signing key %s: %w", sk.KID, err)
		}
		ring.byKID[k.KID] = k
		published = append(published, k)
		return k, nil
	}
	if ks.current != nil {
		if ring.current, err = open(ks.current); err != nil {
			return nil, err
		}
		ring.currentSince = ks.current.ActiveAt
	}
	if ks.next != nil {
		if ring.next, err = open(ks.next); err != nil {
			return nil, err
		}
	}
	for _, group := range [][]*SigningKey{ks.superseded, ks.retired, ks.surplus} {
		for _, sk := range group {
			if _, err := open(sk); err != nil {
				return nil, err
			}
		}
	}
	if ring.jwks, err = token.JWKS(published); err != nil {
		return nil, err
	}
	seen := make(map[string]bool)
	for _, k := range published {
		if !seen[k.Alg] {
			seen[k.Alg] = true
			ring.algs = append(ring.algs, k.Alg)
		}
	}
	return ring, nil
}

// newStoredKey generates a key of the configured algorithm and seals it for
// the store. Generation happens outside transactions: a transaction may be
// retried and must not do slow work.
func (s *Service) newStoredKey() (*SigningKey, error) {
	k, err := token.GenerateKey(s.cfg.KeyAlg)
	if err != nil {
		return nil, err
	}
	der, err := k.MarshalPrivate()
	if err != nil {
		return nil, err
	}
	sealed, err := token.Seal(s.cfg.Secret, der, keyAD(k.KID))
	if err != nil {
		return nil, err
	}
	jwk, err := k.PublicJWK()
	if err != nil {
		return nil, err
	}
	return &SigningKey{KID: k.KID, Alg: k.Alg, PrivateEnc: sealed, PublicJWK: jwk}, nil
}

// KeyRotation reports what a rotation did.
type KeyRotation struct {
	Retired string // kid of the key that stopped signing ("" when there was none)
	Current string // kid of the key that signs now
	Next    string // kid of the new next key
	// RetiredUntil is when the retired key leaves the JWKS.
	RetiredUntil time.Time
}

// RotateKeys rotates the signing keys now: the next key (or, when there is
// none or it is not of the configured algorithm, a new key) becomes
// current, the current key is retired (published until every token it
// signed has expired) and a new next key is created. It is one store
// transaction; when another rotation ran at the same moment it changes
// nothing and returns ErrRotationConflict.
func (s *Service) RotateKeys(ctx context.Context) (*KeyRotation, error) {
	rot, err := s.rotate(ctx, nil)
	if err != nil {
		return nil, err
	}
	if err := s.reloadKeys(ctx); err != nil {
		return nil, err
	}
	return rot, nil
}

// rotate runs a rotation; when due is set it first re-checks, inside the
// transaction, that the rotation is still due (errNotDue otherwise).
func (s *Service) rotate(ctx context.Context, due func(ks keySet, now time.Time) bool) (*KeyRotation, error) {
	promoted, err := s.newStoredKey()
	if err != nil {
		return nil, err
	}
	next, err := s.newStoredKey()
	if err != nil {
		return nil, err
	}
	var rot KeyRotation
	err = s.deps.Store.Tx(ctx, func(tx Tx) error {
		rot = KeyRotation{}
		now := s.now()
		stored, err := tx.SigningKeys(ctx)
		if err != nil {
			return err
		}
		ks := classifyKeys(stored, now)
		if due != nil && !due(ks, now) {
			return errNotDue
		}
		retire := func(kid string, at, until time.Time) error {
			ok, err := tx.RetireSigningKey(ctx, kid, at, until)
			if err != nil {
				return err
			}
			if !ok {
				return ErrRotationConflict
			}
			return nil
		}
		until := s.retiredUntil(now)
		if ks.current != nil {
			if err := retire(ks.current.KID, now, until); err != nil {
				return err
			}
			rot.Retired, rot.RetiredUntil = ks.current.KID, until
		}
		for _, k := range ks.superseded {
			if err := retire(k.KID, now, until); err != nil {
				return err
			}
		}
		// Keys that never signed leave the JWKS at once.
		for _, k := range ks.surplus {
			if err := retire(k.KID, now, now); err != nil {
				return err
			}
		}
		if ks.next != nil && ks.next.Alg == s.cfg.KeyAlg {
			p := *ks.next
			p.ActiveAt = now
			if err := tx.UpdateSigningKey(ctx, &p); err != nil {
				return err
			}
			rot.Current = p.KID
		} else {
			if ks.next != nil {
				if err := retire(ks.next.KID, now, now); err != nil {
					return err
				}
			}
			p := *promoted
			p.CreatedAt, p.ActiveAt = now, now
			if err := tx.CreateSigningKey(ctx, &p); err != nil {
				return err
			}
			rot.Current = p.KID
		}
		n := *next
		n.CreatedAt = now
		if err := tx.CreateSigningKey(ctx, &n); err != nil {
			return err
		}
		rot.Next = n.KID
		return nil
	})
	if err != nil {
		if errors.Is(err, errNotDue) || errors.Is(err, ErrRotationConflict) {
			return nil, err
		}
		return nil, fmt.Errorf("auth: rotating signing keys: %w", err)
	}
	s.log.Info("rotated the signing keys", "retired_kid", rot.Retired, "current_kid", rot.Current, "next_kid", rot.Next)
	return &rot, nil
}

// MaintainKeys brings the stored key set into shape and reloads it: it
// creates the first keys on a fresh store, a next key when there is none
// (or when the next key is not of the configured algorithm, which is how an
// algorithm change takes effect at the following rotation), rotates when the
// current key has signed for KeyRotation, and retires keys left over by
// instances racing each other. Every change is a transaction that re-checks
// the state it acts on, so instances may run it at the same time.
func (s *Service) MaintainKeys(ctx context.Context) error {
	return s.maintainKeys(ctx, true)
}

func (s *Service) maintainKeys(ctx context.Context, scheduled bool) error {
	stored, err := s.deps.Store.SigningKeys(ctx)
	if err != nil {
		return fmt.Errorf("auth: reading signing keys: %w", err)
	}
	ks := classifyKeys(stored, s.now())
	switch {
	case ks.current == nil || len(ks.superseded) > 0:
		// A fresh store (or a race to create the first key): make a
		// current key, or retire the losers.
		if err := s.ensureCurrent(ctx); err != nil {
			return err
		}
	case scheduled && s.cfg.KeyRotation > 0 && !s.now().Before(ks.current.ActiveAt.Add(s.cfg.KeyRotation)):
		kid := ks.current.KID
		_, err := s.rotate(ctx, func(ks keySet, now time.Time) bool {
			return ks.current != nil && ks.current.KID == kid && !now.Before(ks.current.ActiveAt.Add(s.cfg.KeyRotation))
		})
		if err != nil && !errors.Is(err, errNotDue) && !errors.Is(err, ErrRotationConflict) {
			return err
		}
	}
	if err := s.ensureNext(ctx); err != nil {
		return err
	}
	return s.reloadKeys(ctx)
}

// ensureCurrent creates a current key when there is none and retires
// superseded ones.
func (s *Service) ensureCurrent(ctx context.Context) error {
	return s.storeFreshKey(ctx, "a signing key", func(tx Tx, ks keySet, now time.Time, k *SigningKey) (bool, error) {
		for _, old := range ks.superseded {
			if _, err := tx.RetireSigningKey(ctx, old.KID, now, s.retiredUntil(now)); err != nil {
				return false, err
			}
		}
		if ks.current != nil {
			return false, nil
		}
		k.ActiveAt = now
		return true, nil
	})
}

// ensureNext creates a next key of the configured algorithm when there is
// none (or the next key has another algorithm, which is then retired
// unused), and retires surplus next keys.
func (s *Service) ensureNext(ctx context.Context) error {
	stored, err := s.deps.Store.SigningKeys(ctx)
	if err != nil {
		return fmt.Errorf("auth: reading signing keys: %w", err)
	}
	ks := classifyKeys(stored, s.now())
	if ks.next != nil && ks.next.Alg == s.cfg.KeyAlg && len(ks.surplus) == 0 {
		return nil // the common case: no key to generate
	}
	return s.storeFreshKey(ctx, "the next signing key", func(tx Tx, ks keySet, now time.Time, _ *SigningKey) (bool, error) {
		for _, k := range ks.surplus {
			if _, err := tx.RetireSigningKey(ctx, k.KID, now, now); err != nil {
				return false, err
			}
		}
		if ks.next != nil && ks.next.Alg == s.cfg.KeyAlg {
			return false, nil
		}
		if ks.next != nil {
			ok, err := tx.RetireSigningKey(ctx, ks.next.KID, now, now)
			if err != nil || !ok {
				return false, err // !ok: another instance replaced it
			}
		}
		return true, nil
	})
}

// storeFreshKey generates a key, then in one transaction reads the stored
// keys, lets decide retire what it must and say whether the key is wanted
// (adjusting it, e.g. making it current), and stores it. The key is
// generated before the transaction because generation is slow (RSA), and
// the decision is taken inside it because other instances race to make
// the same one. what names the key in the error and the log.
func (s *Service) storeFreshKey(ctx context.Context, what string, decide func(tx Tx, ks keySet, now time.Time, k *SigningKey) (bool, error)) error {
	fresh, err := s.newStoredKey()
	if err != nil {
		return err
	}
	created := false
	err = s.deps.Store.Tx(ctx, func(tx Tx) error {
		created = false
		now := s.now()
		stored, err := tx.SigningKeys(ctx)
		if err != nil {
			return err
		}
		k := *fresh
		k.CreatedAt = now
		want, err := decide(tx, classifyKeys(stored, now), now, &k)
		if err != nil || !want {
			return err
		}
		created = true
		return tx.CreateSigningKey(ctx, &k)
	})
	if err != nil {
		return fmt.Errorf("auth: storing %s: %w", what, err)
	}
	if created {
		s.log.Info("generated "+what, "kid", fresh.KID, "alg", fresh.Alg)
	}
	return nil
}

// RunKeyMaintenance runs MaintainKeys every KeyReload until ctx ends, so that
// keys rotated by another instance (or `latch keys rotate`) are picked up
// and scheduled rotations happen. Failures are logged; the loaded key set
// stays in use.
func (s *Service) RunKeyMaintenance(ctx context.Context) {
	t := time.NewTicker(s.cfg.KeyReload)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := s.MaintainKeys(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("signing key maintenance failed; keeping the loaded keys", "err", err)
		}
	}
}

// KeyInfo describes one stored signing key.
type KeyInfo struct {
	KID       string
	Alg       string
	State     string // KeyNext, KeyCurrent, KeyRetired or KeyExpired
	CreatedAt time.Time
	ActiveAt  time.Time
	RetiredAt time.Time
	ExpiresAt time.Time
}

// Keys lists the stored signing keys: current first, then next, then the
// retired and expired ones, newest first.
func (s *Service) Keys(ctx context.Context) ([]KeyInfo, error) {
	stored, err := s.deps.Store.SigningKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("auth: reading signing keys: %w", err)
	}
	ks := classifyKeys(stored, s.now())
	var out []KeyInfo
	add := func(state string, keys ...*SigningKey) {
		for _, k := range keys {
			if k != nil {
				out = append(out, KeyInfo{KID: k.KID, Alg: k.Alg, State: state, CreatedAt: k.CreatedAt,
					ActiveAt: k.ActiveAt, RetiredAt: k.RetiredAt, ExpiresAt: k.ExpiresAt})
			}
		}
	}
	add(KeyCurrent, ks.current)
	add(KeyNext, ks.next)
	add(KeyNext, ks.surplus...)
	add(KeyRetired, ks.superseded...)
	add(KeyRetired, ks.retired...)
	add(KeyExpired, ks.expired...)
	return out, nil
}

// ring returns the loaded key ring.
func (s *Service) ring() *keyRing {
	s.keysMu.RLock()
	defer s.keysMu.RUnlock()
	return s.keys
}

// keyReload is the state of the reloads of the key ring for unknown kids:
// one runs at a time, and at most one starts per second.
type keyReload struct {
	mu      sync.Mutex
	running chan struct{} // closed when the running reload ends; nil when none runs
	last    time.Time     // when the last reload started, whatever its outcome
}

// keyByKID finds a verification key, reloading the set from the store
// when the kid is unknown, so that keys created by another instance are
// picked up.
func (s *Service) keyByKID(kid string) (*token.Key, bool) {
	if k, ok := s.ring().byKID[kid]; ok {
		return k, true
	}
	s.reloadForUnknownKID()
	k, ok := s.ring().byKID[kid]
	return k, ok
}

// reloadForUnknownKID reloads the key ring unless it was loaded, or a
// reload was tried, less than a second ago. Callers arriving while a
// reload runs wait for it and use its result instead of starting their
// own, so that a burst of tokens with unknown kids costs the store one
// read.
func (s *Service) reloadForUnknownKID() {
	rl := &s.reload
	rl.mu.Lock()
	if done := rl.running; done != nil {
		rl.mu.Unlock()
		<-done // the reload runs under a timeout, so this ends
		return
	}
	now := s.now()
	// A clock set back makes the differences negative: reload then.
	recent := func(t time.Time) bool { d := now.Sub(t); return d >= 0 && d < time.Second }
	if recent(s.ring().loadedAt) || recent(rl.last) {
		rl.mu.Unlock()
		return
	}
	done := make(chan struct{})
	rl.running, rl.last = done, now
	rl.mu.Unlock()
	defer func() {
		rl.mu.Lock()
		rl.running = nil
		rl.mu.Unlock()
		close(done)
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.reloadKeys(ctx); err != nil {
		s.log.Warn("reloading signing keys", "err", err)
	}
}

// JWKS returns the published key set as JSON: the current key, the next
// key, then retired keys until every token they signed has expired.
func (s *Service) JWKS() []byte {
	return s.ring().jwks
}

// SigningAlgs lists the algorithms of the published keys, the current key's
// first (the discovery document's id_token_signing_alg_values_supported).
func (s *Service) SigningAlgs() []string {
	return append([]string(nil), s.ring().algs...)
}
