#!/usr/bin/env bash
# Run go vet and the Go tests (`make test`).
#
# Without TEST_DATABASE_URL, the script starts a throwaway PostgreSQL cluster
# with fsync off, exports TEST_DATABASE_URL as its postgres database (the tests
# create their own databases from it) and stops and deletes the cluster on exit.
# Environment: GO (default go), GOTESTFLAGS (extra `go test` flags, split on
# spaces, e.g. GOTESTFLAGS='-run TestLogin -v'), CHROME_PATH (browser for the
# browser tests, default /usr/bin/chromium), NGINX_PATH (reverse proxy for the
# proxy tests, default /usr/sbin/nginx).

set -euo pipefail

cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.."

GO=${GO:-go}
cluster_dir=""

cleanup() {
	local status=$?
	if [[ -n $cluster_dir ]]; then
		scripts/pgcluster.sh stop "$cluster_dir" || echo "test: failed to stop the cluster in $cluster_dir" >&2
		rm -rf -- "$cluster_dir"
	fi
	exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

deps=(chromium nginx)
if [[ -z ${TEST_DATABASE_URL:-} ]]; then
	deps+=(postgresql)
fi
scripts/ensure-deps.sh "${deps[@]}"

CHROME_PATH=${CHROME_PATH:-/usr/bin/chromium}
NGINX_PATH=${NGINX_PATH:-/usr/sbin/nginx}
export CHROME_PATH NGINX_PATH

if [[ -z ${TEST_DATABASE_URL:-} ]]; then
	cluster_dir=$(mktemp -d "${TMPDIR:-/tmp}/portero-test-pg.XXXXXX")
	# As root, pgcluster.sh gives the directory to the postgres user, which
	# also needs to pass through its parent.
	chmod 755 "$cluster_dir"
	TEST_DATABASE_URL=$(PGCLUSTER_FAST=1 scripts/pgcluster.sh start "$cluster_dir")
	export TEST_DATABASE_URL
fi
echo "test: TEST_DATABASE_URL=$TEST_DATABASE_URL" >&2
echo "test: CHROME_PATH=$CHROME_PATH" >&2
echo "test: NGINX_PATH=$NGINX_PATH" >&2

read -r -a extra_flags <<<"${GOTESTFLAGS:-}"

"$GO" vet ./...
"$GO" test -race -count=1 "${extra_flags[@]}" ./...
