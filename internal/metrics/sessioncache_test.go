package metrics_test

import (
	"strings"
	"testing"

	"github.com/latchauth/latch/internal/auth"
	"github.com/latchauth/latch/internal/metrics"
)

func TestSessionCacheMetrics(t *testing.T) {
	t.Parallel()
	m := metrics.New()
	m.SessionCache(func() auth.CacheStats {
		return auth.CacheStats{Entries: 12, Max: 10000, Hits: 340, Misses: 5, Evictions: 2}
	})
	text := scrape(t, m)
	for _, want := range []string{
		"latch_session_cache_entries 12",
		"latch_session_cache_max 10000",
		"latch_session_cache_hits_total 340",
		"latch_session_cache_misses_total 5",
		"latch_session_cache_evictions_total 2",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}
