//go:build race

package replog_test

// The simulation runs in one goroutine, so the race detector adds nothing
// but time there: under -race it runs fewer schedules (make test runs the
// full count without -race).
const raceEnabled = true
