#!/usr/bin/env bash
# Compare `berth build` with docker's classic builder (DOCKER_BUILDKIT=0,
# on a private dockerd) and
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
# Docker runs as a private dockerd with its own stores under the temp dir,
# buildah with its own storage.conf there too: the host's are not touched.
#   BENCH_REPORT=FILE   the report (docs/BENCHMARKS.md)
# Cases: "cold" is FROM busybox, 3 RUN steps and a COPY with no cache;
# "cached" the same again, fully cached; "copy20" a 20-step Dockerfile whose
# early COPY reads a file changed before each run.
set -euo pipefail

cd "$(dirname "$0")/.."

berth=${BERTH:-bin/berth}
runs=${BENCH_RUNS:-10}
out=bench/out/build
. bench/lib.sh
[ "$(id -u)" -eq 0 ] || die "run it as root: builds mount layers and run containers, and dockerd needs root"
[ -x "$berth" ] || die "$berth is not built: run 'make build' first"
need_cmds hyperfine jq busybox
need_positive BENCH_RUNS
# dockerd lives in sbin, which a sudo or cron environment may lack.
export PATH=$PATH:/usr/local/sbin:/usr/sbin:/sbin
berth=$(realpath "$berth")
rm -rf "$out"
mkdir -p "$out"
# The stores go on a disk, under /var/tmp, with a short path (containerd's
# sockets go under it).
work=$(mktemp -d "${BENCH_TMPDIR:-/var/tmp}/berth-bench-build.XXXXXX")
export BERTH_ROOT=$work/berth
export BENCH_DOCKER=unix://$work/docker/docker.sock
export DOCKER_CONFIG=$work/docker/client
export CONTAINERS_STORAGE_CONF=$work/buildah/storage.conf
export CONTAINERS_REGISTRIES_CONF=$work/buildah/registries.conf
unset DOCKER_HOST DOCKER_CONTEXT BERTH_RUNTIME_DIR
dockerd_pid=""
declare -A tools why

cleanup() {
	trap '' INT TERM
	[ -z "$dockerd_pid" ] || stop "$dockerd_pid" dockerd 30
	# What is left of the engines' processes names the temp dir.
	kill_naming "$work/"
	[ ! -d "$BERTH_ROOT" ] || release_bridges "$berth"
	remove_work
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The base image: a busybox rootfs, imported into each tool.
mkdir -p "$work/docker/client" "$work/buildah"
echo '{}' >"$DOCKER_CONFIG/config.json"
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

tools[berth]="$berth build -q"

# A private dockerd (bench/lib.sh): its own stores, no bridge.
start_dockerd() {
	start_private_dockerd none || {
		why[docker]=$dockerd_why
		return 1
	}
	docker -H "$BENCH_DOCKER" import "$work/busybox.tar" bench/busybox:1 >/dev/null 2>"$work/err" || {
		why[docker]="docker import failed: $(last_line "$work/err")"
		return 1
	}
	docker_version=$(docker -H "$BENCH_DOCKER" version --format '{{.Server.Version}}')
	# The classic builder: Docker's own time for these cases.
	tools[docker]="env DOCKER_BUILDKIT=0 docker -H $BENCH_DOCKER build -q"
}
docker_version="not run"
start_dockerd || echo "bench: docker is not measured: ${why[docker]}" >&2

# buildah, with stores of its own under the temp dir.
buildah_version="not run"
if command -v buildah >/dev/null; then
	printf '[storage]\ndriver = "overlay"\ngraphroot = "%s"\nrunroot = "%s"\n' \
		"$work/buildah/graph" "$work/buildah/run" >"$CONTAINERS_STORAGE_CONF"
	echo 'unqualified-search-registries = []' >"$CONTAINERS_REGISTRIES_CONF"
	if ctr=$(buildah from scratch 2>"$work/err") && buildah add "$ctr" "$work/busybox.tar" / >/dev/null 2>>"$work/err" &&
		buildah commit -q "$ctr" localhost/bench/busybox:1 >/dev/null 2>>"$work/err" && buildah rm "$ctr" >/dev/null; then
		sed -i 's|^FROM bench/busybox:1|FROM localhost/bench/busybox:1|' "$work/small/Dockerfile" "$work/big/Dockerfile"
		cp -r "$work/small" "$work/small-buildah" && cp -r "$work/big" "$work/big-buildah"
		sed -i 's|^FROM localhost/bench/busybox:1|FROM bench/busybox:1|' "$work/small/Dockerfile" "$work/big/Dockerfile"
		tools[buildah]="buildah build -q --layers --isolation chroot --network host"
		buildah_version=$(buildah --version | awk '{print $3}')
	else
		why[buildah]="buildah could not import the base image: $(last_line "$work/err")"
	fi
else
	why[buildah]="buildah is not installed (bench/setup.sh installs it)"
fi

declare -A mean
measure() { # measure CASE TOOL PREPARE COMMAND
	local json=$out/$1-$2.json
	if hyperfine -N --warmup 1 --runs "$runs" --prepare "$3" --export-json "$json" "$4" >/dev/null 2>"$work/err"; then
		mean[$1:$2]=$(jq '.results[0].mean' "$json")
	else
		why[$1:$2]="failed: $(last_line "$work/err")"
	fi
}
for t in berth docker buildah; do
	[ -n "${tools[$t]:-}" ] || continue
	echo "== $t" >&2
	c=${tools[$t]}
	small=$work/small big=$work/big
	[ "$t" != buildah ] || small=$work/small-buildah big=$work/big-buildah
	measure cold "$t" "true" "$c --no-cache $small"
	$c "$small" >/dev/null 2>&1 || true
	measure cached "$t" "true" "$c $small"
	$c "$big" >/dev/null 2>&1 || true
	measure copy20 "$t" "sh -c 'date +%s%N > $big/early.txt'" "$c $big"
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
	echo "$runs runs of each case, $(date -u '+%Y-%m-%d %H:%M UTC'), $(uname -sr), $(nproc) cores;"
	echo "berth commit $(berth_revision), docker $docker_version, buildah $buildah_version."
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
