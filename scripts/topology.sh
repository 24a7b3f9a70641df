#!/usr/bin/env bash
# topology.sh - the standard topology of SPEC §3 for the scripts. Source it,
# do not run it. It reads scripts/topology.tsv, which is the output of
# "paxosctl topology" (one node a line: name, NODE_ID, role, API port,
# monitor port, gossip port; a Go test fails when the two differ), and sets:
#
#   PAXOS_TOPOLOGY  one row a node: "NAME ID ROLE API MONITOR GOSSIP"
#   PAXOS_NODES     the node names in topology order
#
# and offers topology_field NAME N: field N (1 name, 2 ID, 3 role, 4 API
# port, 5 monitor port, 6 gossip port) of the node, status 1 when there is
# no such node.
# shellcheck shell=bash
# Variables set here are used by the scripts that source this file.
# shellcheck disable=SC2034

PAXOS_TOPOLOGY=()
PAXOS_NODES=()
while read -r _name _id _role _api _monitor _gossip; do
	[[ -n $_name ]] || continue
	PAXOS_TOPOLOGY+=("$_name $_id $_role $_api $_monitor $_gossip")
	PAXOS_NODES+=("$_name")
done <"$(dirname "${BASH_SOURCE[0]}")/topology.tsv"
unset _name _id _role _api _monitor _gossip

topology_field() {
	local row fields
	for row in "${PAXOS_TOPOLOGY[@]}"; do
		read -r -a fields <<<"$row"
		if [[ ${fields[0]} == "${1:-}" ]]; then
			printf '%s\n' "${fields[$2 - 1]}"
			return 0
		fi
	done
	return 1
}
