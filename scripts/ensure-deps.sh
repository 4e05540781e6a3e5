#!/usr/bin/env bash
# Install the system packages that Portero's tests and benchmark need, if
# they are missing.
#
#   scripts/ensure-deps.sh NAME...
#
# NAME is one of:
#   chromium    Debian's chromium, unless $CHROME_PATH or /usr/bin/chromium exists
#   nginx       Debian's nginx, unless $NGINX_PATH or /usr/sbin/nginx exists.
#               On a host whose init system starts services (no policy-rc.d
#               that returns 101, as Docker images have), installing it also
#               starts the system's nginx on port 80. The tests run their own
#               nginx and do not use that one.
#   postgresql  Debian's postgresql, unless initdb is found (see find_pg_bin)
#   wrk         Debian's wrk, the HTTP load generator of `make bench`, unless
#               $WRK_PATH or a wrk on PATH exists
#
# As root with apt-get, the script runs one `apt-get update` and one
# `apt-get install` for all missing packages. Otherwise it prints the command
# to run and exits 1. Messages go to stderr, so stdout stays empty.
#
# pgcluster.sh sources this file to reuse find_pg_bin and ensure_packages.

set -euo pipefail

log() {
	printf 'ensure-deps: %s\n' "$*" >&2
}

# Print the directory that contains initdb. Return 1 if none is found, and 2
# if $PG_BIN is set but contains no initdb.
# Order: $PG_BIN if set, then `pg_config --bindir`, then the newest
# /usr/lib/postgresql/*/bin. A $PG_BIN without initdb is an error and is not
# replaced by a search, because the caller chose that directory.
find_pg_bin() {
	local dir
	if [[ -n ${PG_BIN:-} ]]; then
		if [[ -x $PG_BIN/initdb ]]; then
			printf '%s\n' "$PG_BIN"
			return 0
		fi
		log "PG_BIN=$PG_BIN does not contain an executable initdb"
		return 2
	fi

	# Debian's pg_config from libpq-dev can exist without the server binaries,
	# so its bindir counts only if initdb is there.
	if command -v pg_config >/dev/null 2>&1; then
		dir=$(pg_config --bindir 2>/dev/null || true)
		if [[ -n $dir && -x $dir/initdb ]]; then
			printf '%s\n' "$dir"
			return 0
		fi
	fi

	dir=$(printf '%s\n' /usr/lib/postgresql/*/bin/initdb | sort -V | tail -n 1)
	if [[ -x $dir ]]; then
		printf '%s\n' "${dir%/initdb}"
		return 0
	fi
	return 1
}

# Print the Chrome or Chromium binary to use. Return 1 if none is found, and
# 2 if $CHROME_PATH is set but not executable, because installing Debian's
# chromium would not make that path exist.
find_chrome() {
	if [[ -n ${CHROME_PATH:-} ]]; then
		if [[ -x $CHROME_PATH ]]; then
			printf '%s\n' "$CHROME_PATH"
			return 0
		fi
		log "CHROME_PATH=$CHROME_PATH is not an executable file"
		return 2
	fi
	if [[ -x /usr/bin/chromium ]]; then
		printf '%s\n' /usr/bin/chromium
		return 0
	fi
	return 1
}

# Print the nginx binary to use. Return 1 if none is found, and 2 if
# $NGINX_PATH is set but not executable.
find_nginx() {
	if [[ -n ${NGINX_PATH:-} ]]; then
		if [[ -x $NGINX_PATH ]]; then
			printf '%s\n' "$NGINX_PATH"
			return 0
		fi
		log "NGINX_PATH=$NGINX_PATH is not an executable file"
		return 2
	fi
	if [[ -x /usr/sbin/nginx ]]; then
		printf '%s\n' /usr/sbin/nginx
		return 0
	fi
	return 1
}

# Print the wrk binary to use. Return 1 if none is found, and 2 if $WRK_PATH
# is set but not executable.
find_wrk() {
	if [[ -n ${WRK_PATH:-} ]]; then
		if [[ -x $WRK_PATH ]]; then
			printf '%s\n' "$WRK_PATH"
			return 0
		fi
		log "WRK_PATH=$WRK_PATH is not an executable file"
		return 2
	fi
	command -v wrk 2>/dev/null || return 1
}

# Return 0 if the tool behind NAME is present, 1 if its Debian package should
# be installed, and 2 if an environment variable points at a missing file.
check_dep() {
	case $1 in
	chromium) find_chrome >/dev/null ;;
	nginx) find_nginx >/dev/null ;;
	postgresql) find_pg_bin >/dev/null ;;
	wrk) find_wrk >/dev/null ;;
	*)
		log "unknown dependency: $1 (expected chromium, nginx, postgresql or wrk)"
		return 2
		;;
	esac
}

# Hint printed next to the install command for NAME.
override_hint() {
	case $1 in
	chromium) echo "or set CHROME_PATH to a Chrome or Chromium binary" ;;
	nginx) echo "or set NGINX_PATH to an nginx binary" ;;
	postgresql) echo "or set PG_BIN to a directory that contains initdb, pg_ctl and postgres" ;;
	wrk) echo "or set WRK_PATH to a wrk binary" ;;
	esac
}

# Run apt-get with its output in a temporary file, which is printed only when
# apt-get fails.
run_apt() {
	local output status=0
	output=$(mktemp "${TMPDIR:-/tmp}/ensure-deps-apt.XXXXXX")
	DEBIAN_FRONTEND=noninteractive apt-get -q -o DPkg::Lock::Timeout=300 "$@" >"$output" 2>&1 || status=$?
	if ((status != 0)); then
		log "apt-get $* failed with exit code $status; last lines of its output:"
		tail -n 30 "$output" >&2
		rm -f "$output"
		return "$status"
	fi
	rm -f "$output"
}

# Install the Debian packages for the missing NAMEs, or print the command to
# run and return 1.
ensure_packages() {
	local name status missing=()
	for name in "$@"; do
		status=0
		check_dep "$name" || status=$?
		case $status in
		0) ;;
		1) missing+=("$name") ;;
		*) return 1 ;;
		esac
	done
	if ((${#missing[@]} == 0)); then
		return 0
	fi

	if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
		log "missing Debian packages: ${missing[*]}"
		log "install them as root with: apt-get update && apt-get install -y ${missing[*]}"
		for name in "${missing[@]}"; do
			log "  $name: $(override_hint "$name")"
		done
		return 1
	fi

	log "installing Debian packages: ${missing[*]}"
	run_apt update
	run_apt install -y "${missing[@]}"

	for name in "${missing[@]}"; do
		if ! check_dep "$name"; then
			log "package $name is installed, but its binary was not found. Set it up by hand, $(override_hint "$name")"
			return 1
		fi
	done
	log "installed: ${missing[*]}"
}

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
	if (($# == 0)); then
		echo "usage: $0 chromium|nginx|postgresql|wrk..." >&2
		exit 2
	fi
	ensure_packages "$@"
fi
