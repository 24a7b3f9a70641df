package testenv

import (
	"math/rand/v2"
	"net"
	"strconv"
	"testing"
)

// FreePort returns a port on host that is free now for both TCP and UDP
// (memberlist binds both), picked below the ephemeral range so that no
// outgoing connection takes it in the meantime, and not in used (nil:
// none). It records the port in used, and reserves it for the rest of the
// test against every other test process of this module on the machine
// (ReservePort): go test runs packages in parallel, and a port found free
// by one package's cluster could otherwise be bound by another's before
// the node that was given it listens, or while that node restarts.
func FreePort(t testing.TB, host string, used map[int]bool) int {
	t.Helper()
	for range 1000 {
		port := 20000 + rand.IntN(12000)
		if used[port] {
			continue
		}
		addr := net.JoinHostPort(host, strconv.Itoa(port))
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			continue
		}
		pc, err := net.ListenPacket("udp", addr)
		ln.Close()
		if err != nil {
			continue
		}
		pc.Close()
		if !ReservePort(t, port) {
			continue
		}
		if used != nil {
			used[port] = true
		}
		return port
	}
	t.Fatal("no port free for TCP and UDP on " + host)
	return 0
}
