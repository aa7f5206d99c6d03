#!/usr/bin/env bash
# Run the OCI runtime-tools validation suite (github.com/opencontainers/
# runtime-tools, validation/, pinned in conformance/go.mod) against several
# runtimes side by side, one test at a time, and write a report. Needs root,
# Go, tar, util-linux and procps; `make conformance` builds berth and runs it.
#   conformance/run.sh
# Settings, from the environment:
#   CONFORMANCE_RUNTIMES="NAME=CMD ..."  runtimes to compare; the first is
#                          the baseline the others are held to
#                          (default "runc=runc berth=bin/berth-runc")
#   CONFORMANCE_TESTS="a b ..."  run only these tests (default: all)
#   CONFORMANCE_TIMEOUT=N  seconds one test may run for one runtime (180)
#   CONFORMANCE_REPORT=FILE  where the report goes (docs/CONFORMANCE.md;
#                          "-" prints it instead)
#   CONFORMANCE_OUT=DIR    keep the raw TAP, stderr and runtime call logs
#                          there (default: a temp dir, removed at the end)
# Test binaries, runtimetest and the report tool are built into
# conformance/.build/ (ignored by git); Go's build cache makes reruns quick.
set -euo pipefail

cd "$(dirname "$0")/.."
repo=$PWD

runtimes_spec=${CONFORMANCE_RUNTIMES:-"runc=runc berth=bin/berth-runc"}
timeout_s=${CONFORMANCE_TIMEOUT:-180}
report=${CONFORMANCE_REPORT:-docs/CONFORMANCE.md}
build=conformance/.build
module=github.com/opencontainers/runtime-tools

die() {
	echo "conformance: $*" >&2
	exit 1
}

[ "$(id -u)" -eq 0 ] || die "run it as root: the suite creates namespaces, mounts and cgroups"
for cmd in go tar gzip timeout unshare setsid umount ps; do
	command -v "$cmd" >/dev/null || die "$cmd is missing"
done

# Runtimes: names and absolute commands.
names=()
declare -A cmdof given
for spec in $runtimes_spec; do
	name=${spec%%=*}
	cmd=${spec#*=}
	[ -n "$name" ] && [ "$name" != "$spec" ] || die "CONFORMANCE_RUNTIMES: want NAME=CMD, got '$spec'"
	# berth-runc may be a link to berth, which picks its face by the name
	# it is called by: resolve the directory, keep the name.
	case $cmd in
	*/*) path=$(realpath -e "$(dirname "$cmd")" 2>/dev/null)/$(basename "$cmd") ;;
	*) path=$(command -v "$cmd") || die "$name: $cmd is not installed (scripts/setup.sh installs runc and crun)" ;;
	esac
	[ -x "$path" ] || die "$name: $cmd is not an executable (for berth: make build)"
	names+=("$name")
	cmdof[$name]=$path
	given[$name]=$cmd
done
[ ${#names[@]} -ge 1 ] || die "CONFORMANCE_RUNTIMES names no runtime"

# Build: runtimetest goes inside containers whose root holds only busybox,
# so it is static (the Makefile exports CGO_ENABLED=1 for berth).
echo "conformance: building the validation suite"
rm -rf "$build/tests"
mkdir -p "$build/tests"
(
	cd conformance
	CGO_ENABLED=0 go build -trimpath -o .build/runtimetest "$module/cmd/runtimetest"
	CGO_ENABLED=0 go build -trimpath -o .build/tests/ $(go list -f '{{.ImportPath}}' tool | grep "^$module/validation/")
	CGO_ENABLED=0 go build -trimpath -o .build/report ./report
)
moddir=$(cd conformance && go list -m -f '{{.Dir}}' "$module")
suite_version=$(cd conformance && go list -m -f '{{.Version}}' "$module")
rootfs_tar=$moddir/rootfs-$(go env GOARCH).tar.gz
[ -f "$rootfs_tar" ] || die "$rootfs_tar is missing from the $module module"

tests=()
if [ -n "${CONFORMANCE_TESTS:-}" ]; then
	for t in $CONFORMANCE_TESTS; do
		[ -x "$build/tests/$t" ] || die "no such test: $t (see $build/tests/)"
		tests+=("$t")
	done
else
	mapfile -t tests < <(ls "$build/tests")
fi

work=$(mktemp -d /tmp/berth-conformance.XXXXXX)
# mktemp makes it 0700: open it, and the dirs made below, to every user,
# so that a container whose root is mapped to another uid (the user
# namespace tests) meets only the suite's own bundle permissions.
chmod 0755 "$work"
out=${CONFORMANCE_OUT:-$work/out}
mkdir -p "$out"
out=$(realpath "$out")

# The suite's fixed cgroup paths (runtime-tools cgroups.AbsCgroupPath and
# RelCgroupPath): whatever a runtime leaves there is removed between tests,
# so that one runtime's leftovers cannot change the next one's results.
cgroup_leftovers() {
	find /sys/fs/cgroup -mindepth 2 -maxdepth 3 -type d \( -name cgrouptest -o -name testdir \) 2>/dev/null || true
}

current_sid=
cleanup() {
	local n
	for n in "${names[@]}"; do
		clean_runtime "$n" "$current_sid" >/dev/null || true
		current_sid=
	done
	rm -rf --one-file-system "${work:?}"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# clean_runtime NAME [SID]: kill what is left of the test's session SID,
# delete every container left in NAME's state root, unmount what is still
# mounted under NAME's dir, and empty its temp dir; print one line per
# thing it had to remove.
clean_runtime() {
	local n=$1 sid=${2:-} dir=$work/run/$1 pid id d m
	if [ -n "$sid" ]; then
		# The test and whatever it started (unshare and sleep in their own
		# process groups) share the session that setsid made for it.
		# Zombies are left out: they are gone once their parent reaps them.
		for pid in $(ps -eo pid=,sid=,stat= | awk -v s="$sid" '$2 == s && $3 !~ /^Z/ {print $1}'); do
			echo "process $(ps -o args= -p "$pid" | cut -c 1-80)"
			kill -KILL "$pid" 2>/dev/null || true
		done
	fi
	# A runtime call that the wrapper saw start and never end: it hung
	# until the test's timeout, or the test was killed while it ran.
	for f in "$out/$n"/pending.*; do
		[ -e "$f" ] || continue
		echo "unfinished-call $(cat "$f")"
		rm -f "$f"
	done
	if [ -d "$dir/state" ]; then
		for id in $("${cmdof[$n]}" --root "$dir/state" list -q 2>/dev/null); do
			echo "container $id"
			"${cmdof[$n]}" --root "$dir/state" delete -f "$id" >/dev/null 2>&1 || true
		done
	fi
	# A container made without a mount namespace mounts /proc, /dev and
	# /sys over its bundle in the host's namespace.
	for m in $(awk -v p="$dir/" 'index($5, p) == 1 {print $5}' /proc/self/mountinfo | sort -r); do
		echo "mount $m"
		umount -l "$m" 2>/dev/null || true
	done
	for d in "$dir/tmp"/*; do
		[ -e "$d" ] || continue
		echo "bundle $(basename "$d")"
		rm -rf --one-file-system "$d"
	done
	# Depth first, and rmdir only: a cgroup that still has tasks stays.
	for d in $(cgroup_leftovers | sort -r); do
		find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null || true
		echo "cgroup $d"
	done
}

# Each runtime runs through a wrapper that gives it its own --root and logs
# every call: the test, the exit code, its stderr when it failed, the
# status that state printed, and the arguments. The runtime keeps the standard streams the suite gave it (a
# container made by create inherits them), except for short commands, whose
# stderr is copied through a file.
for n in "${names[@]}"; do
	mkdir -p -m 0755 "$work/run" "$work/run/$n" "$work/run/$n/state" "$work/run/$n/tmp"
	mkdir -p "$out/$n"
	cp "$rootfs_tar" "$work/run/$n/rootfs-$(go env GOARCH).tar.gz"
	cp "$build/runtimetest" "$work/run/$n/runtimetest"
	cat >"$work/run/$n/runtime" <<EOF
#!/usr/bin/env bash
rt=$(printf %q "${cmdof[$n]}")
root=$(printf %q "$work/run/$n/state")
log=$(printf %q "$out/$n/calls.log")
args=\$(printf '%q ' "\$@")
pending=$(printf %q "$out/$n")/pending.\$\$
printf '%s\n' "\$args" >"\$pending"
case \${1:-} in
create | run | exec)
	errfile=\$(readlink /proc/\$\$/fd/2 || true)
	before=0
	[ -f "\$errfile" ] && before=\$(stat -c %s "\$errfile")
	rc=0
	"\$rt" --root "\$root" "\$@" || rc=\$?
	err=
	if [ "\$rc" -ne 0 ] && [ -f "\$errfile" ]; then
		err=\$(tail -c +\$((before + 1)) "\$errfile" | head -c 4096 | base64 -w0)
	fi
	;;
*)
	tmp=\$(mktemp $(printf %q "$work/run/$n")/stderr.XXXXXX)
	tmpout=\$(mktemp $(printf %q "$work/run/$n")/stdout.XXXXXX)
	rc=0
	"\$rt" --root "\$root" "\$@" >"\$tmpout" 2>"\$tmp" || rc=\$?
	cat "\$tmpout"
	cat "\$tmp" >&2
	err=
	[ "\$rc" -eq 0 ] || err=\$(head -c 4096 "\$tmp" | base64 -w0)
	if [ "\$1" = state ] && [ "\$rc" -eq 0 ]; then
		note=\$(sed -n 's/.*"status": *"\\([a-z]*\\)".*/status \\1/p' "\$tmpout" | head -n 1)
	fi
	rm -f "\$tmp" "\$tmpout"
	;;
esac
printf '%s\t%s\t%s\t%s\t%s\n' "\${CONFORMANCE_TEST:-}" "\$rc" "\${err:--}" "\${note:--}" "\$args" >>"\$log"
rm -f "\$pending"
exit "\$rc"
EOF
	chmod +x "$work/run/$n/runtime"
	: >"$out/$n/calls.log"
done

{
	echo "date=$(date -u '+%Y-%m-%d %H:%M UTC')"
	echo "kernel=$(uname -r) $(uname -m)"
	echo "os=$(. /etc/os-release && echo "$PRETTY_NAME")"
	echo "cpus=$(nproc)"
	if [ "$(stat -fc %T /sys/fs/cgroup)" = cgroup2fs ]; then
		echo "cgroup=v2 (unified)"
	elif [ "$(stat -fc %T /sys/fs/cgroup/unified 2>/dev/null)" = cgroup2fs ]; then
		echo "cgroup=v1 hybrid (v1 controllers: $(find /sys/fs/cgroup -mindepth 1 -maxdepth 1 -type d ! -name unified ! -name 'name=*' -printf '%f ' | xargs -n1 | sort | xargs); cgroup2 at /sys/fs/cgroup/unified)"
	else
		echo "cgroup=v1 (controllers: $(find /sys/fs/cgroup -mindepth 1 -maxdepth 1 -type d -printf '%f ' | xargs -n1 | sort | xargs))"
	fi
	# A capability missing from root's bounding set makes every runtime
	# fail a container that asks for it.
	bnd=$((16#$(awk '/^CapBnd:/ {print $2}' /proc/self/status)))
	missing=
	for ((i = 0; i <= $(cat /proc/sys/kernel/cap_last_cap); i++)); do
		if (((bnd >> i) & 1)); then continue; fi
		c=$(capsh --decode="$(printf '%x' $((1 << i)))" 2>/dev/null | sed 's/^.*=//') || true
		missing="$missing ${c:-capability $i}"
	done
	echo "capabilities=${missing:+missing from the bounding set:}${missing:- all in the bounding set}"
	echo "go=$(go env GOVERSION)"
	echo "suite=$module $suite_version (runtime-spec $(cd conformance && go list -m -f '{{.Version}}' github.com/opencontainers/runtime-spec))"
	echo "timeout=${timeout_s}s per test and runtime"
	echo "work=$work"
	for n in "${names[@]}"; do
		v=$("${cmdof[$n]}" --version 2>/dev/null | head -n 1 || true)
		case $n in
		berth | berth-*)
			# berth has no --version: name the commit of the checkout
			# its binary was built in.
			bdir=$(dirname "${cmdof[$n]}")
			if rev=$(git -C "$bdir" rev-parse --short HEAD 2>/dev/null); then
				git -C "$bdir" diff --quiet HEAD -- ':/cmd' ':/internal' ':/go.mod' ':/go.sum' ||
					rev="$rev with uncommitted changes"
				v="berth built at commit $rev"
			fi
			;;
		esac
		echo "runtime=$n	${given[$n]}	${v:-unknown version}"
	done
} >"$out/meta"
printf '%s\n' "${tests[@]}" >"$out/tests"

printf 'conformance: %d tests, each for %s; per-test timeout %ss\n' "${#tests[@]}" "${names[*]}" "$timeout_s"
for t in "${tests[@]}"; do
	line=$(printf '%-34s' "$t")
	for n in "${names[@]}"; do
		dir=$work/run/$n
		start=$(date +%s.%N)
		# Each test runs in a session of its own: the background subshell
		# is no process group leader, so setsid makes its pid the session
		# id without forking, and clean_runtime finds what the test left.
		(
			cd "$dir"
			export RUNTIME=$dir/runtime TMPDIR=$dir/tmp CONFORMANCE_TEST=$t
			exec setsid timeout -k 10 "$timeout_s" "$repo/$build/tests/$t" </dev/null >"$out/$n/$t.tap" 2>"$out/$n/$t.err"
		) &
		current_sid=$!
		rc=0
		wait "$current_sid" || rc=$?
		end=$(date +%s.%N)
		echo "$rc" >"$out/$n/$t.rc"
		awk -v a="$start" -v b="$end" 'BEGIN {printf "%.1f\n", b - a}' >"$out/$n/$t.secs"
		clean_runtime "$n" "$current_sid" >"$out/$n/$t.leftover"
		current_sid=
		pass=$(grep -Ec '^ok [0-9]+ - ' "$out/$n/$t.tap" || true)
		fail=$(grep -Ec '^not ok [0-9]+ - ' "$out/$n/$t.tap" || true)
		skip=$(grep -Ec '^(not )?ok [0-9]+ # (SKIP|TODO)' "$out/$n/$t.tap" || true)
		status="$pass/$fail/$skip"
		[ "$rc" -eq 0 ] || status="$status rc=$rc"
		line="$line  $n $(printf '%-16s' "$status")"
	done
	echo "$line"
done

if [ "$report" = - ]; then
	"$build/report" "$out"
else
	"$build/report" "$out" >"$report.tmp"
	mv "$report.tmp" "$report"
	echo "conformance: wrote $report"
fi
[ -z "${CONFORMANCE_OUT:-}" ] || echo "conformance: raw results in $out"
