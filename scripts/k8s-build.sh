#!/usr/bin/env bash
# Builds the Kubernetes control plane that make k8s-api-check runs (etcd,
# kube-apiserver, kube-controller-manager, kube-scheduler, kubectl) and kwok,
# from the Go module proxy, into a cache outside the repo. No kubelet: it
# changes host-wide kernel settings. A wrapper module pins k8s.io/kubernetes
# and gives it the replace lines its staging modules need (the release's own
# go.mod points them at ./staging, which a module download does not have).
#
# Usage: scripts/k8s-build.sh            prints the bin folder on its last line
# Env:   K8S_CACHE (default ~/.cache/paxos-k8s), K8S_VERSION, KWOK_VERSION
set -euo pipefail

K8S_VERSION=${K8S_VERSION:-v1.37.2}
KWOK_VERSION=${KWOK_VERSION:-v0.8.0}
K8S_CACHE=${K8S_CACHE:-$HOME/.cache/paxos-k8s}
BIN=$K8S_CACHE/$K8S_VERSION/bin
SRC=$K8S_CACHE/$K8S_VERSION/src
GO=${GO:-go}
tools=(kube-apiserver kube-controller-manager kube-scheduler kubectl etcd kwok)

have_all() {
	local t
	for t in "${tools[@]}"; do [[ -x $BIN/$t ]] || return 1; done
	[[ -s $BIN/kwok-stages.yaml ]]
}
if have_all; then
	echo "$BIN"
	exit 0
fi
mkdir -p "$BIN" "$SRC"

# The staging modules are released as v0.<minor>.<patch> of the same release.
staging=v0.${K8S_VERSION#v1.}
modfile=$($GO mod download -json "k8s.io/kubernetes@$K8S_VERSION" |
	sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p')
mapfile -t staged < <(grep -E '^[[:space:]]*k8s\.io/[a-z-]+ v0\.0\.0([[:space:]]|$)' "$modfile" | awk '{print $1}')
gover=$(awk '$1 == "go" {print $2; exit}' "$modfile")

{
	echo "module paxos-k8s-wrapper"
	echo
	echo "go $gover"
	echo
	echo "require k8s.io/kubernetes $K8S_VERSION"
	echo
	echo "replace ("
	for m in "${staged[@]}"; do echo "	$m => $m $staging"; done
	echo ")"
} >"$SRC/go.mod"
cat >"$SRC/tools.go" <<'GO'
//go:build tools

package tools

import (
	_ "go.etcd.io/etcd/server/v3"
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
GO
cd "$SRC"
$GO mod tidy -e >/dev/null
export CGO_ENABLED=0
for pkg in k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
	k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubectl; do
	[[ -x $BIN/${pkg##*/} ]] && continue
	echo "building ${pkg##*/} ($K8S_VERSION)" >&2
	$GO build -trimpath -ldflags=-s -o "$BIN/${pkg##*/}" "$pkg"
done
if [[ ! -x $BIN/etcd ]]; then
	echo "building etcd" >&2
	$GO build -trimpath -ldflags=-s -o "$BIN/etcd" go.etcd.io/etcd/server/v3
fi
if [[ ! -x $BIN/kwok ]]; then
	echo "building kwok ($KWOK_VERSION)" >&2
	GOBIN=$BIN $GO install -trimpath -ldflags=-s "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION"
fi
# kwok's own stages (node ready with a lease, pods ready at once), from
# its module: kwok runs none without them.
if [[ ! -s $BIN/kwok-stages.yaml ]]; then
	kwokdir=$($GO mod download -json "sigs.k8s.io/kwok@$KWOK_VERSION" |
		sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
	"$BIN/kubectl" kustomize "$kwokdir/kustomize/stage/fast" >"$BIN/kwok-stages.yaml.tmp"
	mv "$BIN/kwok-stages.yaml.tmp" "$BIN/kwok-stages.yaml"
fi
have_all
echo "$BIN"
