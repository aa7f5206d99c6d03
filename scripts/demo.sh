#!/usr/bin/env bash
# Run one busybox container with berth and show what makes it a container:
# its own hostname, its own process tree, and a memory limit the kernel
# enforces. Needs root and bin/berth (`make demo` builds it first).
#   scripts/demo.sh
# BERTH=/path/to/berth scripts/demo.sh runs another build.
set -euo pipefail

cd "$(dirname "$0")/.."
berth=${BERTH:-bin/berth}

if [ "$(id -u)" -ne 0 ]; then
	echo "demo: run it as root: containers need namespaces, mounts and cgroups" >&2
	exit 1
fi
if [ ! -x "$berth" ]; then
	echo "demo: $berth is not built: run 'make build' (or 'make demo')" >&2
	exit 1
fi

tmp=$(mktemp -d /tmp/berth-demo.XXXXXX)
bundle=$tmp/bundle
state=$tmp/root
id=demo-$$
cleanup() {
	"$berth" --root "$state" runtime delete -f "$id" >/dev/null 2>&1 || true
	rm -rf --one-file-system "$tmp"
}
trap cleanup EXIT

limit=$((32 * 1024 * 1024))

# The bundle: a busybox root filesystem and berth's default config, with
# the hostname, the process and a 32 MiB memory limit (and no swap on top:
# OCI's swap is memory plus swap) filled in.
scripts/busybox-rootfs.sh "$bundle/rootfs"
cat >"$bundle/rootfs/demo.sh" <<'SCRIPT'
echo "hostname: $(hostname)"
echo "processes:"
ps -o pid,user,args
limit=$(cat /sys/fs/cgroup/memory.max 2>/dev/null ||
	cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null ||
	echo "not visible")
echo "memory limit: $limit"
echo "reading 64 MiB into memory..."
head -c 64m /dev/zero | tail >/dev/null
echo "tail exit status: $?"
SCRIPT
"$berth" runtime spec --bundle "$bundle"
jq --argjson limit "$limit" '
	.hostname = "demo"
	| .process.terminal = false
	| .process.args = ["sh", "/demo.sh"]
	| .linux.resources.memory = {limit: $limit, swap: $limit}
' "$bundle/config.json" >"$bundle/config.json.new"
mv "$bundle/config.json.new" "$bundle/config.json"

cat <<INTRO
berth demo: a busybox container with hostname "demo" and a 32 MiB memory
limit. Its shell prints its hostname and processes, then reads 64 MiB
into memory.

\$ $berth --root $state runtime run --bundle $bundle $id
INTRO

set +e
"$berth" --root "$state" runtime run --bundle "$bundle" "$id" </dev/null 2>&1 | tee "$tmp/out" | sed 's/^/  | /'
status=${PIPESTATUS[0]}
set -e

echo
fail=0
check() { # check STATUS MESSAGE
	if [ "$1" = 0 ]; then
		echo "  ok    $2"
	else
		echo "  FAIL  $2"
		fail=1
	fi
}
out=$tmp/out

rc=0
grep -qx 'hostname: demo' "$out" || rc=1
check $rc "own hostname: the container is \"demo\", the host is \"$(hostname)\""

# The ps lines sit between "processes:" and "memory limit:"; each starts
# with a pid.
procs=$(sed -n '/^processes:$/,/^memory limit:/p' "$out" | awk '$1 ~ /^[0-9]+$/')
nprocs=$(printf '%s\n' "$procs" | grep -c . || true)
pid1=$(printf '%s\n' "$procs" | awk '$1 == 1 {$1 = ""; $2 = ""; sub(/^ +/, ""); print; exit}')
hostprocs=$(ls -d /proc/[0-9]* | wc -l)
rc=0
case $pid1 in
sh* | /bin/sh*) [ "$nprocs" -le 3 ] || rc=1 ;;
*) rc=1 ;;
esac
check $rc "own processes: ps saw $nprocs, PID 1 is \"$pid1\"; the host has $hostprocs"

rc=0
grep -qx 'tail exit status: 137' "$out" || rc=1
check $rc "memory limit: the 64 MiB reader was killed (status 137: SIGKILL from the OOM killer)"

rc=0
[ "$status" = 0 ] || rc=1
check $rc "berth runtime run exited with the container's status ($status)"

if [ "$fail" != 0 ]; then
	echo "demo: some checks failed" >&2
	exit 1
fi
