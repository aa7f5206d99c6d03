#!/usr/bin/env bash
# Compare berth's image commands with Docker's, skopeo's and tar's on one
# image of real files (bench/mkimage), side by side in one run, and write
# the images part of docs/BENCHMARKS.md (bench/report.sh keeps the other
# parts). Needs root, go, hyperfine, jq and bin/berth (`make bench-images`
# builds and runs it); dockerd and docker, docker-registry and skopeo give
# their columns, and a column whose tool is missing says so.
#   bench/images.sh
# Settings, from the environment:
#   BERTH=PATH                the berth to measure (default bin/berth)
#   BENCH_IMAGE_RUNS=N        hyperfine runs of each tool for load, import
#                             and save (5)
#   BENCH_PULL_RUNS=N         hyperfine runs of each tool for pull (3)
#   BENCH_IMAGE_LAYERS="DIR:MB ..."
#                             the image's layers: each the files of DIR, up to
#                             MB megabytes (default about 400 MB from /usr)
#   BENCH_TMPDIR=DIR          where the stores and the image go (/var/tmp)
#   BENCH_REPORT=FILE         the report to write the images part into
#                             (docs/BENCHMARKS.md)
# Raw hyperfine JSON goes to bench/out/images/.
set -euo pipefail

cd "$(dirname "$0")/.."

berth=${BERTH:-bin/berth}
runs=${BENCH_IMAGE_RUNS:-5}
pull_runs=${BENCH_PULL_RUNS:-3}
layers=${BENCH_IMAGE_LAYERS:-/usr/lib:160 /usr/share:100 /usr/bin:100 /usr/sbin:25 /usr/libexec:15}
out=bench/out/images
go=${GO:-go}
name=bench/big:1

. bench/lib.sh

[ "$(id -u)" -eq 0 ] || die "run it as root: the image stores keep files of every owner, and dockerd needs root"
if [ ! -x "$berth" ]; then
	die "$berth is not built: run 'make build' first (or 'make bench-images', which does)"
fi
if ! command -v "$go" >/dev/null && [ -x /usr/local/go/bin/go ]; then
	go=/usr/local/go/bin/go
fi
need_cmds hyperfine jq "$go"
# dockerd lives in sbin, which a sudo or cron environment may lack.
export PATH=$PATH:/usr/local/sbin:/usr/sbin:/sbin

rm -rf "$out"
mkdir -p "$out"
# The stores go on a disk, not in memory: under /var/tmp, since /tmp is a
# tmpfs on many hosts. A short path: containerd's unix sockets go under
# it, and a socket path has room for 107 bytes only.
work=$(mktemp -d "${BENCH_TMPDIR:-/var/tmp}/berth-bench-images.XXXXXX")
# The commands that hyperfine runs name these variables, so that the report
# shows them exactly as they ran.
export BENCH_IMAGE=$work/image BENCH_STATE=$work/state
export BENCH_DOCKER=unix://$work/docker/docker.sock
export BENCH_REGISTRY="" BENCH_REGISTRY_DATA=$work/registry/storage
# The docker client reads no configuration of the host's.
export DOCKER_CONFIG=$work/docker/client
unset DOCKER_HOST DOCKER_CONTEXT DOCKER_TLS_VERIFY DOCKER_CERT_PATH

registry_pid="" dockerd_pid=""

cleanup() {
	[ -z "$registry_pid" ] || stop "$registry_pid" docker-registry 10
	[ -z "$dockerd_pid" ] || stop "$dockerd_pid" dockerd 30
	# What dockerd started and left behind (its containerd, when dockerd
	# was killed) names dockerd's directory on its command line.
	kill_naming "$work/docker/"
	# dockerd bind-mounts its data root onto itself.
	remove_work
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -p "$BENCH_STATE/old" "$work/registry" "$work/docker"


sections=(pull load import save)
declare -A tools=([pull]="berth docker skopeo" [load]="berth docker tar tarsync" [import]="berth docker tar tarsync" [save]="berth docker tar")
declare -A ref=([pull]=docker [load]=tar [import]=tar [save]=tar)
declare -A goal_max=([pull]=0.5 [load]=1.2 [import]=1.2 [save]=2)
declare -A label=([pull:skopeo]="skopeo copy" [load:tar]="tar -x" [import:tar]="tar -x" [save:tar]="tar -c"
	[load:tarsync]="tar -x, sync" [import:tarsync]="tar -x, sync")
declare -A cmd prep why  # "section:tool" -> command, its prepare command, why it was not measured
declare -A hyperfine_cmds # section -> the hyperfine command lines, one a line
berth_failed=0

# --- the image ---------------------------------------------------------------
echo "== making the image from$(printf ' %s' $layers)"
"$go" build -o "$work/mkimage" ./bench/mkimage
# shellcheck disable=SC2086 # the layers are words
"$work/mkimage" -o "$BENCH_IMAGE" -name "$name" $layers
summary=$BENCH_IMAGE/summary.json

# --- the registry ------------------------------------------------------------
# free_port: a port nothing listens on now, on 127.0.0.1.
free_port() {
	local port i
	for ((i = 0; i < 50; i++)); do
		port=$((20000 + RANDOM % 40000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
			echo "$port"
			return 0
		fi
	done
	return 1
}

# start_registry: starts docker-registry and pushes the image to it, or
# says why not in registry_why.
registry_why=""
start_registry() {
	local bin try port i
	bin=$(command -v docker-registry) || {
		registry_why="docker-registry is not installed (scripts/setup.sh installs it)"
		return 1
	}
	command -v skopeo >/dev/null || {
		registry_why="skopeo, which pushes the image, is not installed (scripts/setup.sh installs it)"
		return 1
	}
	# Another process may take the port between the check and the
	# registry's bind; then the registry exits at once and we try another.
	for try in 1 2 3; do
		port=$(free_port) || break
		cat >"$work/registry/config.yml" <<-EOF
			version: 0.1
			log:
			  level: error
			  accesslog:
			    disabled: true
			storage:
			  filesystem:
			    rootdirectory: $BENCH_REGISTRY_DATA
			http:
			  addr: 127.0.0.1:$port
			  secret: berth-bench
		EOF
		# In a session of its own, as dockerd below: a ^C at the terminal
		# reaches the bench, whose cleanup stops them in order.
		setsid "$bin" serve "$work/registry/config.yml" >"$work/registry/log" 2>&1 </dev/null &
		registry_pid=$!
		for ((i = 0; i < 100; i++)); do
			kill -0 "$registry_pid" 2>/dev/null || break
			if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
				BENCH_REGISTRY=127.0.0.1:$port
				break 2
			fi
			sleep 0.1
		done
		stop "$registry_pid" docker-registry 5
		registry_pid=""
	done
	if [ -z "$BENCH_REGISTRY" ]; then
		registry_why="docker-registry did not start: $(last_line "$work/registry/log")"
		return 1
	fi
	if ! skopeo copy --insecure-policy --dest-tls-verify=false \
		"oci:$BENCH_IMAGE/oci" "docker://$BENCH_REGISTRY/$name" >"$work/registry/push.log" 2>&1 </dev/null; then
		registry_why="skopeo could not push the image: $(last_line "$work/registry/push.log")"
		return 1
	fi
}
echo "== starting docker-registry"
start_registry || echo "bench: pull is not measured: $registry_why" >&2

# --- dockerd -----------------------------------------------------------------
# A private dockerd, everything of its own under the temp dir. It starts
# its own containerd. No network is needed: no bridge, no iptables.
docker_why=""
docker=(docker -H "$BENCH_DOCKER")
start_dockerd() {
	start_private_dockerd none || {
		docker_why=$dockerd_why
		return 1
	}
}
echo "== starting dockerd"
start_dockerd || echo "bench: docker is not measured: $docker_why" >&2

# --- the commands ------------------------------------------------------------
# Every timed run starts from an empty store of its tool's, the same way for
# every tool: its prepare command moves the last run's store aside (into
# $BENCH_STATE/old, deleted when the bench ends), runs `sync` (no run pays
# for flushing the last one's writes), drops the page cache, and reads back
# the run's input and the tool's program. Moving rather than deleting is for
# ext4 without a journal, which skips inodes deleted in the last minute when
# it allocates new ones, at a cost per inode once their inode table block is
# read: after a delete of the last run's thousands of files, how fast a run
# creates files would depend on where the file system put them. Docker's
# store is its own, so `docker image prune` deletes.
# prepare EMPTY INPUT PROGRAM: the prepare command of one tool's runs.
prepare() {
	printf '%s && sync && echo 3 >/proc/sys/vm/drop_caches && %s && cat %s >/dev/null' "$1" "$2" "$3"
}
# aside DIR: the shell words that move DIR, when there is one, into
# $BENCH_STATE/old under a name of its own.
aside() {
	printf '{ [ ! -e "%s" ] || mv "%s" "$BENCH_STATE/old/$(date +%%s%%N)"; }' "$1" "$1"
}
warm_registry='find "$BENCH_REGISTRY_DATA" -type f -exec cat {} + >/dev/null'
warm_archive='cat "$BENCH_IMAGE/image.tar" >/dev/null'
warm_layers='cat "$BENCH_IMAGE"/layers/*.tar >/dev/null'
warm_flat='cat "$BENCH_IMAGE/flat.tar" >/dev/null'
docker_empty="docker -H \"\$BENCH_DOCKER\" image prune -af >/dev/null"
tar_empty="$(aside '$BENCH_STATE/tar') && mkdir \"\$BENCH_STATE/tar\""
prog_docker='"$(command -v docker)"'
prog_tar='"$(command -v tar)"'

cmd[pull:berth]="$berth --root \"\$BENCH_STATE/pull\" pull \"\$BENCH_REGISTRY/$name\""
prep[pull:berth]=$(prepare "$(aside '$BENCH_STATE/pull')" "$warm_registry" "$berth")
cmd[pull:docker]="docker -H \"\$BENCH_DOCKER\" pull \"\$BENCH_REGISTRY/$name\""
prep[pull:docker]=$(prepare "$docker_empty" "$warm_registry" "$prog_docker")
cmd[pull:skopeo]="skopeo copy --insecure-policy --src-tls-verify=false \"docker://\$BENCH_REGISTRY/$name\" \"dir:\$BENCH_STATE/skopeo\""
prep[pull:skopeo]=$(prepare "$(aside '$BENCH_STATE/skopeo')" "$warm_registry" '"$(command -v skopeo)"')

cmd[load:berth]="$berth --root \"\$BENCH_STATE/load\" load -i \"\$BENCH_IMAGE/image.tar\""
prep[load:berth]=$(prepare "$(aside '$BENCH_STATE/load')" "$warm_archive" "$berth")
cmd[load:docker]="docker -H \"\$BENCH_DOCKER\" load -i \"\$BENCH_IMAGE/image.tar\""
prep[load:docker]=$(prepare "$docker_empty" "$warm_archive" "$prog_docker")
cmd[load:tar]="for l in \"\$BENCH_IMAGE\"/layers/*.tar; do tar -xf \"\$l\" -C \"\$BENCH_STATE/tar\" || exit 1; done"
prep[load:tar]=$(prepare "$tar_empty" "$warm_layers" "$prog_tar")
# Not a goal's reference: what tar takes when its files must reach the
# disk, as berth's must (it syncs the unpacked layers).
cmd[load:tarsync]="${cmd[load:tar]} && sync"
prep[load:tarsync]=${prep[load:tar]}

cmd[import:berth]="$berth --root \"\$BENCH_STATE/import\" import \"\$BENCH_IMAGE/flat.tar\" bench/flat:1"
prep[import:berth]=$(prepare "$(aside '$BENCH_STATE/import')" "$warm_flat" "$berth")
cmd[import:docker]="docker -H \"\$BENCH_DOCKER\" import \"\$BENCH_IMAGE/flat.tar\" bench/flat:1"
prep[import:docker]=$(prepare "$docker_empty" "$warm_flat" "$prog_docker")
cmd[import:tar]="tar -xf \"\$BENCH_IMAGE/flat.tar\" -C \"\$BENCH_STATE/tar\""
prep[import:tar]=$(prepare "$tar_empty" "$warm_flat" "$prog_tar")
cmd[import:tarsync]="${cmd[import:tar]} && sync"
prep[import:tarsync]=${prep[import:tar]}

# save reads each tool's own store, which one untimed run of each warms;
# it deletes one file before each run, so nothing is dropped.
cmd[save:berth]="$berth --root \"\$BENCH_STATE/save\" save -o \"\$BENCH_STATE/saved.tar\" $name"
cmd[save:docker]="docker -H \"\$BENCH_DOCKER\" save -o \"\$BENCH_STATE/saved.tar\" $name"
cmd[save:tar]="tar -cf \"\$BENCH_STATE/saved.tar\" -C \"\$BENCH_STATE/tree\" ."
for t in berth docker tar; do prep[save:$t]='rm -f "$BENCH_STATE/saved.tar" && sync'; done

# Until a tool's section has run, why says that it has not.
pending="the bench stopped before it"
for s in "${sections[@]}"; do
	for t in ${tools[$s]}; do why[$s:$t]=$pending; done
done
for s in "${sections[@]}"; do
	[ -z "$docker_why" ] || why[$s:docker]=$docker_why
done
if [ -n "$registry_why" ]; then
	for t in ${tools[pull]}; do why[pull:$t]=$registry_why; done
fi
if ! command -v skopeo >/dev/null; then
	why[pull:skopeo]="skopeo is not installed (scripts/setup.sh installs it)"
fi
if ! "$berth" pull --help >/dev/null 2>&1; then
	why[pull:berth]="berth pull not available: $berth has no pull command"
fi

# measure SECTION RUNS WARMUP: runs hyperfine for each tool of SECTION that can
# run, one tool at a time, so that a tool that fails loses only its own
# column.
# shellcheck disable=SC2086 # tools[SECTION] is a list of names
measure() { hyperfine_each "$1" "$2" "$3" ${tools[$1]}; }

# --- the report --------------------------------------------------------------
# median SECTION TOOL: the median in seconds, or nothing.
median() {
	local json=$out/$1-$2.json
	[ -f "$json" ] || return 0
	jq -r '.results[0].median' "$json"
}
name_of() { # name_of SECTION TOOL: the tool as the report names it
	echo "${label[$1:$2]:-$2 $1}"
}

goal() { # goal SECTION: whether berth's median is within the goal's factor
	local s=$1 b r
	b=$(median "$s" berth)
	r=$(median "$s" "${ref[$s]}")
	if [ -z "$b" ]; then
		echo "not measured: ${why[$s:berth]:-no result}"
	elif [ -z "$r" ]; then
		echo "not measured: $(name_of "$s" "${ref[$s]}"): ${why[$s:${ref[$s]}]:-no result}"
	elif awk -v b="$b" -v r="$r" -v g="${goal_max[$s]}" 'BEGIN {exit !(b <= g * r)}'; then
		echo "met: $(ratio "$b" "$r")"
	else
		echo "not met: $(ratio "$b" "$r")"
	fi
}

section_table() { # section_table SECTION
	local s=$1 t m r json b cmp=""
	r=$(median "$s" "${ref[$s]}")
	echo "| tool | median | mean ± σ | min | max | runs | ÷ $(name_of "$s" "${ref[$s]}") |"
	echo "|---|---:|---:|---:|---:|---:|---:|"
	for t in ${tools[$s]}; do
		m=$(median "$s" "$t")
		json=$out/$s-$t.json
		if [ -n "$m" ]; then
			jq -r '.results[0] | [.median, .mean, .stddev // 0, .min, .max, (.times | length)] | @tsv' "$json" |
				awk -v t="$(name_of "$s" "$t")" -v q="$(ratio "$m" "$r")" -F '\t' \
					'{printf "| %s | %.2f s | %.2f ± %.2f s | %.2f s | %.2f s | %d | %s |\n", t, $1, $2, $3, $4, $5, $6, q}'
		else
			echo "| $(name_of "$s" "$t") | not run | | | | | |"
		fi
	done
	b=$(median "$s" berth)
	if [ -n "$b" ]; then
		for t in ${tools[$s]}; do
			m=$(median "$s" "$t")
			[ "$t" != berth ] && [ -n "$m" ] || continue
			cmp+="${cmp:+, }$(ratio "$b" "$m") $(name_of "$s" "$t")"
		done
	fi
	if [ -n "$cmp" ]; then
		echo
		echo "berth's median over the others': $cmp."
	fi
	for t in ${tools[$s]}; do
		if [ -z "$(median "$s" "$t")" ]; then
			echo
			echo "$(name_of "$s" "$t"): not run: ${why[$s:$t]:-no result}"
		fi
	done
}

version_line() { # version_line COMMAND...: its first line of output, or "not installed"
	command -v "$1" >/dev/null || {
		echo "not installed"
		return 0
	}
	"$@" 2>/dev/null | head -n 1 || echo unknown
}

mib() { awk -v b="$1" 'BEGIN {printf "%.0f MB", b / 1e6}'; }

# Other work on the host skews the times: the report gives the load.
load_start=$(cut -d ' ' -f 1-3 /proc/loadavg)
berth_rev=$(berth_revision)
if [ -z "$docker_why" ]; then
	docker_version=$("${docker[@]}" version --format '{{.Server.Version}} (dockerd), {{.Client.Version}} (client)' 2>/dev/null || echo unknown)
	docker_driver=$("${docker[@]}" info --format '{{.Driver}}' 2>/dev/null || echo unknown)
else
	docker_version="not run: $docker_why"
	docker_driver=""
fi

# write_report: the images part of the report, from what is measured so
# far; sections still to come say so.
write_report() {
	local tmp=$work/report.md s c
	{
		echo "## Images"
		echo
		echo "berth's image commands against Docker's (a private dockerd), skopeo"
		echo "and plain tar, on one image of real files (bench/images.sh,"
		echo "\`make bench-images\`)."
		echo
		echo "### Host"
		echo
		echo "| | |"
		echo "|---|---|"
		host_rows
		echo "| file system of the stores | $(df --output=fstype "$work" | tail -n 1) |"
		echo "| load average at the start | $load_start |"
		echo "| berth | commit $berth_rev |"
		echo "| docker | $docker_version${docker_driver:+, storage driver $docker_driver} |"
		echo "| skopeo | $(version_line skopeo --version) |"
		echo "| registry | $(version_line docker-registry --version) |"
		echo "| tar | $(version_line tar --version) |"
		echo "| hyperfine | $(hyperfine --version) |"
		echo
		echo "### Goals"
		echo
		echo "| goal | result |"
		echo "|---|---|"
		echo "| \`pull\` takes at most 0.5× \`docker pull\`'s time | $(goal pull) |"
		echo "| \`load\` takes at most 1.2× \`tar -x\` of the same layers | $(goal load) |"
		echo "| \`import\` takes at most 1.2× \`tar -x\` of the same tarball | $(goal import) |"
		echo "| \`save\` takes at most 2× \`tar -c\` of the same files | $(goal save) |"
		echo
		echo "### The image"
		echo
		echo "bench/mkimage makes it from the host's files: each layer holds the"
		echo "files of one directory, walked in order, up to a size. $(jq -r '.files' "$summary") files,"
		echo "$(mib "$(jq -r '.bytes' "$summary")") of file contents, $(mib "$(jq -r '.tar_bytes' "$summary")") of layer tarballs, $(mib "$(jq -r '.gzip_bytes' "$summary")") gzip-compressed."
		echo
		echo "| layer | files | contents | tar | gzip |"
		echo "|---|---:|---:|---:|---:|"
		jq -r '.layers[] | [.dir, .files, .bytes, .tar_bytes, .gzip_bytes] | @tsv' "$summary" |
			while IFS=$'\t' read -r d f b tb gb; do
				echo "| $d | $f | $(mib "$b") | $(mib "$tb") | $(mib "$gb") |"
			done
		echo
		echo "### Pull from a registry on 127.0.0.1"
		echo
		echo "The image, gzip layers, from docker-registry over plain HTTP on the"
		echo "loopback: \`berth pull\`, \`docker pull\`, and \`skopeo copy\` to a"
		echo "\`dir:\`, which only downloads and checks the blobs and unpacks nothing."
		echo
		section_table pull
		echo
		echo "### Load a docker-archive"
		echo
		echo "The image as \`docker save\` writes it, layers uncompressed:"
		echo "\`berth load\`, \`docker load\`, and \`tar -x\` of the same layer tarballs,"
		echo "one after another, into an empty directory. \`tar -x, sync\` adds a"
		echo "\`sync\`: what tar takes when its files must be on the disk before it"
		echo "returns."
		echo
		section_table load
		echo
		echo "### Import a tarball"
		echo
		echo "One tarball of all the image's files: \`berth import\`,"
		echo "\`docker import\`, and \`tar -x\` of it into an empty directory, then"
		echo "the same followed by \`sync\`."
		echo
		section_table import
		echo
		echo "### Save a docker-archive"
		echo
		echo "The loaded image saved to a file: \`berth save -o\`, \`docker save -o\`,"
		echo "and \`tar -c\` of the same files, unpacked from the import tarball."
		echo
		section_table save
		echo
		echo "### How it was measured"
		echo
		echo "Each timed run starts from an empty store of its tool's, prepared the"
		echo "same way for every tool by hyperfine's prepare command: it moves the"
		echo "last run's store aside (a fresh \`--root\` for berth, an empty directory"
		echo "for skopeo and tar; \`docker image prune -af\` for Docker, whose store is"
		echo "its own), runs \`sync\` so that no run pays for flushing the last one's"
		echo "writes, drops the page cache, and reads the run's input (the registry's"
		echo "files, the archive, the tarball) and the tool's program back into it:"
		echo "inputs warm, file system metadata cold. The stores are moved, not"
		echo "deleted, for ext4 without a journal, which skips inodes deleted within"
		echo "the last minute when it allocates new ones, at a cost per inode once"
		echo "their inode table block is read: after a delete of the last run's"
		echo "thousands of files, how fast a run creates files depends on where the"
		echo "file system puts them, by as much as twice."
		echo "Save instead has one untimed warm-up run per tool, which reads that"
		echo "tool's store, and deletes only the last run's output."
		echo "Nothing flushes the writes at the end of a run: a tool that syncs pays"
		echo "for it, one that does not leaves its data in the page cache, hence the"
		echo "\`tar -x, sync\` rows. All the stores and files are on one file system."
		echo "The variables name the image's files (from bench/mkimage), a fresh"
		echo "state directory, the private dockerd's socket, and the registry's"
		echo "address and storage. The commands, from the repository root:"
		echo
		echo '```sh'
		for s in "${sections[@]}"; do
			printf '%s' "${hyperfine_cmds[$s]:-}"
		done
		echo '```'
		echo
		echo "Raw results: bench/out/images/SECTION-TOOL.json (not committed)."
		echo
		echo "### Where the time goes"
		echo
		echo "- Pull: berth fetches up to four layers at once and unpacks each as it"
		echo "  arrives: the blob streams into the content store and, in the same"
		echo "  pass, through gzip decoding (pgzip, which reads ahead in a goroutine"
		echo "  of its own) into the layer's directory. \`docker pull\` downloads the"
		echo "  layers to temporary files, three at a time, and decompresses and"
		echo "  unpacks them one after another, in order, each once it is fully"
		echo "  downloaded and the one below it is in place. \`skopeo copy\` to a \`dir:\`"
		echo "  only downloads and checks the blobs: about the floor for moving the"
		echo "  bytes."
		echo "- Load: berth reads the archive once, in order. Each uncompressed"
		echo "  layer (\`docker save\` writes them so) is unpacked straight from the"
		echo "  archive file, up to four side by side, while a goroutine of its own"
		echo "  hashes it and records its tar headers (a tar-split record, kept"
		echo "  beside the files instead of the layer's blob). So each byte is"
		echo "  written once and hashed once, as tar -x writes it once. Like tar -x,"
		echo "  berth returns with the files in the page cache: the layers are"
		echo "  recorded as not yet on the disk, with the boot's ID; the next"
		echo "  command that writes to the store syncs them, and after a reboot a"
		echo "  layer still so recorded is unpacked anew from its own tar, checked"
		echo "  against its digest, before its first use (docs/DESIGN.md). The"
		echo "  \`tar -x, sync\` row is what waiting for the disk would add."
		echo "- Import: the same for the one layer, straight from the tarball: one"
		echo "  pass, the hashing and the record beside the unpacking, no wait for"
		echo "  the disk. With one layer, one core does the unpacking, as for tar -x."
		echo "- Save: berth rebuilds each uncompressed layer's tarball from its"
		echo "  files and tar-split record and checks it against the layer's"
		echo "  digest as it writes it, so save reads every file, as tar -c does,"
		echo "  and hashes it; compressed layers (pulled ones) are copied as stored."
		echo "  \`docker save\` rebuilds each layer's tarball from its unpacked files"
		echo "  and sends it through the daemon's API."
	} >"$tmp"
	bench/report.sh images "$tmp"
}

# --- the runs ----------------------------------------------------------------
measure pull "$pull_runs" 0
write_report
measure load "$runs" 0
write_report
measure import "$runs" 0
write_report

# save needs the image in each store, and the files in a tree for tar.
if [ "${why[save:berth]}" = "$pending" ]; then
	if ! "$berth" --root "$BENCH_STATE/save" load -i "$BENCH_IMAGE/image.tar" >/dev/null 2>"$work/err" </dev/null; then
		why[save:berth]="berth load, to have the image to save, failed: $(last_line "$work/err")"
		berth_failed=1
	fi
fi
if [ "${why[save:docker]}" = "$pending" ]; then
	if ! { "${docker[@]}" image prune -af && "${docker[@]}" load -i "$BENCH_IMAGE/image.tar"; } >/dev/null 2>"$work/err" </dev/null; then
		why[save:docker]="docker load, to have the image to save, failed: $(last_line "$work/err")"
	fi
fi
mkdir "$BENCH_STATE/tree"
tar -xf "$BENCH_IMAGE/flat.tar" -C "$BENCH_STATE/tree"
measure save "$runs" 1
write_report

echo
echo "bench: wrote ${BENCH_REPORT:-docs/BENCHMARKS.md}"
for s in "${sections[@]}"; do
	if [ -z "$(median "$s" berth)" ]; then
		echo "bench: berth was not measured for $s: ${why[$s:berth]:-no result}" >&2
	fi
done
exit $berth_failed
