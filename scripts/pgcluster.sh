#!/usr/bin/env bash
# Manage a throwaway or development PostgreSQL cluster in a directory.
#
#   scripts/pgcluster.sh start DIR           initialize DIR/data if needed, start, print the URL
#   scripts/pgcluster.sh stop DIR            stop the cluster if it runs
#   scripts/pgcluster.sh url DIR [DBNAME]    print the URL of the running cluster (default DBNAME: postgres)
#   scripts/pgcluster.sh createdb DIR NAME   create database NAME unless it exists
#
# Layout of DIR: data/ (the cluster), port (last TCP port), log (server log),
# sock/ (unix socket directory). The server listens only on 127.0.0.1, and
# every role connects without a password (trust), so use it for local
# development and tests only.
#
# Environment:
#   PG_BIN           directory with initdb, pg_ctl and postgres (default: the
#                    search in find_pg_bin in ensure-deps.sh)
#   PGCLUSTER_FAST   set to 1 to run initdb with --no-sync and start the
#                    server with fsync, synchronous_commit and full_page_writes
#                    off: faster, but a machine crash can corrupt the cluster
#
# Only the URL goes to stdout, so `url=$(scripts/pgcluster.sh start DIR)`
# works. Messages go to stderr. As root, the server runs as the `postgres`
# user, which then owns DIR.

set -euo pipefail

script_dir=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)
# shellcheck source-path=SCRIPTDIR source=ensure-deps.sh
source "$script_dir/ensure-deps.sh"

# Entries that pgcluster.sh creates in DIR. start rejects a DIR that contains
# anything else, because as root it runs chown -R on DIR.
readonly known_entries=" data log port sock "
readonly max_start_attempts=5

log() {
	printf 'pgcluster: %s\n' "$*" >&2
}

die() {
	log "$*"
	exit 1
}
# shellcheck source=scripts/ports.sh
source "$script_dir/ports.sh"

usage() {
	cat >&2 <<'USAGE'
usage: pgcluster.sh start DIR
       pgcluster.sh stop DIR
       pgcluster.sh url DIR [DBNAME]
       pgcluster.sh createdb DIR NAME
USAGE
	exit 2
}

is_root() {
	[[ $(id -u) -eq 0 ]]
}

# Run a command as the cluster owner: the postgres user when root, because
# initdb, pg_ctl and postgres reject root, else the current user.
as_owner() {
	if is_root; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

# Set pg_bin to the directory with the server binaries, installing Debian's
# postgresql package first when root and it is missing.
locate_pg_bin() {
	local status=0
	pg_bin=$(find_pg_bin) || status=$?
	if ((status == 0)); then
		return 0
	fi
	if ((status != 1)); then
		exit 1
	fi
	ensure_packages postgresql || exit 1
	pg_bin=$(find_pg_bin) || die "initdb not found after installing postgresql. Set PG_BIN to the directory that contains initdb"
}

psql_bin() {
	if [[ -x ${pg_bin:-}/psql ]]; then
		printf '%s\n' "$pg_bin/psql"
	elif command -v psql >/dev/null 2>&1; then
		command -v psql
	else
		die "psql not found in ${pg_bin:-PG_BIN} or PATH. Install it with: apt-get install postgresql-client"
	fi
}

# Set dir, data_dir, sock_dir, log_file and port_file from the DIR argument.
# create=1 creates DIR if it is missing.
resolve_dir() {
	local arg=$1 create=${2:-0}
	[[ -n $arg ]] || die "DIR must not be empty"
	if [[ ! -d $arg ]]; then
		if ((create)); then
			mkdir -p -- "$arg"
		else
			die "directory $arg does not exist"
		fi
	fi
	dir=$(cd -- "$arg" && pwd -P)
	# pg_ctl passes the -o options through /bin/sh, where the paths are
	# single-quoted, so a quote or a line break in the path would break them.
	case $dir in
	*"'"* | *$'\n'*) die "DIR must not contain a single quote or a line break: $dir" ;;
	esac
	data_dir=$dir/data
	sock_dir=$dir/sock
	log_file=$dir/log
	port_file=$dir/port
}

# Reject a DIR that contains files this script did not create, so that
# chown -R cannot take over an unrelated directory such as the repository.
check_dir_contents() {
	local entry name
	for entry in "$dir"/* "$dir"/.[!.]* "$dir"/..?*; do
		[[ -e $entry || -L $entry ]] || continue
		name=${entry##*/}
		if [[ $known_entries != *" $name "* ]]; then
			die "$dir contains $name, which pgcluster.sh did not create. Use an empty or new directory"
		fi
	done
}

# As root, give DIR to postgres and check that postgres can reach it through
# every parent directory.
prepare_ownership() {
	is_root || return 0
	id postgres >/dev/null 2>&1 ||
		die "user postgres does not exist. Install it with: apt-get install postgresql"

	# Check from / downwards, so the error names the outermost blocked parent.
	local path=$dir parents=()
	while [[ $path != / ]]; do
		path=$(dirname -- "$path")
		parents=("$path" "${parents[@]}")
	done
	for path in "${parents[@]}"; do
		if ! runuser -u postgres -- test -x "$path"; then
			die "user postgres cannot enter $path ($(stat -c '%A owner %U' -- "$path")). Put DIR outside it, or run: chmod o+x $path"
		fi
	done

	chown -R postgres:postgres -- "$dir"
}

# Unix socket paths are limited to 107 bytes on Linux (sun_path).
check_socket_path() {
	local socket_path="$sock_dir/.s.PGSQL.65535"
	if ((${#socket_path} > 107)); then
		die "socket path $socket_path is longer than 107 bytes. Use a shorter DIR"
	fi
}

is_running() {
	[[ -f $data_dir/PG_VERSION ]] || return 1
	as_owner "$pg_bin/pg_ctl" status -D "$data_dir" >/dev/null 2>&1
}

# Print the port of the running server from postmaster.pid (line 4).
running_port() {
	sed -n 4p "$data_dir/postmaster.pid"
}

# Print STRING with every byte outside A-Z a-z 0-9 . _ ~ - percent-encoded,
# as a URL path segment needs.
url_encode() {
	local LC_ALL=C string=$1 encoded="" char i
	for ((i = 0; i < ${#string}; i++)); do
		char=${string:i:1}
		case $char in
		[A-Za-z0-9._~-]) encoded+=$char ;;
		*) encoded+=$(printf '%%%02X' "'$char") ;;
		esac
	done
	printf '%s\n' "$encoded"
}

cluster_url() {
	local port=$1 dbname=${2:-postgres}
	printf 'postgres://postgres@127.0.0.1:%s/%s?sslmode=disable\n' "$port" "$(url_encode "$dbname")"
}

init_cluster() {
	if [[ -f $data_dir/PG_VERSION ]]; then
		return 0
	fi
	if [[ -d $data_dir ]] && [[ -n $(ls -A -- "$data_dir") ]]; then
		die "$data_dir is not empty but contains no cluster (PG_VERSION is missing). Remove it and run start again"
	fi

	local locale=C
	if locale -a 2>/dev/null | grep -qiE '^c\.utf-?8$'; then
		locale=C.UTF-8
	fi
	local args=(-D "$data_dir" --username=postgres --auth=trust --encoding=UTF8 --locale="$locale")
	if [[ ${PGCLUSTER_FAST:-} == 1 ]]; then
		args+=(--no-sync)
	fi

	log "initializing cluster in $data_dir"
	local output
	if ! output=$(cd "$dir" && as_owner "$pg_bin/initdb" "${args[@]}" 2>&1); then
		printf '%s\n' "$output" >&2
		die "initdb failed for $data_dir"
	fi
}

cmd_start() {
	locate_pg_bin
	resolve_dir "$1" 1
	check_dir_contents
	check_socket_path
	mkdir -p -- "$sock_dir"
	prepare_ownership

	if is_running; then
		log "already running on 127.0.0.1:$(running_port)"
		cluster_url "$(running_port)"
		return 0
	fi

	init_cluster

	local options="-c listen_addresses=127.0.0.1 -k '$sock_dir'"
	if [[ ${PGCLUSTER_FAST:-} == 1 ]]; then
		options+=" -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
	fi

	local port="" attempt log_offset
	if [[ -f $port_file ]]; then
		port=$(<"$port_file")
		if ! [[ $port =~ ^[0-9]+$ ]] || ! port_is_free "$port"; then
			log "stored port ${port:-(empty)} is not free, picking another"
			port=""
		fi
	fi

	for ((attempt = 1; attempt <= max_start_attempts; attempt++)); do
		[[ -n $port ]] || port=$(pick_port)
		log_offset=0
		if [[ -f $log_file ]]; then
			log_offset=$(stat -c %s -- "$log_file")
		fi

		if (cd "$dir" && as_owner "$pg_bin/pg_ctl" start -w -D "$data_dir" -l "$log_file" -o "-p $port $options") >&2; then
			printf '%s\n' "$port" >"$port_file"
			log "started on 127.0.0.1:$port (data: $data_dir, log: $log_file)"
			cluster_url "$port"
			return 0
		fi

		# Another process can take the port between the check and the
		# start, so a bind failure gets a new port. Other failures stop here.
		if tail -c +"$((log_offset + 1))" -- "$log_file" 2>/dev/null |
			grep -qE 'could not bind|Address already in use|could not create any TCP/IP sockets'; then
			log "port $port was taken during start, retrying with another port"
			port=""
			continue
		fi
		break
	done

	log "failed to start the server; last lines that it wrote to $log_file:"
	tail -c +"$((log_offset + 1))" -- "$log_file" 2>/dev/null | tail -n 20 >&2 || true
	die "failed to start the server in $data_dir, see $log_file"
}

cmd_stop() {
	if [[ ! -d $1 ]]; then
		log "$1 does not exist, nothing to stop"
		return 0
	fi
	resolve_dir "$1"
	if [[ ! -f $data_dir/PG_VERSION ]]; then
		log "no cluster in $data_dir, nothing to stop"
		return 0
	fi
	locate_pg_bin
	if ! is_running; then
		log "not running: $data_dir"
		return 0
	fi
	(cd "$dir" && as_owner "$pg_bin/pg_ctl" stop -w -m fast -D "$data_dir") >&2
}

# Set port to the running cluster's port, or exit 1.
require_running() {
	resolve_dir "$1"
	locate_pg_bin
	if ! is_running; then
		die "no running cluster in $data_dir. Start it with: scripts/pgcluster.sh start $1"
	fi
	port=$(running_port)
}

cmd_url() {
	require_running "$1"
	cluster_url "$port" "${2:-postgres}"
}

cmd_createdb() {
	local name=$2
	[[ -n $name ]] || die "database name must not be empty"
	require_running "$1"

	# psql interpolates :'name' and :"name" only in input it reads, not in -c,
	# so the statements go through stdin. \gexec runs CREATE DATABASE only
	# when the SELECT returns a row.
	local psql
	psql=$(psql_bin)
	"$psql" -X -q -v ON_ERROR_STOP=1 -v name="$name" \
		-h 127.0.0.1 -p "$port" -U postgres -d postgres >&2 <<'SQL'
SELECT format('CREATE DATABASE %I', :'name')
WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = :'name')
\gexec
SQL
}

main() {
	(($# >= 1)) || usage
	local command=$1
	shift
	case $command in
	start)
		(($# == 1)) || usage
		cmd_start "$1"
		;;
	stop)
		(($# == 1)) || usage
		cmd_stop "$1"
		;;
	url)
		(($# == 1 || $# == 2)) || usage
		cmd_url "$@"
		;;
	createdb)
		(($# == 2)) || usage
		cmd_createdb "$@"
		;;
	*) usage ;;
	esac
}

main "$@"
