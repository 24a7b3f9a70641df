#!/usr/bin/env bash
# compose.sh - run Docker Compose, whichever flavour this machine has: the
# "docker compose" v2 plugin when it answers, else the docker-compose v1
# program. This is the one place that decides; the Makefile and the fault
# drills (test/drill) go through it.
#
#   scripts/compose.sh ARGS...      # docker compose ARGS... / docker-compose ARGS...
#   scripts/compose.sh --which      # print the command it would run
#
# DOCKER_COMPOSE, when set, is used as is (e.g. DOCKER_COMPOSE=docker-compose).
# Runs in the repository root, so docker-compose.yml and .env are found
# from any folder.
set -euo pipefail

cd "$(dirname "$0")/.."

compose=()
if [[ -n ${DOCKER_COMPOSE:-} ]]; then
	read -r -a compose <<<"$DOCKER_COMPOSE"
elif docker compose version >/dev/null 2>&1; then
	compose=(docker compose)
elif command -v docker-compose >/dev/null 2>&1; then
	compose=(docker-compose)
else
	echo "compose.sh: neither 'docker compose' nor 'docker-compose' is installed" >&2
	exit 127
fi

if [[ ${1:-} == --which ]]; then
	printf '%s\n' "${compose[*]}"
	exit 0
fi
exec "${compose[@]}" "$@"
