package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/latchauth/latch/internal/auth"
)

// SessionCache registers the metrics of the cache of sessions and users
// that bearer checks read (auth.Service.SessionCacheStats), read from
// stats at every scrape: latch_session_cache_entries and _max, and the
// counters latch_session_cache_hits_total, _misses_total and
// _evictions_total. Only requests with a valid access token move them, so
// they say nothing about which addresses have accounts.
func (m *Metrics) SessionCache(stats func() auth.CacheStats) {
	m.Gauge("latch_session_cache_entries", "Sessions and users held in memory for bearer checks.", func() float64 {
		return float64(stats().Entries)
	})
	m.Gauge("latch_session_cache_max", "The bound on latch_session_cache_entries (0: no cache).", func() float64 {
		return float64(stats().Max)
	})
	counter := func(name, help string, f func(auth.CacheStats) uint64) {
		m.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, func() float64 {
			return float64(f(stats()))
		}))
	}
	counter("latch_session_cache_hits_total", "Session and user lookups of bearer checks answered from memory.",
		func(s auth.CacheStats) uint64 { return s.Hits })
	counter("latch_session_cache_misses_total", "Session and user lookups of bearer checks that read the database (absent or older than the cache's max age).",
		func(s auth.CacheStats) uint64 { return s.Misses })
	counter("latch_session_cache_evictions_total", "Entries dropped from the session cache to stay within its bound.",
		func(s auth.CacheStats) uint64 { return s.Evictions })
}
