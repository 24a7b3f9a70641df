// Package replog is the Multi-Paxos core: deterministic state machines for the
// three Paxos roles (Proposer, Acceptor, Learner) with no network, disk,
// goroutines, clock or global randomness inside.
//
// It follows the shape of etcd-io/raft. Every role is driven by the same loop:
//
//	for {
//		select {
//		case <-ticker.C:
//			node.Tick()
//		case m := <-inbox:
//			node.Step(m)
//		}
//		if node.HasReady() {
//			rd := node.Ready()
//			store.Save(&rd)             // 1. persist (fsync) HardState, Accepted, Chosen, Compact
//			transport.Send(rd.Messages) // 2. only then send
//			apply(rd)                   // 3. then deliver Results, ReadStates and Applied
//			node.Advance()
//		}
//	}
//
// The core only reads its storage (ProposerStorage, AcceptorStorage,
// LearnerStorage); writing each Ready is the caller's. Every store does it
// with one Save(*Ready): the bbolt and memory stores of package storage,
// which the server runs on, and replogtest's memory stores
// (ProposerStore, AcceptorStore, LearnerStore), which the tests run on;
// package replogtest also has nodes, a faulty network and the runner of
// the golden-file scripts in testdata/.
//
// The order is part of the contract: a promise or an accepted reply is in
// Ready.Messages, and it must not leave before the state it depends on (in the
// same Ready) is durable.
//
// Time enters only through Tick; the election timeout is randomized from the
// seeded source in Config. A protocol rejection is a message (MsgNack carrying
// the higher ballot), never a Go error: Step returns an error only when the
// storage it reads from fails.
package replog
