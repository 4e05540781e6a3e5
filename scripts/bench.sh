#!/usr/bin/env bash
# Benchmark Portero on loopback and record the results (`make bench`), or
# run the same steps briefly and check only that every response was the
# expected one (`make bench-smoke`).
#
# The script builds portero and the helper in bench/, starts a throwaway
# PostgreSQL cluster and Portero on 127.0.0.1, loads them with wrk and the
# helper, prints a table and writes the report. docs/benchmarks.md describes
# each step. Every load stops after its duration, and the script stops and
# deletes everything it started when it exits.
#
# Environment:
#   GO              go command (default go)
#   BENCH_MODE      full (default): 15 s per wrk run, 1,000,000 session rows,
#                   5 timed restarts, PostgreSQL with fsync on, and the report
#                   written into docs/benchmarks.md.
#                   smoke: 1 s per run, 20,000 rows, 2 restarts, fsync off, and
#                   the report written to a temporary file. Timing is never
#                   checked, in either mode.
#   BENCH_DURATION  seconds per wrk run, instead of the mode's
#   BENCH_ROWS      session rows to insert, instead of the mode's
#   BENCH_PG_FSYNC  on or off, instead of the mode's
#   BENCH_CPU_PROFILE  file to write a CPU profile of the first server to, for
#                   `go tool pprof`. That server then runs inside the helper, and
#                   the report goes to a temporary file, because profiling slows it.
#   BENCH_PORTERO   portero binary to measure instead of one built from this
#                   tree, for example built from an older commit. The report
#                   then names the binary and goes to a temporary file.
#   WRK_PATH        wrk binary (default: wrk on PATH, installed from Debian if missing)
# Needs: what scripts/pgcluster.sh needs, and wrk.

set -euo pipefail

repo_dir=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd -P)
cd -- "$repo_dir"

GO=${GO:-go}
mode=${BENCH_MODE:-full}

# wrk settings of the read runs and of the login flood. The read runs use
# one wrk thread: wrk shares the 2 CPUs of the machines this was written
# for with Portero and PostgreSQL, and a second wrk thread takes CPU time
# from the server it measures. Two extra runs repeat the dashboard and
# /healthz reads with 2 threads, the setting of earlier reports.
readonly threads=1
readonly comparison_threads=2
readonly connections=32
readonly flood_connections=16
readonly csrf_pair_count=64
readonly user_email=bench@example.com

case $mode in
full)
	duration=15
	warmup=5
	rows=1000000
	ready_runs=5
	fsync=on
	probe_before=10s
	report_command="make bench"
	;;
smoke)
	duration=1
	warmup=1
	rows=20000
	ready_runs=2
	fsync=off
	probe_before=2s
	report_command="make bench-smoke"
	;;
*)
	echo "bench: BENCH_MODE must be full or smoke, got '$mode'" >&2
	exit 2
	;;
esac
duration=${BENCH_DURATION:-$duration}
rows=${BENCH_ROWS:-$rows}
fsync=${BENCH_PG_FSYNC:-$fsync}
[[ $duration =~ ^[1-9][0-9]*$ ]] || {
	echo "bench: BENCH_DURATION must be a whole number of seconds, got '$duration'" >&2
	exit 2
}
[[ $rows =~ ^[1-9][0-9]*$ ]] || {
	echo "bench: BENCH_ROWS must be a whole number above 0, got '$rows'" >&2
	exit 2
}
[[ $fsync == on || $fsync == off ]] || {
	echo "bench: BENCH_PG_FSYNC must be on or off, got '$fsync'" >&2
	exit 2
}

work_dir=""
cluster_dir=""
server_pid=""
server_log=""
background_pids=()

log() {
	printf 'bench: %s\n' "$*" >&2
}

die() {
	log "FAIL: $*"
	exit 1
}
# shellcheck source=scripts/ports.sh
source "$repo_dir/scripts/ports.sh"

# Print the last lines of FILE and fail with MESSAGE. The file is deleted
# on exit with the rest of the work directory.
die_with_output() {
	local file=$1
	shift
	if [[ -s $file ]]; then
		log "last lines of $file:"
		tail -n 20 -- "$file" | sed 's/^/    /' >&2
	fi
	die "$@"
}

cleanup() {
	local status=$?
	set +e

	local pid
	for pid in "${background_pids[@]}"; do
		kill -TERM "$pid" 2>/dev/null
	done
	stop_server
	if ((status != 0)) && [[ -n $server_log && -s $server_log ]]; then
		log "last lines of the server log ($server_log):"
		tail -n 30 -- "$server_log" | sed 's/^/    /' >&2
	fi
	if [[ -n $cluster_dir ]]; then
		scripts/pgcluster.sh stop "$cluster_dir" >/dev/null 2>&1 ||
			log "failed to stop the PostgreSQL cluster in $cluster_dir"
		rm -rf -- "$cluster_dir"
	fi
	[[ -z $work_dir ]] || rm -rf -- "$work_dir"

	exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Create a directory under TMPDIR that every user may enter, because as root
# the cluster runs as the postgres user.
make_temp_dir() {
	local dir
	dir=$(mktemp -d "${TMPDIR:-/tmp}/portero-bench-$1.XXXXXX")
	chmod 755 -- "$dir"
	printf '%s\n' "$dir"
}


build() {
	work_dir=$(make_temp_dir work)
	results=$work_dir/results
	logs=$work_dir/logs
	mkdir -p -- "$results" "$logs"

	binary=$work_dir/portero
	helper=$work_dir/bench
	if [[ -n ${BENCH_PORTERO:-} ]]; then
		log "using the portero binary $BENCH_PORTERO"
		cp -- "$BENCH_PORTERO" "$binary" || die "cannot copy BENCH_PORTERO=$BENCH_PORTERO"
	else
		# The Dockerfile's build flags, so that the numbers, resident memory
		# above all, are those of the binary that the image ships. A default
		# build links libc and keeps its symbol tables, which took about
		# 1.5 MB more resident memory under load.
		log "building $binary"
		CGO_ENABLED=0 "$GO" build -trimpath -ldflags="-s -w" -o "$binary" . || die "go build of portero failed"
	fi
	log "building $helper"
	"$GO" build -o "$helper" ./bench || die "go build of bench/ failed"
}

start_database() {
	cluster_dir=$(make_temp_dir pg)
	local fast=""
	[[ $fsync == off ]] && fast=1
	PGCLUSTER_FAST=$fast scripts/pgcluster.sh start "$cluster_dir" >/dev/null ||
		die "failed to start a PostgreSQL cluster in $cluster_dir"
	scripts/pgcluster.sh createdb "$cluster_dir" portero ||
		die "failed to create database portero in the cluster in $cluster_dir"
	database_url=$(scripts/pgcluster.sh url "$cluster_dir" portero)
	log "database: $database_url (fsync $fsync)"
}

# Set server_env, the whole environment of every portero process, and create
# the benchmark user.
prepare_server() {
	port=$(pick_port)
	base_url=http://127.0.0.1:$port
	local secret
	secret=$(head -c 48 /dev/urandom | base64 | tr -d '\n')

	# The throttle limits are raised to their maximum, because the login
	# flood must reach the password check instead of the lock of
	# 127.0.0.1. The server listens on every interface (Portero's default),
	# but all load goes to 127.0.0.1.
	shown_env=(
		APP_ENV=development
		BCRYPT_COST=12
		LOG_LEVEL=warn
		LOGIN_IP_MAX_FAILURES=1000000
		LOGIN_MAX_FAILURES=1000
	)
	server_env=(
		"PATH=$PATH"
		"${shown_env[@]}"
		"PORT=$port"
		"DATABASE_URL=$database_url"
		"DATA_DIR=$work_dir/data"
		"SESSION_SECRET=$secret"
	)

	head -c 24 /dev/urandom | base64 | tr -d '\n' >"$work_dir/password"
	printf '\n' >>"$work_dir/password"
	env -i "${server_env[@]}" "$binary" user create --email "$user_email" --name "Bench User" \
		<"$work_dir/password" >&2 || die "portero user create failed"
}

start_server() {
	server_log=$logs/server-$1.log
	local command=("$binary" serve)
	if [[ $1 == first && -n ${BENCH_CPU_PROFILE:-} ]]; then
		command=("$helper" serve -cpuprofile "$BENCH_CPU_PROFILE")
		log "profiling the first server into $BENCH_CPU_PROFILE"
	fi
	env -i "${server_env[@]}" "${command[@]}" >"$server_log" 2>&1 &
	server_pid=$!
	"$helper" wait-ready -url "$base_url" -timeout 30s || die "the server did not become ready"
	# Right after it becomes ready, the server computes bcrypt hashes and
	# deletes expired rows. The load waits for that work to end, or it
	# would measure it, and the server's cleanup would race the seeded rows.
	"$helper" wait-idle -pid "$server_pid" -timeout 60s || die "the server did not become idle after its start"
	log "server $1: pid $server_pid on $base_url"
}

stop_server() {
	[[ -n $server_pid ]] || return 0
	kill -TERM "$server_pid" 2>/dev/null || true
	local status=0
	wait "$server_pid" 2>/dev/null || status=$?
	server_pid=""
	((status == 0)) || log "server exited with status $status after SIGTERM"
}

# Run wrk against PATH for SECONDS with the read script, with THREADS wrk
# threads (default: threads), on the server at URL (default: base_url), and
# save its results as NAME.json. The session cookie is sent unless PATH is
# /healthz.
run_reads() {
	local name=$1 path=$2 seconds=$3 run_threads=${4:-$threads} url=${5:-$base_url} cookie=""
	[[ $path == /healthz ]] || cookie=$session_cookie
	BENCH_RESULT=$results/$name.json BENCH_COOKIE=$cookie \
		"$wrk" -t"$run_threads" -c"$connections" -d"${seconds}s" --timeout 10s --latency \
		-s bench/wrk/read.lua "$url$path" >"$logs/$name.txt" || die_with_output "$logs/$name.txt" "wrk failed for $name"
	log "$name: $(grep -E '^Requests/sec' "$logs/$name.txt" || echo 'no rate')"
}

# The floor: the read run's wrk settings against a bare net/http server
# (bench floor), after a warm-up as long as the reads get. It shows how
# fast a server that only returns "ok" through net/http is on this
# machine. It runs while Portero is idle.
measure_floor() {
	local floor_port floor_pid status=0
	floor_port=$(pick_port)
	# -timeout only stops a server that this script fails to stop, so it must
	# outlast wait-ready and the run at any BENCH_DURATION.
	"$helper" floor -port "$floor_port" -timeout "$((warmup + duration + 60))s" >"$logs/floor-server.log" 2>&1 &
	floor_pid=$!
	background_pids+=("$floor_pid")
	"$helper" wait-ready -url "http://127.0.0.1:$floor_port" -timeout 30s ||
		die_with_output "$logs/floor-server.log" "the floor server did not become ready"
	run_reads floor-warmup /healthz "$warmup" "$threads" "http://127.0.0.1:$floor_port"
	run_reads floor /healthz "$duration" "$threads" "http://127.0.0.1:$floor_port"
	# kill fails on a server that has already exited, and set -e would then
	# end the script without a message, so wait reports its exit status.
	kill -TERM "$floor_pid" 2>/dev/null || true
	wait "$floor_pid" || status=$?
	((status == 0)) || die_with_output "$logs/floor-server.log" "the floor server exited with status $status"
}

read_table_stats() {
	"$helper" table-stats -database-url "$database_url" -out "$results/$1.json" ||
		die "reading the table statistics failed"
}

# Steps 1-6 on the first server: reads, /healthz, the floor, the login
# flood, writes per read and memory.
measure_first_server() {
	start_server first
	"$helper" login -url "$base_url" -email "$user_email" -password-file "$work_dir/password" \
		-out "$work_dir/cookie" || die "login failed"
	session_cookie=$(<"$work_dir/cookie")

	run_reads warmup /dashboard "$warmup"
	read_table_stats stats-before
	run_reads read /dashboard "$duration"
	read_table_stats stats-after
	run_reads healthz /healthz "$duration"
	measure_floor
	run_reads read-2threads /dashboard "$duration" "$comparison_threads"
	run_reads healthz-2threads /healthz "$duration" "$comparison_threads"

	"$helper" csrf-pairs -url "$base_url" -n "$csrf_pair_count" -out "$work_dir/csrf-pairs" ||
		die "fetching CSRF pairs failed"
	# The flood starts 1 s before the reads and ends 1 s after them.
	BENCH_RESULT=$results/flood-login.json BENCH_CSRF_PAIRS=$work_dir/csrf-pairs \
		BENCH_EMAIL_PREFIX="flood-$(date +%s)" \
		"$wrk" -t1 -c"$flood_connections" -d"$((duration + 2))s" --timeout 10s --latency \
		-s bench/wrk/login_flood.lua "$base_url/login" >"$logs/flood-login.txt" &
	local flood_pid=$!
	background_pids+=("$flood_pid")
	sleep 1
	run_reads flood-read /dashboard "$duration"
	wait "$flood_pid" || die_with_output "$logs/flood-login.txt" "wrk failed for the login flood"
	log "flood-login: $(grep -E '^Requests/sec' "$logs/flood-login.txt" || echo 'no rate')"

	"$helper" memory -pid "$server_pid" -out "$results/memory.json" || die "reading the server's memory failed"
	stop_server
}

# Step 7: restarts, each on its own port with the same database.
measure_restarts() {
	log "timing $ready_runs restarts"
	env -i "${server_env[@]}" "$helper" ready -binary "$binary" -runs "$ready_runs" \
		-log "$logs/restarts.log" -out "$results/ready.json" || die_with_output "$logs/restarts.log" "timing the restarts failed"
}

# Step 8 on a second server: reads with an empty and a seeded session
# table, then the cleanup under reads. The second server's own cleanup runs
# at its start, before the rows exist, and next 5 minutes later, which this
# step stays well within.
measure_seeded_table() {
	start_server second
	run_reads warmup-second /dashboard "$warmup"
	run_reads rows-empty /dashboard "$duration"

	log "inserting $rows session rows"
	"$helper" seed -database-url "$database_url" -rows "$rows" -out "$results/seed.json" ||
		die "inserting the session rows failed"
	run_reads rows-read /dashboard "$duration"

	# wrk ends on SIGINT and writes its results then; the duration below
	# only bounds a cleanup that never finishes.
	BENCH_RESULT=$results/cleanup-read.json BENCH_COOKIE=$session_cookie \
		"$wrk" -t"$threads" -c"$connections" -d600s --timeout 10s --latency \
		-s bench/wrk/read.lua "$base_url/dashboard" >"$logs/cleanup-read.txt" &
	local reads_pid=$!
	background_pids+=("$reads_pid")
	sleep 1
	log "deleting the expired session rows"
	"$helper" cleanup -database-url "$database_url" -probe-before "$probe_before" -out "$results/cleanup.json" ||
		die "the cleanup failed"
	kill -INT "$reads_pid"
	wait "$reads_pid" || die_with_output "$logs/cleanup-read.txt" "wrk failed during the cleanup"
	log "cleanup-read: $(grep -E '^Requests/sec' "$logs/cleanup-read.txt" || echo 'no rate')"

	stop_server
}

write_report() {
	local out=$repo_dir/docs/benchmarks.md
	[[ $mode == full && -z ${BENCH_CPU_PROFILE:-} && -z ${BENCH_PORTERO:-} ]] || out=$work_dir/benchmarks.md
	"$helper" report -results "$results" -out "$out" -command "$report_command" -mode "$mode" \
		-fsync "$fsync" -server-env "${shown_env[*]}" -connections "$connections" -threads "$threads" \
		-flood-connections "$flood_connections" -csrf-pairs "$csrf_pair_count" \
		-revision "$revision" -load-start "$load_start" || die "the report found problems"

	grep -q 'bench:end' -- "$out" || die "the report $out was not written"
	log "report written to $out"
}

main() {
	scripts/ensure-deps.sh postgresql wrk
	# shellcheck source-path=SCRIPTDIR source=ensure-deps.sh
	wrk=$(source "$repo_dir/scripts/ensure-deps.sh" && find_wrk) || die "wrk not found"
	log "mode $mode: ${duration} s per run, $rows session rows, $ready_runs restarts, fsync $fsync"
	revision=$(git describe --always --dirty 2>/dev/null || echo unknown)
	[[ -z ${BENCH_PORTERO:-} ]] || revision="the binary $BENCH_PORTERO, harness at $revision"
	load_start=$(cut -d' ' -f1 /proc/loadavg 2>/dev/null || echo unknown)

	build
	start_database
	prepare_server
	measure_first_server
	measure_restarts
	measure_seeded_table
	write_report
}

main "$@"
