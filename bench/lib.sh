# What the bench scripts share: checks of their settings, a private
# dockerd, clean-up of their temp dir, and pieces of their reports. Each
# script sources it from the repository root, after setting $work (its
# temp dir) where it uses the functions that name it; the variables the
# functions set are the script's too.
# shellcheck shell=bash disable=SC2034,SC2154

die() {
	echo "bench: $*" >&2
	exit 1
}

# need_cmds COMMAND...: dies naming the first command that is missing.
need_cmds() {
	local cmd
	for cmd in "$@"; do
		command -v "$cmd" >/dev/null || die "$cmd is missing: run scripts/setup.sh"
	done
}

# need_positive VARIABLE...: dies naming the first variable that is set
# but not a positive number.
need_positive() {
	local v
	for v in "$@"; do
		case ${!v:-1} in
		'' | *[!0-9]* | 0) die "$v must be a positive number" ;;
		esac
	done
}

# stop PID NAME SECONDS: SIGTERM, then SIGKILL after SECONDS.
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

# kill_naming TEXT: kills every process whose command line has TEXT in
# it: what an engine left behind names its directory there.
kill_naming() {
	local p pid line
	for p in /proc/[0-9]*/cmdline; do
		pid=${p#/proc/}
		pid=${pid%/cmdline}
		line=$(tr '\0' ' ' 2>/dev/null <"$p") || continue
		if [[ $line == *"$1"* ]]; then
			kill -KILL "$pid" 2>/dev/null || true
		fi
	done
}

# remove_work: unmounts what is mounted under $work (overlays, and the
# engines' binds of their stores onto themselves), the deepest first,
# then removes $work.
# release_bridges BERTH...: deletes the bridges of the networks of the
# berth that the command BERTH... runs (with its --root), before its root
# goes: a bridge outlives the root that named it otherwise. What rules
# are left match nothing, and berth deletes them when it next makes a
# bridge.
release_bridges() {
	local id br
	for id in $("$@" network ls -q 2>/dev/null); do
		br=$("$@" network inspect -f '{{index .Options "com.docker.network.bridge.name"}}' "$id" 2>/dev/null) || continue
		[ -z "$br" ] || [ "$br" = "<no value>" ] || ip link del "$br" 2>/dev/null || true
	done
}

remove_work() {
	local mp
	awk -v w="$work" '$5 == w || index($5, w "/") == 1 {print $5}' /proc/self/mountinfo |
		sort -r | while read -r mp; do umount -l "$mp" 2>/dev/null || true; done
	rm -rf --one-file-system "$work"
}

# last_line FILE: the last non-empty line of FILE, cut to 200 characters:
# where a failed command says why. The report names the temp dir by the
# variables, not by where it was.
last_line() {
	local line
	line=$(grep -v '^[[:space:]]*$' "$1" 2>/dev/null | tail -n 1)
	line=${line//"${BENCH_ROOT:-}"/\$BENCH_ROOT}
	line=${line//"$work"/(temp dir)}
	line=${line:0:200}
	echo "${line:-no error message}"
}

# quote ARGS...: the command line as one would type it.
quote() {
	local a s=""
	for a in "$@"; do
		case $a in
		*[!A-Za-z0-9_./=:-]* | "") a="'${a//\'/\'\\\'\'}'" ;;
		esac
		s+="${s:+ }$a"
	done
	printf '%s' "$s"
}

# ratio A B: A/B as "0.42×", or "n/a".
ratio() {
	if [ -z "$1" ] || [ -z "$2" ]; then
		echo "n/a"
	else
		awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f×", a / b}'
	fi
}

# why_failed PREPARE COMMAND: why a measured run failed. hyperfine hides
# the commands' stderr, so they run once more, untimed; PREPARE may be
# empty.
why_failed() {
	if [ -n "$1" ] && ! sh -c "$1" >/dev/null 2>"$work/err" </dev/null; then
		echo "its prepare command failed: $(last_line "$work/err")"
	else
		sh -c "$2" >/dev/null 2>"$work/err" </dev/null || true
		echo "it failed: $(last_line "$work/err")"
	fi
}

# hyperfine_each SECTION RUNS WARMUP TOOL...: hyperfine for each TOOL
# that can still run SECTION (why[SECTION:TOOL] is $pending), one tool at
# a time, so that a tool that fails loses only its own column. It times
# cmd[SECTION:TOOL], after prep[SECTION:TOOL] where there is one, into
# $out/SECTION-TOOL.json, and adds the command line to
# hyperfine_cmds[SECTION]; a failure goes into why[SECTION:TOOL], and
# berth's sets berth_failed.
# shellcheck disable=SC2004 # why, prep, cmd, hyperfine_cmds: the caller's associative arrays
hyperfine_each() {
	local s=$1 runs=$2 warmup=$3 t args rc
	shift 3
	for t in "$@"; do
		[ "${why[$s:$t]:-}" = "$pending" ] || continue
		args=(--runs "$runs")
		[ "$warmup" = 0 ] || args+=(--warmup "$warmup")
		[ -z "${prep[$s:$t]:-}" ] || args+=(--prepare "${prep[$s:$t]}")
		args+=(--export-json "$out/$s-$t.json" -n "$t" "${cmd[$s:$t]}")
		hyperfine_cmds[$s]+="$(quote hyperfine "${args[@]}")"$'\n'
		echo
		echo "== $s: $t"
		rc=0
		hyperfine "${args[@]}" </dev/null || rc=$?
		# hyperfine catches ^C and exits 130, and bash then takes the
		# interrupt as handled: stop here, as ^C means.
		[ "$rc" -lt 128 ] || exit "$rc"
		if [ "$rc" = 0 ]; then
			unset "why[$s:$t]"
		else
			rm -f "$out/$s-$t.json"
			why[$s:$t]=$(why_failed "${prep[$s:$t]:-}" "${cmd[$s:$t]}")
			[ "$t" != berth ] || berth_failed=1
		fi
	done
}

# start_private_dockerd BRIDGE: starts a dockerd with everything of its
# own under $work/docker, listening on $BENCH_DOCKER, its containers on
# BRIDGE (none: no network) and no iptables rules, and waits until it
# answers. It sets dockerd_pid, or dockerd_why when it fails.
start_private_dockerd() {
	local dockerd major config=$work/docker/daemon.json i
	dockerd_why=""
	if ! dockerd=$(command -v dockerd) || ! command -v docker >/dev/null; then
		dockerd_why="docker.io is not installed (scripts/setup.sh --docker)"
		return 1
	fi
	mkdir -p "$work/docker"
	# Our own config, so that the host's daemon.json is not read. dockerd
	# before 23 writes an identity key to /etc/docker unless told where.
	major=$("$dockerd" --version | sed -n 's/^Docker version \([0-9]*\)\..*/\1/p')
	if [ -n "$major" ] && [ "$major" -lt 23 ]; then
		printf '{"deprecated-key-path": "%s"}\n' "$work/docker/key.json" >"$config"
	else
		echo '{}' >"$config"
	fi
	# In a session of its own: a ^C at the terminal reaches the bench,
	# whose cleanup removes the containers before it stops dockerd.
	setsid "$dockerd" --config-file "$config" \
		--data-root "$work/docker/data" --exec-root "$work/docker/exec" \
		--pidfile "$work/docker/docker.pid" -H "$BENCH_DOCKER" \
		--bridge="$1" --iptables=false --ip6tables=false \
		>"$work/docker/dockerd.log" 2>&1 </dev/null &
	dockerd_pid=$!
	for ((i = 0; i < 600; i++)); do
		if ! kill -0 "$dockerd_pid" 2>/dev/null; then
			dockerd_why="dockerd exited at start: $(last_line "$work/docker/dockerd.log")"
			return 1
		fi
		docker -H "$BENCH_DOCKER" version >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	dockerd_why="dockerd did not answer within 60 s: $(last_line "$work/docker/dockerd.log")"
	return 1
}

# cgroup_mode: the host's cgroup hierarchy, in words.
cgroup_mode() {
	if [ "$(stat -fc %T /sys/fs/cgroup)" = cgroup2fs ]; then
		echo "v2 (unified)"
	elif [ -d /sys/fs/cgroup/unified ]; then
		echo "v1, hybrid (v2 mounted at /sys/fs/cgroup/unified)"
	else
		echo "v1 (legacy)"
	fi
}

# host_rows [cgroups]: the report's rows on the host: the date, the
# kernel, with "cgroups" its cgroup hierarchy, the CPU and the memory.
host_rows() {
	echo "| date | $(date -u '+%Y-%m-%d %H:%M UTC') |"
	echo "| kernel | $(uname -sr) |"
	[ "${1:-}" != cgroups ] || echo "| cgroups | $(cgroup_mode) |"
	echo "| CPU | $(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo), $(nproc) cores |"
	echo "| memory | $(awk '/^MemTotal:/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo) |"
}

# berth_revision: the commit measured, and whether the tree had changes.
# The report itself does not count: another part may have just written it.
berth_revision() {
	local rev
	rev=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
	if [ -n "$(git status --porcelain --untracked-files=no -- . ":(exclude)docs/BENCHMARKS.md" 2>/dev/null)" ]; then
		rev+=" with uncommitted changes"
	fi
	echo "$rev"
}
