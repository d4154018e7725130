// Package notesapi is an example service protected by latch access tokens
// through package verify: each user keeps a list of notes, and admins may
// list everyone's.
//
//	GET  /notes        the caller's notes               (any valid token)
//	POST /notes        add a note {"text": "..."}       (any valid token)
//	GET  /admin/notes  every user's notes               (role "admin")
//	GET  /healthz      liveness                         (public)
//
// Verification is local: the handler never calls latch for a request. With
// the revocation feed on (verify.Config.RevocationsURL), a logged-out or
// force-logged-out token is refused within a second.
package notesapi

import (
	"encoding/json"
	"net/http"
	"sync"

	"github.com/latchauth/latch/verify"
)

// Note is one note.
type Note struct {
	Text string `json:"text"`
}

// NewHandler returns the service's routes, protected by v.
func NewHandler(v *verify.Verifier) http.Handler {
	st := &store{notes: map[string][]Note{}}
	authn := verify.Middleware(v)
	admin := verify.RequireRole("admin")
	mux := http.NewServeMux()
	mux.Handle("GET /notes", authn(http.HandlerFunc(st.list)))
	mux.Handle("POST /notes", authn(http.HandlerFunc(st.add)))
	mux.Handle("GET /admin/notes", authn(admin(http.HandlerFunc(st.all))))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	return mux
}

// store keeps the notes in memory, by user id.
type store struct {
	mu    sync.Mutex
	notes map[string][]Note
}

func (s *store) list(w http.ResponseWriter, r *http.Request) {
	c, _ := verify.ClaimsFrom(r.Context())
	s.mu.Lock()
	notes := append([]Note{}, s.notes[c.Subject]...)
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"user": c.Subject, "notes": notes})
}

func (s *store) add(w http.ResponseWriter, r *http.Request) {
	c, _ := verify.ClaimsFrom(r.Context())
	var n Note
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096)).Decode(&n); err != nil || n.Text == "" {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "send {\"text\": \"...\"}"})
		return
	}
	s.mu.Lock()
	s.notes[c.Subject] = append(s.notes[c.Subject], n)
	s.mu.Unlock()
	writeJSON(w, http.StatusCreated, n)
}

func (s *store) all(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	out := make(map[string][]Note, len(s.notes))
	for k, v := range s.notes {
		out[k] = append([]Note{}, v...)
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"notes": out})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
