#!/usr/bin/env bash
# Check, without a Docker engine, that the binary the Dockerfile builds works
# the way the runtime image runs it (`make image-check`).
#
#  1. Build with the `RUN CGO_ENABLED=0 go build ...` line of the Dockerfile,
#     with only the go command and the output path replaced, so that the
#     flags checked here are the flags the image uses.
#  2. Check that the binary is statically linked, because the distroless
#     static image has no C library.
#  3. Start `portero serve` as an unprivileged user in an empty working
#     directory, with only the variables the image sets (PORT, APP_ENV) and
#     the ones a deployment must add (DATABASE_URL, SESSION_SECRET), against
#     a throwaway PostgreSQL cluster.
#  4. Require /healthz and /readyz (migrations embedded and applied), the
#     login form (templates embedded) and its stylesheet (static files
#     embedded), and `portero healthcheck`, which the image's HEALTHCHECK runs.
#  5. Stop the server with SIGTERM and require exit status 0 within 8 s.
#
# Environment: GO (default go) is the go command to build with.
# Needs: curl, readelf (binutils) or ldd, and what scripts/pgcluster.sh needs.
# As root, the server runs as uid and gid 65534 (nobody) through setpriv.
# On failure the script prints the server log and exits 1.

set -euo pipefail

repo_dir=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd -P)
cd -- "$repo_dir"

GO=${GO:-go}
readonly unprivileged_id=65534
readonly ready_timeout_seconds=20
readonly stop_timeout_seconds=8

server_pid=""
server_log=""
cluster_dir=""
bin_dir=""
work_dir=""
log_dir=""

log() {
	printf 'image-check: %s\n' "$*" >&2
}

die() {
	log "FAIL: $*"
	exit 1
}
# shellcheck source=scripts/ports.sh
source "$repo_dir/scripts/ports.sh"

cleanup() {
	local status=$?
	set +e

	if [[ -n $server_pid ]] && kill -0 "$server_pid" 2>/dev/null; then
		kill -TERM "$server_pid" 2>/dev/null
		for _ in $(seq 1 30); do
			kill -0 "$server_pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$server_pid" 2>/dev/null
		wait "$server_pid" 2>/dev/null
	fi

	if ((status != 0)) && [[ -n $server_log && -s $server_log ]]; then
		log "server log ($server_log):"
		sed 's/^/    /' -- "$server_log" >&2
	fi

	if [[ -n $cluster_dir ]]; then
		local output
		if ! output=$(scripts/pgcluster.sh stop "$cluster_dir" 2>&1); then
			printf '%s\n' "$output" >&2
			log "failed to stop the PostgreSQL cluster in $cluster_dir"
		fi
		rm -rf -- "$cluster_dir"
	fi
	local dir
	for dir in "$bin_dir" "$work_dir" "$log_dir"; do
		[[ -z $dir ]] || rm -rf -- "$dir"
	done

	exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Create a directory under TMPDIR that every user may read and enter, so that
# the unprivileged server can run the binary and use the directory as its cwd.
make_temp_dir() {
	local dir
	dir=$(mktemp -d "${TMPDIR:-/tmp}/portero-image-check-$1.XXXXXX")
	chmod 755 -- "$dir"
	printf '%s\n' "$dir"
}

# Print the Dockerfile's build command with `go` replaced by "$GO" and the
# output path by "$PORTERO_OUT", for `sh -c`, which is how Docker runs a RUN
# line in shell form.
dockerfile_build_command() {
	local lines line count
	lines=$(grep -E '^[[:space:]]*RUN[[:space:]]+CGO_ENABLED=0[[:space:]]+go[[:space:]]+build[[:space:]]' Dockerfile || true)
	count=$(grep -c . <<<"$lines" || true)
	if ((count == 0)); then
		die "no 'RUN CGO_ENABLED=0 go build ...' line found in Dockerfile. Update scripts/image-check.sh to match how the Dockerfile builds the binary"
	fi
	if ((count > 1)); then
		die "found $count 'RUN CGO_ENABLED=0 go build ...' lines in Dockerfile, expected 1"
	fi
	line=$lines
	if [[ $line == *\\ ]]; then
		die "the 'RUN CGO_ENABLED=0 go build ...' line in Dockerfile continues on the next line, which this script does not parse. Keep the command on one line"
	fi

	local pattern='^[[:space:]]*RUN[[:space:]]+CGO_ENABLED=0[[:space:]]+go[[:space:]]+(build[[:space:]].*)$'
	[[ $line =~ $pattern ]] || die "cannot parse the build line in Dockerfile: $line"
	local arguments=${BASH_REMATCH[1]}

	pattern='^(.*[[:space:]])-o[[:space:]]+([^[:space:]]+)(.*)$'
	if ! [[ $arguments =~ $pattern ]]; then
		die "the build line in Dockerfile has no '-o PATH' option: $line"
	fi
	local before=${BASH_REMATCH[1]} after=${BASH_REMATCH[3]}
	if [[ $before =~ [[:space:]]-o[[:space:]] ]]; then
		die "the build line in Dockerfile has more than one '-o' option: $line"
	fi

	# shellcheck disable=SC2016 # sh -c expands $GO and $PORTERO_OUT.
	printf 'CGO_ENABLED=0 "$GO" %s-o "$PORTERO_OUT"%s\n' "$before" "$after"
}

# Warn when the local go differs in minor version from the Dockerfile's
# golang image, because then the check does not test the image's compiler.
check_go_version() {
	local image_version local_version
	image_version=$(sed -nE 's/^FROM[[:space:]]+golang:([0-9]+\.[0-9]+).*/\1/p' Dockerfile | head -n 1)
	local_version=$("$GO" env GOVERSION) || die "'$GO env GOVERSION' failed. Set GO to a working go command"
	log "go: $local_version (Dockerfile build image: golang:${image_version:-unknown})"
	if [[ -n $image_version && $local_version != "go$image_version" && $local_version != go"$image_version".* ]]; then
		log "WARNING: local $local_version is not the Dockerfile's Go $image_version, so the binary in the image may differ"
	fi
}

build_binary() {
	local build_command
	build_command=$(dockerfile_build_command)
	check_go_version

	bin_dir=$(make_temp_dir bin)
	binary=$bin_dir/portero
	local shown=${build_command//\"\$GO\"/$GO}
	shown=${shown//\"\$PORTERO_OUT\"/$binary}
	log "build (Dockerfile's command, output path replaced): $shown"
	# .dockerignore leaves .git out of the build context, so the image's build
	# stamps no VCS information into the binary, and -buildvcs=false does the same.
	GO=$GO PORTERO_OUT=$binary GOFLAGS="${GOFLAGS:+$GOFLAGS }-buildvcs=false" sh -c "$build_command" ||
		die "the Dockerfile's build command failed"
	[[ -x $binary ]] || die "the build command did not create $binary"
}

# A static binary has no INTERP program header (no dynamic loader) and no
# NEEDED entries (no shared libraries).
check_static() {
	if command -v readelf >/dev/null 2>&1; then
		local headers dynamic
		headers=$(readelf --program-headers --wide -- "$binary") || die "readelf could not read $binary"
		if grep -q 'INTERP' <<<"$headers"; then
			die "$binary is dynamically linked: readelf shows an INTERP program header: $(grep -A1 INTERP <<<"$headers" | tr -s ' \n' ' ')"
		fi
		dynamic=$(readelf --dynamic --wide -- "$binary") || die "readelf could not read $binary"
		if grep -q '(NEEDED)' <<<"$dynamic"; then
			die "$binary needs shared libraries: $(grep '(NEEDED)' <<<"$dynamic" | tr -s ' \n' ' ')"
		fi
		log "static: readelf shows no INTERP program header and no NEEDED libraries"
		return 0
	fi

	if command -v ldd >/dev/null 2>&1; then
		local output
		if output=$(ldd -- "$binary" 2>&1); then
			die "$binary is dynamically linked: ldd lists $(tr -s ' \t\n' ' ' <<<"$output")"
		fi
		if ! grep -q 'not a dynamic executable' <<<"$output"; then
			die "ldd failed on $binary with unexpected output: $output"
		fi
		log "static: ldd reports 'not a dynamic executable' (readelf not found)"
		return 0
	fi

	die "neither readelf nor ldd found, so static linking cannot be checked. Install binutils (apt-get install binutils)"
}


start_database() {
	cluster_dir=$(make_temp_dir pg)
	PGCLUSTER_FAST=1 scripts/pgcluster.sh start "$cluster_dir" >/dev/null ||
		die "failed to start a PostgreSQL cluster in $cluster_dir"
	scripts/pgcluster.sh createdb "$cluster_dir" portero || die "failed to create database portero in the cluster in $cluster_dir"
	database_url=$(scripts/pgcluster.sh url "$cluster_dir" portero)
	log "database: $database_url"
}

# Run the rest of the arguments as the unprivileged user, in the empty
# working directory, with only the image's environment.
run_as_image() {
	local as_user=()
	if (($(id -u) == 0)); then
		as_user=(setpriv --reuid="$unprivileged_id" --regid="$unprivileged_id" --clear-groups)
	fi
	cd -- "$work_dir"
	# NOTE: SESSION_SECRET is in the argument list of env (and setpriv) until
	# they exec the binary. It is random and used by this run only.
	exec "${as_user[@]}" env -i \
		"PORT=$port" \
		"APP_ENV=production" \
		"DATABASE_URL=$database_url" \
		"SESSION_SECRET=$session_secret" \
		"$@"
}

prepare_run() {
	if (($(id -u) == 0)); then
		command -v setpriv >/dev/null 2>&1 ||
			die "setpriv not found, so the server cannot be started as uid $unprivileged_id. Install util-linux"
	fi

	# The image runs the server in / with nothing of Portero's in it. This
	# empty cwd belongs to the user who runs the script, so as root the server
	# cannot write to it, as the image's nonroot user cannot write to /.
	work_dir=$(make_temp_dir cwd)
	log_dir=$(make_temp_dir log)
	server_log=$log_dir/server.log

	# Docker (20.10 and later) starts containers with the sysctl
	# net.ipv4.ip_unprivileged_port_start=0, which lets the image's nonroot
	# user bind PORT=80. A host usually keeps the default 1024, so this run
	# uses a free high port in place of 80.
	local unprivileged_port_start
	unprivileged_port_start=$(cat /proc/sys/net/ipv4/ip_unprivileged_port_start 2>/dev/null || echo unknown)
	port=$(pick_port)
	log "port: $port in place of the image's 80 (net.ipv4.ip_unprivileged_port_start=$unprivileged_port_start on this host)"

	session_secret=$(head -c 36 /dev/urandom | base64 | tr -d '\n')

	local run_uid
	run_uid=$(id -u)
	if ((run_uid == 0)); then
		run_uid=$unprivileged_id
	fi
	if ! (run_as_image test -r "$work_dir" -a -x "$work_dir" -a -x "$binary"); then
		die "uid $run_uid cannot enter $work_dir or run $binary. Set TMPDIR to a directory every user can enter, such as /tmp"
	fi
}

server_running() {
	[[ -n $server_pid ]] && kill -0 "$server_pid" 2>/dev/null
}

start_server() {
	(run_as_image "$binary" serve) >"$server_log" 2>&1 &
	server_pid=$!
	log "server: started pid $server_pid in $work_dir"
}

# Check that the server runs as the unprivileged user, without capabilities,
# and with exactly the variables that run_as_image sets. Call it once /healthz
# returns 200, so that setpriv and env have been replaced by the binary.
check_process() {
	local status uid_line cap_line names exe
	exe=$(readlink "/proc/$server_pid/exe") || die "cannot read /proc/$server_pid/exe"
	[[ $exe == "$binary" ]] || die "pid $server_pid runs $exe, expected $binary"
	status=$(cat "/proc/$server_pid/status") || die "cannot read /proc/$server_pid/status"
	uid_line=$(grep '^Uid:' <<<"$status" | tr -s ' \t' ' ')
	cap_line=$(grep '^CapEff:' <<<"$status" | tr -s ' \t' ' ')
	if (($(id -u) == 0)); then
		local expected="Uid: $unprivileged_id $unprivileged_id $unprivileged_id $unprivileged_id"
		[[ $uid_line == "$expected" ]] || die "server runs with '$uid_line', expected '$expected'"
	fi
	[[ $cap_line == "CapEff: 0000000000000000" ]] || die "server has effective capabilities: $cap_line"

	names=$(tr '\0' '\n' <"/proc/$server_pid/environ" | cut -d= -f1 | sort | paste -sd ' ')
	[[ $names == "APP_ENV DATABASE_URL PORT SESSION_SECRET" ]] ||
		die "server environment has the variables '$names', expected only APP_ENV DATABASE_URL PORT SESSION_SECRET"
	server_uid=$(cut -d' ' -f2 <<<"$uid_line")
	log "process: Uid ${uid_line#Uid: } (real, effective, saved, filesystem), $cap_line, environment: $names"
}

# Request URL with curl and print "STATUS CONTENT_TYPE". The body goes to
# $response_body. Extra arguments go to curl. STATUS is 000 when no response
# arrived. The proxy is bypassed so that requests stay on this machine.
http_get() {
	local url=$1
	shift
	curl --silent --noproxy '*' --max-time 5 --output "$response_body" \
		--write-out '%{http_code} %{content_type}' "$@" -- "$url" || true
}

# Poll PATH until it returns 200 or the deadline (in $SECONDS) passes.
wait_for_200() {
	local path=$1 deadline=$2 result
	while :; do
		server_running || die "server exited while waiting for $path"
		result=$(http_get "$base_url$path")
		if [[ ${result%% *} == 200 ]]; then
			log "GET $path: 200"
			return 0
		fi
		if ((SECONDS >= deadline)); then
			die "GET $path did not return 200 within $ready_timeout_seconds s of the start (last status ${result%% *}, body: $(head -c 300 -- "$response_body" 2>/dev/null))"
		fi
		sleep 0.2
	done
}

check_pages() {
	base_url=http://127.0.0.1:$port
	response_body=$log_dir/response
	local deadline=$((SECONDS + ready_timeout_seconds)) result

	wait_for_200 /healthz "$deadline"
	check_process
	wait_for_200 /readyz "$deadline"

	# In production a plain-HTTP request gets the "HTTPS required" page. The
	# server trusts X-Forwarded-Proto from loopback by default (TRUSTED_PROXIES),
	# as it does from CapRover's nginx.
	result=$(http_get "$base_url/login" --header 'X-Forwarded-Proto: https')
	[[ ${result%% *} == 200 ]] || die "GET /login returned status ${result%% *}, expected 200"
	grep -q 'name="password"' -- "$response_body" ||
		die "GET /login returned 200 but no name=\"password\" field, so the templates may be missing from the binary"
	log "GET /login: 200 with the password field"

	local stylesheet
	stylesheet=$(grep -oE 'href="/static/style\.css\?v=[^"]+"' -- "$response_body" | head -n 1 || true)
	[[ -n $stylesheet ]] || die "GET /login has no stylesheet link to /static/style.css?v=..."
	stylesheet=${stylesheet#href=\"}
	stylesheet=${stylesheet%\"}
	result=$(http_get "$base_url$stylesheet" --header 'X-Forwarded-Proto: https')
	[[ ${result%% *} == 200 ]] || die "GET $stylesheet returned status ${result%% *}, expected 200"
	[[ ${result#* } == text/css* ]] || die "GET $stylesheet returned Content-Type '${result#* }', expected text/css"
	log "GET $stylesheet: 200, ${result#* }"

	local output
	if ! output=$(run_as_image "$binary" healthcheck 2>&1); then
		die "'portero healthcheck' failed: $output"
	fi
	log "portero healthcheck: exit 0"
}

# Docker sends SIGKILL 10 s after SIGTERM by default, so the server must exit
# well before that.
stop_server() {
	kill -TERM "$server_pid"
	local deadline=$((SECONDS + stop_timeout_seconds))
	while server_running; do
		((SECONDS < deadline)) || die "server did not exit within $stop_timeout_seconds s after SIGTERM"
		sleep 0.1
	done

	local status=0
	wait "$server_pid" || status=$?
	server_pid=""
	((status == 0)) || die "server exited with status $status after SIGTERM, expected 0"
	log "SIGTERM: server exited with status 0"

	local leftovers
	leftovers=$(ls -A -- "$work_dir")
	[[ -z $leftovers ]] || die "server left files in its working directory: $leftovers"
}

main() {
	command -v curl >/dev/null 2>&1 || die "curl not found. Install it with: apt-get install curl"

	build_binary
	check_static
	start_database
	prepare_run
	start_server
	check_pages
	stop_server

	log "PASS: the binary built with the Dockerfile's flags is static, serves /healthz, /readyz, /login and its stylesheet as uid $server_uid with only the image's environment, passes 'portero healthcheck' and exits 0 on SIGTERM"
}

main "$@"
