package cli

import (
	"context"
	"fmt"
	"testing"
)

// hostsResolve looks names up concurrently while its loop goes on over the
// rest: the map they share is written under its lock on both sides (a
// paxosctl in the swarm drill died of "concurrent map writes" there).
func TestHostsResolveConcurrent(t *testing.T) {
	var hosts []string
	for i := range 200 {
		hosts = append(hosts, fmt.Sprintf("no-such-host-%d.invalid", i%50), "127.0.0.1", "localhost", "")
	}
	got := hostsResolve(context.Background(), hosts)
	if !got["127.0.0.1"] {
		t.Errorf("127.0.0.1 is an IP address: %v", got["127.0.0.1"])
	}
	if got["no-such-host-7.invalid"] {
		t.Errorf("a .invalid name resolved")
	}
	if _, ok := got[""]; ok {
		t.Errorf("the empty host is in the answer")
	}
	if len(got) != 52 {
		t.Errorf("%d hosts in the answer, want 52 (50 names, 127.0.0.1, localhost)", len(got))
	}
}
