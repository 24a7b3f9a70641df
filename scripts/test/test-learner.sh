#!/usr/bin/env bash
# test-learner.sh - checks of the learners against a running cluster
# (Compose or local): both serve the same log (GET /get-values); a learner
# that was down while values were chosen catches up by itself after its
# restart, to a log identical to the other's; a client node reads through
# the other learner while one is down. Stopped nodes are started again on
# exit. Prints PASS/FAIL per check; exit 1 on any failure.
# jq filters name their arguments $v, $s...: single quotes on purpose.
# shellcheck disable=SC2016
set -euo pipefail

PROG=test-learner.sh
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

require_cluster
trap restore_nodes EXIT
RUN=tl-$(date +%s)-$$
WRITES=${WRITES:-20}
CATCHUP_TIMEOUT=${CATCHUP_TIMEOUT:-20}

send_value() {
	http POST "$(node_url client1)/send" "$(json_value "$1")"
}

# chosen NAME prints the learner's chosen_slot.
chosen() {
	http GET "$(node_url "$1")/get-values?limit=0" || return 1
	jq -r .chosen_slot <<<"$HTTP_BODY"
}

# log NAME prints the learner's whole log (entries) as compact JSON.
log() {
	http GET "$(node_url "$1")/get-values" || return 1
	jq -c '{chosen_slot, total_count, entries}' <<<"$HTTP_BODY"
}

# same_log: both learners have the same chosen slot and the same entries.
same_log() {
	local a b
	a=$(log learner1) && b=$(log learner2) && [[ $a == "$b" ]]
}

heading "both learners"
for l in learner1 learner2; do
	check "$l answers GET /health" node_healthy "$l"
	if http GET "$(node_url "$l")/get-values?limit=1"; then
		check "$l /get-values has values, entries, total_count, chosen_slot" \
			jqtest "$HTTP_BODY" '(.values | type == "array") and (.entries | type == "array") and (.total_count | type == "number") and (.chosen_slot | type == "number")'
	else
		fail "$l GET /get-values: HTTP $HTTP_STATUS"
	fi
done
send_value "$RUN-start" || fail "a first write: HTTP $HTTP_STATUS $HTTP_BODY"
check "learner1 and learner2 serve identical logs" wait_until 10 same_log

heading "learner2 down while $WRITES values are chosen"
check "stop learner2" stop_for_test learner2
ok_writes=0
for i in $(seq 1 "$WRITES"); do
	if send_value "$RUN-while-down-$i"; then
		ok_writes=$((ok_writes + 1))
	fi
done
check "$WRITES writes succeed with learner2 down (got $ok_writes)" test "$ok_writes" -eq "$WRITES"
target=$(chosen learner1) || target=-1
check "learner1 has them (chosen slot $target)" jqtest "$(log learner1)" --arg v "$RUN-while-down-$WRITES" '[.entries[] | select(.value == $v)] | length == 1'
if http GET "$(node_url client1)/read?consistency=linearizable"; then
	check "client1 reads through learner1 while learner2 is down" \
		jqtest "$HTTP_BODY" --arg v "$RUN-while-down-$WRITES" '[.entries[] | select(.value == $v)] | length == 1'
else
	fail "client1 /read with learner2 down: HTTP $HTTP_STATUS"
fi

heading "learner2 catches up after its restart"
check "start learner2 again" start_for_test learner2
start=$SECONDS
reached() { [[ $(chosen learner2) -ge $target ]]; }
if wait_until "$CATCHUP_TIMEOUT" reached; then
	pass "learner2 reached chosen slot $target in $((SECONDS - start))s (no new write needed)"
else
	fail "learner2 did not catch up to slot $target within ${CATCHUP_TIMEOUT}s (it is at $(chosen learner2 || echo '?'))"
fi
check "learner1 and learner2 serve identical logs (GET /get-values on both)" wait_until 10 same_log
l2=$(log learner2) || l2='{}'
for i in 1 "$WRITES"; do
	check "learner2 holds $RUN-while-down-$i exactly once" jqtest "$l2" --arg v "$RUN-while-down-$i" '[.entries[] | select(.value == $v)] | length == 1'
done
check "learner2's log has no duplicate request IDs" jqtest "$l2" '[.entries[].request_id | select(. != "")] | length == (unique | length)'
if http GET "$(node_url learner2)/view-logs"; then
	check "learner2 reports no gaps" jqtest "$HTTP_BODY" '.gaps == 0'
fi

heading "reads fail over to the other learner"
check "stop learner1" stop_for_test learner1
v="$RUN-learner1-down"
check "a write succeeds with learner1 down" send_value "$v"
if http GET "$(node_url client2)/read?consistency=linearizable"; then
	check "client2 reads it through learner2" jqtest "$HTTP_BODY" --arg v "$v" '[.entries[] | select(.value == $v)] | length == 1'
else
	fail "client2 /read with learner1 down: HTTP $HTTP_STATUS"
fi
check "start learner1 again" start_for_test learner1
check "the learners agree again" wait_until "$CATCHUP_TIMEOUT" same_log

summary
