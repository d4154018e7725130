package httpapi

import (
	"net/http"
	"time"

	"github.com/latchauth/latch/internal/auth"
)

// StoreBudget bounds all the database work of one request together: its
// store calls share one budget (auth.WithStoreBudget), and once it is
// spent the request answers 503 unavailable with Retry-After. A frozen
// database then costs a request at most about StoreBudget of database
// time, however many calls it makes; time spent hashing a password or
// waiting for a hashing slot is not counted.
const StoreBudget = 5 * time.Second

// storeBudget puts the request's database budget on its context. The
// revocation feed's long poll is left out: it waits up to 25 s between
// reads, each bounded by the store's own per-call limit.
func storeBudget(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/revocations" {
			next.ServeHTTP(w, r)
			return
		}
		br := r.WithContext(auth.WithStoreBudget(r.Context(), StoreBudget))
		next.ServeHTTP(w, br)
		// The mux records the matched route on the request it was given;
		// the middleware outside (metrics, logs) reads it from theirs.
		r.Pattern = br.Pattern
	})
}
