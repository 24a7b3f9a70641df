// Package replogtest drives replog's roles in tests, in one goroutine, in
// the spirit of etcd-io/raft's rafttest: memory stores that write a Ready
// in one place (Save), nodes (a role and its store), a network that drops,
// duplicates, delays, partitions and limits messages from a seeded source,
// Describe helpers that print messages, Readys and state as short stable
// text, and an Env that runs golden-file scripts (RunScript) with commands
// such as campaign, propose, deliver, crash and stabilize.
//
// It uses only the standard library and replog, so replog's own tests
// (package replog_test) can use it.
package replogtest
