package auth_test

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"testing"

	"github.com/latchauth/latch/internal/auth"
)

// TestEventTypesListed: every Event* constant of the package is in
// auth.EventTypes, so the audit filter accepts it.
func TestEventTypesListed(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	decl := regexp.MustCompile(`(?m)^\s*(?:const\s+)?Event[A-Za-z]+\s*=\s*"([a-z_.]+)"`)
	n := 0
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range decl.FindAllStringSubmatch(string(src), -1) {
			n++
			if !slices.Contains(auth.EventTypes, m[1]) {
				t.Errorf("event type %q (%s) is not in auth.EventTypes: latch audit --type would refuse it", m[1], f)
			}
		}
	}
	if n < 20 {
		t.Fatalf("found only %d event type constants; the pattern is stale", n)
	}
}

// TestRevokesClassifiesEveryType: each event type is classified on
// purpose. An event revokes when it can end a session or cut off a user's
// tokens; the revocation feed and the fan-out to other instances wake on
// those alone, so a type wrongly quiet leaves revoked tokens honoured
// until the next poll.
func TestRevokesClassifiesEveryType(t *testing.T) {
	revokes := map[string]bool{
		auth.EventSignup:               false,
		auth.EventConfirm:              true, // a link with a later signup's password cuts off the old one
		auth.EventLogin:                false,
		auth.EventLoginFailed:          false,
		auth.EventLoginThrottled:       false,
		auth.EventRefreshReuseDetected: true,
		auth.EventLogout:               true,
		auth.EventLogoutAll:            true,
		auth.EventSessionEnded:         true,
		auth.EventResetRequested:       false,
		auth.EventResetCompleted:       true,
		auth.EventPasswordChanged:      true,
		auth.EventEmailChangeRequested: false,
		auth.EventEmailChanged:         false, // voids pending links, ends no session
		auth.EventAccountDeleted:       true,
		auth.EventRoleChanged:          true,
		auth.EventDisabled:             true,
		auth.EventEnabled:              false,
		auth.EventForceLogout:          true,
		auth.EventUserCreated:          false,
		auth.EventUserDeleted:          true,
		auth.EventEmailConfirmedSet:    false,
		auth.EventUsersImported:        false, // creates accounts, never updates one
		auth.EventConfirmationSent:     false,
		auth.EventTokenRevoked:         true,
		// Second factors end no session.
		auth.EventMFAEnabled:               false,
		auth.EventMFADisabled:              false,
		auth.EventMFAReset:                 false,
		auth.EventRecoveryCodesRegenerated: false,
		auth.EventRecoveryCodeUsed:         false,
		auth.EventMFAFailed:                false,
		auth.EventMFAFailureBurst:          false,
		auth.EventPasskeyAdded:             false,
		auth.EventPasskeyRemoved:           false,
		auth.EventPasskeyRenamed:           false,
		auth.EventPasskeyCounterRegressed:  false,
		// Clients: registration touches no session.
		auth.EventClientCreated: false,
		auth.EventClientUpdated: false,
		auth.EventClientDeleted: false,
		auth.EventCodeReplayed:  true, // ends the session the code's first use started
		auth.EventBrowserLogout: false,
		// Metadata shows in the next token; none is cut off.
		auth.EventAppMetadataChanged:  false,
		auth.EventUserMetadataChanged: false,
		auth.EventWebhookCreated:      false,
		auth.EventWebhookUpdated:      false,
		auth.EventWebhookDeleted:      false,
		auth.EventWebhookRetried:      false,
	}
	for _, typ := range auth.EventTypes {
		want, ok := revokes[typ]
		if !ok {
			t.Errorf("event type %q is not classified here: decide whether it revokes", typ)
			continue
		}
		if got := auth.Revokes(typ); got != want {
			t.Errorf("Revokes(%q) = %v, want %v", typ, got, want)
		}
	}
	for typ := range revokes {
		if !slices.Contains(auth.EventTypes, typ) {
			t.Errorf("classified type %q is not an event type", typ)
		}
	}
	if !auth.Revokes("some_future_event") {
		t.Error("an unclassified type must count as revoking: a missed revocation is worse than a needless wake-up")
	}
}
