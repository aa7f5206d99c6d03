#!/usr/bin/env bash
# Install what the benchmarks need on top of `scripts/setup.sh --docker`:
# podman, which bench/containers.sh compares berth with, buildah, which
# bench/build.sh does, and docker-compose, which bench/compose.sh does.
#   bench/setup.sh
# As scripts/setup.sh: it installs only the packages that are missing, runs
# apt-get update only when apt has no candidate for one of them, and needs
# root only when something is missing.
set -euo pipefail

# Without the recommends (buildah, fuse-overlayfs, slirp4netns...): the
# bench runs podman as root, with no network, on overlay.
packages=(podman buildah docker-compose)

installed() {
	[ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null)" = installed ]
}

missing=()
for p in "${packages[@]}"; do
	installed "$p" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
	echo "bench/setup.sh: ready (packages: ${packages[*]})"
	exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
	echo "bench/setup.sh: missing packages: ${missing[*]}" >&2
	echo "bench/setup.sh: run it as root to install them" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
need_update=0
for p in "${missing[@]}"; do
	candidate=$(apt-cache policy "$p" 2>/dev/null | awk '/Candidate:/ {print $2}')
	if [ -z "$candidate" ] || [ "$candidate" = "(none)" ]; then
		need_update=1
		break
	fi
done
if [ "$need_update" = 1 ]; then
	echo "bench/setup.sh: apt-get update"
	apt-get update -q
fi
echo "bench/setup.sh: installing ${missing[*]}"
if ! apt-get install -y -q --no-install-recommends "${missing[@]}"; then
	[ "$need_update" = 0 ] || exit 1
	# Package lists that are out of date name files the mirror no longer
	# has: refresh them once and try again.
	echo "bench/setup.sh: apt-get update, then installing again"
	apt-get update -q
	apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
echo "bench/setup.sh: ready (packages: ${packages[*]})"
