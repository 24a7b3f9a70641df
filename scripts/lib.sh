#!/usr/bin/env bash
# lib.sh - functions the operator scripts share. Source it, do not run it:
#
#   . "$(dirname "$0")/lib.sh"           # from scripts/
#   . "$(dirname "$0")/../lib.sh"        # from scripts/test/
#
# It sets PAXOS_ROOT (the repository), colors (only when stdout is a
# terminal and NO_COLOR is unset) and offers: messages (info, warn, die),
# paxosctl (finds bin/paxosctl, builds it with "make build" when missing),
# the node table of SPEC §3 (ports, IDs, URLs), the deployment mode
# (Compose when "docker ps" shows a container named proposer1, else local
# processes of scripts/local.sh), node_stop/node_start/node_logs for both
# modes, HTTP helpers (curl) and the PASS/FAIL helpers of scripts/test.
#
# Settings from the environment:
#   PAXOSCTL        path of the paxosctl program (default: bin/paxosctl)
#   PAXOS_HOST      host of the nodes' published ports (default 127.0.0.1)
#   PAXOS_ADDR_<name>  HOST:PORT of one node, overriding the table
#                   (e.g. PAXOS_ADDR_client1=10.0.0.5:6001; used by tests)
#   PAXOS_MODE      compose or local: skip the detection
#   CLIENT_TOKEN    bearer token sent on writes (/send, /propose)
#   NO_COLOR        any value turns colors off
# shellcheck shell=bash
# Variables set here are used by the scripts that source this file.
# shellcheck disable=SC2034

if [[ -n ${PAXOS_LIB_LOADED:-} ]]; then
	return 0
fi
PAXOS_LIB_LOADED=1

PAXOS_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PAXOS_HOST=${PAXOS_HOST:-127.0.0.1}
PROG=${PROG:-$(basename "$0")}

# --- colors and messages -----------------------------------------------------

if [[ -t 1 && -z ${NO_COLOR:-} && ${TERM:-dumb} != dumb ]]; then
	C_RED=$'\e[31m' C_GREEN=$'\e[32m' C_YELLOW=$'\e[33m' C_BLUE=$'\e[34m'
	C_BOLD=$'\e[1m' C_DIM=$'\e[2m' C_RESET=$'\e[0m'
else
	C_RED='' C_GREEN='' C_YELLOW='' C_BLUE='' C_BOLD='' C_DIM='' C_RESET=''
fi
export C_RED C_GREEN C_YELLOW C_BLUE C_BOLD C_DIM C_RESET

info() { printf '%s\n' "$*"; }
ok() { printf '%s%s%s\n' "$C_GREEN" "$*" "$C_RESET"; }
warn() { printf '%s%s: warning: %s%s\n' "$C_YELLOW" "$PROG" "$*" "$C_RESET" >&2; }
err() { printf '%s%s: %s%s\n' "$C_RED" "$PROG" "$*" "$C_RESET" >&2; }
die() {
	err "$*"
	exit 1
}
heading() { printf '\n%s== %s ==%s\n' "$C_BOLD" "$*" "$C_RESET"; }

# need CMD... dies when a program is missing, saying how to get it.
need() {
	local c
	for c in "$@"; do
		command -v "$c" >/dev/null 2>&1 ||
			die "$c is not installed (scripts/setup-dependencies.sh installs it)"
	done
}

# is_tty succeeds when stdin is a terminal: only then may a script prompt.
is_tty() { [[ -t 0 ]]; }

# --- paxosctl ----------------------------------------------------------------

# ensure_paxosctl sets PAXOSCTL to a runnable paxosctl, building bin/ with
# "make build" when the default one is missing.
ensure_paxosctl() {
	if [[ -n ${PAXOSCTL:-} ]]; then
		[[ -x $PAXOSCTL ]] || command -v "$PAXOSCTL" >/dev/null 2>&1 ||
			die "PAXOSCTL=$PAXOSCTL is not an executable"
		return 0
	fi
	PAXOSCTL=$PAXOS_ROOT/bin/paxosctl
	if [[ ! -x $PAXOSCTL ]]; then
		need make go
		info "building bin/paxosctl (make build)" >&2
		make --no-print-directory -C "$PAXOS_ROOT" build >&2 || die "make build failed"
		[[ -x $PAXOSCTL ]] || die "make build did not produce $PAXOSCTL"
	fi
}

# pctl ARGS... runs paxosctl.
pctl() {
	ensure_paxosctl
	"$PAXOSCTL" "$@"
}

# --- the nodes (SPEC §3) -----------------------------------------------------

# PAXOS_NODES and topology_field come from scripts/topology.tsv, the output
# of "paxosctl topology".
# shellcheck source=scripts/topology.sh
. "$PAXOS_ROOT/scripts/topology.sh"
PAXOS_PROPOSERS=() PAXOS_ACCEPTORS=() PAXOS_LEARNERS=() PAXOS_CLIENTS=()
for _n in "${PAXOS_NODES[@]}"; do
	case $(topology_field "$_n" 3) in
	proposer) PAXOS_PROPOSERS+=("$_n") ;;
	acceptor) PAXOS_ACCEPTORS+=("$_n") ;;
	learner) PAXOS_LEARNERS+=("$_n") ;;
	client) PAXOS_CLIENTS+=("$_n") ;;
	esac
done
unset _n

# node_id NAME prints the node's NODE_ID (1-10).
node_id() { topology_field "$1" 2; }

# node_name ID prints the name of NODE_ID.
node_name() {
	local n
	for n in "${PAXOS_NODES[@]}"; do
		if [[ $(node_id "$n") == "$1" ]]; then
			echo "$n"
			return 0
		fi
	done
	return 1
}

# node_role NAME prints proposer, acceptor, learner or client.
node_role() { topology_field "$1" 3; }

# node_port NAME prints the node's API port.
node_port() { topology_field "$1" 4; }

# node_monitor_port NAME prints the node's monitor port.
node_monitor_port() { topology_field "$1" 5; }

# check_node NAME dies when NAME is not a node of the cluster.
check_node() {
	node_id "${1:-}" >/dev/null 2>&1 ||
		die "unknown node '${1:-}' (want one of: ${PAXOS_NODES[*]})"
}

# node_addr NAME prints HOST:PORT of the node's API (PAXOS_ADDR_<name>
# overrides the table).
node_addr() {
	local var="PAXOS_ADDR_$1"
	if [[ -n ${!var:-} ]]; then
		printf '%s\n' "${!var}"
		return 0
	fi
	printf '%s:%s\n' "$PAXOS_HOST" "$(node_port "$1")"
}

# node_url NAME prints the base URL of the node's API.
node_url() { printf 'http://%s\n' "$(node_addr "$1")"; }

# monitor_url NAME prints the URL of the node's status page.
monitor_url() { printf 'http://%s:%s/\n' "$PAXOS_HOST" "$(node_monitor_port "$1")"; }

# --- the deployment mode -----------------------------------------------------

# paxos_mode prints compose (a container named after one of the nodes
# runs) or local. Any node, not one: a drill that stopped proposer1 must not
# start a local process in its place. require_cluster pins the answer in
# PAXOS_MODE for the rest of a script, so a drill that stops every node
# still starts them the way they ran.
paxos_mode() {
	case ${PAXOS_MODE:-} in
	compose | local)
		echo "$PAXOS_MODE"
		return 0
		;;
	"") ;;
	*) die "PAXOS_MODE=$PAXOS_MODE: want compose or local" ;;
	esac
	local n running
	if command -v docker >/dev/null 2>&1; then
		running=$(docker ps --format '{{.Names}}' 2>/dev/null || true)
		for n in "${PAXOS_NODES[@]}"; do
			if grep -qx "$n" <<<"$running"; then
				echo compose
				return 0
			fi
		done
	fi
	echo local
}

# node_stop NAME stops a node gracefully (docker stop / local.sh stop).
node_stop() {
	check_node "$1"
	if [[ $(paxos_mode) == compose ]]; then
		docker stop "$1" >/dev/null
	else
		"$PAXOS_ROOT/scripts/local.sh" stop "$1" >/dev/null
	fi
}

# node_start NAME starts a stopped node and waits until it is healthy.
node_start() {
	check_node "$1"
	if [[ $(paxos_mode) == compose ]]; then
		docker start "$1" >/dev/null
	elif ! "$PAXOS_ROOT/scripts/local.sh" start "$1" >/dev/null 2>&1; then
		# local.sh start may report "exited while starting" for a node that
		# runs (it can look at the process before it became paxosd): the
		# health check below decides.
		warn "scripts/local.sh start $1 failed; waiting for its /health anyway"
	fi
	wait_healthy 30 "$1"
}

# node_logs NAME LINES [follow] prints the node's last LINES log lines
# (docker logs / local.sh logs). With "follow" it keeps printing new ones
# and REPLACES the shell (exec), so that killing that process ends the
# stream: run it in the background or a subshell.
node_logs() {
	local name=$1 lines=$2 follow=${3:-}
	check_node "$name"
	if [[ $(paxos_mode) == compose ]]; then
		if [[ $follow == follow ]]; then
			exec docker logs --tail "$lines" -f "$name" 2>&1
		else
			docker logs --tail "$lines" "$name" 2>&1
		fi
	elif [[ $follow == follow ]]; then
		# The same file local.sh logs -f follows, without a shell in between,
		# so that killing this process ends the stream.
		exec tail -n "$lines" -F "$PAXOS_ROOT/volumes/$name/paxosd.log" 2>/dev/null
	else
		"$PAXOS_ROOT/scripts/local.sh" logs "$name" 2>&1 | tail -n "$lines"
	fi
}

# --- HTTP --------------------------------------------------------------------

# http METHOD URL [JSON] sends one request (JSON as the body of a POST, with
# the client token if CLIENT_TOKEN is set) and sets HTTP_STATUS (000 when
# nothing answered) and HTTP_BODY. It succeeds when the status is 200. Call
# it in the current shell (not in $(...)) to see the two variables.
HTTP_STATUS=000
HTTP_BODY=
http() {
	local method=$1 url=$2 body=${3:-} out args
	args=(-sS --max-time "${HTTP_TIMEOUT:-10}" -w '\n%{http_code}' -X "$method")
	if [[ $method == POST ]]; then
		args+=(-H 'Content-Type: application/json' --data-binary @-)
		if [[ -n ${CLIENT_TOKEN:-} ]]; then
			args+=(-H "Authorization: Bearer $CLIENT_TOKEN")
		fi
	fi
	out=$(printf '%s' "$body" | curl "${args[@]}" "$url" 2>&1) || true
	HTTP_STATUS=${out##*$'\n'}
	if [[ $HTTP_STATUS =~ ^[0-9]{3}$ && $out == *$'\n'* ]]; then
		HTTP_BODY=${out%$'\n'*}
	else
		HTTP_STATUS=000
		HTTP_BODY=${out%$'\n'*}
	fi
	[[ $HTTP_STATUS == 200 ]]
}

# node_get NAME PATH prints the node's answer to GET PATH (fails unless 200).
node_get() {
	curl -sS --fail --max-time "${HTTP_TIMEOUT:-10}" "$(node_url "$1")$2" 2>/dev/null
}

# node_healthy NAME succeeds when GET /health answers 200.
node_healthy() {
	curl -s -o /dev/null --fail --max-time 2 "$(node_url "$1")/health" 2>/dev/null
}

# wait_healthy SECONDS NAME... waits until every node answers /health.
wait_healthy() {
	local deadline=$((SECONDS + $1)) n all
	shift
	while :; do
		all=1
		for n in "$@"; do
			node_healthy "$n" || all=0
		done
		((all)) && return 0
		((SECONDS < deadline)) || return 1
		sleep 0.3
	done
}

# wait_until SECONDS CMD... runs CMD every 0.3s until it succeeds.
wait_until() {
	local deadline=$((SECONDS + $1))
	shift
	until "$@"; do
		((SECONDS < deadline)) || return 1
		sleep 0.3
	done
}

# jqtest JSON JQ-ARGS... succeeds when "jq -e JQ-ARGS..." over JSON is true
# (for check: check "what" jqtest "$HTTP_BODY" --arg v "$v" '.value == $v').
jqtest() {
	local j=$1
	shift
	jq -e "$@" <<<"$j" >/dev/null 2>&1
}

# json_value VALUE prints {"value":VALUE} built by jq (any bytes are safe).
json_value() {
	jq -cn --arg v "$1" '{value: $v}'
}

# new_request_id PREFIX prints a request ID unique across runs.
new_request_id() {
	printf '%s-%s-%s-%s\n' "$1" "$(date +%s%N)" "$$" "$RANDOM"
}

# --- PASS/FAIL (scripts/test) -------------------------------------------------

T_PASSED=0
T_FAILED=0
T_FAILURES=()

pass() {
	T_PASSED=$((T_PASSED + 1))
	printf '%sPASS%s: %s\n' "$C_GREEN" "$C_RESET" "$*"
}

fail() {
	T_FAILED=$((T_FAILED + 1))
	T_FAILURES+=("$*")
	printf '%sFAIL%s: %s\n' "$C_RED" "$C_RESET" "$*"
}

# check DESCRIPTION CMD... runs CMD and records PASS or FAIL.
check() {
	local what=$1
	shift
	if "$@"; then
		pass "$what"
	else
		fail "$what"
	fi
}

# quiet CMD... runs CMD without its output (for check: never redirect the
# output of check itself, it holds the PASS/FAIL line).
quiet() { "$@" >/dev/null 2>&1; }

# not CMD... succeeds when CMD fails.
not() { ! "$@"; }

# match STRING REGEX succeeds when STRING matches the extended REGEX.
match() { [[ $1 =~ $2 ]]; }

# summary prints the totals and returns 1 when a check failed.
summary() {
	local f
	printf '\n%s%s: %d passed, %d failed%s\n' "$C_BOLD" "$PROG" "$T_PASSED" "$T_FAILED" "$C_RESET"
	for f in ${T_FAILURES[@]+"${T_FAILURES[@]}"}; do
		printf '  failed: %s\n' "$f"
	done
	((T_FAILED == 0))
}

# T_STOPPED lists the nodes a test stopped; restore_nodes starts them again
# (tests run it on exit, so a failed check never leaves a node down).
T_STOPPED=()

stop_for_test() {
	node_stop "$1" || return 1
	T_STOPPED+=("$1")
}

start_for_test() {
	local n rest=()
	node_start "$1" || return 1
	for n in ${T_STOPPED[@]+"${T_STOPPED[@]}"}; do
		[[ $n == "$1" ]] || rest+=("$n")
	done
	T_STOPPED=(${rest[@]+"${rest[@]}"})
}

restore_nodes() {
	local n
	for n in ${T_STOPPED[@]+"${T_STOPPED[@]}"}; do
		info "restarting $n (stopped by this test)"
		node_start "$n" || err "could not restart $n"
	done
	T_STOPPED=()
}

# require_cluster dies unless the cluster answers (for the tests).
require_cluster() {
	need curl jq
	ensure_paxosctl
	local n up=0
	for n in "${PAXOS_NODES[@]}"; do
		node_healthy "$n" && up=$((up + 1))
	done
	((up > 0)) || die "no node answers at $PAXOS_HOST: start the cluster first (make up, or scripts/local.sh up)"
	PAXOS_MODE=$(paxos_mode)
	export PAXOS_MODE
	info "mode: $PAXOS_MODE; $up of ${#PAXOS_NODES[@]} nodes healthy"
}
