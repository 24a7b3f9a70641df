// Package check holds the tests of the deployment files: the Kubernetes
// manifests of deploy/kubernetes, decoded strictly against the Kubernetes
// API types, and the Docker Swarm stack of deploy/swarm, each checked
// against the topology of SPEC §3. It has no code of its own: run "make
// deploy-check", or "go test ./..." in this folder.
package check
