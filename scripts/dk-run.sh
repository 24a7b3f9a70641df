#!/usr/bin/env bash
# dk-run.sh - bring a deployed paxos cluster into service: check that all 10
# nodes are up and healthy, make sure a leader is elected (forcing an
# election when none appears), check that the cluster can make progress,
# then print "paxosctl status" and the URLs. Works on the Compose cluster
# (scripts/dk-deploy.sh) and on the local processes (scripts/local.sh up).
#
#   scripts/dk-run.sh [--timeout SECONDS]
#
# Exit status 1 when the cluster cannot make progress (no quorum of
# acceptors, no learner, no leader, or a linearizable read fails).
set -euo pipefail

PROG=dk-run.sh
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

TIMEOUT=30    # seconds to wait for the nodes to be healthy
LEADER_WAIT=5 # seconds to wait for a leader before forcing an election

usage() {
	cat <<EOF
Usage: scripts/dk-run.sh [--timeout SECONDS]

Checks that the 10 nodes run and are healthy (waiting up to ${TIMEOUT}s), that
a leader is elected (if none appears within ${LEADER_WAIT}s it forces an
election with 'paxosctl leader --elect'), and that the cluster can make
progress (a linearizable read, which needs the leader and a quorum of
acceptors, and paxosctl status). Then prints the status and the URLs.

Run it after scripts/dk-deploy.sh (Compose) or scripts/local.sh up (local
processes); it finds out which one runs. Exit status 1 when the cluster
cannot make progress; nodes that are down while the rest can make progress
are a warning.
EOF
}

while (($#)); do
	case $1 in
	--timeout)
		[[ ${2:-} =~ ^[0-9]+$ ]] || die "--timeout needs a number of seconds"
		TIMEOUT=$2
		shift
		;;
	-h | --help)
		usage
		exit 0
		;;
	*) die "unknown argument '$1' (see scripts/dk-run.sh --help)" ;;
	esac
	shift
done

need curl jq
ensure_paxosctl
MODE=$(paxos_mode)

# --- 1. the nodes run ------------------------------------------------------------
heading "1. Nodes ($MODE mode)"
if [[ $MODE == compose ]]; then
	printf '%-10s %-10s %s\n' NAME STATE HEALTHCHECK
	for n in "${PAXOS_NODES[@]}"; do
		state=$(docker inspect --format '{{.State.Status}}' "$n" 2>/dev/null) || state=missing
		hc=$(docker inspect --format '{{if .State.Health}}{{.State.Health.Status}}{{else}}-{{end}}' "$n" 2>/dev/null) || hc=-
		printf '%-10s %-10s %s\n' "$n" "$state" "$hc"
	done
elif ! "$PAXOS_ROOT/scripts/local.sh" status; then
	warn "not every local node runs and is healthy (start them with 'scripts/local.sh up')"
fi

# --- 2. health ---------------------------------------------------------------------
heading "2. Health of the ${#PAXOS_NODES[@]} nodes (GET /health)"
unhealthy() {
	local n sick=()
	for n in "${PAXOS_NODES[@]}"; do
		node_healthy "$n" || sick+=("$n")
	done
	printf '%s\n' "${sick[*]}"
	((${#sick[@]} == 0))
}
deadline=$((SECONDS + TIMEOUT))
until bad=$(unhealthy); do
	((SECONDS < deadline)) || break
	sleep 0.5
done
if [[ -z $bad ]]; then
	ok "all ${#PAXOS_NODES[@]} nodes answer GET /health with 200"
else
	warn "not healthy after ${TIMEOUT}s: $bad"
fi

# --- 3. the leader ---------------------------------------------------------------
heading "3. Leader"
leader=""
deadline=$((SECONDS + LEADER_WAIT))
until leader=$("$PAXOSCTL" -w json leader 2>/dev/null); do
	leader=""
	((SECONDS < deadline)) || break
	sleep 0.5
done
if [[ -z $leader ]]; then
	info "no leader after ${LEADER_WAIT}s: forcing an election (paxosctl leader --elect)"
	leader=$("$PAXOSCTL" --timeout 10s -w json leader --elect) || leader=""
fi
if [[ -z $leader ]]; then
	"$PAXOSCTL" -w table status || true
	die "no leader could be elected: the cluster cannot make progress (is a quorum of acceptors up?)"
fi
jq -r '"leader: \(.name) (id \(.id), \(.address)), ballot \(.ballot), chosen slot \(.chosen_slot // "none")"' <<<"$leader"

# --- 4. progress -----------------------------------------------------------------
heading "4. Can the cluster make progress?"
progress=0
if read_err=$("$PAXOSCTL" read --consistency linearizable --limit 1 2>&1 >/dev/null); then
	ok "a linearizable read went through the leader and a quorum of acceptors"
else
	err "a linearizable read failed: $read_err"
	progress=1
fi

# --- 5. status and URLs ------------------------------------------------------------
heading "5. Status (paxosctl status)"
"$PAXOSCTL" -w table status || progress=1

heading "URLs"
printf '%-10s %-24s %s\n' NODE API "MONITOR (status page, /metrics, /debug/pprof/)"
for n in "${PAXOS_NODES[@]}"; do
	printf '%-10s %-24s %s\n' "$n" "$(node_url "$n")" "$(monitor_url "$n")"
done
cat <<EOF

Next:
  scripts/client.sh              interactive client (send, read, leader, status)
  scripts/monitor.sh             live view of the cluster
  bin/paxosctl send hello        append a value; bin/paxosctl read to read the log
EOF

if ((progress)); then
	die "the cluster cannot make progress (see above)"
fi
if [[ -n $bad ]]; then
	warn "the cluster works, but these nodes are not healthy: $bad"
fi
ok "the cluster is ready"
