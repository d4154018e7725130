//go:build race

package main

// raceEnabled: the race detector slows the pure-Go SQLite about fifteenfold,
// so the import's time limit is not checked under it.
const raceEnabled = true
