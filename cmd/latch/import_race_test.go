//go:build race

package main

// raceEnabled: the race detector slows the pure-Go SQLite about fifteenfold,
// so the import's time limit is not checked under it.
const raceEnabled = true

// importRows is how many generated users TestImportDevise100k imports.
// Under the race detector the 100,000 of the plain run cost minutes of CPU
// and find no more races than 20,000, which still span 20 batches.
const importRows = 20_000
