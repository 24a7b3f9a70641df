//go:build !unix

package testenv

import "testing"

// ReservePort reserves nothing where there is no flock: the port is only
// checked free.
func ReservePort(testing.TB, int) bool { return true }
