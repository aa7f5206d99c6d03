#!/usr/bin/env bash
# Compare berth's container commands with Docker's (a private dockerd and its
# default runtime, runc) and Podman's, side by side in one run, on the same
# busybox image, and write the containers part of docs/BENCHMARKS.md
# (bench/report.sh keeps the other parts). Needs root, hyperfine, jq and
# bin/berth (`make bench-containers` builds it, installs podman and runs
# it); dockerd and docker, and podman, give their columns, and a column
# whose tool is missing or cannot run here says why.
#   bench/containers.sh
# Settings, from the environment:
#   BERTH=PATH            the berth to measure (default bin/berth)
#   BENCH_RUNS=N          hyperfine runs of one `run --rm` and of `exec` (30)
#   BENCH_LOOP=N          `run --rm`s one after another in the loop (100)
#   BENCH_LOOP_RUNS=N     hyperfine runs of that loop (3)
#   BENCH_DETACH=N        detached containers started in a row (50)
#   BENCH_DETACH_RUNS=N   hyperfine runs of starting them (3)
#   BENCH_MEM=N           idle containers of each tool whose memory is
#                         measured (50)
#   BENCH_DENSITY=N       idle berth containers started side by side (200;
#                         the goal for ps is at 1000, which adds some
#                         minutes: make bench-containers BENCH_DENSITY=1000)
#   BENCH_PS_RUNS=N       hyperfine runs of `ps` and `ps -a` beside them
#                         (20; 3 when one `ps` takes over a second)
#   BENCH_TMPDIR=DIR      where the stores go (/var/tmp)
#   BENCH_REPORT=FILE     the report to write the containers part into
#                         (docs/BENCHMARKS.md)
# Raw hyperfine JSON goes to bench/out/containers/.
set -euo pipefail

cd "$(dirname "$0")/.."

berth=${BERTH:-bin/berth}
runs=${BENCH_RUNS:-30}
loop=${BENCH_LOOP:-100}
loop_runs=${BENCH_LOOP_RUNS:-3}
detach=${BENCH_DETACH:-50}
detach_runs=${BENCH_DETACH_RUNS:-3}
mem_n=${BENCH_MEM:-50}
density=${BENCH_DENSITY:-200}
ps_runs=${BENCH_PS_RUNS:-20}
report=${BENCH_REPORT:-docs/BENCHMARKS.md}
out=bench/out/containers
img=bench/busybox:1

. bench/lib.sh

[ "$(id -u)" -eq 0 ] || die "run it as root: containers need namespaces, mounts and cgroups, and dockerd needs root"
if [ ! -x "$berth" ]; then
	die "$berth is not built: run 'make build' first (or 'make bench-containers', which does)"
fi
need_cmds hyperfine jq free
need_positive BENCH_RUNS BENCH_LOOP BENCH_LOOP_RUNS BENCH_DETACH BENCH_DETACH_RUNS BENCH_MEM BENCH_DENSITY BENCH_PS_RUNS
# dockerd lives in sbin, which a sudo or cron environment may lack.
export PATH=$PATH:/usr/local/sbin:/usr/sbin:/sbin

rm -rf "$out"
mkdir -p "$out"
# The stores go on a disk, not in memory: under /var/tmp, since /tmp is a
# tmpfs on many hosts and overlayfs on tmpfs is not what users run. A
# short path: containerd's and conmon's unix sockets go under it, and a
# socket path has room for 107 bytes only.
work=$(mktemp -d "${BENCH_TMPDIR:-/var/tmp}/berth-bench-ctr.XXXXXX")
# The commands that hyperfine runs name these variables, so that the report
# shows them exactly as they ran. Podman reads its settings from the files
# that CONTAINERS_CONF and CONTAINERS_STORAGE_CONF name, so that neither
# the host's configuration nor its stores are used.
export BENCH_ROOT=$work/berth
export BENCH_DOCKER=unix://$work/docker/docker.sock
export DOCKER_CONFIG=$work/docker/client
export CONTAINERS_CONF=$work/podman/containers.conf
export CONTAINERS_STORAGE_CONF=$work/podman/storage.conf
unset DOCKER_HOST DOCKER_CONTEXT DOCKER_TLS_VERIFY DOCKER_CERT_PATH
unset CONTAINER_HOST CONTAINER_CONNECTION BERTH_ROOT BERTH_RUNTIME_DIR

bench_start=$(date +%s.%N)
# The cgroups under which dockerd and podman put their containers' (and
# podman its conmons'): those that are not there now are the bench's to
# remove at the end, once empty.
engine_cgroups() {
	find /sys/fs/cgroup -mindepth 2 -maxdepth 3 -type d \( -name docker -o -name libpod_parent -o -path '*/libpod_parent/conmon' \) 2>/dev/null | sort
}
cgroups_before=$(engine_cgroups)
tools=(berth docker podman)
declare -A pre=(
	[berth]="$berth --root \"\$BENCH_ROOT\""
	[docker]="docker -H \"\$BENCH_DOCKER\""
	[podman]="podman"
)
# rm_all[TOOL]: the command that removes every container of TOOL's, at
# once (podman would wait 10 s for `sleep` to ignore SIGTERM without -t 0).
# none_left[TOOL]: it succeeds when TOOL lists no container.
declare -A rm_all none_left
for t in "${tools[@]}"; do
	none_left[$t]="[ -z \"\$(${pre[$t]} ps -aq)\" ]"
	rm_all[$t]="ids=\$(${pre[$t]} ps -aq) && { [ -z \"\$ids\" ] || ${pre[$t]} rm -f \$ids >/dev/null; }"
done
rm_all[podman]="podman rm -af -t 0 >/dev/null"
declare -A rm_err # tool -> how its removal failed, the first time
declare -A tool_why # tool -> why it is not measured at all
dockerd_pid=""

cleanup() {
	local t pid f
	trap '' INT TERM
	# Each tool removes its own containers first: their processes, mounts
	# and cgroups go with them.
	for t in "${tools[@]}"; do
		case $t in
		berth) [ -d "$BENCH_ROOT" ] || continue ;;
		docker) [ -n "$dockerd_pid" ] || continue ;;
		podman) [ -f "$CONTAINERS_CONF" ] && command -v podman >/dev/null || continue ;;
		esac
		timeout 300 sh -c "${rm_all[$t]}" </dev/null >/dev/null 2>&1 ||
			echo "bench: could not remove $t's containers" >&2
	done
	# A container that its tool could not remove still has its runtime
	# state under the temp dir (berth's and runc's state.json): kill its
	# init, which takes the rest of its PID namespace with it. Only a
	# process in a PID namespace other than ours can be such an init.
	find "$work" -name state.json -type f 2>/dev/null | while read -r f; do
		pid=$(jq -r '.init_process_pid // .pid // empty' "$f" 2>/dev/null) || continue
		[ -n "$pid" ] && [ "$pid" -gt 1 ] 2>/dev/null || continue
		[ "$(readlink "/proc/$pid/ns/pid" 2>/dev/null)" != "$(readlink /proc/self/ns/pid)" ] || continue
		kill -KILL "$pid" 2>/dev/null || true
	done
	[ -z "$dockerd_pid" ] || stop "$dockerd_pid" dockerd 30
	# What is left of the engines' processes (containerd when dockerd was
	# killed, shims, conmons) names the temp dir on its command line.
	kill_naming "$work/"
	# rmdir removes only an empty cgroup: one that another dockerd or
	# podman uses now stays. The deepest first.
	engine_cgroups | sort -r | while read -r f; do
		grep -qxF "$f" <<<"$cgroups_before" || rmdir "$f" 2>/dev/null || true
	done
	remove_work
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -p "$BENCH_ROOT" "$work/docker/client" "$work/podman"
# An empty client configuration: podman reads Docker's too, and fails when
# DOCKER_CONFIG names a directory without one.
echo '{}' >"$DOCKER_CONFIG/config.json"


now() { date +%s.%N; }
# used_kib: the host's used memory, as `free` says: the median of five
# looks over a second, so that a passing spike of other work counts less.
used_kib() {
	local i
	for i in 1 2 3 4 5; do
		free -k | awk '/^Mem:/ {print $3}'
		[ "$i" = 5 ] || sleep 0.25
	done | sort -n | sed -n 3p
}

# meminfo: "Slab SUnreclaim PageTables KernelStack AnonPages" in KiB, from
# /proc/meminfo: where the kernel's share of a container's memory shows.
meminfo_fields=(Slab SUnreclaim PageTables KernelStack AnonPages)
meminfo() {
	awk '{v[$1] = $2} END {print v["Slab:"], v["SUnreclaim:"], v["PageTables:"], v["KernelStack:"], v["AnonPages:"]}' /proc/meminfo
}

# --- the image ---------------------------------------------------------------
# One busybox root filesystem, as a tarball that each tool imports.
echo "== making the busybox image"
scripts/busybox-rootfs.sh "$work/rootfs"
tar -cf "$work/busybox.tar" -C "$work/rootfs" .

# --- berth -------------------------------------------------------------------
if ! "$berth" --root "$BENCH_ROOT" import "$work/busybox.tar" "$img" >/dev/null 2>"$work/err" </dev/null; then
	tool_why[berth]="berth import failed: $(last_line "$work/err")"
fi

# --- dockerd -----------------------------------------------------------------
# A private dockerd (bench/lib.sh). It starts its own containerd, whose
# shims run runc. No bridge: the containers have no network.
start_dockerd() {
	if ! start_private_dockerd none; then
		tool_why[docker]=$dockerd_why
		return 1
	fi
	if ! docker -H "$BENCH_DOCKER" import "$work/busybox.tar" "$img" >/dev/null 2>"$work/err" </dev/null; then
		tool_why[docker]="docker import failed: $(last_line "$work/err")"
		return 1
	fi
}
echo "== starting dockerd"
start_dockerd || echo "bench: docker is not measured: ${tool_why[docker]}" >&2

# --- podman ------------------------------------------------------------------
# Podman's stores and settings of its own, under the temp dir. No systemd
# runs the bench's containers, so cgroupfs manages their cgroups and
# events go to a file.
podman_notes=() # what the bench had to change in podman's defaults, and why
podman_runtime="" podman_ulimits=""
write_podman_conf() {
	{
		echo "[containers]"
		[ -z "$podman_ulimits" ] || echo "default_ulimits = [$podman_ulimits]"
		echo "[engine]"
		echo "cgroup_manager = \"cgroupfs\""
		echo "events_logger = \"file\""
		echo "events_logfile_path = \"$work/podman/events.log\""
		echo "tmp_dir = \"$work/podman/tmp\""
		[ -z "$podman_runtime" ] || echo "runtime = \"$podman_runtime\""
	} >"$CONTAINERS_CONF"
}
start_podman() {
	local _ err
	command -v podman >/dev/null || {
		tool_why[podman]="podman is not installed (bench/setup.sh installs it)"
		return 1
	}
	mkdir -p "$work/podman/tmp"
	cat >"$CONTAINERS_STORAGE_CONF" <<-EOF
		[storage]
		driver = "overlay"
		graphroot = "$work/podman/root"
		runroot = "$work/podman/run"
	EOF
	write_podman_conf
	if ! podman import "$work/busybox.tar" "$img" >/dev/null 2>"$work/err" </dev/null; then
		tool_why[podman]="podman import failed: $(last_line "$work/err")"
		return 1
	fi
	# Podman's defaults may not run on this host: change what its error
	# names, one thing at a time, and say so in the report.
	for _ in 1 2 3; do
		podman run --rm --network none "$img" true </dev/null >/dev/null 2>"$work/err" && return 0
		err=$(last_line "$work/err")
		if [[ $err == *"hybrid mode not supported"* ]] && [ -z "$podman_runtime" ] && command -v runc >/dev/null; then
			podman_runtime=runc
			podman_notes+=("runtime runc, as Docker's: podman's default, crun, says \"${err#Error: }\" on this host's cgroups")
		elif [[ $err == *rlimit* || $err == *RLIMIT* ]] && [ -z "$podman_ulimits" ]; then
			# Podman asks for 1048576 open files and processes, which only
			# CAP_SYS_RESOURCE may grant above the hard limits, and it lowers
			# its own process limit to 32768 at start (where it can), which its
			# runtime cannot raise again: give the containers the limits the
			# bench itself has, as Docker's get dockerd's.
			local nofile nproc
			nofile=$(ulimit -Hn) nproc=$(ulimit -Hu)
			[ "$nproc" = unlimited ] || [ "$nproc" -gt 32768 ] && nproc=32768
			podman_ulimits="\"nofile=$nofile:$nofile\", \"nproc=$nproc:$nproc\""
			podman_notes+=("default_ulimits nofile=$nofile, nproc=$nproc: podman's defaults (1048576 each) fail here with \"${err#Error: }\"")
		else
			tool_why[podman]="podman run failed: $err"
			return 1
		fi
		write_podman_conf
	done
	tool_why[podman]="podman run failed: $err"
	return 1
}
echo "== setting up podman"
start_podman || echo "bench: podman is not measured: ${tool_why[podman]}" >&2

if [ -z "${tool_why[berth]:-}" ] &&
	! "$berth" --root "$BENCH_ROOT" run --rm --network none "$img" true </dev/null >/dev/null 2>"$work/err"; then
	tool_why[berth]="berth run failed: $(last_line "$work/err")"
fi
if [ -z "${tool_why[docker]:-}" ] &&
	! docker -H "$BENCH_DOCKER" run --rm --network none "$img" true </dev/null >/dev/null 2>"$work/err"; then
	tool_why[docker]="docker run failed: $(last_line "$work/err")"
fi

# --- the commands ------------------------------------------------------------
sections=(run loop detach exec)
declare -A cmd prep why   # "section:tool" -> command, its prepare command, why it was not measured
declare -A hyperfine_cmds # section -> the hyperfine command lines, one a line
berth_failed=0
for t in "${tools[@]}"; do
	p=${pre[$t]}
	cmd[run:$t]="$p run --rm --network none $img true"
	cmd[loop:$t]="for i in \$(seq $loop); do $p run --rm --network none $img true || exit 1; done"
	cmd[detach:$t]="for i in \$(seq $detach); do $p run -d --network none $img sleep 1000 >/dev/null || exit 1; done"
	# Each run of the loop starts from no containers; the last run's go
	# before it, untimed. What counts is that none is left: a removal that
	# says it failed but removed them all (see remove_all) does not stop
	# the measurement.
	prep[detach:$t]="{ ${rm_all[$t]}; } 2>/dev/null; ${none_left[$t]}"
	cmd[exec:$t]="$p exec bench-exec true"
done

pending="the bench stopped before it"
for s in "${sections[@]}" mem; do
	for t in "${tools[@]}"; do why[$s:$t]=${tool_why[$t]:-$pending}; done
done
why[density:berth]=${tool_why[berth]:-$pending}
[ -z "${tool_why[berth]:-}" ] || berth_failed=1

# measure SECTION RUNS WARMUP [TOOL...]: hyperfine_each (bench/lib.sh)
# for each tool, all of them unless named.
measure() {
	local s=$1 runs=$2 warmup=$3
	shift 3
	[ $# -gt 0 ] || set -- "${tools[@]}"
	hyperfine_each "$s" "$runs" "$warmup" "$@"
}

# remove_all TOOL: removes TOOL's containers, untimed. The first error of
# each tool's goes into the report, even when the containers are gone.
remove_all() {
	if ! sh -c "${rm_all[$1]}" </dev/null >/dev/null 2>"$work/err"; then
		echo "bench: removing $1's containers failed: $(last_line "$work/err")" >&2
		[ -n "${rm_err[$1]:-}" ] || rm_err[$1]=$(last_line "$work/err")
	fi
	if ! sh -c "${none_left[$1]}" </dev/null >/dev/null 2>&1; then
		echo "bench: $1 still lists containers after removing them all" >&2
	fi
}

# --- the engines' processes beside idle containers --------------------------
# engine_pss TOOL IDS-FILE: "COUNT PSS-KiB" of the processes that TOOL keeps
# beside the containers whose full IDs are in IDS-FILE, one per line:
# berth's monitors (berth-monitor ID), Docker's shims
# (containerd-shim-runc-v2 ... -id ID) and podman's conmons (conmon ... -c
# ID). Only those containers' processes count, not another user's.
engine_pss() {
	local t=$1 p id i n=0 kib=0 pss
	local -A want=()
	local -a argv
	while read -r id; do
		[ -z "$id" ] || want[$id]=1
	done <"$2"
	for p in /proc/[0-9]*; do
		mapfile -d '' -t argv 2>/dev/null <"$p/cmdline" || continue
		[ "${#argv[@]}" -ge 2 ] || continue
		id=""
		case $t:${argv[0]##*/} in
		berth:berth-monitor) id=${argv[1]} ;;
		docker:containerd-shim-runc-v2 | podman:conmon)
			for ((i = 1; i + 1 < ${#argv[@]}; i++)); do
				case $t:${argv[i]} in
				docker:-id | podman:-c)
					id=${argv[i + 1]}
					break
					;;
				esac
			done
			;;
		esac
		[ -n "$id" ] && [ -n "${want[$id]:-}" ] || continue
		pss=$(awk '/^Pss:/ {print $2}' "$p/smaps_rollup" 2>/dev/null) || continue
		n=$((n + 1))
		kib=$((kib + ${pss:-0}))
	done
	echo "$n $kib"
}

# start_idle TOOL COUNT IDS-FILE SECONDS: starts COUNT idle detached
# containers of TOOL's, their IDs into IDS-FILE; prints how many started.
# Stops at the first failure, which it leaves in $work/err.
start_idle() {
	local t=$1 n=$2 ids=$3 i
	: >"$ids"
	for ((i = 0; i < n; i++)); do
		sh -c "${pre[$t]} run -d --network none $img sleep $4" </dev/null >>"$ids" 2>"$work/err" || break
		if [ $((i % 100)) = 99 ]; then echo "   $((i + 1)) started" >&2; fi
	done
	echo "$i"
}

# per_container BEFORE AFTER-START BEFORE-REMOVAL AFTER-REMOVAL N: KiB of
# used memory per container, the mean of what starting the N containers
# took and what removing them gave back. Other work on the host moves the
# used memory as it goes; a drift that is steady over both cancels.
per_container() {
	echo $(((($2 - $1) + ($3 - $4)) / (2 * $5)))
}

declare -A mem_procs mem_pss mem_free mem_used
measure_mem() {
	local t ids=$work/mem-ids started before after gone pk
	for t in "${tools[@]}"; do
		[ "${why[mem:$t]:-}" = "$pending" ] || continue
		echo
		echo "== memory: $mem_n idle $t containers"
		remove_all "$t"
		sleep 2
		before=$(used_kib)
		started=$(start_idle "$t" "$mem_n" "$ids" 1000)
		if [ "$started" != "$mem_n" ]; then
			why[mem:$t]="container $((started + 1)) of $mem_n did not start: $(last_line "$work/err")"
			[ "$t" != berth ] || berth_failed=1
			remove_all "$t"
			continue
		fi
		# Let the engines settle: a daemon's bookkeeping after the start,
		# a monitor's first log write.
		sleep 3
		after=$(used_kib)
		pk=$(engine_pss "$t" "$ids")
		remove_all "$t"
		sleep 3
		gone=$(used_kib)
		mem_procs[$t]=${pk% *}
		mem_pss[$t]=$((${pk#* } / mem_n))
		mem_used[$t]="$before → $after → $gone"
		mem_free[$t]=$(per_container "$before" "$after" "$after" "$gone" "$mem_n")
		echo "   ${mem_procs[$t]} engine processes, PSS ${mem_pss[$t]} KiB per container; free: ${mem_used[$t]} KiB, ${mem_free[$t]} KiB per container"
		unset "why[mem:$t]"
	done
}

# --- many idle berth containers ---------------------------------------------
declare -A dens # the density results
measure_density() {
	local ids=$work/density-ids started t0 t1 before after pre_rm gone pk
	[ "${why[density:berth]}" = "$pending" ] || return 0
	echo
	echo "== density: $density idle berth containers"
	remove_all berth
	sleep 2
	before=$(used_kib)
	local mi0 mi1 mi2 mi3 i
	read -ra mi0 <<<"$(meminfo)"
	t0=$(now)
	started=$(start_idle berth "$density" "$ids" 100000)
	t1=$(now)
	dens[started]=$started
	dens[start_s]=$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.1f", b - a}')
	if [ "$started" != "$density" ]; then
		why[density:berth]="container $((started + 1)) of $density did not start: $(last_line "$work/err")"
		berth_failed=1
		remove_all berth
		return 0
	fi
	sleep 3
	after=$(used_kib)
	read -ra mi1 <<<"$(meminfo)"
	pk=$(engine_pss berth "$ids")
	dens[procs]=${pk% *}
	dens[pss]=$((${pk#* } / density))
	cmd[ps:berth]="${pre[berth]} ps"
	cmd[psa:berth]="${pre[berth]} ps -a"
	why[ps:berth]=$pending why[psa:berth]=$pending
	# One untimed ps says how many runs fit: when it takes seconds, three.
	t0=$(now)
	sh -c "${cmd[ps:berth]}" </dev/null >/dev/null 2>&1 || true
	t1=$(now)
	dens[ps_once]=$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.1f", b - a}')
	dens[ps_runs]=$ps_runs
	if awk -v a="$t0" -v b="$t1" 'BEGIN {exit !(b - a > 1)}'; then
		dens[ps_runs]=3
		measure ps 3 0 berth
		measure psa 3 0 berth
	else
		measure ps "$ps_runs" 2 berth
		measure psa "$ps_runs" 2 berth
	fi
	echo "== removing them"
	pre_rm=$(used_kib)
	read -ra mi2 <<<"$(meminfo)"
	t0=$(now)
	remove_all berth
	t1=$(now)
	dens[rm_s]=$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.1f", b - a}')
	sleep 3
	gone=$(used_kib)
	read -ra mi3 <<<"$(meminfo)"
	for i in "${!meminfo_fields[@]}"; do
		dens[mi_${meminfo_fields[i]}]=$(per_container "${mi0[i]}" "${mi1[i]}" "${mi2[i]}" "${mi3[i]}" "$density")
	done
	dens[used]="$before → $after, $pre_rm → $gone"
	dens[free]=$(per_container "$before" "$after" "$pre_rm" "$gone" "$density")
	unset "why[density:berth]"
}

# --- the report --------------------------------------------------------------
# median SECTION TOOL: the median in seconds, or nothing.
median() {
	local json=$out/$1-$2.json
	[ -f "$json" ] || return 0
	jq -r '.results[0].median' "$json"
}
mb() { awk -v k="$1" 'BEGIN {printf "%.2f MB", k * 1024 / 1e6}'; } # mb KIB

# goal SECTION FACTOR: whether berth's median is within FACTOR of docker's.
goal() {
	local s=$1 b d
	b=$(median "$s" berth)
	d=$(median "$s" docker)
	if [ -z "$b" ]; then
		echo "not measured: ${why[$s:berth]:-no result}"
	elif [ -z "$d" ]; then
		echo "not measured: docker: ${why[$s:docker]:-no result}"
	elif awk -v b="$b" -v d="$d" -v g="$2" 'BEGIN {exit !(b <= g * d)}'; then
		echo "met: $(ratio "$b" "$d")"
	else
		echo "not met: $(ratio "$b" "$d")"
	fi
}
# goal_max SECTION SECONDS: whether berth's median is at most SECONDS.
goal_max() {
	local b
	b=$(median "$1" berth)
	if [ -z "$b" ]; then
		echo "not measured: ${why[$1:berth]:-${why[density:berth]:-no result}}"
	elif awk -v b="$b" -v g="$2" 'BEGIN {exit !(b <= g)}'; then
		awk -v b="$b" 'BEGIN {printf "met: %.3f s\n", b}'
	else
		awk -v b="$b" 'BEGIN {printf "not met: %.3f s\n", b}'
	fi
}
# goal_mem KIB-OR-EMPTY WHY: whether KIB is at most 1 MB (10^6 bytes).
goal_mem() {
	if [ -z "$1" ]; then
		echo "not measured: $2"
	elif [ $(($1 * 1024)) -le 1000000 ]; then
		echo "met: $1 KiB"
	else
		echo "not met: $1 KiB"
	fi
}

# secs SECONDS: a time in the unit that suits it.
secs() {
	awk -v t="$1" 'BEGIN {if (t < 1) printf "%.1f ms", t * 1000; else printf "%.2f s", t}'
}

section_table() { # section_table SECTION
	local s=$1 t m d json b cmp=""
	d=$(median "$s" docker)
	echo "| tool | median | mean ± σ | min | max | CPU | runs | ÷ docker |"
	echo "|---|---:|---:|---:|---:|---:|---:|---:|"
	for t in "${tools[@]}"; do
		m=$(median "$s" "$t")
		json=$out/$s-$t.json
		if [ -n "$m" ]; then
			jq -r '.results[0] | [.median, .mean, .stddev // 0, .min, .max, .user + .system, (.times | length)] | @tsv' "$json" |
				while IFS=$'\t' read -r med mean sd min max cpu n; do
					echo "| $t | $(secs "$med") | $(secs "$mean") ± $(secs "$sd") | $(secs "$min") | $(secs "$max") | $(secs "$cpu") | $n | $(ratio "$med" "$d") |"
				done
		else
			echo "| $t | not run | | | | | | |"
		fi
	done
	b=$(median "$s" berth)
	if [ -n "$b" ]; then
		for t in docker podman; do
			m=$(median "$s" "$t")
			[ -n "$m" ] || continue
			cmp+="${cmp:+, }$(ratio "$b" "$m") $t"
		done
	fi
	if [ -n "$cmp" ]; then
		echo
		echo "berth's median over the others': $cmp."
	fi
	for t in "${tools[@]}"; do
		if [ -z "$(median "$s" "$t")" ]; then
			echo
			echo "$t: not run: ${why[$s:$t]:-no result}"
		fi
	done
}

# first_line COMMAND...: the first line of its output, or "unknown". Not
# through head, which may leave COMMAND a broken pipe to fail on.
first_line() {
	local o
	o=$("$@" 2>/dev/null) || true
	o=${o%%$'\n'*}
	echo "${o:-unknown}"
}

# Other work on the host skews the times: the report gives the load.
load_start=$(cut -d ' ' -f 1-3 /proc/loadavg)
berth_rev=$(berth_revision)
if [ -z "${tool_why[docker]:-}" ]; then
	docker_version=$(docker -H "$BENCH_DOCKER" version --format '{{.Server.Version}} (dockerd), {{.Client.Version}} (client)' 2>/dev/null || echo unknown)
	docker_version+=", runtime $(docker -H "$BENCH_DOCKER" info --format '{{.DefaultRuntime}}' 2>/dev/null || echo unknown)"
	docker_version+=" ($(first_line runc --version))"
	docker_version+=", storage driver $(docker -H "$BENCH_DOCKER" info --format '{{.Driver}}' 2>/dev/null || echo unknown)"
else
	docker_version="not run: ${tool_why[docker]}"
fi
if [ -z "${tool_why[podman]:-}" ]; then
	podman_version="$(podman --version 2>/dev/null || echo unknown)"
	podman_version+=", runtime $(podman info --format '{{.Host.OCIRuntime.Name}}' 2>/dev/null || echo unknown)"
	podman_version+=" ($(first_line podman info --format '{{.Host.OCIRuntime.Version}}'))"
	podman_version+=", $(first_line conmon --version)"
elif command -v podman >/dev/null; then
	podman_version="$(podman --version 2>/dev/null || echo unknown); not run: ${tool_why[podman]}"
else
	podman_version="not run: ${tool_why[podman]}"
fi

write_report() {
	local tmp=$work/report.md s c t note
	{
		echo "## Containers"
		echo
		echo "berth's container commands against Docker's (a private dockerd, with"
		echo "its default runtime, runc) and Podman's, on one busybox image that"
		echo "each tool imports (bench/containers.sh, \`make bench-containers\`)."
		echo
		echo "### Host"
		echo
		echo "| | |"
		echo "|---|---|"
		host_rows cgroups
		echo "| file system of the stores | $(df --output=fstype "$work" | tail -n 1) |"
		echo "| load average at the start | $load_start |"
		echo "| berth | commit $berth_rev |"
		echo "| docker | $docker_version |"
		echo "| podman | $podman_version |"
		echo "| hyperfine | $(hyperfine --version) |"
		echo
		echo "### Goals"
		echo
		echo "| goal | result |"
		echo "|---|---|"
		echo "| \`run --rm\` of a container takes at most 0.1× Docker's time | $(goal run 0.1) |"
		echo "| $loop such runs in a row take at most 0.1× Docker's time | $(goal loop 0.1) |"
		echo "| starting $detach detached containers takes at most 0.1× Docker's time | $(goal detach 0.1) |"
		echo "| \`exec\` into a container takes at most 0.25× Docker's time | $(goal exec 0.25) |"
		echo "| the monitor of an idle container takes at most 1 MB (PSS) | $(goal_mem "${mem_pss[berth]:-}" "${why[mem:berth]:-no result}") |"
		# The host's used memory over many containers, when there are, moves
		# less with other work on the host.
		if [ -n "${dens[free]:-}" ]; then
			echo "| an idle container takes at most 1 MB of the host's memory (\`free\`, ${dens[started]} containers) | $(goal_mem "${dens[free]}" "") |"
		else
			echo "| an idle container takes at most 1 MB of the host's memory (\`free\`, $mem_n containers) | $(goal_mem "${mem_free[berth]:-}" "${why[mem:berth]:-no result}") |"
		fi
		# The goal is at 1000 containers; a run with another count says so.
		local at=" idle containers"
		[ "$density" = 1000 ] || at+=" (the goal's count is 1000)"
		echo "| \`ps\` beside $density$at takes at most 0.2 s | $(goal_max ps 0.2) |"
		echo "| \`ps -a\` beside $density$at takes at most 0.2 s | $(goal_max psa 0.2) |"
		echo
		echo "### Run one container"
		echo
		echo "\`run --rm --network none $img true\`: create, start, wait for it"
		echo "attached, remove."
		echo
		section_table run
		echo
		echo "### Run $loop containers in a row"
		echo
		echo "One shell loop of $loop such \`run --rm\`s, timed as a whole."
		echo
		section_table loop
		echo
		echo "### Start $detach detached containers"
		echo
		echo "One shell loop of $detach \`run -d --network none $img sleep 1000\`,"
		echo "timed as a whole; each timed run starts with no containers, the last"
		echo "run's removed in hyperfine's prepare command, untimed."
		echo
		section_table detach
		echo
		echo "### Exec into a running container"
		echo
		echo "\`exec bench-exec true\`, where bench-exec is a container started with"
		echo "\`run -d --name bench-exec --network none $img sleep 1000\`."
		echo
		section_table exec
		echo
		echo "### Host memory per idle container"
		echo
		echo "$mem_n containers started with \`run -d --network none $img sleep 1000\`,"
		echo "one tool at a time, from none. The engine's processes are those it"
		echo "keeps for each container: berth's monitor (\`berth-monitor ID\`),"
		echo "Docker's containerd-shim-runc-v2 and podman's conmon, found by the"
		echo "containers' IDs on their command lines; their PSS"
		echo "(/proc/PID/smaps_rollup) shares each page among the processes that"
		echo "map it. \`free\`'s used memory also counts the containers' own"
		echo "processes (\`sleep\`), the kernel's objects (namespaces, cgroups, mounts,"
		echo "page tables), and what dockerd and containerd grow by. It is read 2 s"
		echo "before the first start, 3 s after the last, and 3 s after all are"
		echo "removed, each the median of five looks over a second; per container"
		echo "is the mean of what the start took and the removal gave back, so that"
		echo "a steady drift of other work on the host cancels, but not its jumps:"
		echo "at this count, they move it by hundreds of KiB per container."
		echo
		echo "| tool | engine processes | their PSS per container | \`free\` used: before → with them → removed | per container |"
		echo "|---|---:|---:|---:|---:|"
		for t in "${tools[@]}"; do
			if [ -n "${mem_pss[$t]:-}" ]; then
				echo "| $t | ${mem_procs[$t]} | ${mem_pss[$t]} KiB ($(mb "${mem_pss[$t]}")) | ${mem_used[$t]} KiB | ${mem_free[$t]} KiB ($(mb "${mem_free[$t]}")) |"
			else
				echo "| $t | not run | | | |"
			fi
		done
		for t in "${tools[@]}"; do
			if [ -z "${mem_pss[$t]:-}" ]; then
				echo
				echo "$t: not run: ${why[mem:$t]:-no result}"
			fi
		done
		echo
		echo "### ${dens[started]:-$density} idle berth containers"
		echo
		echo "$density containers started one after another with"
		echo "\`run -d --network none $img sleep 100000\`, then \`ps\` and \`ps -a\`"
		echo "timed beside them, then all removed with one \`rm -f\`. berth only:"
		c=$(median detach docker)
		if [ -n "$c" ]; then
			echo "at Docker's pace in the detached loop above, which only slows as"
			echo "containers add up, starting them would take"
			echo "$(awk -v m="$c" -v n="$detach" -v d="$density" 'BEGIN {printf "%.1f", m / n * d / 60}') minutes or more here, and removing them about as long."
		else
			echo "Docker and Podman would take many minutes here."
		fi
		echo "The count is BENCH_DENSITY."
		echo
		if [ -n "${dens[free]:-}" ]; then
			echo "| | |"
			echo "|---|---:|"
			echo "| containers | ${dens[started]} |"
			echo "| time to start them | ${dens[start_s]} s ($(awk -v s="${dens[start_s]}" -v n="${dens[started]}" 'BEGIN {printf "%.1f", s * 1000 / n}') ms each) |"
			echo "| \`ps\`, median | $(secs "$(median ps berth)") |"
			echo "| \`ps -a\`, median | $(secs "$(median psa berth)") |"
			echo "| monitors' PSS per container | ${dens[pss]} KiB ($(mb "${dens[pss]}")), ${dens[procs]} monitors |"
			echo "| \`free\` used: before → with them, before → after removing them | ${dens[used]} KiB |"
			echo "| \`free\` per container | ${dens[free]} KiB ($(mb "${dens[free]}")) |"
			echo "| of which slab, per container | ${dens[mi_Slab]} KiB (${dens[mi_SUnreclaim]} KiB unreclaimable) |"
			echo "| of which page tables, per container | ${dens[mi_PageTables]} KiB |"
			echo "| of which kernel stacks, per container | ${dens[mi_KernelStack]} KiB |"
			echo "| of which anonymous pages, per container | ${dens[mi_AnonPages]} KiB |"
			echo "| time to remove them | ${dens[rm_s]} s |"
			echo
			echo "\`free\` per container is the mean of what the start took and what the"
			echo "removal gave back, as above; the parts of it come from /proc/meminfo,"
			echo "read the same way, and host-wide too."
			echo
			if [ "${dens[ps_runs]}" = "$ps_runs" ]; then
				echo "\`ps\` and \`ps -a\`, $ps_runs hyperfine runs each:"
			else
				echo "\`ps\` and \`ps -a\`, ${dens[ps_runs]} hyperfine runs each, since one untimed \`ps\`"
				echo "took ${dens[ps_once]} s:"
			fi
			echo
			for s in ps psa; do
				c=$(median "$s" berth)
				if [ -n "$c" ]; then
					jq -r '.results[0] | [.median, .mean, .stddev // 0, .min, .max] | @tsv' "$out/$s-berth.json" |
						while IFS=$'\t' read -r med mean sd min max; do
							echo "- \`${cmd[$s:berth]#"${pre[berth]} "}\`: median $(secs "$med"), mean $(secs "$mean") ± $(secs "$sd"), min $(secs "$min"), max $(secs "$max")"
						done
				else
					echo "- \`${cmd[$s:berth]#"${pre[berth]} "}\`: not run: ${why[$s:berth]:-no result}"
				fi
			done
		else
			echo "Not run: ${why[density:berth]:-no result}${dens[start_s]:+ (after ${dens[start_s]} s)}"
		fi
		echo
		echo "### How it was measured"
		echo
		echo "Each tool imports the same tarball of scripts/busybox-rootfs.sh's"
		echo "tree as $img, into stores of its own under a fresh temp dir"
		echo "on the disk: berth's \`--root\` (\$BENCH_ROOT), a private dockerd"
		echo "(\$BENCH_DOCKER, its socket; started with \`--bridge=none"
		echo "--iptables=false\` and its own data and exec roots, running its own"
		echo "containerd), and podman's containers.conf and storage.conf, named by"
		echo "CONTAINERS_CONF and CONTAINERS_STORAGE_CONF. Every container has"
		echo "\`--network none\`. hyperfine runs each command through \`sh -c\`, whose"
		echo "own start-up it measures and subtracts, the same for every tool."
		echo "CPU is hyperfine's user plus system time, the mean: the command's and"
		echo "that of the processes it waited for, not a daemon's."
		echo
		echo "Podman's settings: storage driver overlay; cgroup manager cgroupfs and"
		echo "events to a file, since no systemd runs the bench's containers."
		if [ ${#podman_notes[@]} -gt 0 ]; then
			echo "Changed from podman's defaults so that it runs here:"
			echo
			for note in "${podman_notes[@]}"; do
				echo "- $note"
			done
		fi
		echo
		echo "The commands, from the repository root:"
		echo
		echo '```sh'
		for s in "${sections[@]}" ps psa; do
			printf '%s' "${hyperfine_cmds[$s]:-}"
		done
		echo '```'
		echo
		for t in "${tools[@]}"; do
			[ -n "${rm_err[$t]:-}" ] || continue
			echo "Removing all of $t's containers at once, untimed, failed at least"
			echo "once, though none was left after: \`${rm_err[$t]}\`."
			echo
		done
		echo "Raw results: bench/out/containers/SECTION-TOOL.json (not committed)."
		echo "This part took $(awk -v a="$bench_start" -v b="$(now)" 'BEGIN {printf "%.1f", (b - a) / 60}') minutes."
		echo
		echo "### Where the time goes"
		echo
		echo "From \`perf record -g\` of 30 \`berth run --rm\`s in a row and \`strace -f\`"
		echo "of single runs, on this host:"
		echo
		echo "- berth's \`run --rm\` is nearly all CPU (see the CPU column): two Go"
		echo "  programs start, the \`berth\` command and, in the container's new"
		echo "  namespaces, its init (\`berth __init\`), about two thirds of the CPU in"
		echo "  the first and one third in the second. Each pays for the Go runtime's"
		echo "  start and the initializers of every package the binary holds before"
		echo "  it does any work: page faults were about a sixth of the samples and"
		echo "  \`runtime.doInit1\` about 6%. encoding/json took about 8% (the OCI"
		echo "  spec and the records, with reflection caches that every process"
		echo "  builds anew). Most of the rest is the kernel's own work: the mounts"
		echo "  (the overlay; /proc, /sys, /dev and their parts; one per cgroup v1"
		echo "  hierarchy; the masked paths), a cgroup directory made and removed in"
		echo "  each of the ten hierarchies, the container's files, and clone3 into"
		echo "  five new namespaces. Four bbolt commits with two fdatasyncs each add"
		echo "  a few milliseconds of waiting."
		echo "- \`exec\` is the command and one process that, in berth's C"
		echo "  constructor, before any Go runtime starts, joins the container's"
		echo "  cgroups and namespaces, sets the user, capabilities, limits and the"
		echo "  seccomp filter that the command worked out for it (an exec plan),"
		echo "  and executes the program."
		echo "- Docker's client uses little CPU of its wall time: the rest is the"
		echo "  chain behind it, dockerd, containerd, a new containerd-shim-runc-v2"
		echo "  process for each container, and runc create, start or exec, each a Go"
		echo "  program with runc's init besides, with API calls and events between"
		echo "  them; \`--rm\` and \`rm\` go back through the same chain. Podman has no"
		echo "  daemon but runs a chain of its own from a large Go binary: conmon,"
		echo "  runc, and \`podman container cleanup\` when the container exits."
		if [ -n "$(median ps berth)" ] && awk -v m="$(median ps berth)" 'BEGIN {exit !(m > 0.2)}'; then
			echo "- \`ps\` beside many containers: for each container's status, berth"
			echo "  reads a few small files (the runtime's state.json, /proc/PID/stat,"
			echo "  the freezer's state, the monitor's exit file), eight containers at"
			echo "  a time; its time grows with the count, and this host's load adds"
			echo "  to it."
		fi
		echo "- Memory: berth's monitor is C that runs before the Go runtime would"
		echo "  start, so it has no Go heap and no threads, and most of its pages are"
		echo "  the binary's, shared by all the monitors; Docker keeps a Go process,"
		echo "  its shim, for each container, and podman a conmon (C, with glib). What"
		echo "  \`free\` sees besides is mostly the kernel's: slab for the mounts,"
		echo "  namespaces and a cgroup in every hierarchy, page tables and kernel"
		echo "  stacks, and the container's own \`sleep\` (the breakdown under the"
		echo "  idle berth containers)."
	} >"$tmp"
	bench/report.sh containers "$tmp"
}

# --- the runs ----------------------------------------------------------------
measure run "$runs" 3
write_report
measure loop "$loop_runs" 0
write_report
measure detach "$detach_runs" 0
for t in "${tools[@]}"; do
	[ -n "${tool_why[$t]:-}" ] || remove_all "$t"
done
write_report

for t in "${tools[@]}"; do
	[ "${why[exec:$t]}" = "$pending" ] || continue
	if ! sh -c "${pre[$t]} run -d --name bench-exec --network none $img sleep 1000" </dev/null >/dev/null 2>"$work/err"; then
		why[exec:$t]="run -d of the container to exec into failed: $(last_line "$work/err")"
		[ "$t" != berth ] || berth_failed=1
	fi
done
measure exec "$runs" 3
for t in "${tools[@]}"; do
	[ -n "${tool_why[$t]:-}" ] || remove_all "$t"
done
write_report

measure_mem
write_report
measure_density
write_report

echo
echo "bench: wrote $report"
for s in "${sections[@]}" mem density; do
	if [ -n "${why[$s:berth]:-}" ]; then
		echo "bench: berth was not measured for $s: ${why[$s:berth]}" >&2
		berth_failed=1
	fi
done
exit $berth_failed
