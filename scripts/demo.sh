#!/usr/bin/env bash
# Build a busybox image offline, run a container from it with berth, and
# show what makes it a container: its own hostname, its own process tree,
# and a memory limit the kernel enforces. Needs root and bin/berth
# (`make demo` builds it first).
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
state=$tmp/root
cleanup() {
	"$berth" --root "$state" rm -f demo >/dev/null 2>&1 || true
	# The root's default bridge would outlive the temp root otherwise.
	local id br
	for id in $("$berth" --root "$state" network ls -q 2>/dev/null); do
		br=$("$berth" --root "$state" network inspect -f '{{index .Options "com.docker.network.bridge.name"}}' "$id" 2>/dev/null) || continue
		[ -z "$br" ] || [ "$br" = "<no value>" ] || ip link del "$br" 2>/dev/null || true
	done
	rm -rf --one-file-system "$tmp"
}
trap cleanup EXIT

# The image: a busybox root filesystem from Debian's busybox-static, with
# the demo's script, imported as demo/busybox. No network is needed.
scripts/busybox-rootfs.sh "$tmp/rootfs"
cat >"$tmp/rootfs/demo.sh" <<'SCRIPT'
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
tar -C "$tmp/rootfs" -c . | "$berth" --root "$state" import -c 'CMD ["sh"]' - demo/busybox >/dev/null

cat <<INTRO
berth demo: an image built here from busybox, and a container from it
with hostname "demo" and a 32 MiB memory limit (no swap on top). Its
shell prints its hostname and processes, then reads 64 MiB into memory.

\$ berth images
INTRO
"$berth" --root "$state" images | sed 's/^/  | /'
cat <<INTRO

\$ berth run --name demo --hostname demo --memory 32m --memory-swap 32m demo/busybox sh /demo.sh
INTRO

set +e
"$berth" --root "$state" run --name demo --hostname demo --memory 32m --memory-swap 32m \
	demo/busybox sh /demo.sh </dev/null 2>&1 | tee "$tmp/out" | sed 's/^/  | /'
status=${PIPESTATUS[0]}
set -e
echo
echo "\$ berth ps -a"
"$berth" --root "$state" ps -a | sed 's/^/  | /'

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
# Processes come and go while find lists them: its complaints are not errors.
hostprocs=$({ find /proc -maxdepth 1 -name "[0-9]*" 2>/dev/null || true; } | wc -l)
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
check $rc "berth run exited with the container's status ($status)"

if [ "$fail" != 0 ]; then
	echo "demo: some checks failed" >&2
	exit 1
fi
