package main

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// Go's runtime profiles are served on the metrics listener only: the
// public API address answers /debug/pprof/ like any unknown path.
func TestProfilesOnMetricsListenerOnly(t *testing.T) {
	t.Parallel()
	s := startServer(t, map[string]string{"LATCH_METRICS_ADDR": "127.0.0.1:0"})
	s.do("GET", "/debug/pprof/", "", nil).want(t, 404, "not_found")
	for _, path := range []string{"/debug/pprof/", "/debug/pprof/heap?debug=1", "/debug/pprof/profile?seconds=1"} {
		resp, err := http.Get(s.MetricsURL + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || len(body) == 0 {
			t.Errorf("GET %s on the metrics listener: %d with %d bytes, want 200 with a profile", path, resp.StatusCode, len(body))
		}
		if path == "/debug/pprof/" && !strings.Contains(string(body), "goroutine") {
			t.Errorf("GET %s: the index lists no goroutine profile:\n%.300s", path, body)
		}
	}
}
