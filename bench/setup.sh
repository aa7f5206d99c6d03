#!/usr/bin/env bash
# Install what the benchmarks need on top of `scripts/setup.sh --docker`:
# podman, which bench/containers.sh compares berth with, buildah, which
# bench/build.sh does, and docker-compose, which bench/compose.sh does.
#   bench/setup.sh
# As scripts/setup.sh, whose install_missing it uses: it installs only
# the packages that are missing, runs apt-get update only when apt has no
# candidate for one of them, and needs root only when something is
# missing.
set -euo pipefail

# shellcheck source=scripts/setup.sh
. "$(dirname "$0")/../scripts/setup.sh"

# Without the recommends (buildah, fuse-overlayfs, slirp4netns...): the
# bench runs podman as root, with no network, on overlay.
packages=(podman buildah docker-compose)
install_missing bench/setup.sh "${packages[@]}"
echo "bench/setup.sh: ready (packages: ${packages[*]})"
