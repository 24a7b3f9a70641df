#!/usr/bin/env bash
# test-paxos.sh - end-to-end checks of the whole cluster (Compose or
# local), without stopping any node: all 10 healthy, gossip knows all 10,
# one leader, writes through both client nodes and straight to a proposer,
# concurrent writes each chosen exactly once, linearizable reads, both
# learners with the same log, the monitor pages, and paxosctl status.
# Prints PASS/FAIL per check; exit 1 on any failure.
# jq filters name their arguments $v, $s...: single quotes on purpose.
# shellcheck disable=SC2016
set -euo pipefail

PROG=test-paxos.sh
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

require_cluster
RUN=tx-$(date +%s)-$$
CONCURRENT=${CONCURRENT:-20}

send_via() {
	http POST "$(node_url "$1")/send" "$(json_value "$2")"
}

# count_in_log VALUE prints how often VALUE is in the linearizable log.
LOG=""
read_log() {
	http GET "$(node_url client1)/read?consistency=linearizable" || return 1
	LOG=$HTTP_BODY
}

heading "nodes"
healthy=0
for n in "${PAXOS_NODES[@]}"; do
	if node_healthy "$n"; then
		healthy=$((healthy + 1))
	else
		fail "$n does not answer GET /health with 200"
	fi
done
check "all ${#PAXOS_NODES[@]} nodes are healthy ($healthy)" test "$healthy" -eq "${#PAXOS_NODES[@]}"
if http GET "$(node_url acceptor2)/gossip/nodes"; then
	check "gossip (GET /gossip/nodes on acceptor2) knows all 10 nodes, alive" \
		jqtest "$HTTP_BODY" '.total == 10 and ([.nodes[] | select(.state == "alive")] | length == 10)'
	check "gossip knows the leader" jqtest "$HTTP_BODY" '.leader_id | type == "number"'
else
	fail "GET /gossip/nodes: HTTP $HTTP_STATUS"
fi
if status=$(pctl -w json status 2>&1); then
	pass "paxosctl status exits 0"
	check "paxosctl status: a quorum of acceptors is up and the cluster can make progress" \
		jqtest "$status" '.quorum_ok and .can_progress and .acceptors_up == 3'
else
	fail "paxosctl status: $status"
fi

heading "leader"
if leader=$(pctl -w json leader 2>&1); then
	pass "a leader is elected: $(jq -r '"\(.name), ballot \(.ballot)"' <<<"$leader")"
	leader_id=$(jq -r .id <<<"$leader")
	for p in proposer1 proposer2 proposer3; do
		if http GET "$(node_url "$p")/status"; then
			check "$p agrees on the leader (current_leader $leader_id)" jqtest "$HTTP_BODY" --argjson id "$leader_id" '.current_leader == $id'
		else
			fail "$p GET /status: HTTP $HTTP_STATUS"
		fi
	done
else
	fail "paxosctl leader: $leader"
fi

heading "writes through both client nodes and a proposer"
slots=()
for c in client1 client2; do
	if send_via "$c" "$RUN-via-$c"; then
		slots+=("$(jq -r .slot <<<"$HTTP_BODY")")
		pass "write through $c: slot ${slots[-1]}"
	else
		fail "write through $c: HTTP $HTTP_STATUS $HTTP_BODY"
	fi
done
if ((${#slots[@]} == 2)); then
	check "the second write got a later slot (${slots[0]} < ${slots[1]})" test "${slots[0]}" -lt "${slots[1]}"
fi
body=$(jq -cn --arg v "$RUN-via-proposer" --arg id "$RUN-p1" '{value: $v, client_id: 9, request_id: $id}')
if http POST "$(node_url proposer2)/propose" "$body"; then
	pass "POST /propose on proposer2: $(jq -r '"\(.status), slot \(.slot)"' <<<"$HTTP_BODY")"
else
	fail "POST /propose on proposer2: HTTP $HTTP_STATUS $HTTP_BODY"
fi
if read_log; then
	for v in "$RUN-via-client1" "$RUN-via-client2" "$RUN-via-proposer"; do
		check "a linearizable read holds $v exactly once" jqtest "$LOG" --arg v "$v" '[.entries[] | select(.value == $v)] | length == 1'
	done
	check "the log is in slot order" jqtest "$LOG" '[.entries[].slot] as $s | $s == ($s | sort)'
else
	fail "linearizable read: HTTP $HTTP_STATUS $HTTP_BODY"
fi
if out=$(pctl read --consistency linearizable 2>&1); then
	check "paxosctl read --consistency linearizable shows the writes" match "$out" "$RUN-via-proposer"
else
	fail "paxosctl read: $out"
fi

heading "$CONCURRENT concurrent writes"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for i in $(seq 1 "$CONCURRENT"); do
	c=client$((i % 2 + 1))
	curl -s -o "$tmp/$i.json" -w '%{http_code}' --max-time 20 -X POST -H 'Content-Type: application/json' \
		${CLIENT_TOKEN:+-H "Authorization: Bearer $CLIENT_TOKEN"} \
		--data-binary "$(json_value "$RUN-c-$i")" "$(node_url "$c")/send" >"$tmp/$i.code" 2>/dev/null &
done
wait
okc=0
for i in $(seq 1 "$CONCURRENT"); do
	[[ $(cat "$tmp/$i.code" 2>/dev/null) == 200 ]] && okc=$((okc + 1))
done
check "all $CONCURRENT concurrent writes were acknowledged ($okc)" test "$okc" -eq "$CONCURRENT"
distinct=$(cat "$tmp"/*.json 2>/dev/null | jq -s '[.[].slot] | unique | length')
check "they got $CONCURRENT distinct slots ($distinct)" test "$distinct" -eq "$CONCURRENT"
if read_log; then
	check "each concurrent write is in the log exactly once" jqtest "$LOG" --arg p "$RUN-c-" --argjson n "$CONCURRENT" \
		'[.entries[] | select(.value | startswith($p))] | length == $n and (map(.value) | unique | length) == $n'
else
	fail "linearizable read: HTTP $HTTP_STATUS"
fi

heading "learners"
same_log() {
	local a b
	http GET "$(node_url learner1)/get-values" && a=$(jq -c '{chosen_slot, entries}' <<<"$HTTP_BODY") &&
		http GET "$(node_url learner2)/get-values" && b=$(jq -c '{chosen_slot, entries}' <<<"$HTTP_BODY") &&
		[[ $a == "$b" ]]
}
check "learner1 and learner2 serve identical logs" wait_until 10 same_log

heading "monitor pages"
for n in proposer1 acceptor1 learner1 client1; do
	page=$(curl -s --max-time 5 "$(monitor_url "$n")") || page=""
	check "$n status page ($(monitor_url "$n")) is HTML" match "$page" '<html|<!DOCTYPE|<!doctype'
done
metrics=$(curl -s --max-time 5 "http://$PAXOS_HOST:$(node_monitor_port proposer1)/metrics") || metrics=""
check "proposer1 /metrics is Prometheus text" match "$metrics" '# TYPE '

heading "errors are JSON with fitting statuses"
http GET "$(node_url proposer1)/nope" || true
check "unknown path: 404 (got $HTTP_STATUS)" test "$HTTP_STATUS" = 404
check "the 404 answer is JSON {\"error\":...}" jqtest "$HTTP_BODY" '.error | type == "string"'
http POST "$(node_url learner1)/get-values" '{}' || true
check "wrong method: 405 (got $HTTP_STATUS)" test "$HTTP_STATUS" = 405

summary
