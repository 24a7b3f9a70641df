#!/usr/bin/env bash
# mutants.sh - break the core and the storage on purpose, one mutation at a
# time, and check that the fast test set notices each one (make mutants).
#
# The mutations are in scripts/mutants.txt (internal/mutate reads and applies
# them). Each is applied to a temporary copy of the repository (the real tree
# is never touched), then the fast test set runs there, package by package,
# stopping at the first failure. It prints one row per mutation: whether a
# test caught it, the first failing test, and the seconds it took.
#
# It exits non-zero when a mutation survives, when one no longer applies
# (its original snippet is gone: the code moved, update the list), or when
# a mutant does not build (that is no catch).
#
#   scripts/mutants.sh                 # every mutation
#   scripts/mutants.sh NAME...         # only these
#   scripts/mutants.sh --list          # the mutations, with what they break
#
# MUTANTS_PKGS overrides the fast test set (default: ./storage ./replog
# ./server, in that order: the quickest first). Each mutation runs its own
# file's package first.
set -euo pipefail

PROG=mutants.sh
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
list="$root/scripts/mutants.txt"
read -r -a pkgs <<<"${MUTANTS_PKGS:-./storage ./replog ./server}"

die() {
	printf '%s: %s\n' "$PROG" "$*" >&2
	exit 2
}

command -v go >/dev/null 2>&1 || die "go not found in PATH"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/paxos-mutants.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

go build -o "$tmp/mutate" "$root/internal/mutate" || die "cannot build internal/mutate"

case ${1:-} in
--list)
	"$tmp/mutate" list "$list"
	exit 0
	;;
-h | --help)
	awk 'NR == 1 { next } /^#/ { sub(/^# ?/, ""); print; next } { exit }' "${BASH_SOURCE[0]}"
	exit 0
	;;
-*) die "unknown option $1 (see --help)" ;;
esac

names=()
if (($# > 0)); then
	names=("$@")
else
	while IFS=$'\t' read -r name _; do
		names+=("$name")
	done < <("$tmp/mutate" list "$list")
fi
((${#names[@]} > 0)) || die "no mutation in $list"

# The copy: the files git knows (tracked, and new ones not ignored), as they
# are in the work tree now.
src="$tmp/src"
mkdir -p "$src"
(
	cd "$root"
	git ls-files -z --cached --others --exclude-standard |
		while IFS= read -r -d '' f; do
			[[ -e $f ]] && printf '%s\0' "$f"
		done |
		tar --null -T - -cf -
) | tar -xf - -C "$src"

# file_of prints the file a mutation changes.
file_of() {
	awk -v n="== $1" '$0 == n { found = 1; next } found && /^file:/ { sub(/^file:[ \t]*/, ""); print; exit }' "$list"
}

start=$SECONDS
bad=0
printf '%-30s %-7s %-55s %5s\n' MUTATION CAUGHT "BY (first failing test)" SECS
for name in "${names[@]}"; do
	t0=$SECONDS
	file=$(file_of "$name")
	log="$tmp/$name.log"
	: >"$log"
	caught=no
	by=""
	if [[ -z $file ]]; then
		by="NOT IN THE LIST"
		bad=1
	elif ! "$tmp/mutate" apply "$list" "$name" "$src" >"$log" 2>&1; then
		by="DOES NOT APPLY: $(tail -n 1 "$log")"
		bad=1
	else
		# The mutated file's own package first (its tests are the likeliest
		# to catch it), then the rest of the set in order.
		order=()
		for pkg in "${pkgs[@]}"; do
			[[ $pkg == "./$(dirname "$file")" ]] && order=("$pkg" "${order[@]}") || order+=("$pkg")
		done
		for pkg in "${order[@]}"; do
			if ! (cd "$src" && go test -count=1 -failfast -timeout 15m "$pkg") >>"$log" 2>&1; then
				if grep -q -e '\[build failed\]' -e '\[setup failed\]' "$log"; then
					by="DOES NOT BUILD (see below)"
					bad=1
				else
					caught=yes
					by=$(grep -m 1 -o -e '--- FAIL: [^ ]*' "$log" | sed 's/--- FAIL: //' || true)
					by="${by:-$pkg (no test name: $(grep -m 1 -e '^panic:' -e 'timed out' "$log" || echo 'see log'))}"
				fi
				break
			fi
		done
		cp "$root/$file" "$src/$file"
		if [[ $caught == no && $by == "" ]]; then
			by="SURVIVED ${pkgs[*]}"
			bad=1
		fi
	fi
	row=$(printf '%-30s %-7s %-55s %5d' "$name" "$caught" "$by" $((SECONDS - t0)))
	echo "$row"
	if [[ $caught == no ]]; then
		sed 's/^/    | /' "$log" | tail -n 20
	fi
done
echo "total: ${#names[@]} mutations, $((SECONDS - start)) s"
if ((bad)); then
	echo "$PROG: FAIL: some mutation survived or did not apply (rows with caught=no above)" >&2
	exit 1
fi
echo "$PROG: every mutation was caught"
