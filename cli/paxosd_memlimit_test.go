package cli

import (
	"bytes"
	"log/slog"
	"math"
	"runtime/debug"
	"strings"
	"testing"
)

// --memory-limit sets the runtime's soft limit; 0 turns it off; a negative
// one is refused and changes nothing; GOMEMLIMIT, read by the runtime at
// start, wins and is said so in the log.
func TestSetMemoryLimit(t *testing.T) {
	was := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(was) })
	var out bytes.Buffer
	log := slog.New(slog.NewTextHandler(&out, nil))

	t.Setenv("GOMEMLIMIT", "")
	if err := setMemoryLimit(log, defaultMemoryLimit); err != nil {
		t.Fatal(err)
	}
	if got := debug.SetMemoryLimit(-1); got != defaultMemoryLimit {
		t.Errorf("limit %d after --memory-limit %d", got, defaultMemoryLimit)
	}
	if err := setMemoryLimit(log, -5); err == nil || !strings.Contains(err.Error(), "--memory-limit") {
		t.Errorf("--memory-limit -5: %v, want an error naming the flag", err)
	}
	if got := debug.SetMemoryLimit(-1); got != defaultMemoryLimit {
		t.Errorf("a refused --memory-limit changed the limit to %d", got)
	}
	if err := setMemoryLimit(log, 0); err != nil {
		t.Fatal(err)
	}
	if got := debug.SetMemoryLimit(-1); got != math.MaxInt64 {
		t.Errorf("--memory-limit 0: limit %d, want none (MaxInt64)", got)
	}
	t.Setenv("GOMEMLIMIT", "200MiB")
	if err := setMemoryLimit(log, 64<<20); err != nil {
		t.Fatal(err)
	}
	if got := debug.SetMemoryLimit(-1); got != math.MaxInt64 {
		t.Errorf("with GOMEMLIMIT set, --memory-limit changed the limit to %d", got)
	}
	if !strings.Contains(out.String(), "GOMEMLIMIT=200MiB") {
		t.Errorf("the log does not say GOMEMLIMIT won:\n%s", out.String())
	}
}
