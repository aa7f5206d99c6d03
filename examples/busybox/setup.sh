#!/bin/sh
# Makes the example's image from the host's busybox (busybox-static),
# offline: berth-example/busybox:latest.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
berth=${BERTH:-berth}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
"$here/../../scripts/busybox-rootfs.sh" "$dir/rootfs"
tar -C "$dir/rootfs" -c . | "$berth" import - berth-example/busybox:latest
