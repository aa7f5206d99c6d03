#!/usr/bin/env bash
# Install what berth needs to build, test, demo and benchmark on Debian:
#   scripts/setup.sh            build and test dependencies
#   scripts/setup.sh --docker   the same, plus docker.io for the Docker tests
# It installs only the packages that are missing, runs apt-get update only
# when apt has no candidate for one of them, and needs root only when
# something is missing. It also checks that Go is new enough for go.mod
# (1.24 at least).
set -euo pipefail

# installed PKG: whether dpkg has PKG installed.
installed() {
	[ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null)" = installed ]
}

# install_missing NAME PKG...: installs the PKGs that are missing, NAME
# (the script's) starting its messages; without root, a missing one is
# an error. bench/setup.sh sources this file for it.
install_missing() {
	local name=$1 p candidate need_update=0 missing=()
	shift
	for p in "$@"; do
		installed "$p" || missing+=("$p")
	done
	[ ${#missing[@]} -gt 0 ] || return 0
	if [ "$(id -u)" -ne 0 ]; then
		echo "$name: missing packages: ${missing[*]}" >&2
		echo "$name: run it as root to install them" >&2
		exit 1
	fi
	export DEBIAN_FRONTEND=noninteractive
	for p in "${missing[@]}"; do
		candidate=$(apt-cache policy "$p" 2>/dev/null | awk '/Candidate:/ {print $2}')
		if [ -z "$candidate" ] || [ "$candidate" = "(none)" ]; then
			need_update=1
			break
		fi
	done
	if [ "$need_update" = 1 ]; then
		echo "$name: apt-get update"
		apt-get update -q
	fi
	echo "$name: installing ${missing[*]}"
	if ! apt-get install -y -q --no-install-recommends "${missing[@]}"; then
		[ "$need_update" = 0 ] || exit 1
		# Package lists that are out of date name files the mirror no
		# longer has: refresh them once and try again.
		echo "$name: apt-get update, then installing again"
		apt-get update -q
		apt-get install -y -q --no-install-recommends "${missing[@]}"
	fi
}

# Sourced, it only defines the functions above.
if [ "${BASH_SOURCE[0]}" != "$0" ]; then
	return 0
fi

want_docker=0
for arg in "$@"; do
	case $arg in
	--docker) want_docker=1 ;;
	-h | --help)
		sed -n '2,/^[^#]/s/^# \{0,1\}//p' "$0"
		exit 0
		;;
	*)
		echo "setup.sh: unknown argument: $arg (try --help)" >&2
		exit 2
		;;
	esac
done

packages=(
	gcc pkg-config libseccomp-dev make # build
	libc6-dev                          # the static libc of berth-init (run --init)
	busybox-static                     # test root filesystems
	debootstrap                        # the Debian root filesystem of the build tests
	runc crun hyperfine                # benchmarks: the runtimes berth is compared with
	iproute2 procps jq                 # tests, demo and benchmarks
	docker-registry skopeo             # image tests: a real registry, another client
	apache2-utils openssl              # registry tests: htpasswd users, TLS
	iptables util-linux                # network tests: FORWARD's DROP policy, nsenter
)
if [ "$want_docker" = 1 ]; then
	packages+=(docker.io)
fi

install_missing setup.sh "${packages[@]}"

# Go: /usr/local/go is where the go.dev tarball unpacks. The version
# needed is the go line of go.mod, and never below 1.24.
need=1.24
modgo=$(awk '$1 == "go" {print $2; exit}' "$(dirname "$0")/../go.mod" 2>/dev/null || true)
if [ -n "$modgo" ] && [ "$(printf '%s\n' "$need" "$modgo" | sort -V | tail -n 1)" = "$modgo" ]; then
	need=$modgo
fi
if ! command -v go >/dev/null 2>&1 && [ -x /usr/local/go/bin/go ]; then
	PATH=$PATH:/usr/local/go/bin
fi
if ! command -v go >/dev/null 2>&1; then
	echo "setup.sh: Go $need or newer is needed and 'go' is not on PATH." >&2
	echo "setup.sh: install it from https://go.dev/dl/ into /usr/local/go and add /usr/local/go/bin to PATH." >&2
	exit 1
fi
version=$(go env GOVERSION)
have=${version#go}
have=${have%%[!0-9.]*}
if [ "$(printf '%s\n' "$need" "$have" | sort -V | head -n 1)" != "$need" ]; then
	echo "setup.sh: Go $need or newer is needed; $(command -v go) is $version." >&2
	echo "setup.sh: install a newer one from https://go.dev/dl/ into /usr/local/go." >&2
	exit 1
fi

echo "setup.sh: ready ($version, packages: ${packages[*]})"
