package httpapi

import (
	"net/http"
	"strconv"
	"time"

	"github.com/latchauth/latch/internal/auth"

	"github.com/latchauth/latch/internal/wire"
)

// The revocation feed: GET /v1/revocations, followed by package
// verify so that services verifying tokens locally refuse a revoked one
// within a second.
//
// It lists session ids, user ids and times, never an email. It is public
// unless LATCH_REVOCATION_KEY is set: the ids are random and grant nothing,
// but they do tell when someone logged out, so deployments that mind set
// the key (the admin key is accepted too).

// revocationsBody is the feed's JSON answer.
type revocationsBody struct {
	Sessions    []revokedSessionBody `json:"sessions"`
	Users       []revokedUserBody    `json:"users"`
	Cursor      string               `json:"cursor"`
	PollAfterMS int64                `json:"poll_after_ms"`
}

type revokedSessionBody struct {
	SID   string `json:"sid"`
	Until string `json:"until"`
}

type revokedUserBody struct {
	Sub       string `json:"sub"`
	NotBefore string `json:"not_before"`
	Until     string `json:"until"`
}

// maxFeedWait is the longest wait a follower may ask for, in seconds.
const maxFeedWait = 25

// initRevocations keeps what the feed's handler needs from cfg.
func (s *server) initRevocations(cfg Config) {
	s.revocations = cfg.Revocations
	s.revocationKey = auth.NewSecret(cfg.RevocationKey)
}

// canReadRevocations reports whether r may read the feed: always when no
// revocation key is configured, else with the revocation or the admin key.
func (s *server) canReadRevocations(r *http.Request) bool {
	if !s.revocationKey.IsSet() {
		return true
	}
	return presentsKey(r, s.revocationKey) || presentsKey(r, s.adminKey)
}

// handleRevocations answers GET /v1/revocations?since=<cursor>&wait=<s>.
// Without since it answers every entry at once; with it, the entries since
// the cursor, waiting up to wait seconds (default and at most 25) until
// there are new ones.
func (s *server) handleRevocations() http.Handler {
	return s.handle(func(w http.ResponseWriter, r *http.Request) error {
		if s.revocations == nil {
			return newError(http.StatusNotFound, codeNotFound, "the revocation feed is not enabled")
		}
		if s.revocationKey.IsSet() {
			// A keyed feed: the key is guessed like the admin key.
			err := s.adminAttempt(r, func() error {
				if !s.canReadRevocations(r) {
					return &apiError{status: http.StatusUnauthorized, code: codeInvalidToken,
						detail: "the revocation feed needs the revocation key", wwwAuthenticate: challengeNoToken}
				}
				return nil
			})
			if err != nil {
				return err
			}
		}
		q := r.URL.Query()
		since := q.Get("since")
		wait := time.Duration(0)
		if since != "" {
			wait = maxFeedWait * time.Second
		}
		if ws := q.Get("wait"); ws != "" {
			n, err := strconv.Atoi(ws)
			if err != nil || n < 0 || n > maxFeedWait {
				return badRequest("wait must be a whole number of seconds from 0 to 25")
			}
			wait = time.Duration(n) * time.Second
		}
		w.Header().Set("Cache-Control", "no-store")
		rv, err := s.revocations.Poll(r.Context(), since, wait)
		if err != nil {
			if r.Context().Err() != nil {
				return nil // the follower went away
			}
			return err
		}
		body := revocationsBody{
			Sessions:    make([]revokedSessionBody, 0, len(rv.Sessions)),
			Users:       make([]revokedUserBody, 0, len(rv.Users)),
			Cursor:      rv.Cursor,
			PollAfterMS: rv.PollAfter.Milliseconds(),
		}
		for _, x := range rv.Sessions {
			body.Sessions = append(body.Sessions, revokedSessionBody{SID: x.SessionID, Until: wire.Time(ceilSecond(x.Until))})
		}
		for _, x := range rv.Users {
			body.Users = append(body.Users, revokedUserBody{Sub: x.UserID, NotBefore: wire.Time(x.NotBefore), Until: wire.Time(ceilSecond(x.Until))})
		}
		encode(w, http.StatusOK, body)
		return nil
	})
}

// ceilSecond rounds t up to a whole second, so that an RFC 3339 "until"
// never ends before the instant it stands for.
func ceilSecond(t time.Time) time.Time {
	if tt := t.Truncate(time.Second); !tt.Equal(t) {
		return tt.Add(time.Second)
	}
	return t
}
