//go:build unix

package testenv

import "testing"

// TestReservePort: a port reserved by one test cannot be reserved again
// (here by the same process, as another test process would be refused)
// until that test ends.
func TestReservePort(t *testing.T) {
	var port int
	t.Run("holder", func(t *testing.T) {
		port = FreePort(t, "127.0.0.1", nil)
		if ReservePort(t, port) {
			t.Fatalf("port %d reserved twice", port)
		}
	})
	if !ReservePort(t, port) {
		t.Fatalf("port %d still reserved after the test that held it ended", port)
	}
}
