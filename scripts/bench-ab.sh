#!/usr/bin/env bash
# bench-ab.sh: compare the write throughput of two builds on this machine.
# It builds each git revision in its own worktree, then runs ROUNDS rounds;
# each round starts a fresh local cluster of A, benches it, stops it, and
# does the same for B (alternating, so both see the same machine noise).
# It prints the medians per client count and B/A.
#
# Usage: scripts/bench-ab.sh [--rounds N] [--duration D] [--clients "1 64 256"]
#                            [--target proposer|client] [--env-a K=V] [--env-b K=V]
#                            [--value-size BYTES] [--raw FILE] REV_A REV_B
# REV may be any git revision, or "." for the working tree as it is.
# --env-a/--env-b (repeatable) set a variable for A's or B's nodes only:
# the cost of tracing is scripts/bench-ab.sh --env-b TRACE=false . .
# and of TLS scripts/bench-ab.sh --env-a TLS=0 --env-b TLS=1 . . (TLS=1 is
# remembered in .env: say TLS=0 for the other side).
# --raw FILE keeps every run's JSON report there, one line each, after
# the side (0 for A, 1 for B). --value-size is paxosctl bench's (64 bytes
# unless given).
set -euo pipefail
cd "$(dirname "$0")/.."

rounds=3 duration=4s clients="1 64 256" target=proposer value_size=64
revs=() env_a=() env_b=() keep_raw=
while [[ $# -gt 0 ]]; do
	case $1 in
	--rounds) rounds=$2; shift 2 ;;
	--duration) duration=$2; shift 2 ;;
	--clients) clients=$2; shift 2 ;;
	--target) target=$2; shift 2 ;;
	--env-a) env_a+=("$2"); shift 2 ;;
	--env-b) env_b+=("$2"); shift 2 ;;
	--raw) keep_raw=$2; shift 2 ;;
	--value-size) value_size=$2; shift 2 ;;
	-h | --help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	-*) echo "bench-ab.sh: unknown flag $1 (see --help)" >&2; exit 3 ;;
	*) revs+=("$1"); shift ;;
	esac
done
if [[ ${#revs[@]} -ne 2 ]]; then
	echo "bench-ab.sh: give two revisions (see --help)" >&2
	exit 3
fi
if (exec 3<>/dev/tcp/127.0.0.1/3001) 2>/dev/null; then
	echo "bench-ab.sh: port 3001 is in use: stop the running cluster first (make down)" >&2
	exit 1
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/paxos-ab.XXXXXX")
dirs=()
cleanup() {
	local i
	for i in "${!dirs[@]}"; do
		if cd "${dirs[$i]}"; then
			PAXOS_VOLUMES=$work/vol$i scripts/local.sh down --purge >/dev/null 2>&1 || true
			cd - >/dev/null
		fi
		[[ ${dirs[$i]} == "$PWD" ]] || git worktree remove --force "${dirs[$i]}" >/dev/null 2>&1 || true
	done
	rm -rf "$work"
}
trap cleanup EXIT
for i in 0 1; do
	rev=${revs[$i]}
	if [[ $rev == . ]]; then
		d=$PWD
	else
		d=$work/$i
		git worktree add --detach -f "$d" "$rev" >/dev/null
	fi
	(cd "$d" && make -s build)
	dirs+=("$d")
done

raw=$work/raw
for r in $(seq "$rounds"); do
	for i in 0 1; do
		d=${dirs[$i]}
		printf 'bench-ab: round %s/%s, %s\n' "$r" "$rounds" "${revs[$i]}" >&2
		(
			cd "$d"
			export PAXOS_VOLUMES=$work/vol$i
			if ((i == 0)); then
				side_env=(${env_a[@]+"${env_a[@]}"})
			else
				side_env=(${env_b[@]+"${env_b[@]}"})
			fi
			for kv in ${side_env[@]+"${side_env[@]}"}; do
				export "${kv?}"
			done
			rm -rf "$PAXOS_VOLUMES"
			scripts/local.sh up >/dev/null
			# paxosctl gets the secret and, with TLS=1, the CA and client
			# certificate (builds before issue 19 have no secure.sh).
			if [ -x scripts/secure.sh ]; then eval "$(scripts/secure.sh env)"; fi
			for _ in $(seq 50); do bin/paxosctl leader >/dev/null 2>&1 && break; sleep 0.2; done
			bin/paxosctl bench --clients 16 --duration 2s >/dev/null 2>&1 || true # warm-up
			for n in $clients; do
				printf '%s ' "$i"
				bin/paxosctl -w json bench --clients "$n" --duration "$duration" --target "$target" --value-size "$value_size"
				echo
			done
			scripts/local.sh down --purge >/dev/null
		) >>"$raw"
	done
done

if [[ -n $keep_raw ]]; then
	cp "$raw" "$keep_raw"
fi
python3 - "$raw" "${revs[0]} ${env_a[*]+${env_a[*]}}" "${revs[1]} ${env_b[*]+${env_b[*]}}" <<'PY'
import json, statistics, sys
raw, a, b = sys.argv[1:]
rows = {}
for line in open(raw):
    line = line.strip()
    if not line:
        continue
    i, js = line.split(" ", 1)
    r = json.loads(js)
    rows.setdefault((r["clients"], int(i)), []).append(r)
med = statistics.median
print(f"{'clients':>7}  {'A writes/s':>10} {'p50':>6} {'p99':>7}  {'B writes/s':>10} {'p50':>6} {'p99':>7}  {'B/A':>5}")
for n in sorted({k[0] for k in rows}):
    ra, rb = rows.get((n, 0), []), rows.get((n, 1), [])
    if not ra or not rb:
        continue
    ta, tb = med([r["throughput"] for r in ra]), med([r["throughput"] for r in rb])
    pa = lambda rs, q: med([r["latency_ms"][q] for r in rs])
    print(f"{n:>7}  {ta:>10.0f} {pa(ra,'p50'):>6.2f} {pa(ra,'p99'):>7.1f}  {tb:>10.0f} {pa(rb,'p50'):>6.2f} {pa(rb,'p99'):>7.1f}  {tb/ta:>5.2f}")
print(f"\nA = {a}, B = {b}; medians of {len(next(iter(rows.values())))} runs per cell, clusters alternated")
PY
