// Package testenv decides what a test does when a tool it needs is not on
// this machine: on a developer's machine it skips and says why; under CI
// (CI=true) it fails, because a silent skip hides a whole suite from CI.
package testenv

import (
	"os"
	"os/exec"
	"testing"
	"time"
)

// InCI reports whether the tests run under CI (the environment has CI=true).
func InCI() bool { return os.Getenv("CI") == "true" }

// Missing ends the test because something it needs is missing: a failure
// under CI, a skip elsewhere. The message says what and how to get it.
func Missing(t testing.TB, format string, args ...any) {
	t.Helper()
	if InCI() {
		t.Fatalf("CI=true, so this is a failure, not a skip: "+format, args...)
	}
	t.Skipf(format, args...)
}

// LookPath returns the path of the first of names found in PATH; when none
// is, it calls Missing with hint (how to install it).
func LookPath(t testing.TB, hint string, names ...string) string {
	t.Helper()
	for _, n := range names {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
	}
	Missing(t, "%v not found in PATH; %s", names, hint)
	return ""
}

// Eventually polls check every 20ms until it returns nil, and fails the
// test with check's last error once within has passed: the one way the
// project's tests wait for a condition (never a bare sleep).
func Eventually(t testing.TB, within time.Duration, what string, check func() error) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: still failing after %s: %v", what, within, err)
			return // for a testing.TB whose Fatalf does not stop the goroutine
		}
		time.Sleep(20 * time.Millisecond)
	}
}
