#!/usr/bin/env bash
# Time `compose up -d` and `compose down` of examples/busybox (a proxy,
# an app and a cache with health checks, two networks and a volume) and
# of examples/debian (nginx, an app and Redis built from Debian packages)
# with berth and with Docker Compose (docker-compose, on a private dockerd),
# side by side in one run, and write the compose part of
# docs/BENCHMARKS.md (bench/report.sh keeps the other parts). Needs root,
# hyperfine, jq and bin/berth (`make bench-compose` builds it and
# installs docker-compose); a column whose tool is missing or cannot run
# here says why.
#   bench/compose.sh
# Settings, from the environment:
#   BERTH=PATH            the berth to measure (default bin/berth)
#   BENCH_RUNS=N          hyperfine runs of each command (10)
#   BENCH_DEBIAN=0        leave out examples/debian (its base needs a Debian
#                         mirror, or the tarball the build tests cache)
#   BENCH_TMPDIR=DIR      where the stores go (/var/tmp)
#   BENCH_REPORT=FILE     the report (docs/BENCHMARKS.md)
# Raw hyperfine JSON goes to bench/out/compose/.
set -euo pipefail

cd "$(dirname "$0")/.."

berth=${BERTH:-bin/berth}
runs=${BENCH_RUNS:-10}
out=bench/out/compose
img="berth-example/busybox:latest"
. bench/lib.sh
[ "$(id -u)" -eq 0 ] || die "run it as root: containers need namespaces, mounts and cgroups, and dockerd needs root"
[ -x "$berth" ] || die "$berth is not built: run 'make build' first (or 'make bench-compose', which does)"
need_cmds hyperfine jq
need_positive BENCH_RUNS
export PATH=$PATH:/usr/local/sbin:/usr/sbin:/sbin
berth=$(realpath "$berth")

rm -rf "$out"
mkdir -p "$out"
work=$(mktemp -d "${BENCH_TMPDIR:-/var/tmp}/berth-bench-compose.XXXXXX")
export BENCH_ROOT=$work/berth
export BENCH_DOCKER=unix://$work/docker/docker.sock
export DOCKER_CONFIG=$work/docker/client
unset DOCKER_HOST DOCKER_CONTEXT BERTH_ROOT BERTH_RUNTIME_DIR COMPOSE_FILE COMPOSE_PROJECT_NAME
declare -A why
dockerd_pid=""

cleanup() {
	trap '' INT TERM
	local ex
	for ex in busybox:project debian:debian; do
		[ ! -d "$BENCH_ROOT" ] || [ ! -d "$work/${ex#*:}" ] ||
			(cd "$work/${ex#*:}" && "$berth" --root "$BENCH_ROOT" compose -p "bench${ex%%:*}" down -v -t 0) >/dev/null 2>&1 || true
		[ -z "$dockerd_pid" ] || [ ! -d "$work/${ex#*:}" ] ||
			(cd "$work/${ex#*:}" && DOCKER_HOST=$BENCH_DOCKER docker-compose -p "bench${ex%%:*}" down -v -t 0) >/dev/null 2>&1 || true
	done
	[ -z "$dockerd_pid" ] || stop "$dockerd_pid" dockerd 30
	remove_work
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -p "$BENCH_ROOT" "$DOCKER_CONFIG" "$work/project"
echo '{}' >"$DOCKER_CONFIG/config.json"
# The example without its published port: both tools run the same
# services, networks and volume, and no host port can be taken already.
cp -r examples/busybox/. "$work/project/"
sed -i -e '/^name:/d' -e '/^    ports:/,+1d' "$work/project/compose.yaml"
scripts/busybox-rootfs.sh "$work/rootfs" >/dev/null
tar -C "$work/rootfs" -cf "$work/busybox.tar" .

"$berth" --root "$BENCH_ROOT" import "$work/busybox.tar" "$img" >/dev/null 2>"$work/err" ||
	why[berth]="berth import failed: $(last_line "$work/err")"

# A private dockerd (bench/lib.sh): its own stores, no bridge.
start_dockerd() {
	command -v docker-compose >/dev/null || {
		why[docker]="docker-compose is not installed (bench/setup.sh)"
		return 1
	}
	start_private_dockerd none || {
		why[docker]=$dockerd_why
		return 1
	}
	docker -H "$BENCH_DOCKER" import "$work/busybox.tar" "$img" >/dev/null 2>"$work/err" || {
		why[docker]="docker import failed: $(last_line "$work/err")"
		return 1
	}
}
echo "== starting dockerd"
start_dockerd || echo "bench: docker-compose is not measured: ${why[docker]}" >&2

# The Debian example, when its base can be made (examples/debian/setup.sh:
# a Debian mirror, or the tarball berth's build tests cache): berth builds
# its images and docker loads them, so that both run the same images.
debian=${BENCH_DEBIAN:-1}
if [ "$debian" = 1 ]; then
	echo "== debian: base image and builds"
	mkdir -p "$work/debian"
	cp -r examples/debian/. "$work/debian/"
	sed -i -e '/^name:/d' "$work/debian/compose.yaml"
	if ! BERTH=$berth BERTH_ROOT=$BENCH_ROOT examples/debian/setup.sh >"$work/err" 2>&1; then
		why[debian]="examples/debian/setup.sh failed: $(last_line "$work/err")"
	elif ! (cd "$work/debian" && "$berth" --root "$BENCH_ROOT" compose -p benchdeb build) >"$work/err" 2>&1; then
		why[debian]="berth compose build failed: $(last_line "$work/err")"
	elif [ -z "${why[docker]:-}" ] && ! "$berth" --root "$BENCH_ROOT" save debshop/proxy:latest debshop/app:latest debshop/redis:latest |
		docker -H "$BENCH_DOCKER" load >/dev/null 2>"$work/err"; then
		why[debian]="docker load of the images berth built failed: $(last_line "$work/err")"
	fi
fi
# A free host port for the Debian example's proxy.
export PROXY_PORT=$((20000 + RANDOM % 20000))

declare -A pre=(
	[berth]="\"\$BERTH_BIN\" --root \"\$BENCH_ROOT\" compose"
	[docker]="DOCKER_HOST=\$BENCH_DOCKER docker-compose"
)
declare -A upflags=([berth]="up -d" [docker]="up -d --no-build")
export BERTH_BIN=$berth
declare -A up_ms down_ms version
version[berth]=$("$berth" --version 2>/dev/null | head -n 1 || echo berth)
version[docker]=$(docker-compose version --short 2>/dev/null | sed 's/^/docker-compose /' || true)
# measure EXAMPLE DIR: up -d from nothing, then down, with each tool.
measure() {
	local ex=$1 dir=$2 t p
	for t in berth docker; do
		[ -z "${why[$t]:-}" ] || continue
		p="${pre[$t]} -p bench$ex"
		echo "== $ex, $t: up -d"
		if ! (cd "$dir" && hyperfine --shell=bash --runs "$runs" --export-json "$OLDPWD/$out/$ex-$t-up.json" \
			--prepare "$p down -v -t 0 >/dev/null 2>&1" "$p ${upflags[$t]} >/dev/null 2>&1") >/dev/null 2>"$work/err"; then
			why[$ex-$t]="up -d failed: $(last_line "$work/err")"
			continue
		fi
		echo "== $ex, $t: down"
		if ! (cd "$dir" && hyperfine --shell=bash --runs "$runs" --export-json "$OLDPWD/$out/$ex-$t-down.json" \
			--prepare "$p ${upflags[$t]} >/dev/null 2>&1" "$p down -v -t 0 >/dev/null 2>&1") >/dev/null 2>"$work/err"; then
			why[$ex-$t]="down failed: $(last_line "$work/err")"
			continue
		fi
		up_ms[$ex-$t]=$(jq '.results[0].mean * 1000 | floor' "$out/$ex-$t-up.json")
		down_ms[$ex-$t]=$(jq '.results[0].mean * 1000 | floor' "$out/$ex-$t-down.json")
	done
}
measure busybox "$work/project"
[ "$debian" != 1 ] || [ -n "${why[debian]:-}" ] || measure debian "$work/debian"

faster() { [ -n "${1:-}" ] && [ -n "${2:-}" ] && [ "$1" -gt 0 ] && echo "$(jq -n "$2 / $1 * 10 | floor / 10")×" || echo "–"; }
cell() { [ -n "${1:-}" ] && echo "$1 ms" || echo "not run"; }
row() { echo "| $1 | $(cell "${2:-}") | $(cell "${3:-}") | $(faster "${2:-}" "${3:-}") |"; }
part=$work/part.md
{
	echo "## Compose"
	echo
	echo "\`compose up -d\` from nothing and \`compose down -v -t 0\`, mean of $runs runs"
	echo "each (hyperfine), on $(nproc) CPUs, measured by \`make bench-compose\`:"
	echo "examples/busybox (a proxy, an app and a cache, two health checks waited"
	echo "for in order, two networks, a named volume, without its published port)"
	echo "and examples/debian (nginx, a Python app and Redis built from Debian"
	echo "packages, two health checks, two networks, a published port; the images"
	echo "are built beforehand, by berth, and loaded into docker). Both tools wait"
	echo "for the health checks, run every second: most of \`up\`'s time is that"
	echo "wait."
	echo
	echo "| command | berth | docker-compose | berth is faster by |"
	echo "|---|---|---|---|"
	row "busybox: up -d" "${up_ms[busybox-berth]:-}" "${up_ms[busybox-docker]:-}"
	row "busybox: down" "${down_ms[busybox-berth]:-}" "${down_ms[busybox-docker]:-}"
	row "debian: up -d" "${up_ms[debian-berth]:-}" "${up_ms[debian-docker]:-}"
	row "debian: down" "${down_ms[debian-berth]:-}" "${down_ms[debian-docker]:-}"
	echo
	echo "Versions: ${version[berth]:-berth}; ${version[docker]:-docker-compose not installed}."
	for k in "${!why[@]}"; do
		echo "Not measured, $k: ${why[$k]//$work/(temp dir)}."
	done | sort | sed 's/docker/docker-compose/'
} >"$part"
bench/report.sh compose "$part"
cat "$part"
