#!/usr/bin/env bash
# Time `compose up -d` and `compose down` of examples/busybox (a proxy,
# an app and a cache with health checks, two networks and a volume) with
# berth and with Docker Compose (docker-compose, on a private dockerd),
# side by side in one run, and write the compose part of
# docs/BENCHMARKS.md (bench/report.sh keeps the other parts). Needs root,
# hyperfine, jq and bin/berth (`make bench-compose` builds it and
# installs docker-compose); a column whose tool is missing or cannot run
# here says why.
#   bench/compose.sh
# Settings, from the environment:
#   BERTH=PATH            the berth to measure (default bin/berth)
#   BENCH_RUNS=N          hyperfine runs of each command (10)
#   BENCH_TMPDIR=DIR      where the stores go (/var/tmp)
#   BENCH_REPORT=FILE     the report (docs/BENCHMARKS.md)
# Raw hyperfine JSON goes to bench/out/compose/.
set -euo pipefail

cd "$(dirname "$0")/.."

berth=${BERTH:-bin/berth}
runs=${BENCH_RUNS:-10}
out=bench/out/compose
img=berth-example/busybox:latest

die() {
	echo "bench: $*" >&2
	exit 1
}

[ "$(id -u)" -eq 0 ] || die "run it as root: containers need namespaces, mounts and cgroups, and dockerd needs root"
[ -x "$berth" ] || die "$berth is not built: run 'make build' first (or 'make bench-compose', which does)"
for cmd in hyperfine jq; do
	command -v "$cmd" >/dev/null || die "$cmd is missing: run scripts/setup.sh"
done
case $runs in '' | *[!0-9]* | 0) die "BENCH_RUNS must be a positive number" ;; esac
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
	[ ! -d "$BENCH_ROOT" ] || (cd "$work/project" && "$berth" --root "$BENCH_ROOT" compose -p bench down -v -t 0) >/dev/null 2>&1 || true
	if [ -n "$dockerd_pid" ]; then
		(cd "$work/project" && DOCKER_HOST=$BENCH_DOCKER docker-compose -p bench down -v -t 0) >/dev/null 2>&1 || true
		kill -TERM "$dockerd_pid" 2>/dev/null || true
		for _ in $(seq 300); do kill -0 "$dockerd_pid" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$dockerd_pid" 2>/dev/null || true
	fi
	awk -v w="$work" '$5 == w || index($5, w "/") == 1 {print $5}' /proc/self/mountinfo |
		sort -r | while read -r mp; do umount -l "$mp" 2>/dev/null || true; done
	rm -rf --one-file-system "$work"
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
	why[berth]="berth import failed: $(tail -n 1 "$work/err")"

start_dockerd() {
	command -v dockerd >/dev/null && command -v docker >/dev/null || {
		why[docker]="docker.io is not installed (scripts/setup.sh --docker)"
		return 1
	}
	command -v docker-compose >/dev/null || {
		why[docker]="docker-compose is not installed (bench/setup.sh)"
		return 1
	}
	local major config=$work/docker/daemon.json
	major=$(dockerd --version | sed -n 's/^Docker version \([0-9]*\)\..*/\1/p')
	if [ -n "$major" ] && [ "$major" -lt 23 ]; then
		printf '{"deprecated-key-path": "%s"}\n' "$work/docker/key.json" >"$config"
	else
		echo '{}' >"$config"
	fi
	setsid dockerd --config-file "$config" --data-root "$work/docker/data" --exec-root "$work/docker/exec" \
		--pidfile "$work/docker/docker.pid" -H "$BENCH_DOCKER" --bridge=none --iptables=false --ip6tables=false \
		>"$work/docker/dockerd.log" 2>&1 </dev/null &
	dockerd_pid=$!
	for _ in $(seq 600); do
		kill -0 "$dockerd_pid" 2>/dev/null || {
			why[docker]="dockerd exited at start: $(tail -n 1 "$work/docker/dockerd.log")"
			return 1
		}
		docker -H "$BENCH_DOCKER" version >/dev/null 2>&1 && break
		sleep 0.1
	done
	docker -H "$BENCH_DOCKER" import "$work/busybox.tar" "$img" >/dev/null 2>"$work/err" || {
		why[docker]="docker import failed: $(tail -n 1 "$work/err")"
		return 1
	}
}
echo "== starting dockerd"
start_dockerd || echo "bench: docker-compose is not measured: ${why[docker]}" >&2

declare -A pre=(
	[berth]="\"\$BERTH_BIN\" --root \"\$BENCH_ROOT\" compose -p bench"
	[docker]="DOCKER_HOST=\$BENCH_DOCKER docker-compose -p bench"
)
export BERTH_BIN=$berth
cd "$work/project"
declare -A up_ms down_ms version
version[berth]=$("$berth" --version 2>/dev/null | head -n 1 || echo berth)
version[docker]=$(docker-compose version --short 2>/dev/null | sed 's/^/docker-compose /' || true)
for t in berth docker; do
	[ -z "${why[$t]:-}" ] || continue
	p=${pre[$t]}
	echo "== $t: up -d"
	if ! hyperfine --shell=bash --runs "$runs" --export-json "$OLDPWD/$out/$t-up.json" \
		--prepare "$p down -v -t 0 >/dev/null 2>&1" "$p up -d >/dev/null 2>&1" >/dev/null 2>"$work/err"; then
		why[$t]="up -d failed: $(tail -n 1 "$work/err")"
		continue
	fi
	echo "== $t: down"
	if ! hyperfine --shell=bash --runs "$runs" --export-json "$OLDPWD/$out/$t-down.json" \
		--prepare "$p up -d >/dev/null 2>&1" "$p down -v -t 0 >/dev/null 2>&1" >/dev/null 2>"$work/err"; then
		why[$t]="down failed: $(tail -n 1 "$work/err")"
		continue
	fi
	up_ms[$t]=$(jq '.results[0].mean * 1000 | floor' "$OLDPWD/$out/$t-up.json")
	down_ms[$t]=$(jq '.results[0].mean * 1000 | floor' "$OLDPWD/$out/$t-down.json")
done
cd "$OLDPWD"

ratio() { [ -n "${1:-}" ] && [ -n "${2:-}" ] && [ "$1" -gt 0 ] && echo "$(jq -n "$2 / $1 * 10 | floor / 10")×" || echo "–"; }
cell() { [ -n "${1:-}" ] && echo "$1 ms" || echo "not run"; }
part=$work/part.md
{
	echo "## Compose"
	echo
	echo "\`compose up -d\` from nothing and \`compose down -v -t 0\` of examples/busybox"
	echo "(three services, two health checks waited for in order, two networks,"
	echo "a named volume, without the published port), mean of $runs runs each"
	echo "(hyperfine), on $(nproc) CPUs. Measured by \`make bench-compose\`."
	echo
	echo "| command | berth | docker-compose | berth is faster by |"
	echo "|---|---|---|---|"
	echo "| up -d | $(cell "${up_ms[berth]:-}") | $(cell "${up_ms[docker]:-}") | $(ratio "${up_ms[berth]:-}" "${up_ms[docker]:-}") |"
	echo "| down | $(cell "${down_ms[berth]:-}") | $(cell "${down_ms[docker]:-}") | $(ratio "${down_ms[berth]:-}" "${down_ms[docker]:-}") |"
	echo
	echo "Versions: ${version[berth]:-berth}; ${version[docker]:-docker-compose not installed}."
	for t in berth docker; do
		[ -z "${why[$t]:-}" ] || echo "${t/docker/docker-compose} not measured: ${why[$t]//$work/(temp dir)}."
	done
} >"$part"
bench/report.sh compose "$part"
cat "$part"
