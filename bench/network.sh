#!/usr/bin/env bash
# Compare the throughput of a published port on loopback: berth (its
# connect shortcut, and with it off, nftables DNAT: the kernel forwards),
# Docker (docker-proxy, a userland copy) and Podman (netavark's rules),
# side by side in one run, and write the network
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
#   BENCH_NET_RUNS=N        sends of each kind per tool; the median counts (5)
#   BENCH_NET_STREAMS=N     connections at once in the second kind (4)
#   BENCH_NET_RUN_RUNS=N    hyperfine runs of `run --rm` with and without
#                           the default network, for the network's share (20)
#   BENCH_TMPDIR=DIR        where the stores go (/var/tmp)
#   BENCH_REPORT=FILE       the report (docs/BENCHMARKS.md)
# Raw results go to bench/out/network/.
set -euo pipefail

cd "$(dirname "$0")/.."

berth=${BERTH:-bin/berth}
secs=${BENCH_NET_SECONDS:-5}
runs=${BENCH_NET_RUNS:-5}
streams=${BENCH_NET_STREAMS:-4}
run_runs=${BENCH_NET_RUN_RUNS:-20}
out=bench/out/network
img=bench/tcpthru:1

. bench/lib.sh

[ "$(id -u)" -eq 0 ] || die "run it as root: containers need namespaces, and the tools change the host's network"
[ -x "$berth" ] || die "$berth is not built: run 'make build' first (or 'make bench-network', which does)"
need_cmds jq ip
need_positive BENCH_NET_SECONDS BENCH_NET_RUNS BENCH_NET_STREAMS BENCH_NET_RUN_RUNS
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
# rules: berth with its connect shortcut off, so that its DNAT rules carry
# the host's connections too; a second container of berth's.
pre[rules]="BERTH_PORT_SHORTCUT=off ${pre[berth]}"
declare -A port=([berth]=18091 [docker]=18092 [podman]=18093 [rules]=18094)
declare -A name=([berth]=bench-net [docker]=bench-net [podman]=bench-net [rules]=bench-net-rules)
declare -A tool_why version
dockerd_pid=""
# dockerd's bridge: its own, so that the host's docker0 (if any) is left
# alone, and made here, so that dockerd does not pick an address range.
docker_bridge=bbench$$
docker_bridge_cidr=172.30.$(($$ % 200 + 20)).1/24

cleanup() {
	trap '' INT TERM
	[ ! -d "$BENCH_ROOT" ] || timeout 60 sh -c "${pre[berth]} rm -f bench-net bench-net-rules" >/dev/null 2>&1 || true
	if [ -n "$dockerd_pid" ]; then
		timeout 60 docker -H "$BENCH_DOCKER" rm -f bench-net >/dev/null 2>&1 || true
		stop "$dockerd_pid" dockerd 30
	fi
	if [ -f "$CONTAINERS_CONF" ] && command -v podman >/dev/null; then
		timeout 60 podman rm -f -t 0 bench-net >/dev/null 2>&1 || true
	fi
	ip link del "$docker_bridge" 2>/dev/null || true
	[ ! -d "$BENCH_ROOT" ] || release_bridges "$berth" --root "$BENCH_ROOT"
	remove_work
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -p "$BENCH_ROOT" "$work/docker/client" "$work/podman/tmp"
echo '{}' >"$DOCKER_CONFIG/config.json"

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
	command -v dockerd >/dev/null && command -v docker >/dev/null || {
		tool_why[docker]="docker.io is not installed (scripts/setup.sh --docker)"
		return 1
	}
	ip link add "$docker_bridge" type bridge
	ip addr add "$docker_bridge_cidr" dev "$docker_bridge"
	ip link set "$docker_bridge" up
	# No iptables: Docker leaves loopback traffic to docker-proxy in any
	# case, and the host's firewall stays as it is.
	if ! start_private_dockerd "$docker_bridge"; then
		tool_why[docker]=$dockerd_why
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
	# As in bench/containers.sh: the bench's own rlimits rather than
	# podman's 1048576, which fail where the hard limits are lower, and
	# runc, Docker's runtime, since crun fails on cgroup v1 hybrid hosts.
	local nofile nproc
	nofile=$(ulimit -Hn) nproc=$(ulimit -Hu)
	[ "$nproc" = unlimited ] || [ "$nproc" -gt 32768 ] && nproc=32768
	cat >"$CONTAINERS_CONF" <<-EOF
		[containers]
		default_ulimits = ["nofile=$nofile:$nofile", "nproc=$nproc:$nproc"]
		[engine]
		cgroup_manager = "cgroupfs"
		events_logger = "file"
		events_logfile_path = "$work/podman/events.log"
		tmp_dir = "$work/podman/tmp"
	EOF
	! command -v runc >/dev/null || echo 'runtime = "runc"' >>"$CONTAINERS_CONF"
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
declare -A cpu    # "tool:kind" -> median CPU seconds per GB
declare -A why    # tool -> why it has no results
declare -A procs  # tool -> the processes besides the sender that carry the bytes
hz=$(getconf CLK_TCK)

# median KEY FILE...: the median of KEY of the JSON lines.
median() {
	local key=$1
	shift
	jq -s --arg k "$key" 'map(.[$k]) | sort | .[(length - 1) / 2 | floor]' "$@"
}

# cpu_ticks PID...: the user and system time of the processes, in ticks.
cpu_ticks() {
	local p sum=0 f
	for p in "$@"; do
		f=$(sed 's/.*) //' "/proc/$p/stat" 2>/dev/null) || continue
		set -- $f
		sum=$((sum + ${12} + ${13}))
	done
	echo "$sum"
}

# carriers TOOL: the container's process, and docker-proxy for Docker.
carriers() {
	local t=$1 pid
	pid=$(sh -c "${pre[$t]} inspect -f '{{.State.Pid}}' ${name[$t]}" 2>/dev/null) || true
	echo "$pid"
	[ "$t" != docker ] || pgrep -f "docker-proxy.*-host-port ${port[$t]}( |\$)" || true
}

declare -A carrier_pids # tool -> the carriers' pids, space-separated
declare -A target       # tool -> the address its sends go to

# start_server TOOL: runs TOOL's container and waits for its published
# port to answer.
start_server() {
	local t=$1 addr=127.0.0.1:${port[$1]} i p task pids=()
	echo "== $t: a container with -p $addr:5001"
	if ! sh -c "${pre[$t]} run -d --name ${name[$t]} -p $addr:5001 $img $serve" </dev/null >/dev/null 2>"$work/err"; then
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
	mapfile -t pids < <(carriers "$t")
	carrier_pids[$t]="${pids[*]}"
	target[$t]=$addr
	procs[$t]=$(for p in "${pids[@]}"; do cat "/proc/$p/comm" 2>/dev/null; done | sort | paste -sd+)
	# The host is shared: the processes that carry the bytes get a larger
	# share of the CPUs than the rest, the same for every tool. Every
	# thread, as renice changes one thread only.
	for p in "${pids[@]}"; do
		for task in /proc/"$p"/task/*; do renice -n -10 -p "${task##*/}" >/dev/null 2>&1 || true; done
	done
}

# send TOOL KIND RUN: one send of KIND connections through TOOL's port.
send() {
	local t=$1 kind=$2 i=$3 before after pids
	read -ra pids <<<"${carrier_pids[$t]}"
	before=$(cpu_ticks "${pids[@]}")
	if ! timeout $((secs + 90)) nice -n -10 "$work/tcpthru" -to "${target[$t]}" -t "$secs" -P "$kind" >"$work/send.json" 2>"$work/err"; then
		why[$t]="tcpthru -P $kind failed: $(last_line "$work/err")"
		return 1
	fi
	after=$(cpu_ticks "${pids[@]}")
	# CPU seconds per GB carried: the sender's, the receiver's and the
	# proxy's, as the kernel accounts them to the processes.
	jq -c --argjson o "$((after - before))" --argjson hz "$hz" \
		'. + {others: ($o / $hz), cpu_per_gb: ((.cpu + $o / $hz) / (.bytes / 1e9))}' \
		"$work/send.json" >"$out/$t-P$kind-$i.json"
	jq -r --arg t "$t" --arg k "$kind" --arg i "$i" \
		'"   \($t), \($k) connection(s), run \($i): \(.gbits * 100 | round / 100) Gbit/s, \(.cpu_per_gb * 1000 | round / 1000) CPU s/GB"' \
		"$out/$t-P$kind-$i.json"
}

live=()
for t in "${tools[@]}"; do
	if [ -n "${tool_why[$t]:-}" ]; then
		why[$t]=${tool_why[$t]}
	elif start_server "$t"; then
		live+=("$t")
	else
		echo "bench: $t: ${why[$t]}" >&2
	fi
done
if [ -n "${target[berth]:-}" ]; then
	if start_server rules; then
		live+=(rules)
	else
		echo "bench: rules: ${why[rules]}" >&2
	fi
fi
# A reference: the same berth container at its own address, no port
# published, so no NAT: the most the path into a container gives here.
if [ -n "${target[berth]:-}" ]; then
	ip=$(sh -c "${pre[berth]} inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' bench-net" 2>/dev/null) || ip=""
	if [ -n "$ip" ]; then
		target[direct]=$ip:5001 carrier_pids[direct]=${carrier_pids[berth]} procs[direct]=${procs[berth]}
		live+=(direct)
	fi
fi
# The tools take turns, run by run, so that a change in the host's other
# load falls on all of them alike.
for kind in 1 "$streams"; do
	echo
	echo "== $kind connection(s)"
	for ((i = 1; i <= runs; i++)); do
		for t in "${live[@]}"; do
			[ -z "${why[$t]:-}" ] || continue
			send "$t" "$kind" "$i" || echo "bench: $t: ${why[$t]}" >&2
		done
	done
	for t in "${live[@]}"; do
		[ -z "${why[$t]:-}" ] || continue
		result[$t:$kind]=$(median gbits "$out/$t-P$kind"-*.json)
		cpu[$t:$kind]=$(median cpu_per_gb "$out/$t-P$kind"-*.json)
	done
done
sh -c "${pre[berth]} rm -f bench-net bench-net-rules" >/dev/null 2>&1 || true
[ -z "$dockerd_pid" ] || docker -H "$BENCH_DOCKER" rm -f bench-net >/dev/null 2>&1 || true
[ ! -f "$CONTAINERS_CONF" ] || podman rm -f -t 0 bench-net >/dev/null 2>&1 || true

# --- the network's share of run --rm ----------------------------------------
# run_share TOOL: hyperfine of `run --rm IMG true` with --network none and
# on the tool's default network, one after the other in one run.
declare -A share_why # tool -> why its share was not measured
run_share() {
	local t=$1 rc=0
	echo
	echo "== $t: run --rm, --network none and the default network"
	command -v hyperfine >/dev/null || { share_why[$t]="hyperfine is not installed"; return 1; }
	hyperfine --runs "$run_runs" --warmup 3 --export-json "$out/share-$t.json" \
		-n none "${pre[$t]} run --rm --network none $img true" \
		-n default "${pre[$t]} run --rm $img true" </dev/null >"$work/share.out" 2>&1 || rc=$?
	[ "$rc" -lt 128 ] || exit "$rc"
	if [ "$rc" != 0 ]; then
		share_why[$t]="hyperfine failed: $(last_line "$work/share.out")"
		return 1
	fi
}
for t in "${tools[@]}"; do
	if [ -n "${tool_why[$t]:-}" ]; then
		share_why[$t]=${tool_why[$t]}
	else
		run_share "$t" || echo "bench: $t: ${share_why[$t]}" >&2
	fi
done
# share_ms TOOL NAME: the median of NAME's runs, in ms.
share_ms() { jq -r --arg n "$2" '.results[] | select(.command == $n) | .median * 1000' "$out/share-$1.json"; }

# --- the report --------------------------------------------------------------
fmt() { awk -v x="$1" 'BEGIN {printf "%.1f", x}'; }
fmt2() { awk -v x="$1" 'BEGIN {printf "%.2f", x}'; }
speedup() { awk -v a="$1" -v b="$2" 'BEGIN {if (b > 0) printf "%.1f×", a / b; else print "–"}'; }
tmp=$(mktemp)
{
	echo "## Network"
	echo
	echo "Throughput through a port published on 127.0.0.1, from the host, in"
	echo "Gbit/s, and the CPU time that carrying each GB took (the median of"
	echo "$runs sends of $secs s each). The goal is at least twice Docker's"
	echo "throughput. Host: $(nproc) CPUs, kernel $(uname -r), load average"
	echo "$(cut -d' ' -f1-3 /proc/loadavg) when the report was written."
	echo
	echo "| tool | forwarding | Gbit/s, 1 connection | Gbit/s, $streams connections | CPU s per GB (1 / $streams) | throughput vs docker (1 / $streams) | CPU per GB, docker's ÷ this (1 / $streams) |"
	echo "|---|---|---|---|---|---|---|"
	declare -A how=([berth]="connect shortcut (BPF), no NAT" [docker]="docker-proxy (userland)" [podman]="netavark DNAT (kernel)"
		[rules]="nftables DNAT (kernel)" [direct]="none: the container's own address")
	version[rules]="berth with BERTH_PORT_SHORTCUT=off"
	version[direct]="berth's container, reference"
	for t in "${tools[@]}" rules direct; do
		case $t in rules | direct) [ -n "${result[$t:1]:-}" ] || continue ;; esac
		label="$t${version[$t]:+ (${version[$t]})}"
		if [ -n "${result[$t:1]:-}" ] && [ -n "${result[$t:$streams]:-}" ]; then
			vs="–" vc="–"
			if [ -n "${result[docker:1]:-}" ] && [ "$t" != docker ]; then
				vs="$(speedup "${result[$t:1]}" "${result[docker:1]}") / $(speedup "${result[$t:$streams]}" "${result[docker:$streams]}")"
				vc="$(speedup "${cpu[docker:1]}" "${cpu[$t:1]}") / $(speedup "${cpu[docker:$streams]}" "${cpu[$t:$streams]}")"
			fi
			echo "| $label | ${how[$t]} | $(fmt "${result[$t:1]}") | $(fmt "${result[$t:$streams]}") | $(fmt2 "${cpu[$t:1]}") / $(fmt2 "${cpu[$t:$streams]}") | $vs | $vc |"
		else
			echo "| $label | ${how[$t]} | not run: ${why[$t]:-no result} | | | | |"
		fi
	done
	if [ -n "${result[berth:1]:-}" ] && [ -n "${result[docker:1]:-}" ] &&
		awk -v a="${result[berth:1]}" -v b="${result[docker:1]}" 'BEGIN {exit !(a < 2 * b)}'; then
		echo
		echo "The goal is not met in this run. Sender, receiver and, for Docker,"
		echo "the proxy share $(nproc) CPUs with the host's other work, so each send is"
		echo "bound by the CPU time its processes get rather than by the path the"
		echo "bytes take: Docker's extra copy through docker-proxy shows in full in"
		echo "the CPU per GB and only in part in the throughput."
	elif [ -n "${result[berth:1]:-}" ] && [ -n "${result[docker:1]:-}" ]; then
		echo
		echo "Goal met: $(speedup "${result[berth:1]}" "${result[docker:1]}") Docker's throughput on one connection, $(speedup "${result[berth:$streams]}" "${result[docker:$streams]}") on $streams."
	fi
	echo
	echo "### The network's share of \`run --rm\`"
	echo
	echo "\`run --rm $img true\` on each tool's default network and with"
	echo "\`--network none\`, the medians of $run_runs runs each (hyperfine, 3 warm-up"
	echo "runs); the share is the difference. The goal is at most 10 ms for berth."
	echo
	echo "| tool | --network none | default network | the network's share |"
	echo "|---|---:|---:|---:|"
	for t in "${tools[@]}"; do
		if [ -f "$out/share-$t.json" ]; then
			n=$(share_ms "$t" none) d=$(share_ms "$t" default)
			echo "| $t | $(fmt "$n") ms | $(fmt "$d") ms | $(awk -v a="$d" -v b="$n" 'BEGIN {printf "%.1f", a - b}') ms |"
		else
			echo "| $t | not run: ${share_why[$t]:-no result} | | |"
		fi
	done
	if [ -f "$out/share-berth.json" ]; then
		d=$(awk -v a="$(share_ms berth default)" -v b="$(share_ms berth none)" 'BEGIN {printf "%.1f", a - b}')
		if awk -v d="$d" 'BEGIN {exit !(d <= 10)}'; then
			echo
			echo "Goal met: berth's default network adds $d ms."
		else
			echo
			echo "Goal not met: berth's default network adds $d ms."
		fi
	fi
	echo "Docker's dockerd runs with \`--iptables=false\` here (see below), so its"
	echo "share leaves out the rules it would otherwise add for each container."
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
	echo "temp dir. The three containers run at once, and the tools take turns,"
	echo "send by send, so that a change in the host's other load falls on each"
	echo "alike. On the host, \`tcpthru -to 127.0.0.1:PORT -t $secs -P N\` writes"
	echo "256 KiB buffers on N connections for $secs s, half-closes, and counts"
	echo "the bytes the container says it read. berth's row is its default: its"
	echo "connect shortcut (docs/NETWORKING.md) connects the sender's socket"
	echo "straight to the container's address, so its route is the bridge's, and"
	echo "on Linux 6.3 and later its packets are as large as berth's bridge and"
	echo "veths take (512 KiB, BIG TCP). The \`rules\` row is a second berth"
	echo "container, run with \`BERTH_PORT_SHORTCUT=off\`: its DNAT rules carry"
	echo "the connection, which is routed through \`lo\` and so builds packets of"
	echo "\`lo\`'s size, 64 KiB unless the host raised it. The \`direct\` row sends to"
	echo "berth's first container at its own address, with nothing published"
	echo "and no NAT: the most this host's path into a container carries."
	echo "Sender, receiver and proxy share"
	echo "the host's CPUs, so a copy in userland costs CPU that the sender would"
	echo "otherwise use. They run at nice -10, so that other work on the host"
	echo "takes less of their share. CPU per GB is the user and system time of"
	echo "the sender, the container's receiver and, for Docker, docker-proxy"
	echo "(${procs[docker]:-not measured}), over the bytes carried; the kernel's"
	echo "forwarding in softirq context is only partly in it, so it flatters"
	echo "kernel forwarding somewhat, while the throughput does not. berth's"
	echo "bridge takes the MTU of the host's uplink when that is below 1500"
	echo "($(ip -o route get 192.0.2.1 2>/dev/null | sed -n 's/.* dev \([^ ]*\).*/\1/p' | xargs -r -I{} cat /sys/class/net/{}/mtu) here), Docker's and podman's have 1500."
	echo
	echo "Raw results: bench/out/network/TOOL-PN-RUN.json (not committed)."
	echo "This part took $(awk -v a="$bench_start" -v b="$(date +%s.%N)" 'BEGIN {printf "%.1f", (b - a) / 60}') minutes."
} >"$tmp"
bench/report.sh network "$tmp"
rm -f "$tmp"
echo
echo "bench: wrote ${BENCH_REPORT:-docs/BENCHMARKS.md}"
[ -z "${why[berth]:-}" ]
