#!/usr/bin/env bash
# swarm-drill.sh - the live multi-engine Swarm drill of issue 18 (make
# swarm-drill). Three Docker engines on this machine, each dockerd in a
# network namespace of its own (its own data root, exec root, pidfile,
# socket and managed containerd, the vfs storage driver), linked by veth
# pairs to a bridge in a fourth namespace (the hub, 10.213.7.1/24). Nothing
# is added to the host's network: the engines' iptables rules live in their
# own namespaces, the drill's traffic runs in the hub.
#
# The engines form one swarm (three managers), the image of "make image" is
# copied with docker save | docker load, and deploy/swarm/paxos-stack.yml is
# deployed with --resolve-image never. TestSwarmDrill (test/drill, run in
# the hub) then runs the drills' workload and checker while this script, as
# its control program, stops a task's container and kills a whole engine.
# A trap tears everything down, on success, failure or Ctrl-C.
#
# Usage: scripts/swarm-drill.sh              the whole drill (needs root)
#        scripts/swarm-drill.sh ctl CMD ...  what the test calls (below)
# Env:   PAXOS_IMAGE (paxos:local), SWARM_DRILL_KEEP=1 keeps the engines up
#        after a failure (tear down later with: scripts/swarm-drill.sh down DIR)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
IMAGE=${PAXOS_IMAGE:-paxos:local}
PREFIX=pxsw                 # namespaces pxsw-hub, pxsw-e1..3; cgroups pxsw-e1..3
SUBNET=10.213.7             # the hub's /24; engine N is .1N
ENGINES=(1 2 3)
STACK=paxos
# Where each node runs: engine 3 hosts proposer3 and acceptor3 only, so
# that killing it leaves two acceptors (a quorum) and every other role.
declare -A PLACE=([proposer1]=1 [acceptor1]=1 [learner1]=1 [client1]=1
	[proposer2]=2 [acceptor2]=2 [learner2]=2 [client2]=2
	[proposer3]=3 [acceptor3]=3)
declare -A PORT=([proposer1]=3001 [proposer2]=3002 [proposer3]=3003
	[acceptor1]=4001 [acceptor2]=4002 [acceptor3]=4003
	[learner1]=5001 [learner2]=5002 [client1]=6001 [client2]=6002)

say() { printf '%s swarm-drill: %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() {
	say "FAIL: $*"
	exit 1
}

ip_of() { echo "$SUBNET.1$1"; }
dk() { # dk N ARGS: the docker CLI of engine N
	local n=$1
	shift
	docker -H "unix://$DIR/e$n/docker.sock" "$@"
}

# --- engines ------------------------------------------------------------------

start_engine() {
	local n=$1 d=$DIR/e$1
	mkdir -p "$d"
	# its own (empty) configuration: not the host engine's /etc/docker/daemon.json
	echo '{}' >"$d/daemon.json"
	# nsenter --net, not "ip netns exec": that one remounts /sys, which hides
	# the cgroup mounts from dockerd. setsid: the engine is its own session.
	setsid nsenter --net="/run/netns/$PREFIX-e$n" dockerd \
		--config-file "$d/daemon.json" --data-root "$d/data" --exec-root "$d/exec" --pidfile "$d/docker.pid" \
		-H "unix://$d/docker.sock" --storage-driver vfs \
		--cgroup-parent "/$PREFIX-e$n" --log-level warn >>"$d/dockerd.log" 2>&1 </dev/null &
	disown # its SIGKILL is the drill, not news
	local pid=$! deadline=$((SECONDS + 60))
	until dk "$n" info >/dev/null 2>&1; do
		kill -0 "$pid" 2>/dev/null || die "engine $n exited: $(tail -5 "$d/dockerd.log")"
		((SECONDS < deadline)) || die "engine $n did not answer within 60s: $(tail -5 "$d/dockerd.log")"
		sleep 0.5
	done
}

# engine_pids N: every process of engine N: those in its network namespace
# (dockerd, containerd, shims, docker-proxy) and those in its cgroups (the
# containers, which have namespaces of their own).
engine_pids() {
	local n=$1 f
	ip netns pids "$PREFIX-e$n" 2>/dev/null || true
	for f in /sys/fs/cgroup/*/"$PREFIX-e$n"; do
		[[ -d $f ]] && find "$f" -name cgroup.procs -exec cat {} + 2>/dev/null
	done
	true
}

# kill_engine N: the machine dies: SIGKILL to every process of engine N.
kill_engine() {
	local n=$1 pids deadline=$((SECONDS + 30))
	while :; do
		mapfile -t pids < <(engine_pids "$n" | sort -u)
		((${#pids[@]} == 0)) && break
		kill -9 "${pids[@]}" 2>/dev/null || true
		((SECONDS < deadline)) || die "engine $n: processes left after SIGKILL: ${pids[*]}"
		sleep 0.2
	done
	rm -f "$DIR/e$n/docker.pid" "$DIR/e$n/exec/containerd/containerd.pid"
}

remove_cgroups() {
	local n=$1
	find /sys/fs/cgroup/*/"$PREFIX-e$n" -depth -type d -exec rmdir {} + 2>/dev/null || true
}

# down DIR: kill the engines, delete the namespaces and the folder.
down() {
	local n
	for n in "${ENGINES[@]}"; do
		kill_engine "$n" || true
		remove_cgroups "$n"
	done
	for n in "${ENGINES[@]}"; do ip netns del "$PREFIX-e$n" 2>/dev/null || true; done
	ip netns del "$PREFIX-hub" 2>/dev/null || true
	# the engines mount in the host's mount namespace (under DIR): unmount
	# whatever is left there.
	local m
	for m in $(grep -o " $DIR/[^ ]*" /proc/self/mounts | sort -r || true); do umount -l "$m" || true; done
	rm -rf "$DIR"
}

network_up() {
	local n
	ip netns add "$PREFIX-hub"
	ip -n "$PREFIX-hub" link set lo up
	ip -n "$PREFIX-hub" link add br0 type bridge
	ip -n "$PREFIX-hub" addr add "$SUBNET.1/24" dev br0
	ip -n "$PREFIX-hub" link set br0 up
	# No default route in the engines: nothing leaves the subnet, and the
	# agents' image pulls (Swarm tries one even with the image loaded) fail
	# at once instead of waiting for a DNS server they cannot reach.
	for n in "${ENGINES[@]}"; do
		ip netns add "$PREFIX-e$n"
		ip -n "$PREFIX-e$n" link set lo up
		ip -n "$PREFIX-hub" link add "ve$n" type veth peer name eth0 netns "$PREFIX-e$n"
		ip -n "$PREFIX-hub" link set "ve$n" master br0 up
		ip -n "$PREFIX-e$n" addr add "$(ip_of "$n")/24" dev eth0
		ip -n "$PREFIX-e$n" link set eth0 up
	done
}

swarm_up() {
	local n token
	dk 1 swarm init --advertise-addr "$(ip_of 1)" --listen-addr "$(ip_of 1):2377" >/dev/null
	token=$(dk 1 swarm join-token -q manager)
	for n in 2 3; do
		dk "$n" swarm join --token "$token" --advertise-addr "$(ip_of "$n")" \
			--listen-addr "$(ip_of "$n"):2377" "$(ip_of 1):2377" >/dev/null
	done
	local name host
	for name in "${!PLACE[@]}"; do
		host=$(dk "${PLACE[$name]}" info --format '{{.Swarm.NodeID}}')
		dk 1 node update --label-add "paxos.$name=true" "$host" >/dev/null
	done
	say "swarm: $(dk 1 node ls --format '{{.Hostname}} {{.ManagerStatus}}' | wc -l) managers"
}

# --- what the test calls --------------------------------------------------------

# task_container NAME: the running container of service NAME on its engine.
task_container() {
	dk "${PLACE[$1]}" ps -q --filter "label=com.docker.swarm.service.name=${STACK}_$1" --filter status=running
}

ctl() {
	local cmd=$1
	shift
	case $cmd in
	stop-task) # docker stop NAME's container; wait for Swarm's new one on the same engine and volume
		local name=$1 n=${PLACE[$1]} old new vol newvol deadline=$((SECONDS + 90))
		old=$(task_container "$name")
		[[ -n $old ]] || die "no running container for $name"
		vol=$(dk "$n" inspect --format '{{range .Mounts}}{{.Name}}{{end}}' "$old")
		dk "$n" stop "$old" >/dev/null
		while :; do
			new=$(task_container "$name")
			[[ -n $new && $new != "$old" ]] && break
			((SECONDS < deadline)) || die "Swarm did not restart $name within 90s"
			sleep 0.5
		done
		newvol=$(dk "$n" inspect --format '{{range .Mounts}}{{.Name}}{{end}}' "$new")
		[[ $newvol == "$vol" ]] || die "$name restarted with volume $newvol, not $vol"
		echo "$name: container ${old:0:12} stopped, Swarm started ${new:0:12} on engine $n with volume $vol"
		;;
	kill-engine) kill_engine "$1" && echo "engine $1 killed (SIGKILL to dockerd, containerd, shims, containers)" ;;
	wipe-volume) # the disk of NAME is lost: its volume emptied while its engine is down
		local name=$1 n=${PLACE[$1]} vol
		vol=$DIR/e$n/data/volumes/${STACK}_$name/_data
		[[ -d $vol ]] || die "no volume folder $vol"
		[[ -z $(engine_pids "$n") ]] || die "engine $n runs: kill it first"
		find "$vol" -mindepth 1 -delete
		echo "$name: volume ${STACK}_$name emptied on engine $n"
		;;
	logs) dk "${PLACE[$1]}" logs "$(task_container "$1")" 2>&1 ;;
	elect) # paxosctl leader --elect NAME, run in NAME's container (paxosctl
		# reads the secret from the task's CLUSTER_SECRET_FILE, as paxosd does)
		dk "${PLACE[$1]}" exec "$(task_container "$1")" paxosctl leader --elect "$1"
		;;
	start-engine)
		remove_cgroups "$1"
		start_engine "$1"
		echo "engine $1 started again"
		;;
	*) die "unknown ctl command $cmd" ;;
	esac
}

# --- the drill ------------------------------------------------------------------

TEST_PID=
on_exit() {
	local rc=$?
	if [[ -n $TEST_PID ]]; then
		kill "$TEST_PID" 2>/dev/null || true
		wait "$TEST_PID" 2>/dev/null || true
	fi
	if [[ $rc != 0 && -n ${SWARM_DRILL_KEEP:-} ]]; then
		say "kept: $DIR (tear down: scripts/swarm-drill.sh down $DIR)"
	else
		down
		say "torn down: engines, namespaces $PREFIX-*, $DIR"
	fi
	exit "$rc"
}

main() { # [up]: set up and keep it, no test
	[[ $(id -u) == 0 ]] || die "needs root (network namespaces, dockerd)"
	command -v dockerd >/dev/null || die "dockerd not found"
	ip netns list | grep -q "^$PREFIX-" && die "namespaces $PREFIX-* exist: another swarm drill runs (or tear down: ip netns del ...)"
	docker image inspect "$IMAGE" >/dev/null 2>&1 || die "image $IMAGE not found: make image"

	DIR=$(mktemp -d /tmp/pxsw.XXXXXX)
	export SWARM_DRILL_DIR=$DIR
	trap on_exit EXIT
	trap 'exit 130' INT TERM

	local t0=$SECONDS n
	network_up
	for n in "${ENGINES[@]}"; do start_engine "$n"; done
	say "3 engines up in their namespaces ($(dk 1 version --format '{{.Server.Version}}'), vfs)"
	swarm_up
	for n in "${ENGINES[@]}"; do docker save "$IMAGE" | dk "$n" load >/dev/null; done
	say "image $IMAGE loaded into the 3 engines"
	head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$DIR/secret"
	dk 1 secret create paxos_cluster_secret "$DIR/secret" >/dev/null
	PAXOS_IMAGE=$IMAGE dk 1 stack deploy --resolve-image never -c "$ROOT/deploy/swarm/paxos-stack.yml" "$STACK" >/dev/null
	say "stack deployed ($((SECONDS - t0))s so far)"
	[[ ${1:-} == up ]] && {
		say "up: SWARM_DRILL_DIR=$DIR; tear down with: scripts/swarm-drill.sh down $DIR"
		trap - EXIT
		return 0
	}

	local addrs="" name
	for name in "${!PLACE[@]}"; do addrs+="${addrs:+,}$name=$(ip_of "${PLACE[$name]}"):${PORT[$name]}"; done
	local test_bin=$DIR/drill.test
	(cd "$ROOT" && go test -c -tags drill -o "$test_bin" ./test/drill/)
	say "running TestSwarmDrill in the hub namespace"
	# nsenter --net: the test's children (ctl start-engine) need the host's /sys
	# in the background, so that a signal to this script tears down at once
	# (bash runs traps only between commands, and wait is one)
	(cd "$ROOT/test/drill" && exec nsenter --net="/run/netns/$PREFIX-hub" env \
		SWARM_DRILL_ADDRS="$addrs" SWARM_DRILL_CTL="$ROOT/scripts/swarm-drill.sh" SWARM_DRILL_DIR="$DIR" \
		"$test_bin" -test.run '^TestSwarmDrill$' -test.v -test.count=1 -test.timeout 20m) &
	TEST_PID=$!
	wait "$TEST_PID"
	TEST_PID=
	say "PASS in $((SECONDS - t0))s"
}

case ${1:-} in
ctl)
	shift
	DIR=${SWARM_DRILL_DIR:?SWARM_DRILL_DIR not set}
	ctl "$@"
	;;
down)
	DIR=${2:?usage: swarm-drill.sh down DIR}
	down
	;;
"" | up) main "$@" ;;
*) die "usage: swarm-drill.sh [ctl CMD ARGS | down DIR]" ;;
esac
