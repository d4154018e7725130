package main

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// nodeJose returns the directory holding testdata/node with its jose
// dependency installed (npm ci; .ci/run does it beforehand), skipping the
// test when node or npm is missing unless LATCH_TEST_REQUIRE_SERVICES=1.
func nodeJose(t *testing.T) string {
	t.Helper()
	missing := func(format string, args ...any) {
		t.Helper()
		if os.Getenv("LATCH_TEST_REQUIRE_SERVICES") == "1" {
			t.Fatalf(format, args...)
		}
		t.Skipf(format+" (set LATCH_TEST_REQUIRE_SERVICES=1 to fail instead)", args...)
	}
	if _, err := exec.LookPath("node"); err != nil {
		missing("node is not installed: %v", err)
	}
	dir, err := filepath.Abs(filepath.Join("testdata", "node"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "jose", "package.json")); err == nil {
		return dir
	}
	if _, err := exec.LookPath("npm"); err != nil {
		missing("npm is not installed: %v", err)
	}
	// Install into a copy so that the source tree stays clean.
	tmp := t.TempDir()
	for _, f := range []string{"package.json", "package-lock.json", "verify.mjs", "verify_id.mjs"} {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(tmp, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command("npm", "ci", "--no-audit", "--no-fund", "--ignore-scripts")
	cmd.Dir = tmp
	if out, err := cmd.CombinedOutput(); err != nil {
		missing("npm ci (jose) failed: %v\n%s", err, out)
	}
	return tmp
}

// TestNodeJoseInterop has node's jose library (createRemoteJWKSet +
// jwtVerify) verify latch's access tokens against latch's JWKS, for each
// signing algorithm, and refuse a tampered one.
func TestNodeJoseInterop(t *testing.T) {
	t.Parallel()
	dir := nodeJose(t)
	for _, alg := range []string{"EdDSA", "ES256", "RS256"} {
		t.Run(alg, func(t *testing.T) {
			t.Parallel()
			s := startServer(t, map[string]string{"LATCH_KEY_ALG": alg, "LATCH_RATE_LIMITS": "false"})
			conf := s.signupConfirmed("jose."+strings.ToLower(alg)+"@example.com", goodPassword)
			tok := conf.str("access_token")
			run := func(tok string) map[string]any {
				t.Helper()
				cmd := exec.Command("node", "verify.mjs", s.URL+"/.well-known/jwks.json", "http://latch.test", "http://latch.test", tok, alg)
				cmd.Dir = dir
				out, err := cmd.CombinedOutput()
				if err != nil {
					t.Fatalf("node: %v\n%s", err, out)
				}
				var res map[string]any
				if err := json.Unmarshal(out, &res); err != nil {
					t.Fatalf("node printed %q: %v", out, err)
				}
				return res
			}
			res := run(tok)
			if res["ok"] != true {
				t.Fatalf("jose refused latch's token: %v", res)
			}
			hdr, _ := res["header"].(map[string]any)
			pl, _ := res["payload"].(map[string]any)
			user, _ := conf.Body["user"].(map[string]any)
			if hdr["alg"] != alg || hdr["typ"] != "at+jwt" || hdr["kid"] == "" || pl["sub"] != user["id"] || pl["sid"] == "" {
				t.Errorf("jose saw header %v payload %v", hdr, pl)
			}
			// A changed payload breaks the signature.
			parts := strings.Split(tok, ".")
			var claims map[string]any
			raw, err := base64.RawURLEncoding.DecodeString(parts[1])
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(raw, &claims); err != nil {
				t.Fatal(err)
			}
			claims["roles"] = []string{"admin"}
			forged, _ := json.Marshal(claims)
			if res := run(parts[0] + "." + base64.RawURLEncoding.EncodeToString(forged) + "." + parts[2]); res["ok"] != false || res["code"] != "ERR_JWS_SIGNATURE_VERIFICATION_FAILED" {
				t.Errorf("jose on a tampered token: %v, want ERR_JWS_SIGNATURE_VERIFICATION_FAILED", res)
			}
		})
	}
}
