//go:build !race

package main

// raceEnabled: see import_race_test.go.
const raceEnabled = false

// importRows: see import_race_test.go.
const importRows = 100_000
