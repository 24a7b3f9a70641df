#!/usr/bin/env bash
# dk-cleanup.sh - stop and remove the paxos cluster: the Compose containers
# (compose down) or, without them, the local processes (scripts/local.sh
# down); then, if asked, the image and the nodes' data.
#
#   scripts/dk-cleanup.sh [--images] [--volumes] [--yes]
#
# On a terminal, without flags, it asks whether to remove the image and the
# data. Without a terminal it never asks: it removes only what flags say.
set -euo pipefail

PROG=dk-cleanup.sh
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

IMAGE=${PAXOS_IMAGE:-paxos:local}
VOLUMES_DIR=${PAXOS_VOLUMES:-./volumes}
[[ $VOLUMES_DIR == /* ]] || VOLUMES_DIR=$PAXOS_ROOT/${VOLUMES_DIR#./}

usage() {
	cat <<EOF
Usage: scripts/dk-cleanup.sh [--images] [--volumes] [--yes]

Stops and removes the cluster: the Compose containers and network
(scripts/compose.sh down) when this project has containers, otherwise the
local processes (scripts/local.sh down).

  --images    also remove the image $IMAGE (Compose)
  --volumes   also delete every node's data (the promises, accepted values
              and the replicated log are lost): $VOLUMES_DIR in Compose
              mode, scripts/local.sh down --purge in local mode
  --yes       both of the above, without asking
  -h, --help  this text

Without flags, on a terminal, it asks about the image and the data (default
no); without a terminal it keeps both.
EOF
}

RM_IMAGES=""
RM_VOLUMES=""
while (($#)); do
	case $1 in
	--images) RM_IMAGES=1 ;;
	--volumes) RM_VOLUMES=1 ;;
	-y | --yes) RM_IMAGES=1 RM_VOLUMES=1 ;;
	-h | --help)
		usage
		exit 0
		;;
	*) die "unknown argument '$1' (see scripts/dk-cleanup.sh --help)" ;;
	esac
	shift
done
ASK=0
[[ -n $RM_IMAGES || -n $RM_VOLUMES ]] || ASK=1

# confirm QUESTION asks y/N on a terminal; never without one.
confirm() {
	local answer
	is_tty || return 1
	read -r -p "$1 [y/N] " answer || return 1
	[[ $answer == [yY] || $answer == [yY][eE][sS] ]]
}

have_docker=0
if command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then
	have_docker=1
fi

# Compose mode when this project has containers (running or not). Never
# "compose down" otherwise: the network paxos-network has a fixed name and
# may belong to another project's cluster.
compose_containers=""
if ((have_docker)) && [[ -f $PAXOS_ROOT/docker-compose.yml ]]; then
	compose_containers=$("$PAXOS_ROOT/scripts/compose.sh" ps -a -q 2>/dev/null || true)
fi
if [[ -n $compose_containers ]]; then
	MODE=compose
else
	MODE=local
	VOLUMES_DIR=$PAXOS_ROOT/volumes # where local.sh keeps the data
fi

# --- the questions ------------------------------------------------------------
if ((ASK)); then
	if is_tty; then
		if ((have_docker)) && docker image inspect "$IMAGE" >/dev/null 2>&1 &&
			confirm "Remove the image $IMAGE?"; then
			RM_IMAGES=1
		fi
		if confirm "Delete the data of every node in $VOLUMES_DIR (the replicated log is lost)?"; then
			RM_VOLUMES=1
		fi
	else
		info "not a terminal: keeping the image and the data (use --images, --volumes or --yes)"
	fi
fi

status=0

# --- the nodes -----------------------------------------------------------------
if [[ $MODE == compose ]]; then
	heading "Compose: $("$PAXOS_ROOT/scripts/compose.sh" --which) down"
	"$PAXOS_ROOT/scripts/compose.sh" down --remove-orphans || {
		err "compose down failed"
		status=1
	}
	if [[ -n $RM_VOLUMES ]]; then
		heading "Deleting the nodes' data in $VOLUMES_DIR"
		for n in "${PAXOS_NODES[@]}"; do
			if [[ -d $VOLUMES_DIR/$n ]]; then
				find "$VOLUMES_DIR/$n" -mindepth 1 -delete || status=1
			fi
		done
		info "deleted (the folders stay, empty)"
	else
		info "data kept in $VOLUMES_DIR"
	fi
else
	heading "Local mode: scripts/local.sh down${RM_VOLUMES:+ --purge}"
	if [[ -n $RM_VOLUMES ]]; then
		"$PAXOS_ROOT/scripts/local.sh" down --purge || status=1
	else
		"$PAXOS_ROOT/scripts/local.sh" down || status=1
	fi
fi

# --- the image -----------------------------------------------------------------
if [[ -n $RM_IMAGES ]]; then
	if ((!have_docker)); then
		info "no Docker engine: no image to remove"
	elif docker image inspect "$IMAGE" >/dev/null 2>&1; then
		heading "Removing the image $IMAGE"
		docker image rm "$IMAGE" || {
			err "could not remove $IMAGE"
			status=1
		}
	else
		info "image $IMAGE not found: nothing to remove"
	fi
fi

((status == 0)) || die "cleanup finished with errors (see above)"
ok "cleanup done"
