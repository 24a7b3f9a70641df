package testenv

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// fatalRecorder is a testing.TB whose Fatalf records instead of stopping.
type fatalRecorder struct {
	testing.TB
	msg string
}

func (f *fatalRecorder) Helper() {}
func (f *fatalRecorder) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
}

// TestEventually: a check that never passes fails the test with its last
// error once the time is up; one that passes on the third try does not.
func TestEventually(t *testing.T) {
	never := &fatalRecorder{TB: t}
	Eventually(never, 50*time.Millisecond, "never", func() error { return errors.New("not yet") })
	if !strings.Contains(never.msg, "never: still failing after 50ms: not yet") {
		t.Errorf("a check that never passes: Fatalf(%q)", never.msg)
	}
	third, tries := &fatalRecorder{TB: t}, 0
	Eventually(third, 10*time.Second, "third", func() error {
		if tries++; tries < 3 {
			return errors.New("not yet")
		}
		return nil
	})
	if third.msg != "" || tries != 3 {
		t.Errorf("a check that passes on the third try: Fatalf(%q) after %d tries", third.msg, tries)
	}
}
