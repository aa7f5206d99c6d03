#!/usr/bin/env bash
# Compare `berth build` with docker's classic builder (DOCKER_BUILDKIT=0,
# against the daemon DOCKER_HOST names, or the default socket) and
# buildah, side by side in one run, on the same busybox image and the same
# contexts, and write the build part of docs/BENCHMARKS.md (bench/report.sh
# keeps the other parts). Needs root, hyperfine, jq and bin/berth (`make
# bench-build` builds it); a tool that is missing or cannot build here gets
# a column that says why.
#   bench/build.sh
# Settings, from the environment:
#   BERTH=PATH          the berth to measure (default bin/berth)
#   BENCH_RUNS=N        hyperfine runs of each case (10)
#   BENCH_TMPDIR=DIR    where the stores and contexts go (/var/tmp)
#   BENCH_REPORT=FILE   the report (docs/BENCHMARKS.md)
# Cases: "cold" is FROM busybox, 3 RUN steps and a COPY with no cache;
# "cached" the same again, fully cached; "copy20" a 20-step Dockerfile whose
# early COPY reads a file changed before each run.
set -euo pipefail

cd "$(dirname "$0")/.."

berth=${BERTH:-bin/berth}
runs=${BENCH_RUNS:-10}
out=bench/out/build
die() {
	echo "bench: $*" >&2
	exit 1
}
[ "$(id -u)" -eq 0 ] || die "run it as root: builds mount layers and run containers"
[ -x "$berth" ] || die "$berth is not built: run 'make build' first"
for cmd in hyperfine jq busybox; do
	command -v "$cmd" >/dev/null || die "$cmd is missing: run scripts/setup.sh"
done
berth=$(realpath "$berth")
work=$(mktemp -d "${BENCH_TMPDIR:-/var/tmp}/berth-bench-build.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$out"
export BERTH_ROOT=$work/berth-root

# The base image: a busybox rootfs, imported into each tool.
scripts/busybox-rootfs.sh "$work/rootfs" >/dev/null
tar -C "$work/rootfs" -c . >"$work/busybox.tar"
"$berth" import "$work/busybox.tar" bench/busybox:1 >/dev/null

mkdir -p "$work/small" "$work/big"
echo data >"$work/small/file.txt"
cat >"$work/small/Dockerfile" <<'DF'
FROM bench/busybox:1
RUN echo one > /one
RUN echo two > /two
COPY file.txt /app/file.txt
RUN cat /app/file.txt > /three
DF
echo 0 >"$work/big/early.txt"
{
	echo "FROM bench/busybox:1"
	echo "COPY early.txt /early.txt"
	for i in $(seq 1 18); do echo "RUN echo $i > /step$i"; done
} >"$work/big/Dockerfile"

declare -A tools why
tools[berth]="$berth build -q"
if command -v docker >/dev/null && docker info >/dev/null 2>&1; then
	docker import "$work/busybox.tar" bench/busybox:1 >/dev/null
	tools[docker]="env DOCKER_BUILDKIT=0 docker build -q"
else
	why[docker]="no Docker daemon answers here"
fi
if command -v buildah >/dev/null; then
	if buildah import "$work/busybox.tar" bench/busybox:1 >/dev/null 2>&1 ||
		buildah pull "docker-archive:$work/busybox.tar" >/dev/null 2>&1; then
		tools[buildah]="buildah build -q --layers"
	else
		why[buildah]="buildah could not import the base image"
	fi
else
	why[buildah]="buildah is not installed"
fi

declare -A mean
measure() { # measure CASE TOOL PREPARE COMMAND
	local json=$out/$1-$2.json
	if hyperfine -N --runs "$runs" --prepare "$3" --export-json "$json" "$4" >/dev/null 2>"$work/err"; then
		mean[$1:$2]=$(jq '.results[0].mean' "$json")
	else
		why[$1:$2]="failed: $(tail -n 1 "$work/err")"
	fi
}
for t in berth docker buildah; do
	[ -n "${tools[$t]:-}" ] || continue
	c=${tools[$t]}
	nocache="--no-cache"
	measure cold "$t" "true" "$c $nocache $work/small"
	$c "$work/small" >/dev/null
	measure cached "$t" "true" "$c $work/small"
	$c "$work/big" >/dev/null
	measure copy20 "$t" "sh -c 'date +%s%N > $work/big/early.txt'" "$c $work/big"
done

cell() { # cell CASE TOOL
	local m=${mean[$1:$2]:-}
	if [ -z "$m" ]; then
		echo "${why[$1:$2]:-${why[$2]:-not run}}"
	elif [ -n "${mean[$1:berth]:-}" ] && [ "$2" != berth ]; then
		awk -v m="$m" -v b="${mean[$1:berth]}" 'BEGIN {printf "%.3f s (berth: %.2f×)", m, b / m}'
	else
		awk -v m="$m" 'BEGIN {printf "%.3f s", m}'
	fi
}
goal() { # goal CASE FACTOR
	local b=${mean[$1:berth]:-} d=${mean[$1:docker]:-}
	if [ -z "$b" ] || [ -z "$d" ]; then
		echo "not measured: ${why[docker]:-docker gave no result}"
	else
		awk -v b="$b" -v d="$d" -v f="$2" 'BEGIN {r = b / d; printf "%s: %.2f× Docker'"'"'s time", (r <= f ? "met" : "missed"), r}'
	fi
}
{
	echo "## Build"
	echo
	echo "\`berth build\` against docker's classic builder and buildah, on one"
	echo "busybox image each tool imports (bench/build.sh, \`make bench-build\`),"
	echo "$runs runs of each case, $(date -u '+%Y-%m-%d %H:%M UTC'), $(uname -sr), $(nproc) cores."
	echo
	echo "| goal | result |"
	echo "|---|---|"
	echo "| cold build at most 0.5× Docker's time | $(goal cold 0.5) |"
	echo "| fully cached rebuild at most Docker's time | $(goal cached 1) |"
	echo
	echo "| case | berth | docker (classic) | buildah |"
	echo "|---|---|---|---|"
	echo "| cold: FROM busybox, 3 RUN, 1 COPY, --no-cache | $(cell cold berth) | $(cell cold docker) | $(cell cold buildah) |"
	echo "| the same, fully cached | $(cell cached berth) | $(cell cached docker) | $(cell cached buildah) |"
	echo "| 20 steps, the early COPY's file changed | $(cell copy20 berth) | $(cell copy20 docker) | $(cell copy20 buildah) |"
} >"$work/report.md"
cat "$work/report.md"
bench/report.sh build "$work/report.md"
