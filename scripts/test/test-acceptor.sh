#!/usr/bin/env bash
# test-acceptor.sh - checks of the acceptors against a running cluster
# (Compose or local): each reports its promised/accepted state
# (GET /view-logs) and a bbolt file; writes work with one acceptor down
# (2 of 3 is a quorum); the stopped acceptor's promise and accepted values
# survive its restart; after the restart it takes part in quorums again
# (writes work with ANOTHER acceptor down); with two down, writes fail with
# an error, never a false success. Stopped nodes are started again on exit.
# Prints PASS/FAIL per check; exit 1 on any failure.
# jq filters name their arguments $v, $s...: single quotes on purpose.
# shellcheck disable=SC2016
set -euo pipefail

PROG=test-acceptor.sh
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

require_cluster
trap restore_nodes EXIT
RUN=ta-$(date +%s)-$$

send_value() {
	http POST "$(node_url client1)/send" "$(json_value "$1")"
}

in_log() {
	http GET "$(node_url client1)/read?consistency=linearizable" &&
		jqtest "$HTTP_BODY" --arg v "$1" '[.entries[] | select(.value == $v)] | length == 1'
}

# state NAME prints the acceptor's state: {promised, accepted_count,
# last_accepted_slot, db_path, db_size_bytes}.
state() {
	http GET "$(node_url "$1")/view-logs" || return 1
	jq -c '{promised, accepted_count, last_accepted_slot, db_path, db_size_bytes}' <<<"$HTTP_BODY"
}

heading "acceptor state"
for a in acceptor1 acceptor2 acceptor3; do
	if http GET "$(node_url "$a")/view-logs"; then
		check "$a /view-logs has promised, accepted_count, last_accepted_slot, accepted_proposal, state" \
			jqtest "$HTTP_BODY" '.role == "acceptor" and (.promised | type == "number") and (.accepted_count | type == "number")
				and has("last_accepted_slot") and has("accepted_proposal") and (.state | has("max_promised") and has("max_accepted"))'
		check "$a keeps a bbolt file (db_path, db_size_bytes > 0)" \
			jqtest "$HTTP_BODY" '(.db_path | type == "string" and length > 0) and .db_size_bytes > 0'
	else
		fail "$a GET /view-logs: HTTP $HTTP_STATUS"
	fi
done
for i in 1 2 3; do
	send_value "$RUN-before-$i" || fail "write $RUN-before-$i: HTTP $HTTP_STATUS $HTTP_BODY"
done
leader_ballot=$(pctl -w json leader | jq -r .ballot) || leader_ballot=0
before=$(state acceptor1) || before='{}'
info "acceptor1 before: $before"
check "acceptor1 promised the leader's ballot ($leader_ballot)" jqtest "$before" --argjson b "$leader_ballot" '.promised == $b'
check "acceptor1 accepted values (accepted_count > 0, last_accepted_slot set)" \
	jqtest "$before" '.accepted_count > 0 and (.last_accepted_slot | type == "number")'
if [[ $(paxos_mode) == local ]]; then
	check "acceptor1's bbolt file exists on disk ($(jq -r .db_path <<<"$before"))" test -s "$(jq -r .db_path <<<"$before")"
fi

heading "one acceptor down: acceptor1"
check "stop acceptor1" stop_for_test acceptor1
v="$RUN-one-down"
if wait_until 10 send_value "$v"; then
	pass "a write succeeds with acceptor1 down (slot $(jq -r .slot <<<"$HTTP_BODY"))"
else
	fail "a write with acceptor1 down: HTTP $HTTP_STATUS $HTTP_BODY"
fi
check "the value is in the log (linearizable read, 2 of 3 acceptors)" in_log "$v"
check "paxosctl status: the cluster can still make progress" quiet pctl status

heading "acceptor1's state survives its restart"
check "start acceptor1 again" start_for_test acceptor1
after=$(state acceptor1) || after='{}'
info "acceptor1 after:  $after"
check "promised after the restart >= before" jqtest "$after" --argjson b "$before" '.promised >= $b.promised and .promised > 0'
check "accepted_count after the restart >= before" jqtest "$after" --argjson b "$before" '.accepted_count >= $b.accepted_count'
check "last_accepted_slot after the restart >= before" jqtest "$after" --argjson b "$before" '.last_accepted_slot >= $b.last_accepted_slot'
check "the same bbolt file" jqtest "$after" --argjson b "$before" '.db_path == $b.db_path'

heading "the restarted acceptor1 counts in quorums: acceptor2 down"
check "stop acceptor2" stop_for_test acceptor2
v="$RUN-acceptor2-down"
if wait_until 10 send_value "$v"; then
	pass "a write succeeds with acceptor2 down (quorum acceptor1 + acceptor3)"
else
	fail "a write with acceptor2 down: HTTP $HTTP_STATUS $HTTP_BODY"
fi
check "the value is in the log" in_log "$v"
acc=$(state acceptor1) || acc='{}'
check "acceptor1 accepted it (accepted_count grew)" jqtest "$acc" --argjson b "$after" '.accepted_count > $b.accepted_count'

heading "two acceptors down: no quorum"
check "stop acceptor3 too" stop_for_test acceptor3
v="$RUN-no-quorum"
HTTP_TIMEOUT=20 http POST "$(node_url client1)/send" "$(json_value "$v")" || true
check "a write without a quorum fails with an error status (got $HTTP_STATUS, not 200)" \
	match "$HTTP_STATUS" '^(409|503|504)$'
check "paxosctl status exits non-zero without a quorum" not quiet pctl status
check "start acceptor2" start_for_test acceptor2
check "start acceptor3" start_for_test acceptor3
v="$RUN-quorum-back"
if wait_until 20 send_value "$v"; then
	pass "writes work again once the quorum is back"
else
	fail "a write after the quorum came back: HTTP $HTTP_STATUS $HTTP_BODY"
fi
check "the value is in the log" in_log "$v"
http GET "$(node_url client1)/read" || true
check "the value refused without a quorum is in the log at most once (a late retry may land)" \
	jqtest "$HTTP_BODY" --arg v "$RUN-no-quorum" '[.entries[] | select(.value == $v)] | length <= 1'

summary
