#!/usr/bin/env bash
# Build a minimal root filesystem from Debian's busybox-static:
#   scripts/busybox-rootfs.sh DIR
# DIR gets bin/busybox with a symlink for every applet, the directories a
# container expects (proc sys dev tmp etc root), and /etc files with the
# users root (0), app (1000) and nobody (65534). It is the shell twin of
# internal/testfixture.BusyboxRootfs, used by the demo and the benchmarks.
set -euo pipefail

if [ $# -ne 1 ]; then
	echo "usage: $0 DIR" >&2
	exit 2
fi
dir=$1
busybox=${BUSYBOX:-/bin/busybox}
if [ ! -x "$busybox" ]; then
	echo "$0: $busybox not found: install it with 'apt-get install busybox-static'" >&2
	exit 1
fi

mkdir -p "$dir/bin" "$dir/proc" "$dir/sys" "$dir/dev" "$dir/etc" "$dir/home/app"
mkdir -p -m 1777 "$dir/tmp"
mkdir -p -m 0700 "$dir/root"
cp "$busybox" "$dir/bin/busybox"
chmod 0755 "$dir/bin/busybox"
for applet in $("$busybox" --list); do
	[ "$applet" = busybox ] && continue
	ln -sfn busybox "$dir/bin/$applet"
done

cat >"$dir/etc/passwd" <<'PASSWD'
root:x:0:0:root:/root:/bin/sh
app:x:1000:1000:app:/home/app:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
PASSWD
cat >"$dir/etc/group" <<'GROUP'
root:x:0:
app:x:1000:
nogroup:x:65534:
GROUP
echo berth >"$dir/etc/hostname"
if [ "$(id -u)" -eq 0 ]; then
	chown 1000:1000 "$dir/home/app"
fi
