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
	decl := regexp.MustCompile(`(?m)^\s*Event[A-Za-z]+\s*=\s*"([a-z_.]+)"`)
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
