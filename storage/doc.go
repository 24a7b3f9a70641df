// Package storage keeps the durable state of the three Paxos roles: the
// highest round a proposer used, an acceptor's promise and accepted entries,
// and a learner's contiguous chosen log.
//
// Each role has a bbolt-backed store (OpenProposer, OpenAcceptor,
// OpenLearner), one file per role, and an in-memory twin with the same
// methods for simulation tests (NewMemProposer, NewMemAcceptor,
// NewMemLearner). The stores implement the read interfaces of package replog;
// their write methods return only once the state is durable (fsynced, unless
// Options.NoSync). Concurrent writers to one file share a transaction and an
// fsync (group commit).
//
// The node runs two of them through a faster front: OpenLoggedAcceptor makes
// each Accept durable with one append and one fdatasync to a write-ahead file
// and checkpoints into the bbolt file (wal.go, logged.go); NewBufferedLearner
// keeps appends in memory until Sync writes them in one commit (buffered.go).
//
// A power loss must not drop a store's files from their directory: every
// open syncs the directory of the file (SyncDir), and the node makes its data
// directory with MkdirAll, which syncs the parent of what it creates (dir.go).
//
// Errors are the sentinels of errors.go, wrapped with the file they concern;
// compare them with errors.Is.
package storage
