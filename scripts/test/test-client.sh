#!/usr/bin/env bash
# test-client.sh - checks of the client nodes against a running cluster
# (Compose or local): /send answers with the slot once chosen, /read and
# paxosctl read return the value, /get-responses records it, a retried
# request ID is one log entry, bad values are rejected, and values with
# quotes, backslashes and unicode round-trip byte for byte (through curl,
# paxosctl and scripts/client.sh). Prints PASS/FAIL per check; exit 1 on
# any failure.
# jq filters name their arguments $v, $id...: single quotes on purpose.
# shellcheck disable=SC2016
set -euo pipefail

PROG=test-client.sh
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

require_cluster
RUN=tc-$(date +%s)-$$
TRICKY='He said "hi" & left \ back\\slash '"'"'single'"'"' $HOME `id` ünïcødé 日本語 🚀 tab	end'

# send_via CLIENT VALUE [REQUEST_ID] posts to /send; sets SLOT.
SLOT=""
send_via() {
	local body
	if [[ -n ${3:-} ]]; then
		body=$(jq -cn --arg v "$2" --arg id "$3" '{value: $v, request_id: $id}')
	else
		body=$(json_value "$2")
	fi
	SLOT=""
	http POST "$(node_url "$1")/send" "$body" || return 1
	SLOT=$(jq -r '.slot // empty' <<<"$HTTP_BODY")
	[[ $SLOT =~ ^[0-9]+$ ]]
}

# log_has CLIENT VALUE [COUNT] checks that /read?consistency=linearizable
# holds VALUE exactly COUNT times (default 1).
log_has() {
	http GET "$(node_url "$1")/read?consistency=linearizable" || return 1
	jq -e --arg v "$2" --argjson n "${3:-1}" '[.entries[] | select(.value == $v)] | length == $n' <<<"$HTTP_BODY" >/dev/null
}

heading "client nodes"
for c in client1 client2; do
	check "$c answers GET /health with 200" node_healthy "$c"
	if http GET "$(node_url "$c")/health"; then
		check "$c /health says role client" jqtest "$HTTP_BODY" '.role == "client" and .status == "healthy"'
	else
		fail "$c /health: HTTP $HTTP_STATUS"
	fi
done

heading "send and read"
v1="$RUN-plain"
if send_via client1 "$v1"; then
	pass "POST /send on client1 answers 200 with slot $SLOT"
	check "the answer says \"value sent\"" jqtest "$HTTP_BODY" '.status == "value sent" and (.proposer_id | type == "number")'
else
	fail "POST /send on client1: HTTP $HTTP_STATUS $HTTP_BODY"
fi
slot1=$SLOT
check "GET /read (linearizable) on client1 holds the value once" log_has client1 "$v1"
check "GET /read on client2 holds it too (same log)" log_has client2 "$v1"
if [[ -n $slot1 ]] && http GET "$(node_url client2)/read?from=$slot1&limit=1"; then
	check "GET /read?from=$slot1&limit=1 returns exactly that entry" jqtest "$HTTP_BODY" --arg v "$v1" --argjson s "$slot1" '.entries | length == 1 and .[0].slot == $s and .[0].value == $v'
else
	fail "GET /read?from=SLOT&limit=1: HTTP $HTTP_STATUS"
fi

heading "get-responses"
if http GET "$(node_url client1)/get-responses"; then
	check "client1 /get-responses lists the value with its slot" jqtest "$HTTP_BODY" --arg v "$v1" --argjson s "${slot1:-null}" '[.responses[] | select(.value == $v and .slot == $s and .status == "value sent")] | length == 1'
	# The learners notify the client nodes; give them a moment.
	learned() {
		http GET "$(node_url client1)/get-responses" &&
			jq -e --arg v "$v1" '[.responses[] | select(.value == $v and .learned)] | length == 1' <<<"$HTTP_BODY" >/dev/null
	}
	check "client1 was notified that the value was learned" wait_until 5 learned
else
	fail "GET /get-responses on client1: HTTP $HTTP_STATUS"
fi

heading "values with quotes, backslashes and unicode"
if send_via client2 "$TRICKY"; then
	pass "POST /send on client2 with a tricky value: slot $SLOT"
	check "the tricky value reads back byte for byte (curl + jq)" log_has client1 "$TRICKY"
else
	fail "POST /send with a tricky value: HTTP $HTTP_STATUS $HTTP_BODY"
fi
tricky2="$TRICKY #2 -x --help"
if out=$(pctl -w json --endpoints "$(node_addr client1)" send -- "$tricky2" 2>&1); then
	check "paxosctl send echoes the tricky value unchanged" jqtest "$out" --arg v "$tricky2" '.value == $v'
	check "paxosctl -w json read returns it byte for byte" jqtest "$(pctl -w json read --consistency linearizable)" \
		--arg v "$tricky2" '[.entries[] | select(.value == $v)] | length == 1'
else
	fail "paxosctl send of a tricky value: $out"
fi
tricky3="$TRICKY #3 (client.sh)"
if out=$("$PAXOS_ROOT/scripts/client.sh" -c client2 send "$tricky3" 2>&1); then
	pass "scripts/client.sh send with a tricky value"
	check "the value sent by client.sh reads back byte for byte" log_has client2 "$tricky3"
else
	fail "scripts/client.sh send: $out"
fi
tricky4="$TRICKY #4 (client.sh menu)"
if out=$(printf '2\n%s\nq\n' "$tricky4" | "$PAXOS_ROOT/scripts/client.sh" 2>&1); then
	pass "scripts/client.sh menu (stdin not a terminal): option 2 then q"
	check "the value typed in the menu reads back byte for byte" log_has client1 "$tricky4"
else
	fail "scripts/client.sh menu: $out"
fi

heading "idempotent retries"
rid="$RUN-retry"
v2="$RUN-retried"
if send_via client1 "$v2" "$rid"; then
	first=$SLOT
	if send_via client2 "$v2" "$rid"; then
		check "a retry with the same request_id (through the other client) answers the first slot ($first)" test "$SLOT" = "$first"
	else
		fail "retry through client2: HTTP $HTTP_STATUS $HTTP_BODY"
	fi
	check "the retried value appears once in the log" log_has client1 "$v2" 1
else
	fail "POST /send with a request_id: HTTP $HTTP_STATUS $HTTP_BODY"
fi

heading "bad input"
http POST "$(node_url client1)/send" '{"value":""}' || true
check "an empty value is a 400 (got $HTTP_STATUS)" test "$HTTP_STATUS" = 400
http POST "$(node_url client1)/send" '{"value":42}' || true
check "a non-string value is a 400 (got $HTTP_STATUS)" test "$HTTP_STATUS" = 400
http POST "$(node_url client1)/send" '{"value":' || true
check "broken JSON is a 400 (got $HTTP_STATUS)" test "$HTTP_STATUS" = 400
check "the 400 answer is JSON with an error" jqtest "$HTTP_BODY" '.error | type == "string"'
http GET "$(node_url client1)/send" || true
check "GET /send is a 405 (got $HTTP_STATUS)" test "$HTTP_STATUS" = 405
http GET "$(node_url client1)/no-such-path" || true
check "an unknown path is a 404 (got $HTTP_STATUS)" test "$HTTP_STATUS" = 404
http GET "$(node_url client1)/read?consistency=bogus" || true
check "read with a bad consistency is a 400 (got $HTTP_STATUS)" test "$HTTP_STATUS" = 400

summary
