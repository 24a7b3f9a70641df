#!/usr/bin/env bash
# client.sh - the interactive client of the paxos cluster (the seed's menu,
# options 1-8 and q), on top of paxosctl, plus the same actions as commands
# for scripts. Run "scripts/client.sh help" for the details.
set -euo pipefail

PROG=client.sh
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

CLIENT=${PAXOS_CLIENT:-client1}
# RESPONSES_SHOWN is how many of the latest responses option 4 shows.
RESPONSES_SHOWN=20

usage() {
	cat <<EOF
Usage: scripts/client.sh [-c|--client client1|client2] [COMMAND [ARGS]]

Without a COMMAND: the interactive menu (the seed's options 1-8 and q). When
stdin is not a terminal, the menu reads its choices (and the values they ask
for) line by line from stdin, never waits for a key, stops at end of input,
and exits with status 1 if any action failed:
  printf '2\\nhello world\\n3\\nq\\n' | scripts/client.sh

Menu                                   Command
  1  select client (client1/client2)   -c/--client NAME (before the command)
  2  send a value                      send [--] VALUE...
  3  read values                       read [paxosctl read flags]
  4  view responses (GET /get-responses) responses [--all]
  5  client status                     client-status
  6  leader status                     leader
  7  send directly to a proposer       propose [--proposer proposerN] [--] VALUE
  8  system status                     status
  q  quit

send and read go through the selected client node (paxosctl --endpoints);
read is linearizable by default (it sees every write acknowledged before
it). propose posts {"value":...} to the proposer's /propose (default: the
leader); a follower forwards it to the leader. Values may hold any
characters: they travel as program arguments and JSON built by jq.

Environment: PAXOSCTL (paxosctl program, default bin/paxosctl), PAXOS_CLIENT
(the client selected at start), PAXOS_HOST (default 127.0.0.1),
PAXOS_ADDR_<node> (HOST:PORT of one node), CLIENT_TOKEN (bearer token on
writes), NO_COLOR.
EOF
}

client_addr() { node_addr "$CLIENT"; }

# --- actions: each returns non-zero when it failed ----------------------------

do_select() {
	local c=${1:-}
	case $c in
	1 | client1) CLIENT=client1 ;;
	2 | client2) CLIENT=client2 ;;
	*)
		err "unknown client '$c' (want 1, 2, client1 or client2)"
		return 1
		;;
	esac
	ok "selected $CLIENT ($(client_addr))"
}

# do_send VALUE... sends each value through the selected client node.
do_send() {
	(($#)) || {
		err "send: no value given"
		return 1
	}
	local v
	for v in "$@"; do
		if [[ -z $v ]]; then
			err "send: empty value (values are non-empty strings)"
			return 1
		fi
	done
	ensure_paxosctl
	if [[ $# -eq 1 && $1 == - ]]; then
		# paxosctl send - reads stdin: give it the value "-" that way.
		printf '%s\n' "$1" | "$PAXOSCTL" --endpoints "$(client_addr)" -w table send -
	else
		"$PAXOSCTL" --endpoints "$(client_addr)" -w table send -- "$@"
	fi
}

# do_read [paxosctl read flags] prints the log through the selected client.
do_read() {
	ensure_paxosctl
	local args=("$@") a cons=0
	for a in "$@"; do
		[[ $a == --consistency* ]] && cons=1
	done
	((cons)) || args=(--consistency linearizable "${args[@]}")
	"$PAXOSCTL" --endpoints "$(client_addr)" -w table read "${args[@]}"
}

# do_responses [--all] shows GET /get-responses of the selected client.
do_responses() {
	local limit=$RESPONSES_SHOWN
	case ${1:-} in
	"") ;;
	--all | -a) limit=0 ;;
	*)
		err "responses: unknown argument '$1' (want --all)"
		return 1
		;;
	esac
	need jq curl
	if ! http GET "$(node_url "$CLIENT")/get-responses"; then
		err "GET /get-responses on $CLIENT: $(answer_error)"
		return 1
	fi
	# Values print as they are, or JSON-quoted when they hold control
	# characters (a newline would break the table).
	printf '%s\n' "$HTTP_BODY" | jq -r --argjson limit "$limit" --arg client "$CLIENT" '
		def show: if test("[\\x00-\\x1f\\x7f]") then tojson else . end;
		(.responses // []) as $r
		| ($r | length) as $n
		| (if $limit > 0 and $n > $limit then $r[($n - $limit):] else $r end) as $shown
		| "\($client): \($n) response(s)\(if ($shown|length) < $n then ", the last \($shown|length)" else "" end)",
		  (if $n == 0 then "  (no value was sent through this client node yet)" else
		   "TIME      STATUS      SLOT   LEARNED  REQUEST-ID                  VALUE",
		   ($shown[] | [ (.at // "" | sub("^[^T]*T"; "") | .[0:8]),
		                 .status, (.slot // "-" | tostring),
		                 (if .learned then "yes" else "no" end),
		                 (.request_id // "-"),
		                 ((.value // "") | show) + (if .error then "  (error: \(.error))" else "" end) ]
		    | "\(.[0] | . + " " * (8 - length))  \(.[1] | . + " " * ([10 - length, 0] | max))  \(.[2] | . + " " * ([5 - length, 0] | max))  \(.[3] | . + " " * ([7 - length, 0] | max))  \(.[4] | . + " " * ([26 - length, 0] | max))  \(.[5])")
		   end)'
}

# answer_error says why the last http call failed.
answer_error() {
	local msg
	if [[ $HTTP_STATUS == 000 ]]; then
		printf 'no answer (%s)\n' "${HTTP_BODY:-not reachable}"
		return 0
	fi
	msg=$(printf '%s' "$HTTP_BODY" | jq -r '.error // empty' 2>/dev/null) || msg=
	printf 'HTTP %s: %s\n' "$HTTP_STATUS" "${msg:-$HTTP_BODY}"
}

# do_client_status shows the selected client node's health and counters.
do_client_status() {
	need jq curl
	local health view
	if http GET "$(node_url "$CLIENT")/health"; then
		health=$HTTP_BODY
	else
		err "$CLIENT ($(client_addr)) is not healthy: $(answer_error)"
		return 1
	fi
	if ! http GET "$(node_url "$CLIENT")/view-logs"; then
		err "GET /view-logs on $CLIENT: $(answer_error)"
		return 1
	fi
	view=$HTTP_BODY
	jq -rn --argjson h "$health" --argjson v "$view" --arg addr "$(client_addr)" '
		"client:          \($h.name // "?") (id \($h.id // "?"), \($addr))",
		"health:          \($h.status // "?")\(if $h.uptime_seconds then ", up \($h.uptime_seconds)s" else "" end)",
		"leader it uses:  \(if $v.current_leader == null then "none yet" else "proposer id \($v.current_leader)" end)",
		"values sent:     \($v.metrics.sent // 0)",
		"sends failed:    \($v.metrics.failed // 0)",
		"notifications:   \($v.metrics.notifications // 0) (values learned, pushed by the learners)",
		"responses kept:  \($v.responses // 0)",
		"recent log lines:",
		(($v.logs // [])[-5:][] | "  " + .)'
}

do_leader() {
	ensure_paxosctl
	"$PAXOSCTL" -w table leader
}

do_status() {
	ensure_paxosctl
	"$PAXOSCTL" -w table status
}

# do_propose PROPOSER VALUE posts the value to a proposer's /propose; an
# empty PROPOSER means the leader (or proposer1 when none is known).
do_propose() {
	local p=${1:-} value=${2-} body id
	need jq curl
	case $p in
	"")
		ensure_paxosctl
		p=$("$PAXOSCTL" -w json leader 2>/dev/null | jq -r '.name // empty') || p=
		if [[ -z $p ]]; then
			warn "no leader known: sending to proposer1, which forwards it or answers 409"
			p=proposer1
		fi
		;;
	[1-3]) p=proposer$p ;;
	proposer[1-3]) ;;
	*)
		err "unknown proposer '$p' (want 1-3 or proposer1-proposer3)"
		return 1
		;;
	esac
	if [[ -z $value ]]; then
		err "propose: empty value (values are non-empty strings)"
		return 1
	fi
	id=$(new_request_id "client.sh-$CLIENT")
	body=$(jq -cn --arg v "$value" --arg id "$id" --argjson cid "$(node_id "$CLIENT")" \
		'{value: $v, client_id: $cid, request_id: $id}')
	info "POST $(node_url "$p")/propose (request_id $id)"
	if http POST "$(node_url "$p")/propose" "$body"; then
		printf '%s\n' "$HTTP_BODY" | jq -r '"chosen: slot \(.slot), ballot \(.proposal_number), by proposer \(.proposer_id)"'
	else
		err "$p: $(answer_error)"
		if [[ $HTTP_STATUS == 409 ]]; then
			err "hint: no leader is known; elect one with 'bin/paxosctl leader --elect'"
		fi
		return 1
	fi
}

# --- the menu ------------------------------------------------------------------

INTERACTIVE=0
FAILED=0

show_menu() {
	if ((INTERACTIVE)); then
		printf '\e[H\e[2J'
	fi
	cat <<EOF
${C_BOLD}=============================================
        Paxos client - interactive menu
=============================================${C_RESET}
Selected client: ${C_GREEN}${CLIENT}${C_RESET} ($(client_addr))

  1) Select client (client1/client2)
  2) Send a value
  3) Read values
  4) View responses
  5) Client status
  6) Leader status
  7) Send directly to a proposer
  8) System status
  q) Quit

EOF
}

# ask PROMPT VAR reads one line into VAR: with the prompt on a terminal,
# from stdin otherwise. Fails at end of input.
ask() {
	local __line
	if ((INTERACTIVE)); then
		IFS= read -r -e -p "$1" __line || return 1
	else
		printf '%s' "$1"
		IFS= read -r __line || {
			echo
			return 1
		}
		printf '%s\n' "$__line"
	fi
	printf -v "$2" '%s' "$__line"
}

pause() {
	if ((INTERACTIVE)); then
		local _
		read -r -s -p "${C_DIM}Press Enter to return to the menu...${C_RESET}" _ || true
	fi
}

# run ACTION ARGS... runs one menu action and reports a failure.
run() {
	echo
	if "$@"; then
		echo
		return 0
	fi
	FAILED=1
	printf '%s(the action failed)%s\n\n' "$C_RED" "$C_RESET"
}

menu() {
	local choice arg value
	is_tty && INTERACTIVE=1
	while :; do
		show_menu
		ask "Choice [1-8, q]: " choice || break
		case ${choice// /} in
		1)
			ask "Client (1 = client1, 2 = client2): " arg || break
			run do_select "$arg"
			;;
		2)
			ask "Value to send: " value || break
			run do_send "$value"
			;;
		3) run do_read ;;
		4) run do_responses ;;
		5) run do_client_status ;;
		6) run do_leader ;;
		7)
			ask "Proposer (1-3, Enter = the leader): " arg || break
			ask "Value to send: " value || break
			run do_propose "${arg// /}" "$value"
			;;
		8) run do_status ;;
		q | Q | quit | exit)
			echo "bye"
			return "$FAILED"
			;;
		"") continue ;;
		*)
			FAILED=1
			err "unknown choice '$choice' (want 1-8 or q)"
			;;
		esac
		pause
	done
	return "$FAILED"
}

# --- commands --------------------------------------------------------------------

main() {
	while (($#)); do
		case $1 in
		-c | --client)
			[[ $# -ge 2 ]] || die "$1 needs a client name"
			do_select "$2" >/dev/null || exit 3
			shift 2
			;;
		--client=*)
			do_select "${1#*=}" >/dev/null || exit 3
			shift
			;;
		-h | --help | help)
			usage
			return 0
			;;
		*) break ;;
		esac
	done
	local cmd=${1:-menu}
	[[ $# -eq 0 ]] || shift
	case $cmd in
	menu) menu ;;
	send)
		[[ ${1:-} != -- ]] || shift
		do_send "$@"
		;;
	read) do_read "$@" ;;
	responses) do_responses "$@" ;;
	client-status) do_client_status ;;
	leader) do_leader ;;
	status) do_status ;;
	propose)
		local p=""
		if [[ ${1:-} == --proposer || ${1:-} == -p ]]; then
			[[ $# -ge 2 ]] || die "$1 needs a proposer"
			p=$2
			shift 2
		fi
		[[ ${1:-} != -- ]] || shift
		[[ $# -eq 1 ]] || die "propose takes one VALUE (scripts/client.sh propose [--proposer proposerN] VALUE)"
		do_propose "$p" "$1"
		;;
	*) die "unknown command '$cmd' (see scripts/client.sh help)" ;;
	esac
}

main "$@"
