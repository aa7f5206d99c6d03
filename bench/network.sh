#!/usr/bin/env bash
# Compare the throughput of a published port on loopback: berth (nftables
# DNAT, the kernel forwards), Docker (docker-proxy, a userland copy) and
# Podman (netavark's rules), side by side in one run, and write the network
# part of docs/BENCHMARKS.md (bench/report.sh keeps the other parts). Needs
# root, Go, jq and bin/berth (`make bench-network` builds it); dockerd and
# docker, and podman, give their columns, and a column whose tool is missing
# or cannot run here says why.
#   bench/network.sh
# Each tool runs one container from the same busybox image holding
# bench/tcpthru, which discards what it is sent, published as
# 127.0.0.1:PORT:5001; tcpthru on the host sends to 127.0.0.1:PORT for a
# few seconds, over one connection and over several.
# Settings, from the environment:
#   BERTH=PATH              the berth to measure (default bin/berth)
#   BENCH_NET_SECONDS=N     seconds each send lasts (5)
#   BENCH_NET_RUNS=N        sends of each kind per tool; the median counts (3)
#   BENCH_NET_STREAMS=N     connections at once in the second kind (4)
#   BENCH_TMPDIR=DIR        where the stores go (/var/tmp)
#   BENCH_REPORT=FILE       the report (docs/BENCHMARKS.md)
# Raw results go to bench/out/network/.
set -euo pipefail

cd "$(dirname "$0")/.."

berth=${BERTH:-bin/berth}
secs=${BENCH_NET_SECONDS:-5}
runs=${BENCH_NET_RUNS:-3}
streams=${BENCH_NET_STREAMS:-4}
out=bench/out/network
img=bench/tcpthru:1

die() {
	echo "bench: $*" >&2
	exit 1
}

[ "$(id -u)" -eq 0 ] || die "run it as root: containers need namespaces, and the tools change the host's network"
[ -x "$berth" ] || die "$berth is not built: run 'make build' first (or 'make bench-network', which does)"
for cmd in jq ip; do
	command -v "$cmd" >/dev/null || die "$cmd is missing: run scripts/setup.sh"
done
for v in BENCH_NET_SECONDS BENCH_NET_RUNS BENCH_NET_STREAMS; do
	case ${!v:-1} in
	'' | *[!0-9]* | 0) die "$v must be a positive number" ;;
	esac
done
export PATH=$PATH:/usr/local/go/bin:/usr/local/sbin:/usr/sbin:/sbin
go=$(command -v go) || die "go is missing: bench/tcpthru is built with it"

rm -rf "$out"
mkdir -p "$out"
work=$(mktemp -d "${BENCH_TMPDIR:-/var/tmp}/berth-bench-net.XXXXXX")
export BENCH_ROOT=$work/berth
export BENCH_DOCKER=unix://$work/docker/docker.sock
export DOCKER_CONFIG=$work/docker/client
export CONTAINERS_CONF=$work/podman/containers.conf
export CONTAINERS_STORAGE_CONF=$work/podman/storage.conf
unset DOCKER_HOST DOCKER_CONTEXT DOCKER_TLS_VERIFY DOCKER_CERT_PATH
unset CONTAINER_HOST CONTAINER_CONNECTION BERTH_ROOT BERTH_RUNTIME_DIR

bench_start=$(date +%s.%N)
tools=(berth docker podman)
declare -A pre=(
	[berth]="$berth --root \"\$BENCH_ROOT\""
	[docker]="docker -H \"\$BENCH_DOCKER\""
	[podman]="podman"
)
declare -A port=([berth]=18091 [docker]=18092 [podman]=18093)
declare -A tool_why version
dockerd_pid=""
# dockerd's bridge: its own, so that the host's docker0 (if any) is left
# alone, and made here, so that dockerd does not pick an address range.
docker_bridge=bbench$$
docker_bridge_cidr=172.30.$(($$ % 200 + 20)).1/24

stop() {
	local pid=$1 i
	kill -TERM "$pid" 2>/dev/null || return 0
	for ((i = 0; i < $3 * 10; i++)); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.1
	done
	echo "bench: $2 did not stop within $3 s of SIGTERM; killing it" >&2
	kill -KILL "$pid" 2>/dev/null || true
}

cleanup() {
	local mp
	trap '' INT TERM
	[ ! -d "$BENCH_ROOT" ] || timeout 60 sh -c "${pre[berth]} rm -f bench-net" >/dev/null 2>&1 || true
	if [ -n "$dockerd_pid" ]; then
		timeout 60 docker -H "$BENCH_DOCKER" rm -f bench-net >/dev/null 2>&1 || true
		stop "$dockerd_pid" dockerd 30
	fi
	if [ -f "$CONTAINERS_CONF" ] && command -v podman >/dev/null; then
		timeout 60 podman rm -f -t 0 bench-net >/dev/null 2>&1 || true
	fi
	ip link del "$docker_bridge" 2>/dev/null || true
	awk -v w="$work" '$5 == w || index($5, w "/") == 1 {print $5}' /proc/self/mountinfo |
		sort -r | while read -r mp; do umount -l "$mp" 2>/dev/null || true; done
	rm -rf --one-file-system "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -p "$BENCH_ROOT" "$work/docker/client" "$work/podman/tmp"
echo '{}' >"$DOCKER_CONFIG/config.json"

last_line() {
	local line
	line=$(grep -v '^[[:space:]]*$' "$1" 2>/dev/null | tail -n 1)
	line=${line//"$BENCH_ROOT"/\$BENCH_ROOT}
	line=${line//"$work"/(temp dir)}
	line=${line:0:200}
	echo "${line:-no error message}"
}

# --- the image ---------------------------------------------------------------
echo "== making the image: busybox and bench/tcpthru"
CGO_ENABLED=0 "$go" build -o "$work/tcpthru" ./bench/tcpthru
scripts/busybox-rootfs.sh "$work/rootfs"
cp "$work/tcpthru" "$work/rootfs/bin/tcpthru"
tar -cf "$work/image.tar" -C "$work/rootfs" .
serve="tcpthru -serve :5001"

# --- the tools ---------------------------------------------------------------
version[berth]=$("$berth" --version 2>/dev/null | head -n 1 || true)
if ! "$berth" --root "$BENCH_ROOT" import "$work/image.tar" "$img" >/dev/null 2>"$work/err" </dev/null; then
	tool_why[berth]="berth import failed: $(last_line "$work/err")"
fi

start_dockerd() {
	local dockerd i
	dockerd=$(command -v dockerd) && command -v docker >/dev/null || {
		tool_why[docker]="docker.io is not installed (scripts/setup.sh --docker)"
		return 1
	}
	ip link add "$docker_bridge" type bridge
	ip addr add "$docker_bridge_cidr" dev "$docker_bridge"
	ip link set "$docker_bridge" up
	echo '{}' >"$work/docker/daemon.json"
	# No iptables: Docker leaves loopback traffic to docker-proxy in any
	# case, and the host's firewall stays as it is.
	setsid "$dockerd" --config-file "$work/docker/daemon.json" \
		--data-root "$work/docker/data" --exec-root "$work/docker/exec" \
		--pidfile "$work/docker/docker.pid" -H "$BENCH_DOCKER" \
		--bridge="$docker_bridge" --iptables=false --ip6tables=false \
		>"$work/docker/dockerd.log" 2>&1 </dev/null &
	dockerd_pid=$!
	for ((i = 0; i < 600; i++)); do
		if ! kill -0 "$dockerd_pid" 2>/dev/null; then
			tool_why[docker]="dockerd exited at start: $(last_line "$work/docker/dockerd.log")"
			return 1
		fi
		docker -H "$BENCH_DOCKER" version >/dev/null 2>&1 && break
		sleep 0.1
	done
	if [ "$i" = 600 ]; then
		tool_why[docker]="dockerd did not answer within 60 s: $(last_line "$work/docker/dockerd.log")"
		return 1
	fi
	version[docker]=$(docker -H "$BENCH_DOCKER" version --format 'Docker {{.Server.Version}}' 2>/dev/null || true)
	if ! docker -H "$BENCH_DOCKER" import "$work/image.tar" "$img" >/dev/null 2>"$work/err" </dev/null; then
		tool_why[docker]="docker import failed: $(last_line "$work/err")"
		return 1
	fi
}
echo "== starting dockerd"
start_dockerd || echo "bench: docker is not measured: ${tool_why[docker]}" >&2

start_podman() {
	command -v podman >/dev/null || {
		tool_why[podman]="podman is not installed (bench/setup.sh installs it)"
		return 1
	}
	cat >"$CONTAINERS_STORAGE_CONF" <<-EOF
		[storage]
		driver = "overlay"
		graphroot = "$work/podman/root"
		runroot = "$work/podman/run"
	EOF
	cat >"$CONTAINERS_CONF" <<-EOF
		[engine]
		cgroup_manager = "cgroupfs"
		events_logger = "file"
		events_logfile_path = "$work/podman/events.log"
		tmp_dir = "$work/podman/tmp"
	EOF
	# crun, podman's default, fails on a cgroup v1 hybrid host; runc
	# is what Docker runs.
	if [ ! -d /sys/fs/cgroup/cpu ] || ! command -v runc >/dev/null; then :; else
		echo 'runtime = "runc"' >>"$CONTAINERS_CONF"
	fi
	version[podman]=$(podman --version 2>/dev/null || true)
	if ! podman import "$work/image.tar" "$img" >/dev/null 2>"$work/err" </dev/null; then
		tool_why[podman]="podman import failed: $(last_line "$work/err")"
		return 1
	fi
}
echo "== setting up podman"
start_podman || echo "bench: podman is not measured: ${tool_why[podman]}" >&2

# --- the sends ---------------------------------------------------------------
declare -A result # "tool:kind" -> median Gbit/s
declare -A why    # tool -> why it has no results

# median_gbits FILE...: the median of the "gbits" of the JSON lines.
median_gbits() {
	jq -s 'map(.gbits) | sort | .[(length - 1) / 2 | floor]' "$@"
}

measure() {
	local t=$1 addr=127.0.0.1:${port[$1]} i kind n
	echo
	echo "== $t: a container with -p $addr:5001"
	if ! sh -c "${pre[$t]} run -d --name bench-net -p $addr:5001 $img $serve" </dev/null >/dev/null 2>"$work/err"; then
		why[$t]="run -d -p failed: $(last_line "$work/err")"
		return 1
	fi
	for ((i = 0; i < 100; i++)); do
		"$work/tcpthru" -to "$addr" -t 0.01 >/dev/null 2>"$work/err" && break
		sleep 0.1
	done
	if [ "$i" = 100 ]; then
		why[$t]="the published port did not answer within 10 s: $(last_line "$work/err")"
		return 1
	fi
	for kind in 1 "$streams"; do
		for ((i = 1; i <= runs; i++)); do
			if ! "$work/tcpthru" -to "$addr" -t "$secs" -P "$kind" >"$out/$t-P$kind-$i.json" 2>"$work/err"; then
				why[$t]="tcpthru -P $kind failed: $(last_line "$work/err")"
				return 1
			fi
			n=$(jq -r '.gbits * 100 | round / 100' "$out/$t-P$kind-$i.json")
			echo "   $kind connection(s), run $i: $n Gbit/s"
		done
		result[$t:$kind]=$(median_gbits "$out/$t-P$kind"-*.json)
	done
}

for t in "${tools[@]}"; do
	if [ -n "${tool_why[$t]:-}" ]; then
		why[$t]=${tool_why[$t]}
		continue
	fi
	measure "$t" || echo "bench: $t: ${why[$t]}" >&2
	case $t in
	berth) sh -c "${pre[berth]} rm -f bench-net" >/dev/null 2>&1 || true ;;
	docker) docker -H "$BENCH_DOCKER" rm -f bench-net >/dev/null 2>&1 || true ;;
	podman) podman rm -f -t 0 bench-net >/dev/null 2>&1 || true ;;
	esac
done

# --- the report --------------------------------------------------------------
fmt() { awk -v x="$1" 'BEGIN {printf "%.1f", x}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (b > 0) printf "%.1f×", a / b; else print "–"}'; }
tmp=$(mktemp)
{
	echo "## Network"
	echo
	echo "Throughput through a port published on 127.0.0.1, from the host, in"
	echo "Gbit/s (the median of $runs sends of $secs s each); higher is better."
	echo "The goal is at least twice Docker's. Host: $(nproc) CPUs, kernel $(uname -r)."
	echo
	echo "| tool | forwarding | 1 connection | $streams connections | vs docker (1 / $streams) |"
	echo "|---|---|---|---|---|"
	declare -A how=([berth]="nftables DNAT (kernel)" [docker]="docker-proxy (userland)" [podman]="netavark DNAT (kernel)")
	for t in "${tools[@]}"; do
		label="$t${version[$t]:+ (${version[$t]})}"
		if [ -n "${result[$t:1]:-}" ] && [ -n "${result[$t:$streams]:-}" ]; then
			vs="–"
			if [ -n "${result[docker:1]:-}" ] && [ "$t" != docker ]; then
				vs="$(ratio "${result[$t:1]}" "${result[docker:1]}") / $(ratio "${result[$t:$streams]}" "${result[docker:$streams]}")"
			fi
			echo "| $label | ${how[$t]} | $(fmt "${result[$t:1]}") | $(fmt "${result[$t:$streams]}") | $vs |"
		else
			echo "| $label | ${how[$t]} | not run: ${why[$t]:-no result} | | |"
		fi
	done
	echo
	echo "### How it was measured"
	echo
	echo "Each tool imports the same tarball, scripts/busybox-rootfs.sh's tree"
	echo "with bench/tcpthru (a static Go program) added, as $img, and runs one"
	echo "container, \`run -d --name bench-net -p 127.0.0.1:PORT:5001 $img $serve\`,"
	echo "on its default bridge network: berth's \`--root\` (\$BENCH_ROOT), a private"
	echo "dockerd (\$BENCH_DOCKER; its own bridge, \`--iptables=false\`, so that"
	echo "docker-proxy carries the traffic, as it does for 127.0.0.1 with"
	echo "iptables too), and podman (rootful, netavark) with its stores under the"
	echo "temp dir. On the host, \`tcpthru -to 127.0.0.1:PORT -t $secs -P N\` writes"
	echo "256 KiB buffers on N connections for $secs s, half-closes, and counts"
	echo "the bytes the container says it read. Sender and receiver share the"
	echo "host's CPUs, so a copy in userland costs CPU that the sender would"
	echo "otherwise use."
	echo
	echo "Raw results: bench/out/network/TOOL-PN-RUN.json (not committed)."
	echo "This part took $(awk -v a="$bench_start" -v b="$(date +%s.%N)" 'BEGIN {printf "%.1f", (b - a) / 60}') minutes."
} >"$tmp"
bench/report.sh network "$tmp"
rm -f "$tmp"
echo
echo "bench: wrote ${BENCH_REPORT:-docs/BENCHMARKS.md}"
[ -z "${why[berth]:-}" ]
