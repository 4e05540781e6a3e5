# shellcheck shell=bash
# Port helpers shared by pgcluster.sh, bench.sh and image-check.sh. Source
# this file after defining die.

# Return 0 if nothing listens on 127.0.0.1:PORT.
port_is_free() {
	local port=$1
	if command -v ss >/dev/null 2>&1; then
		[[ -z $(ss -Hltn "sport = :$port") ]]
	else
		# A successful connection means the port is taken.
		if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
			return 1
		fi
	fi
}

# Print a free port from 20000-32767, below Linux's default ephemeral range
# (32768-60999), so that outgoing connections rarely take it first. Another
# process may still take it before the caller binds it.
pick_port() {
	local port
	for _ in $(seq 1 100); do
		port=$((20000 + RANDOM % 12768))
		if port_is_free "$port"; then
			printf '%s\n' "$port"
			return 0
		fi
	done
	die "no free TCP port found on 127.0.0.1 after 100 tries"
}
