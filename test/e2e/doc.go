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
//	go test -run LearnerRestart ./test/e2e/ -learner-restarts  # 60s of learner kills (or PAXOS_LEARNER_RESTARTS=1)
//	go test -run Bug ./test/e2e/                   # regressions of fixed availability bugs
//	go test -run BigValues ./test/e2e/ -big-values # 128 MiB of values paged (or PAXOS_BIG_VALUES=1)
//
// TestE2EFullDisk and TestE2EFullDiskOnWrite mount a tmpfs (root or
// CAP_SYS_ADMIN): without it they skip, and with CI=true they fail.
//
// PAXOS_E2E_PAXOSD=/path/to/paxosd tests that binary instead of building one.
//
// On a failure the node logs (and, for a linearizability violation, the
// porcupine visualization) are kept in the cluster's directory, whose path
// the test prints, and the tail of each log is printed.
package e2e
