#!/usr/bin/env bash
# ci-deps.sh - install the Debian packages the tests use when they are
# missing: chromium (the status page test renders it headless), and tmux,
# jq, shellcheck and curl (the script tests). Idempotent, non-interactive:
# it runs apt-get update only when something is missing, and installs only
# what is missing.
#
# Then, when a docker client is here but "docker compose version" fails (no
# Compose v2 plugin; Debian ships only docker-compose v1) and go is found,
# it builds the plugin from the Go module proxy (github.com/docker/compose/v5
# at $COMPOSE_V2_VERSION, default v5.6.0, CGO_ENABLED=0, a minute or two)
# into ~/.cache/paxos/docker-compose-VERSION, outside the repository, and
# installs it as ~/.docker/cli-plugins/docker-compose. With the cached
# binary it only copies it (no go command runs). scripts/compose.sh then
# prefers "docker compose"; DOCKER_COMPOSE=docker-compose still forces v1.
# COMPOSE_V2=0 skips this step.
#
# It never fails by itself: without apt-get, without root, or when an
# install fails, it prints a warning and exits 0. The tests that need a
# missing tool skip with a message saying so, except under CI (CI=true),
# where they fail (internal/testenv): a skip must not hide a suite from CI.
#
#   scripts/ci-deps.sh           # install what is missing
#   scripts/ci-deps.sh --check   # only list what is missing
set -euo pipefail

PROG=ci-deps.sh
# "commands:packages" pairs: when none of the commands is found, the
# packages are installed (chromium has had several names; its fonts are only
# recommended, and screenshots need them).
WANT=(
	"chromium chromium-browser google-chrome:chromium fonts-liberation"
	"tmux:tmux"
	"jq:jq"
	"shellcheck:shellcheck"
	"curl:curl"
)

warn() { printf '%s: warning: %s\n' "$PROG" "$*" >&2; }

have_any() {
	local c
	for c in "$@"; do
		if command -v "$c" >/dev/null 2>&1; then
			return 0
		fi
	done
	return 1
}

check=0
case ${1:-} in
--check) check=1 ;;
"") ;;
-h | --help)
	awk 'NR == 1 { next } /^#/ { sub(/^# ?/, ""); print; next } { exit }' "${BASH_SOURCE[0]}"
	exit 0
	;;
*)
	warn "unknown argument $1 (see --help)"
	exit 2
	;;
esac

# packages installs the Debian packages of WANT that are missing.
packages() {
	missing=()
	for w in "${WANT[@]}"; do
		read -r -a cmds <<<"${w%%:*}"
		read -r -a pkgs <<<"${w##*:}"
		if ! have_any "${cmds[@]}"; then
			missing+=("${pkgs[@]}")
		fi
	done

	if ((${#missing[@]} == 0)); then
		echo "$PROG: all present (chromium, tmux, jq, shellcheck, curl)"
		return 0
	fi
	echo "$PROG: missing: ${missing[*]}"
	if ((check)); then
		return 0
	fi

	if ! command -v apt-get >/dev/null 2>&1; then
		warn "no apt-get here: install ${missing[*]} by hand; the tests that need them skip (fail with CI=true)"
		return 0
	fi
	sudo=()
	if ((EUID != 0)); then
		if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
			sudo=(sudo -n)
		else
			warn "not root and no password-less sudo: install ${missing[*]} by hand; the tests that need them skip"
			return 0
		fi
	fi

	export DEBIAN_FRONTEND=noninteractive
	apt=("${sudo[@]}" apt-get -q -y -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold)
	# One package at a time, so one that cannot be installed does not hide the
	# others. Install from the package lists already there first; update them
	# once, when an install fails (a fresh machine has none).
	updated=0
	failed=()
	for pkg in "${missing[@]}"; do
		if "${apt[@]}" install --no-install-recommends "$pkg" </dev/null >>/tmp/ci-deps.log 2>&1; then
			echo "$PROG: installed $pkg"
			continue
		fi
		if ((!updated)); then
			updated=1
			"${apt[@]}" update </dev/null >>/tmp/ci-deps.log 2>&1 || true
			if "${apt[@]}" install --no-install-recommends "$pkg" </dev/null >>/tmp/ci-deps.log 2>&1; then
				echo "$PROG: installed $pkg"
				continue
			fi
		fi
		failed+=("$pkg")
	done
	if ((${#failed[@]} > 0)); then
		warn "apt-get could not install ${failed[*]} (log: /tmp/ci-deps.log); with CI=true the tests that need them fail"
		tail -n 5 /tmp/ci-deps.log >&2 || true
	fi
}

# compose_v2 builds (once, into the cache) and installs the Compose v2 CLI
# plugin when "docker compose" does not answer. Never fails: it warns.
COMPOSE_V2_MODULE=github.com/docker/compose/v5
COMPOSE_V2_VERSION=${COMPOSE_V2_VERSION:-v5.6.0}
compose_v2() {
	[[ ${COMPOSE_V2:-1} != 0 ]] || return 0
	command -v docker >/dev/null 2>&1 || return 0
	if docker compose version >/dev/null 2>&1; then
		echo "$PROG: Compose v2 present ($(docker compose version --short 2>/dev/null || echo '?'))"
		return 0
	fi
	local cache plugins dir
	cache=${XDG_CACHE_HOME:-$HOME/.cache}/paxos/docker-compose-$COMPOSE_V2_VERSION
	plugins=${DOCKER_CONFIG:-$HOME/.docker}/cli-plugins
	if ((check)); then
		if [[ -x $cache ]]; then
			echo "$PROG: missing: Compose v2 plugin (cached at $cache)"
		else
			echo "$PROG: missing: Compose v2 plugin (would build $COMPOSE_V2_MODULE@$COMPOSE_V2_VERSION)"
		fi
		return 0
	fi
	if [[ ! -x $cache ]]; then
		if ! command -v go >/dev/null 2>&1; then
			warn "no Compose v2 plugin and no go to build it: Compose runs as docker-compose v1"
			return 0
		fi
		echo "$PROG: building the Compose v2 plugin ($COMPOSE_V2_MODULE@$COMPOSE_V2_VERSION, log: /tmp/ci-deps.log)"
		# The module's go.mod has exclude directives, so "go install
		# module/cmd@version" refuses it: build in its module cache copy
		# (read-only; -mod=readonly writes nothing there).
		# Outside the repository, so its go.mod and go.sum stay as they are.
		if ! dir=$(cd "${TMPDIR:-/tmp}" && GOFLAGS='' GOWORK=off go mod download -json "$COMPOSE_V2_MODULE@$COMPOSE_V2_VERSION" 2>>/tmp/ci-deps.log |
			sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p') || [[ -z $dir ]]; then
			warn "go mod download $COMPOSE_V2_MODULE@$COMPOSE_V2_VERSION failed (log: /tmp/ci-deps.log): Compose runs as docker-compose v1"
			return 0
		fi
		mkdir -p "${cache%/*}" || true
		if ! (cd "$dir" && CGO_ENABLED=0 GOFLAGS=-mod=readonly GOWORK=off GOTOOLCHAIN=local \
			go build -trimpath -ldflags "-s -w -X $COMPOSE_V2_MODULE/internal.Version=$COMPOSE_V2_VERSION" \
			-o "$cache.tmp" ./cmd) </dev/null >>/tmp/ci-deps.log 2>&1 || ! mv -f "$cache.tmp" "$cache"; then
			rm -f "$cache.tmp"
			warn "building the Compose v2 plugin failed (log: /tmp/ci-deps.log): Compose runs as docker-compose v1"
			tail -n 5 /tmp/ci-deps.log >&2 || true
			return 0
		fi
	fi
	if ! { mkdir -p "$plugins" && install -m 0755 "$cache" "$plugins/docker-compose"; }; then
		warn "could not install $plugins/docker-compose: Compose runs as docker-compose v1"
		return 0
	fi
	if docker compose version >/dev/null 2>&1; then
		echo "$PROG: installed $plugins/docker-compose ($(docker compose version --short 2>/dev/null || echo '?'))"
	else
		warn "$plugins/docker-compose installed, but 'docker compose version' fails: Compose runs as docker-compose v1"
		docker compose version 2>&1 | tail -n 3 >&2 || true
	fi
}

packages
compose_v2
exit 0
