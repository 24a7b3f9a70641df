#!/usr/bin/env bash
# local.sh - run the 10-node paxos cluster as local processes on 127.0.0.1
# (local mode, no Docker), with the ports of SPEC §3 and each node's data in
# ./volumes/<name>. Run "scripts/local.sh help" for the commands.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
PROG=scripts/local.sh
BIN="$ROOT/bin/paxosd"

# The settings docker-compose.yml passes to every node, and the data folder,
# come from ./.env as in Compose: a variable of the environment (even
# empty) wins over the file. Compose-only ones (PAXOS_HOST_IP, PAXOS_IMAGE)
# mean nothing here.
DOTENV_VARS=(CLUSTER_SECRET CLIENT_TOKEN LOG_FORMAT LOG_LEVEL GOMAXPROCS PAXOS_VOLUMES TLS)
# shellcheck source=scripts/dotenv.sh
. "$ROOT/scripts/dotenv.sh"
load_dotenv "$ROOT/.env" "${DOTENV_VARS[@]}"
# The secret and TLS=1 made on first run and reused (issue 19).
# shellcheck source=scripts/secure.sh
. "$ROOT/scripts/secure.sh"

VOLUMES="${PAXOS_VOLUMES:-$ROOT/volumes}"
[[ $VOLUMES == /* ]] || VOLUMES="$ROOT/${VOLUMES#./}" # relative to the repository, as in Compose

UP_TIMEOUT=20  # seconds for nodes to answer GET /health with 200
STOP_TIMEOUT=10 # seconds between SIGTERM and SIGKILL

# The nodes of SPEC §3 (PAXOS_NODES, topology_field: scripts/topology.tsv,
# the output of "paxosctl topology"). paxosd derives the rest from --id
# (role, monitor and gossip ports).
# shellcheck source=scripts/topology.sh
. "$ROOT/scripts/topology.sh"

# Every node joins gossip through proposer1 and acceptor1.
JOIN_ADDRS="127.0.0.1:$(topology_field proposer1 6),127.0.0.1:$(topology_field acceptor1 6)"

# Per-node settings the script sets itself; the caller's values would give
# every node the same port or data folder, or a different topology.
PER_NODE_ENV=(NODE_ID NODE_ROLE NODE_NAME PORT LISTEN_ADDR MONITOR_PORT ADVERTISE_HOST GOSSIP_ADVERTISE
	GOSSIP_PORT DATA_DIR COMPOSE PROPOSERS ACCEPTORS LEARNERS CLIENTS TLS_DIR CERT_FILE KEY_FILE TRUSTED_CA_FILE)

usage() {
	cat <<EOF
Usage: $PROG COMMAND [NODE]

Run the 10 paxos nodes as local processes on 127.0.0.1 (no Docker). Each node
keeps its data, log (paxosd.log) and pid file (paxosd.pid) in ./volumes/<name>.

Commands:
  up               build bin/paxosd if needed, start every node that is not
                   running, wait until all answer GET /health (${UP_TIMEOUT}s)
  down [--purge]   SIGTERM every node, SIGKILL after ${STOP_TIMEOUT}s; --purge also
                   deletes their data (otherwise it is kept)
  status           one line per node; exit status 1 unless all are healthy
  stop NODE        SIGTERM the node and wait for it to exit (SIGKILL after ${STOP_TIMEOUT}s)
  start NODE       start a stopped node again, with the same data
  restart NODE     stop (if running), then start
  kill NODE        SIGKILL the node (a crash)
  pause NODE       SIGSTOP the node (it hangs, sockets stay open)
  resume NODE      SIGCONT a paused node
  logs NODE [-f]   the last 100 lines of the node's log; -f follows it
  env              the shared settings the nodes get and where each comes
                   from (environment, .env or default); secrets masked
  help             this text

NODE is one of: $(node_names)

Closed by default: on first "up" a cluster secret is made into .env
(git-ignored) and reused; CLUSTER_SECRET= (empty, in your environment)
leaves the cluster open. TLS=1 $PROG up also makes the certificates
(./certs, paxosctl certs) and starts every node with TLS; .env remembers
TLS=1 until TLS=0 $PROG up. For paxosctl: eval "\$(scripts/secure.sh env)".

The nodes take shared settings from your environment: CLUSTER_SECRET,
CLIENT_TOKEN, TICK, REQUEST_TIMEOUT, MAX_VALUE_BYTES, LOG_FORMAT, LOG_LEVEL,
GOSSIP_BIND (default here 127.0.0.1), GOMAXPROCS (default here 1). Like
Docker Compose, $PROG also reads ./.env (cp .env.example .env) for
${DOTENV_VARS[*]}:
a variable set in your environment, even empty, wins over .env. Per-node
settings (ports, IDs, data folders, topology) come from the table of SPEC §3.

Examples:
  $PROG up
  TLS=1 $PROG up
  CLUSTER_SECRET=s3cret $PROG up
  $PROG stop acceptor1 && $PROG start acceptor1
  $PROG down --purge
EOF
}

die() {
	printf '%s: %s\n' "$PROG" "$*" >&2
	exit 1
}

note() {
	printf '%s\n' "$*"
}

# --- the node table ----------------------------------------------------------

node_names() { printf '%s\n' "${PAXOS_NODES[*]}"; }

# check_node NAME fails with the list of valid names when NAME is unknown.
check_node() {
	[[ -n ${1:-} ]] || die "missing NODE; valid names: $(node_names)"
	topology_field "$1" 1 >/dev/null || die "unknown node '$1'; valid names: $(node_names)"
}

node_dir() { printf '%s\n' "$VOLUMES/$1"; }
pid_file() { printf '%s\n' "$VOLUMES/$1/paxosd.pid"; }
log_file() { printf '%s\n' "$VOLUMES/$1/paxosd.log"; }

# --- processes ---------------------------------------------------------------

# proc_state PID prints the process state letter (R, S, T, Z, ...) or fails.
proc_state() {
	local stat
	if [[ -r /proc/$1/stat ]]; then
		stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
		stat=${stat##*) }
		printf '%s\n' "${stat%% *}"
	else
		stat=$(ps -p "$1" -o stat= 2>/dev/null) || return 1
		stat=${stat// /}
		[[ -n $stat ]] || return 1
		printf '%s\n' "${stat:0:1}"
	fi
}

# is_paxosd PID succeeds when PID is a paxosd process (not a reused PID).
is_paxosd() {
	local cmd
	if [[ -r /proc/$1/cmdline ]]; then
		cmd=$(tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null) || return 1
	else
		cmd=$(ps -p "$1" -o command= 2>/dev/null) || return 1
	fi
	[[ $cmd == *paxosd* ]]
}

# running_pid NAME prints the node's PID when it runs (or is paused).
running_pid() {
	local f pid state
	f=$(pid_file "$1")
	[[ -f $f ]] || return 1
	pid=$(<"$f")
	[[ $pid =~ ^[0-9]+$ ]] || return 1
	state=$(proc_state "$pid") || return 1
	[[ $state != Z && $state != X ]] || return 1
	is_paxosd "$pid" || return 1
	printf '%s\n' "$pid"
}

# node_state NAME prints running, paused or stopped.
node_state() {
	local pid
	if pid=$(running_pid "$1"); then
		if [[ $(proc_state "$pid") == T ]]; then
			echo paused
		else
			echo running
		fi
	else
		echo stopped
	fi
}

# http_status PORT PATH prints the HTTP status of GET http://127.0.0.1:PORT/PATH,
# or 000 when nothing answers within a second.
http_status() {
	local code
	if tls_on; then
		# https with the cluster's CA; without curl, paxosd health says
		# only 200 or not.
		if command -v curl >/dev/null 2>&1; then
			code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 --cacert "$PAXOS_CERTS/ca.crt" \
				"https://127.0.0.1:$1$2" 2>/dev/null) || true
		elif "$BIN" health --port "$1" --timeout 1s --trusted-ca-file "$PAXOS_CERTS/ca.crt" >/dev/null 2>&1; then
			code=200
		fi
	elif command -v curl >/dev/null 2>&1; then
		code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "http://127.0.0.1:$1$2" 2>/dev/null) || true
	else
		code=$(
			exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
			printf 'GET %s HTTP/1.0\r\nHost: 127.0.0.1:%s\r\nConnection: close\r\n\r\n' "$2" "$1" >&3
			read -r -t 1 _ status _ <&3 || exit 1
			printf '%s\n' "$status"
		) 2>/dev/null || true
	fi
	[[ $code =~ ^[0-9]{3}$ ]] || code=000
	printf '%s\n' "$code"
}

# port_open PORT succeeds when something accepts connections on 127.0.0.1:PORT.
port_open() {
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# health NAME prints healthy, unhealthy, no-answer or http-NNN.
health() {
	local code
	code=$(http_status "$(topology_field "$1" 4)" /health)
	case $code in
	200) echo healthy ;;
	503) echo unhealthy ;;
	000) echo no-answer ;;
	*) echo "http-$code" ;;
	esac
}

# send_signal NAME SIG sends SIG to the running node, or fails when it is not running.
send_signal() {
	local pid
	pid=$(running_pid "$1") || die "$1 is not running"
	kill "-$2" "$pid"
}

# wait_gone PID SECONDS waits until PID has exited; fails on timeout.
wait_gone() {
	local deadline=$((SECONDS + $2)) state
	while state=$(proc_state "$1") && [[ $state != Z && $state != X ]]; do
		((SECONDS < deadline)) || return 1
		sleep 0.1
	done
}

# --- building and starting ---------------------------------------------------

needs_build() {
	[[ -x $BIN ]] || return 0
	local newer
	newer=$(find . \( -path ./volumes -o -path ./.git -o -path ./bin \) -prune -o \
		\( \( -name '*.go' ! -name '*_test.go' \) -o -name go.mod -o -name go.sum \) -newer "$BIN" -print -quit 2>/dev/null) || true
	[[ -n $newer ]]
}

ensure_built() {
	needs_build || return 0
	command -v make >/dev/null 2>&1 || die "make not found: build bin/paxosd with 'go build -o bin/paxosd ./cmd/paxosd'"
	note "building bin/paxosd (make build)"
	make --no-print-directory build || die "make build failed"
	[[ -x $BIN ]] || die "make build did not produce $BIN"
	touch "$BIN" # go build leaves an up-to-date binary alone
}

# start_node NAME starts the node in the background, in its own session so
# that it outlives this script and a Ctrl-C in its terminal.
start_node() {
	local name=$1 id port dir pid unset_args=() v
	id=$(topology_field "$name" 2)
	port=$(topology_field "$name" 4)
	dir=$(node_dir "$name")
	if pid=$(running_pid "$name"); then
		die "$name is already running (pid $pid); use '$PROG restart $name' to restart it"
	fi
	if port_open "$port"; then
		die "cannot start $name: port $port is already in use by another process (a Compose cluster? try 'make down')"
	fi
	mkdir -p "$dir"
	for v in "${PER_NODE_ENV[@]}"; do
		unset_args+=(-u "$v")
	done
	local launcher=() tls_env=()
	if command -v setsid >/dev/null 2>&1; then
		launcher=(setsid)
	fi
	if tls_on; then
		[[ -f $dir/tls/node.crt ]] || ensure_certs
		tls_env=(TLS_DIR="$dir/tls")
	fi
	printf '\n--- %s: starting %s (id %s) ---\n' "$(date '+%Y-%m-%d %H:%M:%S')" "$name" "$id" >>"$(log_file "$name")"
	# GOMAXPROCS=1: ten nodes share the machine's cores, and one scheduler
	# thread per node makes goroutine hand-offs cheap (docs/PERFORMANCE.md).
	JOIN="$JOIN_ADDRS" GOSSIP_BIND="${GOSSIP_BIND:-127.0.0.1}" GOMAXPROCS="${GOMAXPROCS:-1}" \
		${launcher[@]+"${launcher[@]}"} env "${unset_args[@]}" ${tls_env[@]+"${tls_env[@]}"} "$BIN" --id "$id" --data-dir "$dir" \
		>>"$(log_file "$name")" 2>&1 </dev/null &
	local pid=$! i
	echo "$pid" >"$(pid_file "$name")"
	# Until the child has exec'd into paxosd its command line is this
	# shell's: wait for the exec so the pid checks that follow see paxosd.
	for ((i = 0; i < 100; i++)); do
		is_paxosd "$pid" && break
		[[ -d /proc/$pid ]] || break
		sleep 0.02
	done
}

# wait_healthy SECONDS NAME... waits until every node answers /health with
# 200. It fails at once when a node exits, and after SECONDS otherwise.
wait_healthy() {
	local timeout=$1 deadline=$((SECONDS + $1)) name all
	shift
	while :; do
		all=1
		for name in "$@"; do
			if ! running_pid "$name" >/dev/null; then
				printf '%s: %s exited while starting; last lines of %s:\n' "$PROG" "$name" "$(log_file "$name")" >&2
				tail -n 15 "$(log_file "$name")" >&2 || true
				return 1
			fi
			[[ $(http_status "$(topology_field "$name" 4)" /health) == 200 ]] || all=0
		done
		((all)) && return 0
		if ((SECONDS >= deadline)); then
			for name in "$@"; do
				if [[ $(health "$name") != healthy ]]; then
					printf '%s: %s is not healthy after %ss; last lines of its log:\n' "$PROG" "$name" "$timeout" >&2
					tail -n 10 "$(log_file "$name")" >&2 || true
				fi
			done
			return 1
		fi
		sleep 0.2
	done
}

# print_table NAME... prints one row per node; fails unless all are healthy.
print_table() {
	local name pid state h ok=0
	printf '%-10s %3s %8s %5s %-8s %s\n' NAME ID PID PORT STATE HEALTH
	for name in "$@"; do
		pid=$(running_pid "$name") || pid=-
		state=$(node_state "$name")
		if [[ $state == stopped ]]; then
			h=-
		else
			h=$(health "$name")
		fi
		[[ $h == healthy ]] || ok=1
		printf '%-10s %3s %8s %5s %-8s %s\n' "$name" "$(topology_field "$name" 2)" "$pid" \
			"$(topology_field "$name" 4)" "$state" "$h"
	done
	return "$ok"
}

# stop_nodes NAME... sends SIGTERM (and SIGCONT, so paused nodes see it),
# waits STOP_TIMEOUT seconds in all, then SIGKILLs the rest.
stop_nodes() {
	local name pid pids=() names=() deadline i
	for name in "$@"; do
		if pid=$(running_pid "$name"); then
			kill -TERM "$pid" 2>/dev/null || true
			kill -CONT "$pid" 2>/dev/null || true
			pids+=("$pid")
			names+=("$name")
		fi
	done
	((${#pids[@]})) || return 0
	deadline=$((SECONDS + STOP_TIMEOUT))
	for i in "${!pids[@]}"; do
		if wait_gone "${pids[$i]}" $((deadline > SECONDS ? deadline - SECONDS : 0)); then
			note "stopped ${names[$i]}"
		else
			printf '%s: %s did not stop within %ss after SIGTERM; sending SIGKILL\n' \
				"$PROG" "${names[$i]}" "$STOP_TIMEOUT" >&2
			kill -KILL "${pids[$i]}" 2>/dev/null || true
			wait_gone "${pids[$i]}" 5 || die "${names[$i]} (pid ${pids[$i]}) survived SIGKILL"
			note "killed ${names[$i]}"
		fi
		rm -f "$(pid_file "${names[$i]}")"
	done
}

# --- commands ----------------------------------------------------------------

cmd_up() {
	[[ $# -eq 0 ]] || die "up takes no arguments"
	ensure_built
	# What .env gave is read again by secure_up; what the environment
	# gave (even empty) stays.
	[[ ${DOTENV_SOURCE[CLUSTER_SECRET]} == environment ]] || unset CLUSTER_SECRET
	[[ ${DOTENV_SOURCE[TLS]} == environment ]] || unset TLS
	secure_up
	if tls_on; then
		note "TLS is on (certificates in $PAXOS_CERTS); paxosctl: eval \"\$(scripts/secure.sh env)\""
	fi
	local name pid names
	read -r -a names <<<"$(node_names)"
	for name in "${names[@]}"; do
		if pid=$(running_pid "$name"); then
			note "$name is already running (pid $pid)"
		else
			start_node "$name"
		fi
	done
	note "waiting up to ${UP_TIMEOUT}s for ${#names[@]} nodes to be healthy..."
	if ! wait_healthy "$UP_TIMEOUT" "${names[@]}"; then
		print_table "${names[@]}" || true
		die "the cluster did not come up; see '$PROG logs NODE', stop it with '$PROG down'"
	fi
	print_table "${names[@]}"
}

cmd_down() {
	local purge=0 arg name names
	for arg in "$@"; do
		case $arg in
		--purge) purge=1 ;;
		*) die "down: unknown argument '$arg' (want --purge)" ;;
		esac
	done
	read -r -a names <<<"$(node_names)"
	stop_nodes "${names[@]}"
	warn_elsewhere
	if ((purge)); then
		for name in "${names[@]}"; do
			if [[ -d $(node_dir "$name") ]]; then
				find "$(node_dir "$name")" -mindepth 1 -delete
			fi
		done
		note "deleted the data of every node"
	else
		note "data kept in $VOLUMES (delete it with '$PROG down --purge' or 'make clean-data')"
	fi
}

# warn_elsewhere says when nodes of this checkout's bin/paxosd still run
# with their data outside $VOLUMES: a cluster started with another
# PAXOS_VOLUMES, which this script cannot see (Linux only: /proc).
warn_elsewhere() {
	local cmdline i args others=()
	for cmdline in /proc/[0-9]*/cmdline; do
		args=()
		mapfile -d '' -t args 2>/dev/null <"$cmdline" || continue
		[[ ${args[0]:-} == "$BIN" ]] || continue
		for ((i = 1; i + 1 < ${#args[@]}; i++)); do
			if [[ ${args[i]} == --data-dir && ${args[i + 1]} != "$VOLUMES"/* ]]; then
				others+=("${args[i + 1]}")
			fi
		done
	done
	((${#others[@]})) || return 0
	printf '%s: %d paxosd of this checkout still run with data outside %s (%s ...): started with another PAXOS_VOLUMES; stop them with PAXOS_VOLUMES=%s %s down\n' \
		"$PROG" "${#others[@]}" "$VOLUMES" "${others[0]}" "$(dirname "${others[0]}")" "$0" >&2
}

cmd_status() {
	[[ $# -eq 0 ]] || die "status takes no arguments"
	local names
	read -r -a names <<<"$(node_names)"
	print_table "${names[@]}"
}

cmd_stop() {
	check_node "$@"
	running_pid "$1" >/dev/null || die "$1 is not running"
	stop_nodes "$1"
}

cmd_start() {
	check_node "$@"
	# Restart the same binary as the other nodes: build only when it is missing.
	[[ -x $BIN ]] || ensure_built
	start_node "$1"
	if ! wait_healthy "$UP_TIMEOUT" "$1"; then
		die "$1 did not become healthy; see '$PROG logs $1'"
	fi
	print_table "$1"
}

cmd_restart() {
	check_node "$@"
	if running_pid "$1" >/dev/null; then
		stop_nodes "$1"
	fi
	cmd_start "$1"
}

cmd_kill() {
	check_node "$@"
	local pid
	pid=$(running_pid "$1") || die "$1 is not running"
	kill -KILL "$pid"
	wait_gone "$pid" 5 || die "$1 (pid $pid) survived SIGKILL"
	rm -f "$(pid_file "$1")"
	note "killed $1 (pid $pid)"
}

cmd_pause() {
	check_node "$@"
	[[ $(node_state "$1") != paused ]] || die "$1 is already paused"
	send_signal "$1" STOP
	note "paused $1"
}

cmd_resume() {
	check_node "$@"
	[[ $(node_state "$1") == paused ]] || die "$1 is not paused"
	send_signal "$1" CONT
	note "resumed $1"
}

cmd_logs() {
	check_node "$@"
	local f follow=()
	f=$(log_file "$1")
	shift
	case ${1:-} in
	"") ;;
	-f | --follow) follow=(-f) ;;
	*) die "logs: unknown argument '$1' (want -f)" ;;
	esac
	[[ -f $f ]] || die "no log yet for this node ($f)"
	tail -n 100 ${follow[@]+"${follow[@]}"} "$f"
}

cmd_env() {
	[[ $# -eq 0 ]] || die "env takes no arguments"
	local name value from
	printf '%-16s %-24s %s\n' NAME VALUE FROM
	for name in "${DOTENV_VARS[@]}"; do
		from=${DOTENV_SOURCE[$name]}
		value=${!name-}
		case $name in
		PAXOS_VOLUMES)
			value=$VOLUMES
			[[ $from == unset ]] && from=default
			;;
		GOMAXPROCS)
			[[ $from == unset ]] && value=1 from=default
			;;
		esac
		if [[ $from == unset ]]; then
			value=- from="unset (paxosd's default)"
		elif [[ -z $value ]]; then
			value="(empty)"
		elif [[ $name == CLUSTER_SECRET || $name == CLIENT_TOKEN ]]; then
			value="(set, ${#value} chars)"
		fi
		printf '%-16s %-24s %s\n' "$name" "$value" "$from"
	done
}

main() {
	local cmd=${1:-help}
	[[ $# -eq 0 ]] || shift
	case $cmd in
	up) cmd_up "$@" ;;
	down) cmd_down "$@" ;;
	status) cmd_status "$@" ;;
	stop) cmd_stop "$@" ;;
	start) cmd_start "$@" ;;
	restart) cmd_restart "$@" ;;
	kill) cmd_kill "$@" ;;
	pause) cmd_pause "$@" ;;
	resume) cmd_resume "$@" ;;
	logs) cmd_logs "$@" ;;
	env) cmd_env "$@" ;;
	help | -h | --help) usage ;;
	*) die "unknown command '$cmd' (commands: up down status stop start restart kill pause resume logs env help)" ;;
	esac
}

main "$@"
