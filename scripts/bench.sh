#!/usr/bin/env bash
# bench.sh: start a fresh local cluster (its own data, in a temp folder),
# run `paxosctl bench` at several client counts (several runs each), print
# the medians as a table and write them as JSON under bench/results/, with
# a self-contained HTML report beside it (scripts/bench-report.py: charts of
# throughput and latency percentiles, and every run over time).
#
# Usage: scripts/bench.sh [--runs N] [--duration D] [--clients "1 16 64 256"]
#                         [--targets "proposer client"] [--value-size B]
set -euo pipefail
cd "$(dirname "$0")/.."

runs=3 duration=5s clients="1 16 64 256" targets="proposer client" size=64
while [[ $# -gt 0 ]]; do
	case $1 in
	--runs) runs=$2; shift 2 ;;
	--duration) duration=$2; shift 2 ;;
	--clients) clients=$2; shift 2 ;;
	--targets) targets=$2; shift 2 ;;
	--value-size) size=$2; shift 2 ;;
	-h | --help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "bench.sh: unknown argument $1 (see --help)" >&2; exit 3 ;;
	esac
done

if (exec 3<>/dev/tcp/127.0.0.1/3001) 2>/dev/null; then
	echo "bench.sh: port 3001 is in use: stop the running cluster first (make down, or docker compose stop)" >&2
	exit 1
fi
make -s build
ctl=bin/paxosctl
data=$(mktemp -d "${TMPDIR:-/tmp}/paxos-bench.XXXXXX")
export PAXOS_VOLUMES=$data
cleanup() { scripts/local.sh down --purge >/dev/null 2>&1 || true; rm -rf "$data"; }
trap cleanup EXIT
scripts/local.sh up >/dev/null
# The secret and, with TLS=1, the CA and client certificate for paxosctl:
# TLS=1 scripts/bench.sh measures the cluster over TLS.
eval "$(scripts/secure.sh env)"
for _ in $(seq 50); do
	"$ctl" leader >/dev/null 2>&1 && break
	sleep 0.2
done
"$ctl" bench --clients 16 --duration 2s --target proposer >/dev/null 2>&1 || true # warm-up

raw=$(mktemp)
for target in $targets; do
	for n in $clients; do
		for r in $(seq "$runs"); do
			printf 'bench: target=%s clients=%s run %s/%s\n' "$target" "$n" "$r" "$runs" >&2
			"$ctl" -w json bench --clients "$n" --duration "$duration" --value-size "$size" --target "$target" >>"$raw"
			echo >>"$raw"
		done
	done
done

stamp=$(date -u +%Y%m%dT%H%M%SZ)
out=bench/results/bench-$stamp.json
python3 - "$raw" "$out" "$runs" <<'PY'
import json, statistics, sys, platform, os
raw, out, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])
rows = [json.loads(l) for l in open(raw) if l.strip()]
groups = {}
for r in rows:
    groups.setdefault((r["target"].split()[0], r["clients"]), []).append(r)
med = lambda xs: statistics.median(xs)
table = []
for (target, n), rs in sorted(groups.items()):
    table.append({
        "target": target, "clients": n, "runs": len(rs),
        "throughput": round(med([r["throughput"] for r in rs]), 1),
        "p50_ms": round(med([r["latency_ms"]["p50"] for r in rs]), 2),
        "p99_ms": round(med([r["latency_ms"]["p99"] for r in rs]), 2),
        "errors": sum(sum(r.get("errors", {}).values()) for r in rs),
        "throughput_runs": [round(r["throughput"], 1) for r in rs],
    })
meta = {"cpus": os.cpu_count(), "machine": platform.machine(), "kernel": platform.release(), "runs": runs}
json.dump({"meta": meta, "results": table, "raw": rows}, open(out, "w"), indent=1)
print(f"{'target':<9} {'clients':>7} {'writes/s':>10} {'p50 ms':>8} {'p99 ms':>8} {'errors':>6}  runs")
for t in table:
    print(f"{t['target']:<9} {t['clients']:>7} {t['throughput']:>10.0f} {t['p50_ms']:>8.2f} {t['p99_ms']:>8.2f} {t['errors']:>6}  {t['throughput_runs']}")
print(f"\nmedians of {runs} runs; written to {out}")
PY
rm -f "$raw"
python3 scripts/bench-report.py "$out"
