#!/usr/bin/env bash
# test-proposer.sh - checks of the proposers against a running cluster
# (Compose or local): one leader with a ballot of the form round*100+id, a
# follower forwards /propose to it, then the failover drill: stop the
# leader, check that another proposer is elected with a higher ballot and
# that writes continue, restart the old leader and check that it rejoins as
# a follower of the new one; finally a forced election (paxosctl leader
# --elect). Stopped nodes are started again on exit, even after a failure.
# Prints PASS/FAIL per check; exit 1 on any failure.
# jq filters name their arguments $v, $id...: single quotes on purpose.
# shellcheck disable=SC2016
set -euo pipefail

PROG=test-proposer.sh
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

require_cluster
trap restore_nodes EXIT
RUN=tp-$(date +%s)-$$
ELECTION_TIMEOUT=${ELECTION_TIMEOUT:-20}

# leader_json prints paxosctl -w json leader (fails when there is none).
leader_json() { pctl -w json leader 2>/dev/null; }

# LEADER, LEADER_ID, BALLOT: the current leader (read_leader fails if none).
LEADER="" LEADER_ID="" BALLOT=""
read_leader() {
	local j
	j=$(leader_json) || return 1
	LEADER=$(jq -r .name <<<"$j")
	LEADER_ID=$(jq -r .id <<<"$j")
	BALLOT=$(jq -r .ballot <<<"$j")
	[[ $LEADER == proposer[1-3] ]]
}

# send_value VALUE writes through client1 (the client node follows the leader).
send_value() {
	http POST "$(node_url client1)/send" "$(json_value "$1")"
}

in_log() {
	http GET "$(node_url client1)/read?consistency=linearizable" &&
		jqtest "$HTTP_BODY" --arg v "$1" '[.entries[] | select(.value == $v)] | length == 1'
}

# new_leader_other_than NAME succeeds when a proposer other than NAME leads.
new_leader_other_than() {
	read_leader && [[ $LEADER != "$1" ]]
}

# leads NAME succeeds when proposer NAME is the leader.
leads() { read_leader && [[ $LEADER == "$1" ]]; }

# follows NAME ID succeeds when proposer NAME is a follower of leader ID.
follows() {
	http GET "$(node_url "$1")/status" &&
		jqtest "$HTTP_BODY" --argjson id "$2" '.is_leader == false and .state == "follower" and .current_leader == $id'
}

heading "one leader"
for p in proposer1 proposer2 proposer3; do
	check "$p answers GET /status" http GET "$(node_url "$p")/status"
done
check "a leader is elected" wait_until 10 read_leader
info "leader: $LEADER (id $LEADER_ID), ballot $BALLOT"
check "the ballot ($BALLOT) is round*100 + the leader's id ($LEADER_ID)" test $((BALLOT % 100)) -eq "$LEADER_ID"
leaders=0
for p in proposer1 proposer2 proposer3; do
	if http GET "$(node_url "$p")/status" && jqtest "$HTTP_BODY" '.is_leader'; then
		leaders=$((leaders + 1))
	fi
done
check "exactly one proposer says it leads (got $leaders)" test "$leaders" -eq 1
for p in proposer1 proposer2 proposer3; do
	[[ $p == "$LEADER" ]] && continue
	check "$p follows the leader $LEADER" wait_until 5 follows "$p" "$LEADER_ID"
done

heading "a follower forwards /propose to the leader"
follower=proposer1
[[ $LEADER == proposer1 ]] && follower=proposer2
v="$RUN-forwarded"
body=$(jq -cn --arg v "$v" --arg id "$RUN-fwd" '{value: $v, client_id: 9, request_id: $id}')
if http POST "$(node_url "$follower")/propose" "$body"; then
	check "POST /propose on $follower answers chosen, by the leader" \
		jqtest "$HTTP_BODY" --argjson id "$LEADER_ID" '.status == "chosen" and .proposer_id == $id and (.slot | type == "number")'
else
	fail "POST /propose on the follower $follower: HTTP $HTTP_STATUS $HTTP_BODY"
fi
check "the forwarded value is in the log" in_log "$v"

heading "failover: stop the leader $LEADER"
old=$LEADER old_ballot=$BALLOT
check "docker stop / local.sh stop $old" stop_for_test "$old"
start=$SECONDS
if wait_until "$ELECTION_TIMEOUT" new_leader_other_than "$old"; then
	pass "a new leader is elected: $LEADER (ballot $BALLOT) after $((SECONDS - start))s"
else
	fail "no other proposer was elected within ${ELECTION_TIMEOUT}s"
fi
check "the new ballot ($BALLOT) is higher than the old one ($old_ballot)" test "$BALLOT" -gt "$old_ballot"
v="$RUN-after-failover"
if wait_until 10 send_value "$v"; then
	pass "writes continue without $old (slot $(jq -r .slot <<<"$HTTP_BODY"))"
else
	fail "a write after the failover: HTTP $HTTP_STATUS $HTTP_BODY"
fi
check "the value written after the failover is in the log" in_log "$v"

heading "the old leader $old rejoins as a follower"
new=$LEADER new_id=$LEADER_ID
check "start $old again" start_for_test "$old"
if wait_until 15 follows "$old" "$new_id"; then
	pass "$old follows the new leader $new"
else
	http GET "$(node_url "$old")/status" || true
	fail "$old does not follow $new; it says: $(jq -c '{state, current_leader, proposal_number}' <<<"$HTTP_BODY" 2>/dev/null || echo "HTTP $HTTP_STATUS")"
fi
if leads "$new"; then
	pass "$new still leads"
else
	fail "$new no longer leads: $LEADER does (ballot $BALLOT): the restarted $old disrupted a healthy leader"
fi
v="$RUN-after-rejoin"
check "writes work after $old rejoined" send_value "$v"
check "the value is in the log" in_log "$v"
# caught_up NAME SLOT: the proposer's chosen_slot reached SLOT.
caught_up() {
	http GET "$(node_url "$1")/status" && jqtest "$HTTP_BODY" --argjson s "$2" '.chosen_slot >= $s'
}
slot=$(jq -r '.slot // 0' <<<"$HTTP_BODY" 2>/dev/null || echo 0)
http POST "$(node_url client1)/send" "$(json_value "$RUN-probe")" && slot=$(jq -r .slot <<<"$HTTP_BODY")
check "$old catches up with the chosen log (chosen_slot reaches $slot)" wait_until 10 caught_up "$old" "$slot"

heading "forced election (paxosctl leader --elect)"
read_leader || true
target=proposer1
[[ $LEADER == proposer1 ]] && target=proposer2
before=$BALLOT
if out=$(pctl --timeout 10s -w json leader --elect "$target" 2>&1); then
	pass "paxosctl leader --elect $target: $(jq -r '"\(.name), ballot \(.ballot)"' <<<"$out" 2>/dev/null || echo "$out")"
	check "the forced election raised the ballot above $before" jqtest "$out" --argjson b "$before" '.ballot > $b'
else
	fail "paxosctl leader --elect $target: $out"
fi
check "writes work after the forced election" wait_until 10 send_value "$RUN-after-elect"

summary
