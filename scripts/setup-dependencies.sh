#!/usr/bin/env bash
# setup-dependencies.sh - install what a fresh Debian/Ubuntu host needs to
# build, run and test the paxos cluster: Go >= 1.26 (checked; it is not in
# the distribution's packages, so the script says where to get it), make,
# git, curl, jq, tmux and shellcheck (the scripts and their tests), then
# the Docker engine and Compose through scripts/setup-docker.sh (the seed's
# setup-docker.sh). Idempotent: it installs only what is missing.
#
#   scripts/setup-dependencies.sh              # install what is missing
#   scripts/setup-dependencies.sh --check      # only report; exit 1 if missing
#   scripts/setup-dependencies.sh --no-docker  # local mode only: no Docker
set -euo pipefail

PROG=setup-dependencies.sh
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

GO_MIN=1.26
CHECK=0
DOCKER=1

usage() {
	cat <<EOF
Usage: scripts/setup-dependencies.sh [--check] [--no-docker]

Checks Go (>= $GO_MIN), make, git, curl, jq, tmux and shellcheck and
installs the missing ones with apt-get (as root, or through sudo); then runs
scripts/setup-docker.sh, which installs the Docker engine and Compose from
the distribution's packages and starts the engine (on a terminal it asks
first).

  --check      only report what is there and what is missing (exit 1 when
               something is missing)
  --no-docker  leave Docker out: the cluster then runs as local processes
               (scripts/local.sh up)
  -h, --help   this text
EOF
}

while (($#)); do
	case $1 in
	--check) CHECK=1 ;;
	--no-docker) DOCKER=0 ;;
	-h | --help)
		usage
		exit 0
		;;
	*) die "unknown argument '$1' (see scripts/setup-dependencies.sh --help)" ;;
	esac
	shift
done

MISSING=() # required things still missing at the end
report() { printf '  %-16s %s\n' "$1" "$2"; }

# --- Go --------------------------------------------------------------------------
# version_ge A B succeeds when version A >= B (dotted numbers).
version_ge() {
	[[ $(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n 1) == "$2" ]]
}

check_go() {
	local gobin="" v
	if command -v go >/dev/null 2>&1; then
		gobin=$(command -v go)
	elif [[ -x /usr/local/go/bin/go ]]; then
		gobin=/usr/local/go/bin/go
	fi
	if [[ -z $gobin ]]; then
		report go "MISSING: install Go $GO_MIN or newer from https://go.dev/dl/ (e.g. unpack it in /usr/local and add /usr/local/go/bin to PATH)"
		MISSING+=(go)
		return
	fi
	v=$("$gobin" env GOVERSION 2>/dev/null || true)
	v=${v#go}
	if [[ -z $v ]] || ! version_ge "$v" "$GO_MIN"; then
		report go "TOO OLD: $gobin is ${v:-unknown}; install Go $GO_MIN or newer from https://go.dev/dl/"
		MISSING+=(go)
		return
	fi
	if command -v go >/dev/null 2>&1; then
		report go "ok ($v, $gobin)"
	else
		report go "ok ($v, $gobin; add /usr/local/go/bin to PATH)"
	fi
}

# --- Debian packages -------------------------------------------------------------
# Program -> package.
PROGRAMS=(make git curl jq tmux shellcheck)
declare -A PACKAGE_OF=([make]=make [git]=git [curl]=curl [jq]=jq [tmux]=tmux [shellcheck]=shellcheck)

SUDO=()
apt_ready=0
# apt_update runs apt-get update once (as root, or through sudo).
apt_update() {
	((apt_ready)) && return 0
	if ((EUID != 0)); then
		command -v sudo >/dev/null 2>&1 || die "run this as root (or install sudo) to install packages"
		SUDO=(sudo)
	fi
	command -v apt-get >/dev/null 2>&1 || die "apt-get not found: install the missing programs by hand"
	info "apt-get update"
	${SUDO[@]+"${SUDO[@]}"} env DEBIAN_FRONTEND=noninteractive apt-get update -q || die "apt-get update failed"
	apt_ready=1
}

apt_install() {
	apt_update
	info "apt-get install -y $*"
	${SUDO[@]+"${SUDO[@]}"} env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@"
}

heading "Required"
check_go
want=()
for p in "${PROGRAMS[@]}"; do
	if command -v "$p" >/dev/null 2>&1; then
		report "$p" "ok ($(command -v "$p"))"
	else
		report "$p" "missing (package ${PACKAGE_OF[$p]})"
		want+=("${PACKAGE_OF[$p]}")
	fi
done
if ! command -v update-ca-certificates >/dev/null 2>&1 && [[ ! -d /etc/ssl/certs ]]; then
	want+=(ca-certificates)
fi

if ((${#want[@]})); then
	if ((CHECK)); then
		MISSING+=("${want[@]}")
	else
		apt_install "${want[@]}" || die "apt-get install failed"
		for p in "${PROGRAMS[@]}"; do
			command -v "$p" >/dev/null 2>&1 || MISSING+=("$p")
		done
	fi
fi

# --- Docker: scripts/setup-docker.sh ------------------------------------------------
if ((DOCKER)); then
	docker_args=()
	((CHECK)) && docker_args=(--check)
	if ! "$PAXOS_ROOT/scripts/setup-docker.sh" ${docker_args[@]+"${docker_args[@]}"}; then
		MISSING+=("docker (scripts/setup-docker.sh; --no-docker leaves it out: local mode)")
	fi
else
	heading "Docker"
	report docker "left out (--no-docker): the cluster runs as local processes (scripts/local.sh up)"
fi

echo
if ((${#MISSING[@]})); then
	die "missing: ${MISSING[*]}"
fi
if ((CHECK)); then
	ok "everything needed is installed"
else
	ok "everything needed is installed; next: make build && make up"
fi
