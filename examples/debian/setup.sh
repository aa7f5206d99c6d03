#!/bin/sh
# Makes the example's base image, berth-example/debian:bookworm, a
# debootstrap minbase of Debian bookworm (it needs a Debian mirror, or
# the tarball $DEBIAN_TARBALL made earlier).
set -eu
berth=${BERTH:-berth}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
tarball=${DEBIAN_TARBALL:-/var/cache/berth-test/debian-bookworm-minbase-$(dpkg --print-architecture).tar}
if [ ! -f "$tarball" ]; then
	dir=$(mktemp -d)
	trap 'rm -rf "$dir"' EXIT
	debootstrap --variant=minbase bookworm "$dir/rootfs" "$mirror"
	mkdir -p "$(dirname "$tarball")"
	tar --numeric-owner -C "$dir/rootfs" -cf "$tarball.tmp" .
	mv "$tarball.tmp" "$tarball"
fi
"$berth" import "$tarball" berth-example/debian:bookworm
