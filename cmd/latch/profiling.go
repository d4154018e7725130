package main

import (
	"net/http"
	"net/http/pprof"
)

// mountProfiling adds Go's runtime profiles (net/http/pprof) under
// /debug/pprof/ to mux. Only the metrics listener serves them: it is the
// private one (LATCH_METRICS_ADDR), and a profile tells how the process
// spends its time and memory, which is for operators, not for clients.
func mountProfiling(mux *http.ServeMux) {
	mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
}
