#!/usr/bin/env bash
# golang-standin.sh - make an offline stand-in for the golang:1.26 image
# from this machine's Go toolchain and module cache, so that
# Dockerfile.multistage (and a bare "docker compose up" on a fresh clone)
# builds where no image can be pulled. It is not Docker Hub's image: no
# shell, no C compiler, GOPROXY=off (every module must be in the cache).
#
#   scripts/golang-standin.sh            # tag golang:1.26 unless it exists
#   scripts/golang-standin.sh --force    # replace it
set -euo pipefail

PROG=golang-standin.sh
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

TAG=${GOLANG_IMAGE:-golang:1.26}
FORCE=0
case ${1:-} in
"") ;;
--force) FORCE=1 ;;
-h | --help)
	sed -n '2,10p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
	exit 0
	;;
*) die "unknown argument '$1' (want --force)" ;;
esac

need docker go tar
if ((!FORCE)) && docker image inspect "$TAG" >/dev/null 2>&1; then
	info "$TAG exists ($(docker image inspect --format '{{index .Config.Labels "org.paxos.standin"}}' "$TAG" 2>/dev/null || true)); --force replaces it"
	exit 0
fi

goroot=$(go env GOROOT)
modcache=$(go env GOMODCACHE)
version=$(go env GOVERSION)
[[ $version == go1.26* ]] || die "this machine's Go is $version, not 1.26"
[[ -d $modcache/cache/download ]] || die "no module cache in $modcache: run 'go mod download' in the repository first"
(cd "$PAXOS_ROOT" && go mod download) || die "go mod download failed: the module cache lacks this repository's modules"

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -m 1777 "$stage/tmp" # go build's scratch space

# The image's tree: /tmp, /usr/local/go and /go/pkg/mod, in one layer.
info "importing $goroot ($version) and $modcache as $TAG"
tar -c -C "$stage" tmp \
	--transform "s,^${goroot#/},usr/local/go," --transform "s,^${modcache#/},go/pkg/mod," \
	-C / "${goroot#/}" "${modcache#/}" |
	docker import \
		-c 'ENV PATH=/usr/local/go/bin:/go/bin' \
		-c 'ENV GOROOT=/usr/local/go' \
		-c 'ENV GOPATH=/go' \
		-c 'ENV GOMODCACHE=/go/pkg/mod' \
		-c 'ENV GOCACHE=/tmp/go-build' \
		-c 'ENV GOPROXY=off' \
		-c 'ENV GOTOOLCHAIN=local' \
		-c 'ENV CGO_ENABLED=0' \
		-c 'WORKDIR /go' \
		-c "LABEL org.paxos.standin=\"offline stand-in: $version and the module cache of $(hostname)\"" \
		- "$TAG" >/dev/null
ok "$TAG: $(docker image inspect --format '{{.Size}}' "$TAG" | awk '{printf "%.0f MB", $1/1e6}') (offline stand-in, $version)"
