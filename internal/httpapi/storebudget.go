package httpapi

import (
	"net/http"
	"time"

	"github.com/latchauth/latch/internal/auth"
)

// StoreBudget bounds all the database work of one request together: its
// store calls share one deadline, StoreBudget after the request reaches
// the routes, and once it has passed the request answers 503 unavailable
// with Retry-After. A frozen database then costs a request at most about
// StoreBudget plus its password hashing, however many calls it makes.
const StoreBudget = 5 * time.Second

// storeBudget puts the deadline of the request's database work on its
// context. The revocation feed's long poll is left out: it waits up to 25 s
// between reads, each bounded by the store's own per-call limit.
func storeBudget(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/revocations" {
			r = r.WithContext(auth.WithStoreDeadline(r.Context(), time.Now().Add(StoreBudget)))
		}
		next.ServeHTTP(w, r)
	})
}
