#!/usr/bin/env bash
# dk-deploy.sh - deploy the 10-node paxos cluster with Docker Compose: build
# the static binaries and the image paxos:local, start the containers
# ("up -d"), and wait until every node's healthcheck passes.
#
#   scripts/dk-deploy.sh [--no-build] [--timeout SECONDS]
#
# The data of each node stays in ./volumes/<name> (or $PAXOS_VOLUMES/<name>),
# so deploying again keeps the log. Stop with "make down" or
# scripts/dk-cleanup.sh. Exit status 1 when a node is not healthy in time.
set -euo pipefail

cd "$(dirname "$0")/.."
PROG=scripts/dk-deploy.sh
COMPOSE=scripts/compose.sh
IMAGE=${PAXOS_IMAGE:-paxos:local}
TIMEOUT=60
BUILD=1

NODES=(proposer1 proposer2 proposer3 acceptor1 acceptor2 acceptor3 learner1 learner2 client1 client2)

usage() {
	cat <<EOF2
Usage: $PROG [--no-build] [--timeout SECONDS]

Build bin/paxosd, bin/paxosctl and the image $IMAGE (make image), start the
cluster of docker-compose.yml in the background and wait up to ${TIMEOUT}s
until all ${#NODES[@]} containers are healthy.

  --no-build         use the image as it is
  --timeout SECONDS  how long to wait for the healthchecks (default $TIMEOUT)
EOF2
}

die() {
	printf '%s: %s\n' "$PROG" "$*" >&2
	exit 1
}

while (($#)); do
	case $1 in
	--no-build) BUILD=0 ;;
	--timeout)
		[[ ${2:-} =~ ^[0-9]+$ ]] || die "--timeout needs a number of seconds"
		TIMEOUT=$2
		shift
		;;
	-h | --help)
		usage
		exit 0
		;;
	*) die "unknown argument '$1' (see $PROG --help)" ;;
	esac
	shift
done

# --- prerequisites -----------------------------------------------------------
command -v docker >/dev/null 2>&1 || die "docker is not installed"
docker info >/dev/null 2>&1 || die "the Docker engine does not answer (is it running? may you use it?)"
"$COMPOSE" --which >/dev/null || die "Docker Compose is not installed (docker compose or docker-compose)"
[[ -f docker-compose.yml ]] || die "docker-compose.yml not found"

# A node of the local mode (scripts/local.sh) would hold the ports.
for port in 3001 4001 5001 6001; do
	if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null &&
		! docker ps --format '{{.Names}}' | grep -qx "${NODES[0]}"; then
		die "port $port is in use by another process (the local cluster? stop it with 'scripts/local.sh down')"
	fi
done

# --- build -------------------------------------------------------------------
if ((BUILD)); then
	echo "building the binaries and the image $IMAGE (make image)"
	make --no-print-directory image IMAGE="$IMAGE" PAXOS_IMAGE="$IMAGE" || die "make image failed"
elif ! docker image inspect "$IMAGE" >/dev/null 2>&1; then
	die "image $IMAGE not found: run 'make image' (or drop --no-build)"
fi

# --- start -------------------------------------------------------------------
volumes=${PAXOS_VOLUMES:-./volumes}
for n in "${NODES[@]}"; do
	mkdir -p "$volumes/$n"
done
# Closed by default (issue 19): the cluster secret made into .env on first
# run and reused; with TLS=1 the certificates, each node's mounted at /tls.
# shellcheck source=scripts/secure.sh
. scripts/secure.sh
secure_up
if tls_on; then
	echo "TLS is on (certificates in $PAXOS_CERTS); paxosctl: eval \"\$(scripts/secure.sh env)\""
fi
echo "starting ${#NODES[@]} containers ($("$COMPOSE" --which) up -d)"
"$COMPOSE" up -d --no-build "${NODES[@]}" || die "compose up failed"

# --- wait --------------------------------------------------------------------
# health NAME prints the container's health: healthy, starting, unhealthy,
# exited, ... (docker inspect).
health() {
	docker inspect --format '{{if .State.Running}}{{if .State.Health}}{{.State.Health.Status}}{{else}}running{{end}}{{else}}{{.State.Status}}{{end}}' "$1" 2>/dev/null || echo missing
}

echo "waiting up to ${TIMEOUT}s for the healthchecks..."
deadline=$((SECONDS + TIMEOUT))
while :; do
	bad=()
	for n in "${NODES[@]}"; do
		h=$(health "$n")
		[[ $h == healthy ]] || bad+=("$n:$h")
	done
	((${#bad[@]} == 0)) && break
	if ((SECONDS >= deadline)); then
		printf '%s: not healthy after %ss: %s\n' "$PROG" "$TIMEOUT" "${bad[*]}" >&2
		for b in "${bad[@]}"; do
			printf -- '--- last lines of docker logs %s ---\n' "${b%%:*}" >&2
			docker logs --tail 10 "${b%%:*}" >&2 || true
		done
		exit 1
	fi
	sleep 1
done
echo "all ${#NODES[@]} nodes are healthy ($((TIMEOUT - deadline + SECONDS))s)"
scheme=http curl_tls=
if tls_on; then
	scheme=https curl_tls="--cacert certs/ca.crt "
fi
cat <<EOF2
  write:   curl -s ${curl_tls}-XPOST $scheme://localhost:6001/send -d '{"value":"hello"}'
  read:    curl -s ${curl_tls}'$scheme://localhost:6001/read?consistency=linearizable'
  leader:  curl -s ${curl_tls}$scheme://localhost:3001/status
  metrics: $scheme://localhost:8001/metrics   status page: $scheme://localhost:8001/
  break:   docker stop acceptor1; docker start acceptor1   (see README, "Fault drills")
  paxosctl: eval "\$(scripts/secure.sh env)"; bin/paxosctl status
EOF2
