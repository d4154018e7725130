package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/latchauth/latch/internal/auth"
)

// RotateRefreshTokenIfAllowed: the read, the judgement and the rotation of
// a refresh in one step. A store may judge in SQL; these tests hold its
// judgement to auth.RefreshRotation.Allows, the service's own rules,
// on the boundaries of each of them.

func allowedRotation(tok string, i int, at time.Time) auth.RefreshRotation {
	return auth.RefreshRotation{
		Hash: hash(tok), At: at,
		SuccessorHash: hash(fmt.Sprint(tok, "-next", i)), SuccessorSealed: []byte(fmt.Sprint("sealed", i)),
	}
}

func testRotateRefreshTokenIfAllowed(t *testing.T, s auth.Store) {
	ctx := context.Background()
	rt := rotationFixture(t, s)
	at := t0.Add(time.Minute)

	_, _, err := s.RotateRefreshTokenIfAllowed(ctx, allowedRotation("nothing", 0, at))
	wantErr(t, "RotateRefreshTokenIfAllowed(missing)", err, auth.ErrNotFound)

	read, err := s.RefreshTokenState(ctx, hash("rt"))
	if err != nil {
		t.Fatal(err)
	}
	st, ok, err := s.RotateRefreshTokenIfAllowed(ctx, allowedRotation("rt", 1, at))
	if err != nil || !ok {
		t.Fatalf("RotateRefreshTokenIfAllowed = %v, %v; want true, nil", ok, err)
	}
	if show(st.Token) != show(read.Token) || show(st.Session) != show(read.Session) || show(st.User) != show(read.User) {
		t.Errorf("state returned:\ngot  %s %s %s\nwant %s %s %s (as read before)",
			show(st.Token), show(st.Session), show(st.User), show(read.Token), show(read.Session), show(read.User))
	}
	want := *rt
	want.UsedAt, want.SuccessorHash, want.SuccessorSealed = at, hash("rt-next1"), []byte("sealed1")
	if got, err := s.RefreshTokenByHash(ctx, hash("rt")); err != nil || show(got) != show(&want) {
		t.Errorf("rotated token:\ngot  %s (%v)\nwant %s", show(got), err, show(&want))
	}
	wantNext := &auth.RefreshToken{Hash: hash("rt-next1"), SessionID: "s1", UserID: "u1", CreatedAt: at}
	if next, err := s.RefreshTokenByHash(ctx, hash("rt-next1")); err != nil || show(next) != show(wantNext) {
		t.Errorf("successor:\ngot  %s (%v)\nwant %s", show(next), err, show(wantNext))
	}
	if sess := getSession(t, s, "s1"); !sess.LastUsedAt.Equal(at) {
		t.Errorf("session last used %v, want %v", sess.LastUsedAt, at)
	}

	// Used now: it answers with what it read, and changes nothing.
	before := rotationSnapshot(t, s, hash("rt-next2"))
	st, ok, err = s.RotateRefreshTokenIfAllowed(ctx, allowedRotation("rt", 2, at.Add(time.Minute)))
	if err != nil || ok || !st.Token.UsedAt.Equal(at) {
		t.Errorf("RotateRefreshTokenIfAllowed of a used token = %v, %v (used at %v); want false, nil, used at %v", ok, err, st.Token.UsedAt, at)
	}
	if after := rotationSnapshot(t, s, hash("rt-next2")); after != before {
		t.Errorf("a used token's rotation changed the store:\nbefore %s\nafter  %s", before, after)
	}
}

// testRotateIfAllowedRules: on each boundary of Allows (the token used, the
// session revoked, its end, its idle lifetime, its client binding, the
// user disabled), the store rotates exactly when Allows says so, and
// changes nothing when it does not.
func testRotateIfAllowedRules(t *testing.T, s auth.Store) {
	ctx := context.Background()
	base := t0.Add(time.Hour)
	type setup struct {
		sess     func(*auth.Session)
		used     bool
		revoked  bool
		disabled bool
	}
	cases := []struct {
		name  string
		setup setup
		r     func(*auth.RefreshRotation)
		want  bool
	}{
		{name: "live", want: true},
		{name: "used", setup: setup{used: true}},
		{name: "revoked", setup: setup{revoked: true}},
		{name: "user disabled", setup: setup{disabled: true}},
		{name: "ends at now", setup: setup{sess: func(x *auth.Session) { x.ExpiresAt = base }}},
		{name: "ends a microsecond after now", setup: setup{sess: func(x *auth.Session) { x.ExpiresAt = base.Add(time.Microsecond) }}, want: true},
		{name: "ends within now's microsecond", setup: setup{sess: func(x *auth.Session) { x.ExpiresAt = base }},
			r: func(r *auth.RefreshRotation) { r.At = base.Add(500 * time.Nanosecond) }},
		{name: "ended", setup: setup{sess: func(x *auth.Session) { x.ExpiresAt = base.Add(-time.Minute) }}},
		{name: "idle: last used exactly the idle lifetime ago", setup: setup{sess: func(x *auth.Session) { x.LastUsedAt = base.Add(-time.Hour) }},
			r: func(r *auth.RefreshRotation) { r.Idle = time.Hour }},
		{name: "idle: a microsecond inside it", setup: setup{sess: func(x *auth.Session) { x.LastUsedAt = base.Add(-time.Hour + time.Microsecond) }},
			r: func(r *auth.RefreshRotation) { r.Idle = time.Hour }, want: true},
		{name: "idle: inside it by less than a microsecond", setup: setup{sess: func(x *auth.Session) { x.LastUsedAt = base.Add(-time.Hour) }},
			r: func(r *auth.RefreshRotation) { r.Idle = time.Hour - 300*time.Nanosecond }, want: false},
		{name: "no idle lifetime: last used long ago", setup: setup{sess: func(x *auth.Session) { x.LastUsedAt = base.Add(-1000 * time.Hour) }}, want: true},
		{name: "bound to c1, presented by c1", setup: setup{sess: func(x *auth.Session) { x.ClientID = "c1" }},
			r: func(r *auth.RefreshRotation) { r.Client = auth.OAuthClient{ID: "c1"} }, want: true},
		{name: "bound to c1, presented by c2", setup: setup{sess: func(x *auth.Session) { x.ClientID = "c1" }},
			r: func(r *auth.RefreshRotation) { r.Client = auth.OAuthClient{ID: "c2", Confidential: true} }},
		{name: "bound to c1, presented by no client", setup: setup{sess: func(x *auth.Session) { x.ClientID = "c1" }}},
		{name: "bound to confidential c1, presented by c1 unauthenticated",
			setup: setup{sess: func(x *auth.Session) { x.ClientID, x.ClientConfidential = "c1", true }},
			r:     func(r *auth.RefreshRotation) { r.Client = auth.OAuthClient{ID: "c1"} }},
		{name: "bound to confidential c1, presented by c1 authenticated",
			setup: setup{sess: func(x *auth.Session) { x.ClientID, x.ClientConfidential = "c1", true }},
			r:     func(r *auth.RefreshRotation) { r.Client = auth.OAuthClient{ID: "c1", Confidential: true} }, want: true},
		{name: "bound to no client, presented by c1", r: func(r *auth.RefreshRotation) { r.Client = auth.OAuthClient{ID: "c1", Confidential: true} }, want: true},
	}
	for i, c := range cases {
		uid, sid, tok := fmt.Sprint("u", i), fmt.Sprint("s", i), fmt.Sprint("rt", i)
		u := newUser(uid, uid+"@example.com")
		u.Disabled = c.setup.disabled
		createUser(t, s, u)
		sess := newSession(sid, uid, t0)
		if c.setup.sess != nil {
			c.setup.sess(sess)
		}
		createSession(t, s, sess)
		tx(t, s, func(tx auth.Tx) error {
			if err := tx.CreateRefreshToken(ctx, &auth.RefreshToken{Hash: hash(tok), SessionID: sid, UserID: uid, CreatedAt: t0}); err != nil {
				return err
			}
			if c.setup.used {
				if _, err := tx.MarkRefreshTokenUsed(ctx, hash(tok), t0.Add(time.Second), hash(tok+"-earlier"), []byte("sealed")); err != nil {
					return err
				}
			}
			if c.setup.revoked {
				if _, err := tx.RevokeSession(ctx, sid, t0.Add(time.Second)); err != nil {
					return err
				}
			}
			return nil
		})
		r := allowedRotation(tok, i, base)
		if c.r != nil {
			c.r(&r)
		}
		read, err := s.RefreshTokenState(ctx, hash(tok))
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if got := r.Allows(read); got != c.want {
			t.Fatalf("%s: Allows = %v, want %v (the case is wrong)", c.name, got, c.want)
		}
		before := fmt.Sprint(show(read.Token), show(getSession(t, s, sid)))
		_, ok, err := s.RotateRefreshTokenIfAllowed(ctx, r)
		if err != nil || ok != c.want {
			t.Errorf("%s: RotateRefreshTokenIfAllowed = %v, %v; want %v, nil (as Allows)", c.name, ok, err, c.want)
			continue
		}
		now, err := s.RefreshTokenState(ctx, hash(tok))
		if err != nil {
			t.Fatal(err)
		}
		after := fmt.Sprint(show(now.Token), show(getSession(t, s, sid)))
		_, succErr := s.RefreshTokenByHash(ctx, r.SuccessorHash)
		switch {
		case !ok && (after != before || succErr == nil):
			t.Errorf("%s: refused, and the store changed:\nbefore %s\nafter  %s\nsuccessor: %v", c.name, before, after, succErr)
		case ok && (now.Token.UsedAt.IsZero() || succErr != nil):
			t.Errorf("%s: rotated, but the token is %s and its successor %v", c.name, show(now.Token), succErr)
		}
	}
}
