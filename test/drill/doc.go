// Package drill holds the fault drills of the Docker Compose deployment: a
// fresh 10-node cluster (Compose project "paxosdrill", its own data folder)
// is broken on purpose with docker stop, kill, pause and network disconnect
// while a client writes and reads, and after every drill the recorded
// history is checked: porcupine finds it linearizable, every acknowledged
// write is in both learners' logs exactly once at its slot, and the two
// learners hold identical logs. TestPaxosctlInContainers runs the README's
// troubleshooting commands (docker exec proposer1 paxosctl status, leader
// --elect) inside such a cluster.
//
// The tests carry the build tag "drill", so "go test ./..." skips them:
//
//	make drill          # go test -tags drill -run 'TestChecker|TestPaxosctlInContainers|TestDrills' ./test/drill/
//	make drill-broken   # the checker against acceptors that forget their state
//
// They need a Docker engine, Compose (docker compose or docker-compose) and
// the image paxos:local (make image); the host ports of SPEC §3 must be free.
package drill
