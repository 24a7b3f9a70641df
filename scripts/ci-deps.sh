#!/usr/bin/env bash
# ci-deps.sh - install the Debian packages the tests use when they are
# missing: chromium (the status page test renders it headless), and tmux,
# jq, shellcheck and curl (the script tests). Idempotent, non-interactive:
# it runs apt-get update only when something is missing, and installs only
# what is missing.
#
# It never fails the build: without apt-get, without root, or when the
# install fails, it prints a warning and exits 0, and the tests that need
# a missing tool skip with a message saying so.
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
	exit 0
fi
echo "$PROG: missing: ${missing[*]}"
if ((check)); then
	exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
	warn "no apt-get here: install ${missing[*]} by hand; the tests that need them skip"
	exit 0
fi
sudo=()
if ((EUID != 0)); then
	if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
		sudo=(sudo -n)
	else
		warn "not root and no password-less sudo: install ${missing[*]} by hand; the tests that need them skip"
		exit 0
	fi
fi

export DEBIAN_FRONTEND=noninteractive
apt=("${sudo[@]}" apt-get -q -y -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold)
# Install from the package lists already there first; update them only
# when that fails (a fresh machine has none).
if ! "${apt[@]}" install --no-install-recommends "${missing[@]}" </dev/null >/tmp/ci-deps.log 2>&1; then
	if ! "${apt[@]}" update </dev/null >>/tmp/ci-deps.log 2>&1 ||
		! "${apt[@]}" install --no-install-recommends "${missing[@]}" </dev/null >>/tmp/ci-deps.log 2>&1; then
		warn "apt-get could not install ${missing[*]} (log: /tmp/ci-deps.log); the tests that need them skip"
		tail -n 5 /tmp/ci-deps.log >&2 || true
		exit 0
	fi
fi
echo "$PROG: installed ${missing[*]}"
