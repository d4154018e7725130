package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/latchauth/latch/internal/token"
)

// TestRun starts the service against a stub of latch's JWKS and revocation
// feed, calls it with a token, and stops it.
func TestRun(t *testing.T) {
	key, err := token.GenerateKey(token.EdDSA)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/jwks.json", func(w http.ResponseWriter, r *http.Request) {
		b, _ := token.JWKS([]*token.Key{key})
		w.Write(b)
	})
	mux.HandleFunc("GET /v1/revocations", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer rk" {
			w.WriteHeader(401)
			return
		}
		if r.URL.Query().Get("since") != "" {
			<-r.Context().Done() // nothing is ever revoked here
			return
		}
		w.Write([]byte(`{"sessions":[],"users":[],"cursor":"c","poll_after_ms":0}`))
	})
	latch := httptest.NewServer(mux)
	defer latch.Close()

	pr, pw := io.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	env := map[string]string{"NOTES_ADDR": "127.0.0.1:0", "NOTES_LATCH_URL": latch.URL, "NOTES_ISSUER": "http://latch.test", "NOTES_REVOCATION_KEY": "rk"}
	errc := make(chan error, 1)
	go func() {
		errc <- run(ctx, func(k string) string { return env[k] }, pw)
		pw.Close()
	}()
	addr := ""
	sc := bufio.NewScanner(pr)
	for addr == "" && sc.Scan() {
		var m map[string]any
		if json.Unmarshal(sc.Bytes(), &m) == nil && m["msg"] == "listening" {
			addr, _ = m["addr"].(string)
		}
	}
	if addr == "" {
		cancel()
		t.Fatalf("notes-api did not start: %v", <-errc)
	}
	go io.Copy(io.Discard, pr)

	now := time.Now()
	tok, err := token.Sign(key, &token.Claims{Issuer: "http://latch.test", Subject: "u1", Audience: []string{"http://latch.test"},
		IssuedAt: now, ExpiresAt: now.Add(time.Minute), ID: "j", SessionID: "s"})
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("GET", "http://"+addr+"/notes", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(b), `"user":"u1"`) {
		t.Errorf("GET /notes: %d %s, want 200 with the caller's notes", resp.StatusCode, b)
	}
	cancel()
	if err := <-errc; err != nil {
		t.Errorf("run: %v", err)
	}
}

// TestRunLatchUnreachable: without latch the service refuses to start.
func TestRunLatchUnreachable(t *testing.T) {
	dead := httptest.NewServer(http.NotFoundHandler())
	url := dead.URL
	dead.Close()
	env := map[string]string{"NOTES_ADDR": "127.0.0.1:0", "NOTES_LATCH_URL": url}
	err := run(context.Background(), func(k string) string { return env[k] }, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "latch at") {
		t.Fatalf("run without latch: %v, want an error naming latch", err)
	}
}
