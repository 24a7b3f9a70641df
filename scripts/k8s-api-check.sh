#!/usr/bin/env bash
# k8s-api-check.sh - deploy/kubernetes against a real Kubernetes control
# plane (make k8s-api-check; opt-in, never in CI). etcd, kube-apiserver,
# kube-controller-manager and kube-scheduler built from the Go module proxy
# (scripts/k8s-build.sh, cached in ~/.cache/paxos-k8s), kwok for three fake
# nodes. No kubelet: it changes host-wide kernel settings, and nothing here
# runs a container. Everything listens on 127.0.0.1 and is torn down by a
# trap.
#
# It checks:
#   1. kubectl apply --dry-run=server --validate=strict -k (the API server's
#      own validation, unknown fields refused)
#   2. a real apply: the StatefulSets make pods proposer-1..3, acceptor-4..6,
#      learner-7..8, client-9..10, each with the pod-index label its NODE_ID
#      is read from (downward API: a kubelet resolves the fieldRef; here we
#      check the fieldRef and the label it names)
#   3. the 8 PVCs (proposers, acceptors, learners) bind to PVs made here
#   4. the headless Services publish every pod under its stable name
#   5. the acceptor PDB allows one disruption when all three are ready and
#      refuses an eviction (429) while another acceptor is not ready
#
# Usage: scripts/k8s-api-check.sh [transcript-file]
# Env:   K8S_CHECK_KEEP=1 keeps the logs and certificates (in /tmp/pxk8s.*)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
TRANSCRIPT=${1:-}
BIN=$("$ROOT/scripts/k8s-build.sh" | tail -1)
export PATH=$BIN:$PATH

say() { printf '%s k8s-api-check: %s\n' "$(date -u +%H:%M:%S)" "$*"; }
die() {
	say "FAIL: $*"
	exit 1
}
pass() { say "PASS: $*"; }

DIR=$(mktemp -d /tmp/pxk8s.XXXXXX)
PIDS=()
cleanup() {
	local rc=$? i p deadline
	# newest first (etcd last: an API server without etcd takes minutes to
	# stop); SIGKILL what has not stopped 15 s after its SIGTERM
	for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
		p=${PIDS[i]}
		kill "$p" 2>/dev/null || continue
		deadline=$((SECONDS + 15))
		while kill -0 "$p" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.2; done
		kill -9 "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	if [[ -n ${K8S_CHECK_KEEP:-} ]]; then
		say "control plane stopped; its files kept in $DIR"
	else
		rm -rf "$DIR"
		say "torn down (control plane stopped, $DIR removed)"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
if [[ -n $TRANSCRIPT ]]; then
	exec > >(tee "$TRANSCRIPT") 2>&1
fi

# free_port: a TCP port on 127.0.0.1 that nothing listens on.
free_port() {
	local p
	while :; do
		p=$((20000 + RANDOM % 10000))
		[[ -z $(ss -Htln "sport = :$p") ]] && { echo "$p"; return; }
	done
}

wait_for() { # wait_for SECONDS WHAT CMD...: until CMD succeeds
	local secs=$1 what=$2 deadline
	shift 2
	deadline=$((SECONDS + secs))
	until "$@" >/dev/null 2>&1; do
		((SECONDS < deadline)) || die "$what: not within ${secs}s"
		sleep 0.5
	done
}

# count_is N PATTERN CMD...: CMD prints exactly N lines matching PATTERN.
count_is() {
	local n=$1 pattern=$2
	shift 2
	[[ $("$@" 2>/dev/null | grep -c -- "$pattern") == "$n" ]]
}

pdb_allows() { [[ $(kubectl get pdb acceptor -o jsonpath='{.status.disruptionsAllowed}') == "$1" ]]; }

# --- certificates and the control plane ---------------------------------------

certs() {
	cd "$DIR"
	openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 1 -subj /CN=paxos-k8s-check-ca 2>/dev/null
	openssl req -newkey rsa:2048 -nodes -keyout apiserver.key -out apiserver.csr -subj /CN=kube-apiserver 2>/dev/null
	printf 'subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes.default.svc\n' >san.ext
	openssl x509 -req -in apiserver.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out apiserver.crt -days 1 -extfile san.ext 2>/dev/null
	openssl req -newkey rsa:2048 -nodes -keyout admin.key -out admin.csr -subj "/O=system:masters/CN=admin" 2>/dev/null
	openssl x509 -req -in admin.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out admin.crt -days 1 2>/dev/null
	openssl genrsa -out sa.key 2048 2>/dev/null
	openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
	cd - >/dev/null
}

control_plane() {
	local etcd_port peer_port api_port
	etcd_port=$(free_port)
	peer_port=$(free_port)
	api_port=$(free_port)
	etcd --name k8s-check --data-dir "$DIR/etcd" \
		--listen-client-urls "http://127.0.0.1:$etcd_port" --advertise-client-urls "http://127.0.0.1:$etcd_port" \
		--listen-peer-urls "http://127.0.0.1:$peer_port" --initial-advertise-peer-urls "http://127.0.0.1:$peer_port" \
		--initial-cluster "k8s-check=http://127.0.0.1:$peer_port" --log-level warn >"$DIR/etcd.log" 2>&1 &
	PIDS+=($!)
	kube-apiserver --etcd-servers "http://127.0.0.1:$etcd_port" \
		--bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "$api_port" \
		--endpoint-reconciler-type none \
		--tls-cert-file "$DIR/apiserver.crt" --tls-private-key-file "$DIR/apiserver.key" \
		--client-ca-file "$DIR/ca.crt" --authorization-mode RBAC \
		--service-account-issuer https://kubernetes.default.svc \
		--service-account-key-file "$DIR/sa.pub" --service-account-signing-key-file "$DIR/sa.key" \
		--service-cluster-ip-range 10.96.0.0/16 >"$DIR/apiserver.log" 2>&1 &
	PIDS+=($!)
	export KUBECONFIG=$DIR/kubeconfig
	kubectl config set-cluster check --server "https://127.0.0.1:$api_port" --certificate-authority "$DIR/ca.crt" --embed-certs >/dev/null
	kubectl config set-credentials admin --client-certificate "$DIR/admin.crt" --client-key "$DIR/admin.key" --embed-certs >/dev/null
	kubectl config set-context check --cluster check --user admin --namespace default >/dev/null
	kubectl config use-context check >/dev/null
	wait_for 120 "kube-apiserver /readyz" kubectl get --raw /readyz
	kube-controller-manager --kubeconfig "$KUBECONFIG" --leader-elect=false \
		--bind-address 127.0.0.1 --secure-port "$(free_port)" \
		--service-account-private-key-file "$DIR/sa.key" --root-ca-file "$DIR/ca.crt" \
		--cluster-cidr 10.244.0.0/16 --allocate-node-cidrs=false >"$DIR/controller-manager.log" 2>&1 &
	PIDS+=($!)
	kube-scheduler --kubeconfig "$KUBECONFIG" --leader-elect=false \
		--bind-address 127.0.0.1 --secure-port "$(free_port)" >"$DIR/scheduler.log" 2>&1 &
	PIDS+=($!)
	kwok --kubeconfig "$KUBECONFIG" --config "$BIN/kwok-stages.yaml" --manage-all-nodes=false \
		--manage-nodes-with-annotation-selector kwok.x-k8s.io/node=fake \
		--cidr 10.244.0.0/16 --node-ip 10.244.255.1 >"$DIR/kwok.log" 2>&1 &
	PIDS+=($!)
	say "control plane up: k8s.io/kubernetes $(basename "$(dirname "$BIN")") (kube-apiserver, controller-manager, scheduler, kubectl), $(etcd --version | head -1), kwok $(kwok --version 2>/dev/null | head -1)"
	wait_for 60 "service account default" kubectl get serviceaccount default
}

fake_nodes() {
	local n
	for n in 1 2 3; do
		kubectl apply -f - >/dev/null <<YAML
apiVersion: v1
kind: Node
metadata:
  name: kwok-node-$n
  annotations:
    kwok.x-k8s.io/node: fake
  labels:
    kubernetes.io/hostname: kwok-node-$n
    kubernetes.io/os: linux
    type: kwok
status:
  allocatable: {cpu: "8", memory: 32Gi, pods: "110"}
  capacity: {cpu: "8", memory: 32Gi, pods: "110"}
YAML
	done
	wait_for 60 "3 fake nodes Ready" count_is 3 ' Ready ' kubectl get nodes --no-headers
	say "3 fake nodes (kwok) Ready"
}

persistent_volumes() {
	local i
	for i in $(seq 1 8); do
		kubectl apply -f - >/dev/null <<YAML
apiVersion: v1
kind: PersistentVolume
metadata:
  name: paxos-check-pv-$i
spec:
  capacity: {storage: 1Gi}
  accessModes: [ReadWriteOnce]
  persistentVolumeReclaimPolicy: Retain
  hostPath: {path: /tmp/paxos-check-pv-$i}
YAML
	done
}

# --- the checks -------------------------------------------------------------------

main() {
	certs
	control_plane
	fake_nodes
	persistent_volumes

	# the base wants cluster-secret.env (git ignores it): a copy with one
	mkdir -p "$DIR/base"
	cp "$ROOT"/deploy/kubernetes/*.yaml "$DIR/base/"
	printf 'CLUSTER_SECRET=%s\n' "$(openssl rand -hex 32)" >"$DIR/base/cluster-secret.env"

	say "1. kubectl apply --dry-run=server --validate=strict -k deploy/kubernetes"
	kubectl apply --dry-run=server --validate=strict -k "$DIR/base" || die "server-side dry run refused the manifests"
	pass "the API server accepts every object, strictly"

	say "2. kubectl apply -k deploy/kubernetes"
	kubectl apply --validate=strict -k "$DIR/base"
	local want="proposer-1=1 proposer-2=2 proposer-3=3 acceptor-4=4 acceptor-5=5 acceptor-6=6 learner-7=7 learner-8=8 client-9=9 client-10=10"
	wait_for 180 "10 pods Running and Ready" count_is 10 '1/1 *Running' kubectl get pods --no-headers
	kubectl get pods -o wide
	local pw pod id got ref
	for pw in $want; do
		pod=${pw%=*} id=${pw#*=}
		got=$(kubectl get pod "$pod" -o jsonpath="{.metadata.labels['apps\.kubernetes\.io/pod-index']}")
		ref=$(kubectl get pod "$pod" -o jsonpath='{.spec.containers[0].env[?(@.name=="NODE_ID")].valueFrom.fieldRef.fieldPath}')
		[[ $got == "$id" ]] || die "$pod: pod-index label $got, want $id"
		[[ $ref == "metadata.labels['apps.kubernetes.io/pod-index']" ]] || die "$pod: NODE_ID comes from $ref"
		echo "  $pod: NODE_ID <- $ref = $got"
	done
	pass "10 pods, each NODE_ID from its pod-index label (1..10, as topology.yaml numbers them)"

	say "3. PVCs"
	wait_for 120 "8 PVCs Bound" count_is 8 ' Bound ' kubectl get pvc --no-headers
	kubectl get pvc
	pass "8 PVCs (proposers, acceptors, learners) bound"

	say "4. headless Services"
	local svc names
	for svc in proposer acceptor learner client; do
		names=$(kubectl get endpointslices -l "kubernetes.io/service-name=$svc" -o jsonpath='{range .items[*].endpoints[*]}{.hostname}{" "}{end}')
		echo "  $svc: $names"
	done
	names=$(kubectl get endpointslices -l kubernetes.io/service-name=acceptor -o jsonpath='{range .items[*].endpoints[*]}{.hostname}{" "}{end}')
	for pod in acceptor-4 acceptor-5 acceptor-6; do
		[[ " $names " == *" $pod "* ]] || die "headless Service acceptor does not publish $pod ($names)"
	done
	pass "the headless Services publish each pod under its stable name (acceptor-4.acceptor, ...)"

	say "5. PodDisruptionBudget acceptor"
	wait_for 60 "PDB allows 1 disruption with 3 ready acceptors" pdb_allows 1
	kubectl get pdb acceptor
	# acceptor-5 not ready (as while it rejoins). kwok's pod stages leave a
	# pod that has an IP alone, so the condition stays as patched.
	kubectl patch pod acceptor-5 --subresource=status --type=strategic \
		-p '{"status":{"conditions":[{"type":"Ready","status":"False","reason":"RejoinRule"}]}}' >/dev/null
	wait_for 60 "PDB allows 0 disruptions with acceptor-5 not ready" pdb_allows 0
	kubectl get pdb acceptor
	local out
	printf '{"apiVersion":"policy/v1","kind":"Eviction","metadata":{"name":"acceptor-4","namespace":"default"}}' >"$DIR/eviction.json"
	if out=$(kubectl create --raw /api/v1/namespaces/default/pods/acceptor-4/eviction -f "$DIR/eviction.json" 2>&1); then
		die "the eviction of acceptor-4 was allowed while acceptor-5 was not ready: $out"
	fi
	echo "  $out"
	[[ $out == *TooManyRequests* || $out == *429* ]] || die "eviction refused, but not with 429: $out"
	kubectl get pod acceptor-4 >/dev/null || die "acceptor-4 is gone"
	pass "evicting acceptor-4 while acceptor-5 is not ready: 429, the pod stays"

	say "ALL PASS"
}

main
