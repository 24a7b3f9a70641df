// Package e2e holds the end-to-end tests of paxos: they build bin/paxosd once,
// run the 10 nodes of SPEC §3 as real processes on free loopback ports (each
// with its own data dir and log file), and drive them over the HTTP API while
// killing, stopping, pausing and restarting nodes.
//
// The tests live in _test.go files; this package has no other code.
//
//	go test ./test/e2e/                            # the default tests (under a minute)
//	go test -short ./test/e2e/                     # skips the long ones
//	go test -run Failover ./test/e2e/ -failover    # failover times (or PAXOS_FAILOVER=1)
//	go test -run Chaos ./test/e2e/ -chaos 3m       # random faults (or PAXOS_CHAOS=3m)
//	go test -run Bug ./test/e2e/                   # regressions of fixed availability bugs
//
// PAXOS_E2E_PAXOSD=/path/to/paxosd tests that binary instead of building one.
//
// On a failure the node logs (and, for a linearizability violation, the
// porcupine visualization) are kept in the cluster's directory, whose path
// the test prints, and the tail of each log is printed.
package e2e
