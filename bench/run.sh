#!/usr/bin/env bash
# Compare berth's runc-compatible face (bin/berth-runc) with runc and crun,
# side by side in one run, and write the runtime part of docs/BENCHMARKS.md
# (bench/report.sh keeps the other parts). Needs root, hyperfine, jq, runc,
# crun and bin/berth (`make bench-runtime` builds and runs it).
#   bench/run.sh
# Settings, from the environment:
#   BERTH_RUNC=PATH     the berth-runc to measure (default bin/berth-runc)
#   BENCH_RUNS=N        hyperfine runs for a single run and for exec (30)
#   BENCH_LOOP=N        containers run one after another in the loop (100)
#   BENCH_LOOP_RUNS=N   hyperfine runs of that loop (3)
#   BENCH_REPORT=FILE   the report to write the runtime part into
#                       (docs/BENCHMARKS.md)
# Raw hyperfine JSON goes to bench/out/.
set -euo pipefail

cd "$(dirname "$0")/.."

berth_runc=${BERTH_RUNC:-bin/berth-runc}
runs=${BENCH_RUNS:-30}
loop=${BENCH_LOOP:-100}
loop_runs=${BENCH_LOOP_RUNS:-3}
report=${BENCH_REPORT:-docs/BENCHMARKS.md}
out=bench/out

. bench/lib.sh

[ "$(id -u)" -eq 0 ] || die "run it as root: containers need namespaces, mounts and cgroups"
if [ ! -x "$berth_runc" ]; then
	die "$berth_runc is not built: run 'make build' first (or 'make bench', which does)"
fi
need_cmds hyperfine jq

tools=(berth runc crun)
declare -A bin=([berth]=$berth_runc [runc]=runc [crun]=crun)
declare -A skip # tool -> why it is not measured at all

for t in runc crun; do
	command -v "${bin[$t]}" >/dev/null || skip[$t]="${bin[$t]} is not installed (scripts/setup.sh installs it)"
done

mkdir -p "$out"
work=$(mktemp -d /tmp/berth-bench.XXXXXX)
# The commands that hyperfine runs name these variables, so that the report
# shows them exactly as they ran.
export BENCH_TRUE=$work/true BENCH_SLEEP=$work/sleep BENCH_STATE=$work/state

cleanup() {
	local t id
	for t in "${tools[@]}"; do
		[ -d "$BENCH_STATE/$t" ] || continue
		for id in $("${bin[$t]}" --root "$BENCH_STATE/$t" list -q 2>/dev/null ||
			"${bin[$t]}" --root "$BENCH_STATE/$t" list 2>/dev/null | awk 'NR > 1 {print $1}'); do
			"${bin[$t]}" --root "$BENCH_STATE/$t" delete -f "$id" >/dev/null 2>&1 || true
		done
	done
	rm -rf --one-file-system "$work"
}
trap cleanup EXIT

# Two bundles over the same busybox tree, from `runc spec` (the reference
# every runc-compatible runtime must accept; berth's when runc is missing)
# with no terminal: one runs /bin/true, one sleeps for exec to join.
spec_tool=runc
[ -z "${skip[runc]:-}" ] || spec_tool=$berth_runc
for b in "$BENCH_TRUE:/bin/true" "$BENCH_SLEEP:/bin/sleep 1000"; do
	dir=${b%%:*}
	args=${b#*:}
	scripts/busybox-rootfs.sh "$dir/rootfs"
	"$spec_tool" spec --bundle "$dir"
	jq --arg args "$args" '.process.terminal = false | .process.args = ($args | split(" "))' \
		"$dir/config.json" >"$dir/config.json.new"
	mv "$dir/config.json.new" "$dir/config.json"
done

# Commands, as hyperfine runs them: each through `sh -c`, which hyperfine
# times and subtracts, the same for every runtime. $$ is that shell's pid,
# so every run gets a fresh container id.
declare -A cmd_run cmd_loop cmd_exec
for t in "${tools[@]}"; do
	r="${bin[$t]} --root \"\$BENCH_STATE/$t\""
	cmd_run[$t]="$r run --bundle \"\$BENCH_TRUE\" ${t:0:1}\$\$"
	cmd_loop[$t]="for i in \$(seq $loop); do $r run --bundle \"\$BENCH_TRUE\" l\$\$-\$i || exit 1; done"
	cmd_exec[$t]="$r exec sleeper /bin/true"
done

declare -A why # "section:tool" -> why it was not measured
hyperfine_cmds=()

# bench SECTION JSON HYPERFINE-OPTIONS... -- then the tools to measure, with
# the command table named by SECTION.
bench() {
	local section=$1 json=$2
	shift 2
	local opts=() t
	while [ "$1" != -- ]; do
		opts+=("$1")
		shift
	done
	shift
	local args=("${opts[@]}" --export-json "$json")
	local -n cmds="cmd_$section"
	for t in "$@"; do
		args+=(-n "$t" "${cmds[$t]}")
	done
	if [ $# -eq 0 ]; then
		return 0
	fi
	hyperfine_cmds+=("$(quote hyperfine "${args[@]}")")
	echo
	echo "== $section: $*"
	if ! hyperfine "${args[@]}" </dev/null; then
		for t in "$@"; do why[$section:$t]="hyperfine failed; see its output"; done
		rm -f "$json"
	fi
}


# --- (a) one run, (b) many runs in a row -----------------------------------
ok_run=()
for t in "${tools[@]}"; do
	if [ -n "${skip[$t]:-}" ]; then
		why[run:$t]=${skip[$t]}
		continue
	fi
	if BENCH_PROBE=1 sh -c "${cmd_run[$t]}" </dev/null >/dev/null 2>"$work/err"; then
		ok_run+=("$t")
	else
		why[run:$t]=$(last_line "$work/err")
	fi
done
for t in "${tools[@]}"; do why[loop:$t]=${why[run:$t]:-}; done

bench run "$out/run.json" --warmup 3 --runs "$runs" -- "${ok_run[@]}"
bench loop "$out/loop.json" --runs "$loop_runs" -- "${ok_run[@]}"

# --- (c) exec into a running container, (d) processes left behind ----------
# session_of PID: the session id of PID (the fourth field after the
# command name in /proc/PID/stat).
session_of() { sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d ' ' -f 4; }

# runtime_procs: "pid comm rss-KiB" for each process that looks like a
# container runtime: its command name or executable is berth, runc or crun.
# Only this bench's: in its session, or naming its state directory, so that
# other work on the host that runs berth is not counted.
runtime_procs() {
	local p pid comm exe rss sid
	sid=$(session_of $$)
	for p in /proc/[0-9]*; do
		pid=${p#/proc/}
		if [ "$(session_of "$pid")" != "$sid" ] &&
			! tr '\0' ' ' <"$p/cmdline" 2>/dev/null | grep -qF "$BENCH_STATE"; then
			continue
		fi
		comm=$(cat "$p/comm" 2>/dev/null) || continue
		exe=$(readlink "$p/exe" 2>/dev/null || true)
		exe=${exe% (deleted)}
		case "$comm" in
		berth* | runc* | crun*) ;;
		*)
			case "${exe##*/}:$exe" in
			berth* | runc* | crun* | *memfd:runc*) ;;
			*) continue ;;
			esac
			;;
		esac
		rss=$(awk '/^VmRSS:/ {print $2}' "$p/status" 2>/dev/null || true)
		echo "$pid $comm ${rss:-0}"
	done
}

declare -A left_n left_rss left_list init_rss
ok_exec=()
for t in "${tools[@]}"; do
	if [ -n "${skip[$t]:-}" ]; then
		why[exec:$t]=${skip[$t]}
		why[mem:$t]=${skip[$t]}
		continue
	fi
	r=("${bin[$t]}" --root "$BENCH_STATE/$t")
	before=$(runtime_procs | awk '{print $1}')
	if ! "${r[@]}" create --bundle "$BENCH_SLEEP" sleeper </dev/null >/dev/null 2>"$work/err" ||
		! "${r[@]}" start sleeper </dev/null >/dev/null 2>"$work/err"; then
		why[exec:$t]="create and start: $(last_line "$work/err")"
		why[mem:$t]=${why[exec:$t]}
		"${r[@]}" delete -f sleeper >/dev/null 2>&1 || true
		continue
	fi
	sleep 0.5
	pid=$("${r[@]}" state sleeper 2>/dev/null | jq -r '.pid // empty' || true)
	pidns=$(readlink "/proc/$pid/ns/pid" 2>/dev/null || echo none)
	init_rss[$t]=$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo "?")
	n=0 rss=0 list=""
	while read -r p comm kib; do
		[ -n "$p" ] || continue
		grep -qx "$p" <<<"$before" && continue
		[ "$(readlink "/proc/$p/ns/pid" 2>/dev/null)" = "$pidns" ] && continue
		n=$((n + 1))
		rss=$((rss + kib))
		list+="${list:+, }$comm ($p, $kib KiB)"
	done < <(runtime_procs)
	left_n[$t]=$n left_rss[$t]=$rss left_list[$t]=${list:-none}

	if BENCH_PROBE=1 sh -c "${cmd_exec[$t]}" </dev/null >/dev/null 2>"$work/err"; then
		ok_exec+=("$t")
	else
		why[exec:$t]=$(last_line "$work/err")
	fi
done

bench exec "$out/exec.json" --warmup 3 --runs "$runs" -- "${ok_exec[@]}"

for t in "${tools[@]}"; do
	[ -n "${skip[$t]:-}" ] && continue
	"${bin[$t]}" --root "$BENCH_STATE/$t" delete -f sleeper >/dev/null 2>&1 || true
done

# --- the report -------------------------------------------------------------
# median JSON TOOL: the median in seconds, or nothing.
median() {
	[ -f "$1" ] || return 0
	jq -r --arg t "$2" '.results[] | select(.command == $t) | .median' "$1"
}

# section_table SECTION JSON TITLE
section_table() {
	local section=$1 json=$2 t m
	echo "| runtime | median | mean ± σ | min | max | runs |"
	echo "|---|---:|---:|---:|---:|---:|"
	for t in "${tools[@]}"; do
		m=$(median "$json" "$t")
		if [ -n "$m" ]; then
			jq -r --arg t "$t" '.results[] | select(.command == $t) |
				[.median, .mean, .stddev, .min, .max, (.times | length)] | @tsv' "$json" |
				awk -v t="$t" -F '\t' '{printf "| %s | %.1f ms | %.1f ± %.1f ms | %.1f ms | %.1f ms | %d |\n",
					t, $1 * 1000, $2 * 1000, $3 * 1000, $4 * 1000, $5 * 1000, $6}'
		else
			echo "| $t | not run | | | | |"
		fi
	done
	echo
	local b r c
	b=$(median "$json" berth)
	r=$(median "$json" runc)
	c=$(median "$json" crun)
	echo "Medians: berth/runc $(ratio "$b" "$r"), berth/crun $(ratio "$b" "$c")."
	for t in "${tools[@]}"; do
		if [ -z "$(median "$json" "$t")" ]; then
			echo
			echo "$t: not run: ${why[$section:$t]:-no result}"
		fi
	done
}

goal() { # goal SECTION: whether berth's median is at most half of runc's
	local b r
	b=$(median "$out/$1.json" berth)
	r=$(median "$out/$1.json" runc)
	if [ -z "$b" ] || [ -z "$r" ]; then
		echo "not measured"
	elif awk -v b="$b" -v r="$r" 'BEGIN {exit !(b <= 0.5 * r)}'; then
		echo "met: $(ratio "$b" "$r")"
	else
		echo "not met: $(ratio "$b" "$r")"
	fi
}

version_of() { # version_of TOOL: its first --version line
	if [ -n "${skip[$1]:-}" ]; then
		echo "not installed"
	else
		"${bin[$1]}" --version 2>/dev/null | head -n 1 || echo unknown
	fi
}

berth_rev=$(berth_revision)
if [ -n "${left_n[berth]:-}" ]; then
	if [ "${left_n[berth]}" = 0 ]; then mem_goal="met: none"; else mem_goal="not met: ${left_n[berth]}"; fi
else
	mem_goal="not measured"
fi

tmp_report=$(mktemp "$work/report.XXXXXX")
{
	echo "## Runtime"
	echo
	echo "berth is measured through its runc-compatible face, \`berth-runc\`,"
	echo "against runc and crun (bench/run.sh, \`make bench-runtime\`)."
	echo
	echo "### Host"
	echo
	echo "| | |"
	echo "|---|---|"
	host_rows cgroups
	echo "| berth | commit $berth_rev |"
	echo "| runc | $(version_of runc) |"
	echo "| crun | $(version_of crun) |"
	echo "| hyperfine | $(hyperfine --version) |"
	echo
	echo "### Goals"
	echo
	echo "| goal | result |"
	echo "|---|---|"
	echo "| \`run\` of a container takes at most 0.5× runc's time | $(goal run) |"
	echo "| \`exec\` into a container takes at most 0.5× runc's time | $(goal exec) |"
	echo "| no berth process stays beside a started container | $mem_goal |"
	echo
	echo "### Run one container"
	echo
	echo "\`run\` of a container whose process is /bin/true: create, start, wait, delete."
	echo
	section_table run "$out/run.json"
	echo
	echo "### Run $loop containers in a row"
	echo
	echo "One shell loop of $loop \`run\`s, timed as a whole."
	echo
	section_table loop "$out/loop.json"
	echo
	echo "### Exec into a running container"
	echo
	echo "\`exec\` of /bin/true into a container whose process is \`sleep 1000\`,"
	echo "made with \`create\` and \`start\`."
	echo
	section_table exec "$out/exec.json"
	echo
	echo "### Processes left beside a running container"
	echo
	echo "Runtime processes (named berth, runc or crun, in the bench's session or"
	echo "naming its state directory) that were not there before"
	echo "\`create\` and \`start\` of the sleeping container and are outside its PID"
	echo "namespace, half a second after \`start\` returned. The container's own"
	echo "process is not counted; its RSS is given for scale."
	echo
	echo "| runtime | processes left | their RSS | which | container process RSS |"
	echo "|---|---:|---:|---|---:|"
	for t in "${tools[@]}"; do
		if [ -n "${left_n[$t]:-}" ]; then
			echo "| $t | ${left_n[$t]} | ${left_rss[$t]} KiB | ${left_list[$t]} | ${init_rss[$t]} KiB |"
		else
			echo "| $t | not run | | | |"
		fi
	done
	for t in "${tools[@]}"; do
		if [ -z "${left_n[$t]:-}" ]; then
			echo
			echo "$t: not run: ${why[mem:$t]:-no result}"
		fi
	done
	echo
	echo "### How it was measured"
	echo
	echo "Both bundles hold the same busybox root filesystem"
	echo "(scripts/busybox-rootfs.sh) and a config.json from \`${spec_tool##*/} spec\` with"
	echo "\`terminal\` false; one runs /bin/true, the other \`/bin/sleep 1000\`."
	echo "No network is set up. hyperfine runs each command through \`sh -c\`, whose"
	echo "own start-up it measures and subtracts, the same for every runtime; \`\$\$\`,"
	echo "that shell's pid, gives each run a fresh container id. The variables are"
	echo "a fresh temp dir's \`true\` and \`sleep\` bundles and \`state\` directory,"
	echo "with one state root per runtime. The commands, from the repository root:"
	echo
	echo '```sh'
	for c in "${hyperfine_cmds[@]}"; do
		echo "$c"
	done
	echo '```'
	echo
	echo "Raw results: bench/out/run.json, loop.json and exec.json (not committed)."
	echo
	echo "### Where the time goes"
	echo
	echo "A process moved into a cgroup by pid (a write to cgroup.procs) waits"
	echo "for an RCU grace period (the kernel's cgroup_threadgroup_rwsem): 10 to"
	echo "30 ms on this kind of host, in runc's \`run\` and \`exec\`. berth never"
	echo "makes that move: on cgroup2 it clones the init and every exec'd process"
	echo "into its cgroup (clone3 with CLONE_INTO_CGROUP), and on v1 hierarchies"
	echo "the new process moves itself, one thread, before its Go runtime starts,"
	echo "which takes no global lock. An exec'd process starts no Go runtime:"
	echo "berth's C constructor joins the container and carries out the exec"
	echo "plan that the command worked out (user, capabilities, limits, seccomp"
	echo "filter), then executes the program; runc starts a second Go program,"
	echo "its init, for that. \`run\` still starts two Go runtimes, berth's"
	echo "command and its init, which sets up the root filesystem; with the"
	echo "kernel's own work (namespaces, mounts, cgroup directories, exec) they"
	echo "keep its ratio above the 0.5 goal on this host. crun, in C, starts one"
	echo "process and no runtime."
} >"$tmp_report"
bench/report.sh runtime "$tmp_report"
echo
echo "bench: wrote $report"

failed=0
for s in run loop exec; do
	if [ -z "$(median "$out/$s.json" berth)" ]; then
		echo "bench: berth was not measured for $s: ${why[$s:berth]:-no result}" >&2
		failed=1
	fi
done
exit $failed
