#!/usr/bin/env bash
# monitor.sh - watch the paxos cluster live (the seed's monitor, on top of
# "paxosctl watch" and the nodes' logs). Run "scripts/monitor.sh -h".
set -euo pipefail

PROG=monitor.sh
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
	cat <<'EOF'
Usage: scripts/monitor.sh [-p] [-a] [-l] [-c] [-i N] [-n] [-v] [-d] [--once]

Shows the cluster live: the leader, whether a quorum of acceptors is up and
the learners are in sync, each node's health and counters and the last
chosen slots (paxosctl watch), refreshed every N seconds until Ctrl-C.

  -p, --proposers     show the proposers     \
  -a, --acceptors     show the acceptors      | combinable; none of them:
  -l, --learners      show the learners       | every node
  -c, --clients       show the clients       /
  -i, --interval N    seconds between refreshes (default 2; decimals allowed)
  -n, --no-follow     do not follow the logs: the view keeps refreshing, and
                      with -d the last log lines are shown under each
                      refresh instead of streamed (as in the seed)
  -v, --verbose       also show the last log lines of each shown node
                      (GET /view-logs)
  -d, --docker-logs   after the view, follow the logs of the shown nodes:
                      docker logs -f in Compose mode, the nodes' log files
                      (scripts/local.sh logs) in local mode
      --once          print one refresh (with -v and -d, the last log lines)
                      and exit; status 2 when no node answers
  -h, --help          this text

Examples:
  scripts/monitor.sh                          # everything, every 2s
  scripts/monitor.sh --proposers --interval 5
  scripts/monitor.sh --acceptors --learners --no-follow
  scripts/monitor.sh -d -n                    # live view with the last docker logs lines
  scripts/monitor.sh -a -l --once             # one refresh, then exit
  scripts/monitor.sh --verbose --docker-logs
EOF
}

ROLES=()
INTERVAL=2
FOLLOW=1
ONCE=0
VERBOSE=0
DOCKER_LOGS=0
LOG_LINES=${MONITOR_LOG_LINES:-10}

add_role() {
	local r
	for r in ${ROLES[@]+"${ROLES[@]}"}; do
		[[ $r == "$1" ]] && return 0
	done
	ROLES+=("$1")
}

# parse_args expands combined short flags (-pa, -ni 5) and checks values.
parse_args() {
	local arg flags i f
	while (($#)); do
		arg=$1
		shift
		case $arg in
		-p | --proposers) add_role proposer ;;
		-a | --acceptors) add_role acceptor ;;
		-l | --learners) add_role learner ;;
		-c | --clients) add_role client ;;
		-n | --no-follow) FOLLOW=0 ;;
		--once) ONCE=1 ;;
		-v | --verbose) VERBOSE=1 ;;
		-d | --docker-logs) DOCKER_LOGS=1 ;;
		-h | --help)
			usage
			exit 0
			;;
		-i | --interval)
			(($#)) || die "$arg needs a number of seconds"
			INTERVAL=$1
			shift
			;;
		--interval=*) INTERVAL=${arg#*=} ;;
		-i[0-9]*) INTERVAL=${arg#-i} ;;
		-[palcnvdhi]?*)
			# -pa, -nv, -pi 5: split into single flags
			flags=()
			for ((i = 1; i < ${#arg}; i++)); do
				f=${arg:i:1}
				if [[ $f == i ]]; then
					if ((i + 1 < ${#arg})); then
						flags+=(-i "${arg:i+1}")
					else
						flags+=(-i)
					fi
					break
				fi
				flags+=("-$f")
			done
			set -- "${flags[@]}" "$@"
			;;
		*) die "unknown option '$arg' (see scripts/monitor.sh -h)" ;;
		esac
	done
	[[ $INTERVAL =~ ^[0-9]+([.][0-9]+)?$ && ! $INTERVAL =~ ^0+([.]0*)?$ ]] ||
		die "--interval '$INTERVAL': want a positive number of seconds"
}

# shown_nodes prints the names of the nodes of the selected roles.
shown_nodes() {
	local n r
	for n in "${PAXOS_NODES[@]}"; do
		r=$(node_role "$n")
		if ((${#ROLES[@]} == 0)) || [[ " ${ROLES[*]} " == *" $r "* ]]; then
			echo "$n"
		fi
	done
}

watch_args() {
	local r args=(watch --interval "${INTERVAL}s")
	for r in ${ROLES[@]+"${ROLES[@]}"}; do
		args+=(--role "$r")
	done
	printf '%s\n' "${args[@]}"
}

# verbose_logs prints the last log lines each shown node keeps (/view-logs).
verbose_logs() {
	local n
	echo
	printf '%sRecent log lines (GET /view-logs, last %s per node)%s\n' "$C_BOLD" "$LOG_LINES" "$C_RESET"
	while IFS= read -r n; do
		if http GET "$(node_url "$n")/view-logs"; then
			printf '%s\n' "$HTTP_BODY" | jq -r --arg n "$n" --argjson k "$LOG_LINES" \
				'(.logs // [])[-$k:][] | "\($n | . + " " * (10 - length)) \(.)"' 2>/dev/null || true
		else
			printf '%-10s (no answer: %s)\n' "$n" "$( ((HTTP_STATUS == 0)) && echo down || echo "HTTP $HTTP_STATUS")"
		fi
	done < <(shown_nodes)
}

# prefix NAME copies stdin to stdout, each line headed by the node's name.
prefix() {
	local line
	while IFS= read -r line; do
		printf '%s%-10s%s| %s\n' "$C_BLUE" "$1" "$C_RESET" "$line"
	done
}

LOG_PIDS=()
stop_logs() {
	local p
	for p in ${LOG_PIDS[@]+"${LOG_PIDS[@]}"}; do
		kill "$p" 2>/dev/null || true
	done
	LOG_PIDS=()
}

# follow_logs streams the logs of the shown nodes until Ctrl-C.
follow_logs() {
	local n mode
	mode=$(paxos_mode)
	echo
	if [[ $mode == compose ]]; then
		printf '%sFollowing docker logs of: %s (Ctrl-C to stop)%s\n' "$C_BOLD" "$(shown_nodes | tr '\n' ' ')" "$C_RESET"
	else
		printf '%sFollowing the local nodes'"'"' logs (volumes/NAME/paxosd.log) of: %s (Ctrl-C to stop)%s\n' \
			"$C_BOLD" "$(shown_nodes | tr '\n' ' ')" "$C_RESET"
	fi
	trap 'stop_logs; exit 0' INT TERM
	trap stop_logs EXIT
	while IFS= read -r n; do
		# The background job execs docker logs / tail, so its PID is the
		# stream's: stop_logs ends exactly the processes started here.
		node_logs "$n" "$LOG_LINES" follow > >(prefix "$n") &
		LOG_PIDS+=($!)
	done < <(shown_nodes)
	wait
}

# last_logs prints the last lines of the shown nodes' logs.
last_logs() {
	local n
	echo
	printf '%sLast %s log lines per node (%s)%s\n' "$C_BOLD" "$LOG_LINES" \
		"$([[ $(paxos_mode) == compose ]] && echo "docker logs" || echo "scripts/local.sh logs")" "$C_RESET"
	while IFS= read -r n; do
		node_logs "$n" "$LOG_LINES" 2>&1 | prefix "$n" || true
	done < <(shown_nodes)
}

main() {
	parse_args "$@"
	need curl jq
	ensure_paxosctl
	local args status=0
	mapfile -t args < <(watch_args)

	if ((ONCE)); then
		"$PAXOSCTL" "${args[@]}" --count 1 || status=$?
		((VERBOSE)) && verbose_logs
		((DOCKER_LOGS)) && last_logs
		return "$status"
	fi

	if ((DOCKER_LOGS && FOLLOW)); then
		# One view, then the logs (a live view and a log stream would
		# overwrite each other on one terminal).
		"$PAXOSCTL" "${args[@]}" --count 1 || status=$?
		((VERBOSE)) && verbose_logs
		follow_logs
		return "$status"
	fi

	if ((!VERBOSE && !DOCKER_LOGS)); then
		exec "$PAXOSCTL" "${args[@]}"
	fi
	# Live with log lines (-v, or -d with -n): one refresh of the view plus
	# the last log lines, redrawn every interval.
	trap 'echo; exit 0' INT TERM
	while :; do
		local out
		out=$("$PAXOSCTL" "${args[@]}" --count 1 2>&1 || true)
		[[ -t 1 ]] && printf '\e[H\e[2J'
		printf '%s\n' "$out"
		((VERBOSE)) && verbose_logs
		((DOCKER_LOGS)) && last_logs
		[[ -t 1 ]] || echo
		sleep "$INTERVAL"
	done
}

main "$@"
