#!/usr/bin/env bash
# setup-docker.sh - install the Docker engine and Docker Compose from the
# distribution's packages on Debian/Ubuntu (the seed's setup-docker.sh),
# start the engine, and say whether this user can talk to it. Idempotent:
# it installs and starts only what is missing. scripts/setup-dependencies.sh
# runs it.
#
#   scripts/setup-docker.sh           # install what is missing
#   scripts/setup-docker.sh --check   # only report; exit 1 if something is missing
set -euo pipefail

PROG=setup-docker.sh
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

CHECK=0
YES=0

usage() {
	cat <<'EOF'
Usage: scripts/setup-docker.sh [--check] [-y]

Installs what the Compose cluster needs from the distribution's packages
(Debian, Ubuntu and their derivatives; apt-get, as root or through sudo):
the Docker engine (docker.io) and Docker Compose (docker-compose-v2 or
docker-compose-plugin when the package lists have them, else
docker-compose), starts the engine, and reports whether this user may use
it. Whatever is there already is left alone, so it can run again safely.

  --check     only report what is there and what is missing; install and
              start nothing (exit 1 when something is missing)
  -y, --yes   do not ask before installing (the default when stdin is not
              a terminal: then it never asks)
  -h, --help  this text

Without Docker the cluster also runs as local processes: scripts/local.sh up.
EOF
}

while (($#)); do
	case $1 in
	--check) CHECK=1 ;;
	-y | --yes) YES=1 ;;
	-h | --help)
		usage
		exit 0
		;;
	*) die "unknown argument '$1' (see scripts/setup-docker.sh --help)" ;;
	esac
	shift
done

report() { printf '  %-9s %s\n' "$1" "$2"; }

# os_name prints the distribution's name; os_debian_like succeeds on
# Debian, Ubuntu and their derivatives.
os_name() {
	(
		# shellcheck disable=SC1091 # the system's file
		. /etc/os-release 2>/dev/null && printf '%s\n' "${PRETTY_NAME:-$ID}"
	) || uname -s
}
os_debian_like() {
	(
		# shellcheck disable=SC1091 # the system's file
		. /etc/os-release 2>/dev/null || exit 1
		[[ " ${ID:-} ${ID_LIKE:-} " == *" debian "* || " ${ID:-} ${ID_LIKE:-} " == *" ubuntu "* ]]
	)
}

# package_of FILE prints "package NAME" for the Debian package that
# installed FILE, or "not from a package".
package_of() {
	local p
	p=$(dpkg -S "$(readlink -f "$1")" 2>/dev/null | head -n 1) || true
	if [[ -n $p ]]; then
		printf 'package %s\n' "${p%%:*}"
	else
		echo "not from a package"
	fi
}

# compose_cmd prints the Compose command that answers, with its version.
compose_cmd() {
	local v
	if v=$(docker compose version --short 2>/dev/null) && [[ -n $v ]]; then
		printf 'docker compose %s\n' "$v"
	elif command -v docker-compose >/dev/null 2>&1 && v=$(docker-compose version --short 2>/dev/null) && [[ -n $v ]]; then
		printf 'docker-compose %s (%s, %s)\n' "$v" "$(command -v docker-compose)" "$(package_of "$(command -v docker-compose)")"
	else
		return 1
	fi
}

# engine_state prints "ok VERSION", "denied" (it runs, this user may not use
# it) or "down".
engine_state() {
	local out
	if out=$(docker info --format '{{.ServerVersion}}' 2>&1); then
		printf 'ok %s\n' "$out"
	elif [[ $out == *"permission denied"* ]]; then
		echo denied
	else
		echo down
	fi
}

# the user who runs this, or who ran sudo
target_user() { printf '%s\n' "${SUDO_USER:-$(id -un)}"; }

MISSING=()
# survey reports what is there; MISSING lists what is not.
survey() {
	local state
	MISSING=()
	report os "$(os_name)$(os_debian_like || echo ' (not Debian-like: install Docker by hand, https://docs.docker.com/engine/install/)')"
	if command -v docker >/dev/null 2>&1; then
		report docker "ok ($(docker --version 2>/dev/null | head -n 1), $(command -v docker), $(package_of "$(command -v docker)"))"
	else
		report docker "missing (package docker.io)"
		MISSING+=(docker)
	fi
	if command -v docker >/dev/null 2>&1; then
		state=$(engine_state)
		case $state in
		ok*) report engine "ok (server ${state#ok }, answers docker info)" ;;
		denied)
			report engine "runs, but $(target_user) may not use it: sudo usermod -aG docker $(target_user), then log in again"
			MISSING+=(access)
			;;
		*)
			report engine "not answering (start it: sudo systemctl start docker, or sudo service docker start)"
			MISSING+=(engine)
			;;
		esac
	else
		report engine "missing (comes with docker.io)"
		MISSING+=(engine)
	fi
	local c
	if c=$(compose_cmd); then
		report compose "ok ($c)"
	else
		report compose "missing (docker compose plugin or docker-compose)"
		MISSING+=(compose)
	fi
}

SUDO=()
# as_root CMD... runs CMD as root (directly, or through sudo).
as_root() {
	if ((EUID != 0)); then
		command -v sudo >/dev/null 2>&1 || die "run this as root (or install sudo) to install and start Docker"
		SUDO=(sudo)
	fi
	${SUDO[@]+"${SUDO[@]}"} "$@"
}

# candidate PKG succeeds when apt can install PKG.
candidate() {
	local c
	c=$(apt-cache policy "$1" 2>/dev/null | awk '/Candidate:/ {print $2}')
	[[ -n $c && $c != "(none)" ]]
}

# confirm QUESTION asks on a terminal (default yes); without one, or with
# --yes, it answers yes without asking.
confirm() {
	local answer
	((YES)) && return 0
	is_tty || return 0
	read -r -p "$1 [Y/n] " answer || return 1
	[[ -z $answer || $answer == [yY]* ]]
}

start_engine() {
	local deadline
	if [[ -d /run/systemd/system ]]; then
		info "systemctl enable --now docker"
		as_root systemctl enable --now docker || true
	elif command -v service >/dev/null 2>&1; then
		info "service docker start"
		as_root service docker start || true
	else
		warn "no systemd or service command: start dockerd by hand"
		return 0
	fi
	deadline=$((SECONDS + 20))
	until [[ $(engine_state) != down ]]; do
		((SECONDS < deadline)) || break
		sleep 0.5
	done
}

install_missing() {
	local want=() m
	os_debian_like || die "$(os_name) is not Debian or Ubuntu: install Docker by hand (https://docs.docker.com/engine/install/)"
	command -v apt-get >/dev/null 2>&1 || die "apt-get not found: install Docker by hand"
	for m in ${MISSING[@]+"${MISSING[@]}"}; do
		[[ $m == docker ]] && want+=(docker.io)
	done
	if [[ " ${MISSING[*]} " == *" compose "* ]]; then
		info "apt-get update"
		as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q || die "apt-get update failed"
		local p found=""
		for p in docker-compose-v2 docker-compose-plugin docker-compose; do
			if candidate "$p"; then
				found=$p
				break
			fi
		done
		[[ -n $found ]] || die "no Compose package in the package lists (docker-compose-v2, docker-compose-plugin, docker-compose)"
		want+=("$found")
	elif ((${#want[@]})); then
		info "apt-get update"
		as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q || die "apt-get update failed"
	fi
	if ((${#want[@]})); then
		confirm "Install ${want[*]} with apt-get?" || die "nothing installed"
		info "apt-get install -y ${want[*]}"
		as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${want[@]}" || die "apt-get install ${want[*]} failed"
	fi
	if command -v docker >/dev/null 2>&1 && [[ $(engine_state) == down ]]; then
		start_engine
	fi
	if command -v docker >/dev/null 2>&1 && [[ $(engine_state) == denied ]]; then
		# Membership of the docker group is root on this machine: say it,
		# do not do it behind the user's back.
		warn "$(target_user) may not use the engine; to allow it (root-equivalent): sudo usermod -aG docker $(target_user), then log in again"
	fi
}

heading "Docker"
survey
if ((CHECK)); then
	echo
	((${#MISSING[@]} == 0)) || die "missing: ${MISSING[*]} (scripts/setup-docker.sh installs and starts what it can)"
	ok "Docker and Compose are ready"
	exit 0
fi
if ((${#MISSING[@]})); then
	install_missing
	heading "Docker, after installing"
	survey
fi
echo
((${#MISSING[@]} == 0)) || die "still missing: ${MISSING[*]}"
ok "Docker and Compose are ready; next: make up"
