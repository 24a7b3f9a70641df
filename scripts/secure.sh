#!/usr/bin/env bash
# secure.sh - a cluster that is closed by default (issue 19): the cluster
# secret, and with TLS=1 the certificates, made on first run and reused.
#
#   scripts/secure.sh up      what make up and scripts/local.sh up run first:
#                             the secret into .env, TLS=1/0 remembered in
#                             .env, and with TLS on the certificates
#   scripts/secure.sh certs   only the certificates: ./certs (paxosctl certs,
#                             once) and each node's folder
#                             $PAXOS_VOLUMES/<name>/tls (every time)
#   scripts/secure.sh env     export lines for paxosctl on this machine:
#                             eval "$(scripts/secure.sh env)"
#
# The secret: CLUSTER_SECRET set in the environment (even empty: an open
# cluster) is used as it is; otherwise the one in .env; otherwise 32 random
# bytes (hex) are written into .env (git-ignored, mode 0600), which Docker
# Compose and local mode both read, so every later start reuses it.
#
# TLS: TLS=1 (environment or .env) turns it on, TLS=0 off; "up" writes the
# choice into .env, so the next "make up" keeps it. PAXOS_CERTS (default
# ./certs) holds the CA and every certificate; each node gets ca.crt,
# node.crt and node.key in $PAXOS_VOLUMES/<name>/tls (its TLS_DIR), copied
# again at every start so that new files in ./certs reach the nodes (they
# read them at every handshake).
#
# Sourced by local.sh and dk-deploy.sh for secure_up and tls_on.
set -euo pipefail

SECURE_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SECURE_ENV_FILE="$SECURE_ROOT/.env"
PAXOS_CERTS="${PAXOS_CERTS:-$SECURE_ROOT/certs}"
[[ $PAXOS_CERTS == /* ]] || PAXOS_CERTS="$SECURE_ROOT/${PAXOS_CERTS#./}"
SECURE_NODES=(proposer1 proposer2 proposer3 acceptor1 acceptor2 acceptor3 learner1 learner2 client1 client2)

secure_die() {
	printf 'secure.sh: %s\n' "$*" >&2
	exit 1
}

# dotenv_value NAME prints NAME's value in .env (the last assignment), or
# fails when .env does not set it.
dotenv_value() {
	[[ -f $SECURE_ENV_FILE ]] || return 1
	local line value found=1
	while IFS= read -r line || [[ -n $line ]]; do
		line=${line%$'\r'}
		if [[ $line =~ ^[[:space:]]*(export[[:space:]]+)?$1[[:space:]]*=(.*)$ ]]; then
			value=${BASH_REMATCH[2]}
			value=${value%%[[:space:]]#*}
			value=${value//[[:space:]\"\']/}
			found=0
		fi
	done <"$SECURE_ENV_FILE"
	((found == 0)) || return 1
	printf '%s\n' "$value"
}

# dotenv_set NAME VALUE writes NAME=VALUE into .env (VALUE: letters, digits,
# / . _ -), replacing NAME's lines, creating .env (0600) when missing.
dotenv_set() {
	[[ $2 =~ ^[A-Za-z0-9/._-]*$ ]] || secure_die "dotenv_set $1: unexpected characters"
	if [[ ! -f $SECURE_ENV_FILE ]]; then
		(umask 077 && printf '# Made by make up / scripts/local.sh up (scripts/secure.sh); see .env.example.\n' >"$SECURE_ENV_FILE")
	fi
	local tmp
	tmp=$(mktemp "$SECURE_ENV_FILE.XXXXXX")
	grep -Ev "^[[:space:]]*(export[[:space:]]+)?$1[[:space:]]*=" "$SECURE_ENV_FILE" >"$tmp" || true
	printf '%s=%s\n' "$1" "$2" >>"$tmp"
	chmod 600 "$tmp"
	mv "$tmp" "$SECURE_ENV_FILE"
}

# tls_on succeeds when TLS is on: TLS=1 in the environment, else in .env.
tls_on() {
	local v=${TLS-}
	if [[ -z ${TLS+x} ]]; then
		v=$(dotenv_value TLS) || v=0
	fi
	case $v in
	1 | true | yes | on) return 0 ;;
	"" | 0 | false | no | off) return 1 ;;
	*) secure_die "TLS=$v: want 1 (on) or 0 (off)" ;;
	esac
}

# ensure_secret exports CLUSTER_SECRET: the environment's, else .env's,
# else a new one written into .env.
ensure_secret() {
	if [[ -n ${CLUSTER_SECRET+x} ]]; then
		[[ -n $CLUSTER_SECRET ]] || echo "secure.sh: CLUSTER_SECRET is empty in your environment: the internal endpoints and gossip stay open" >&2
		export CLUSTER_SECRET
		return 0
	fi
	local s
	if s=$(dotenv_value CLUSTER_SECRET) && [[ -n $s ]]; then
		export CLUSTER_SECRET=$s
		return 0
	fi
	s=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
	[[ ${#s} -eq 64 ]] || secure_die "could not read 32 random bytes from /dev/urandom"
	dotenv_set CLUSTER_SECRET "$s"
	echo "secure.sh: made a cluster secret in .env (CLUSTER_SECRET, git-ignored); every start reuses it"
	export CLUSTER_SECRET=$s
}

# paxosctl_bin prints the path of a paxosctl to run.
paxosctl_bin() {
	if [[ -x $SECURE_ROOT/bin/paxosctl ]]; then
		printf '%s\n' "$SECURE_ROOT/bin/paxosctl"
	elif command -v paxosctl >/dev/null 2>&1; then
		command -v paxosctl
	else
		secure_die "paxosctl not found: run 'make build'"
	fi
}

# ensure_certs makes the certificates in $PAXOS_CERTS on first run and
# copies each node's into $VOLUMES/<name>/tls.
ensure_certs() {
	local volumes=${PAXOS_VOLUMES:-$SECURE_ROOT/volumes} name dir
	[[ $volumes == /* ]] || volumes="$SECURE_ROOT/${volumes#./}"
	if [[ ! -f $PAXOS_CERTS/ca.crt ]]; then
		"$(paxosctl_bin)" certs --dir "$PAXOS_CERTS" >/dev/null || secure_die "paxosctl certs --dir $PAXOS_CERTS failed"
		echo "secure.sh: made a CA and the certificates of every node and of paxosctl in $PAXOS_CERTS (paxosctl certs)"
	fi
	for name in "${SECURE_NODES[@]}"; do
		dir="$volumes/$name/tls"
		mkdir -p "$dir"
		chmod 700 "$dir"
		install -m 600 "$PAXOS_CERTS/ca.crt" "$dir/ca.crt"
		install -m 600 "$PAXOS_CERTS/$name.crt" "$dir/node.crt"
		install -m 600 "$PAXOS_CERTS/$name.key" "$dir/node.key"
	done
}

# secure_up is "up": the secret, the TLS choice remembered, the certificates.
secure_up() {
	ensure_secret
	if tls_on; then
		[[ -z ${TLS+x} ]] || dotenv_set TLS 1
		dotenv_set PAXOS_TLS_DIR /tls
		export PAXOS_TLS_DIR=/tls
		ensure_certs
	else
		if [[ -n ${TLS+x} ]] || dotenv_value PAXOS_TLS_DIR >/dev/null; then
			dotenv_set TLS 0
			dotenv_set PAXOS_TLS_DIR ""
		fi
		export PAXOS_TLS_DIR=
	fi
}

# secure_env prints what paxosctl on this machine needs, as export lines.
secure_env() {
	local s=${CLUSTER_SECRET-}
	if [[ -z ${CLUSTER_SECRET+x} ]]; then
		s=$(dotenv_value CLUSTER_SECRET) || s=
	fi
	printf 'export CLUSTER_SECRET=%q\n' "$s"
	if tls_on; then
		printf 'export PAXOSCTL_CACERT=%q PAXOSCTL_CERT=%q PAXOSCTL_KEY=%q\n' \
			"$PAXOS_CERTS/ca.crt" "$PAXOS_CERTS/paxosctl.crt" "$PAXOS_CERTS/paxosctl.key"
	else
		printf 'unset PAXOSCTL_CACERT PAXOSCTL_CERT PAXOSCTL_KEY\n'
	fi
}

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
	case ${1:-} in
	up) secure_up ;;
	certs) ensure_certs ;;
	env) secure_env ;;
	*)
		sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'
		[[ ${1:-} == help || ${1:-} == -h ]] || exit 1
		;;
	esac
fi
