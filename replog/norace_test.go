//go:build !race

package replog_test

const raceEnabled = false
