#!/usr/bin/env bash
# Run Portero for local development (`make run`).
#
# Without DATABASE_URL, the script starts a PostgreSQL cluster in .data/pg,
# creates the database portero in it and generates an admin password into
# .data/admin-password on first use. With DATABASE_URL set, it runs the app
# against that database and creates no admin account.
# Environment: GO (default go), PORT (default 8080, used only in the printed URL;
# the app reads PORT itself).

set -euo pipefail

cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.."

GO=${GO:-go}
readonly data_dir=.data
readonly cluster_dir=$data_dir/pg
readonly password_file=$data_dir/admin-password
readonly admin_email=admin@example.com

export APP_ENV=${APP_ENV:-development}
export DATA_DIR=${DATA_DIR:-$data_dir}

if [[ -n ${DATABASE_URL:-} ]]; then
	echo "run-dev: using DATABASE_URL from the environment; no admin account is set up" >&2
	"$GO" build -o bin/portero .
	exec bin/portero serve
fi

mkdir -p "$data_dir"
scripts/pgcluster.sh start "$cluster_dir" >/dev/null
scripts/pgcluster.sh createdb "$cluster_dir" portero
DATABASE_URL=$(scripts/pgcluster.sh url "$cluster_dir" portero)
export DATABASE_URL

if [[ ! -s $password_file ]]; then
	# 96 random bytes give 128 base64 characters, of which about 124 remain
	# after removing + and /. 24 letters and digits carry about 142 bits.
	random=$(head -c 96 /dev/urandom | base64 -w 0)
	random=${random//[^A-Za-z0-9]/}
	(
		umask 077
		printf '%s' "${random:0:24}" >"$password_file.tmp"
	)
	mv -f -- "$password_file.tmp" "$password_file"
fi
chmod 600 "$password_file"
admin_password=$(<"$password_file")

cat >&2 <<INFO

  Portero (development)
  URL:            http://localhost:${PORT:-8080}
  Admin email:    $admin_email
  Admin password: $admin_password  (stored in $password_file)
  Database:       $DATABASE_URL

INFO

export ADMIN_EMAIL=$admin_email
export ADMIN_PASSWORD_FILE=$password_file
# The binary runs in place of this script, not under `go run`, so that
# Ctrl-C reaches it directly and a clean stop exits with status 0.
"$GO" build -o bin/portero .
exec bin/portero serve
