package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/latchauth/latch/internal/auth"
)

func testRetireSigningKey(t *testing.T, s auth.Store) {
	ctx := context.Background()
	k := &auth.SigningKey{KID: "k1", Alg: "EdDSA", PrivateEnc: []byte("sealed"), PublicJWK: []byte(`{}`),
		CreatedAt: t0, ActiveAt: t0}
	tx(t, s, func(tx auth.Tx) error { return tx.CreateSigningKey(ctx, k) })

	retire := func(kid string, at time.Time) bool {
		t.Helper()
		var ok bool
		tx(t, s, func(tx auth.Tx) (err error) {
			ok, err = tx.RetireSigningKey(ctx, kid, at, at.Add(time.Hour))
			return err
		})
		return ok
	}
	if retire("missing", t0) {
		t.Errorf("RetireSigningKey(missing kid) = true, want false")
	}
	if !retire("k1", t0.Add(time.Minute)) {
		t.Fatalf("RetireSigningKey(k1) = false, want true")
	}
	if retire("k1", t0.Add(2*time.Minute)) {
		t.Errorf("RetireSigningKey(k1) again = true, want false")
	}
	keys, err := s.SigningKeys(ctx)
	if err != nil || len(keys) != 1 {
		t.Fatalf("SigningKeys: %v, %v", show(keys), err)
	}
	want := *k
	want.RetiredAt = t0.Add(time.Minute)
	want.ExpiresAt = t0.Add(time.Minute + time.Hour)
	if show(keys[0]) != show(&want) {
		t.Errorf("after RetireSigningKey:\ngot  %s\nwant %s (the first retirement only)", show(keys[0]), show(&want))
	}
}

func testConcurrentRetireSigningKey(t *testing.T, s auth.Store) {
	ctx := context.Background()
	tx(t, s, func(tx auth.Tx) error {
		return tx.CreateSigningKey(ctx, &auth.SigningKey{KID: "k1", Alg: "EdDSA", PrivateEnc: []byte("x"), PublicJWK: []byte(`{}`), CreatedAt: t0, ActiveAt: t0})
	})
	results := race(func(i int) (r result) {
		r.err = s.Tx(ctx, func(tx auth.Tx) (err error) {
			at := t0.Add(time.Duration(i+1) * time.Second)
			r.ok, err = tx.RetireSigningKey(ctx, "k1", at, at.Add(time.Hour))
			return err
		})
		return r
	})
	countWinners(t, "RetireSigningKey", results)
	keys, err := s.SigningKeys(ctx)
	if err != nil || len(keys) != 1 {
		t.Fatalf("SigningKeys: %v, %v", show(keys), err)
	}
	for i, r := range results {
		at := t0.Add(time.Duration(i+1) * time.Second)
		if r.ok && (!keys[0].RetiredAt.Equal(at) || !keys[0].ExpiresAt.Equal(at.Add(time.Hour))) {
			t.Errorf("stored retirement %v/%v, want the winner's %v", keys[0].RetiredAt, keys[0].ExpiresAt, fmt.Sprint(at))
		}
	}
}
