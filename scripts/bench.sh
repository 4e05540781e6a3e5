#!/usr/bin/env bash
# Placeholder for `make bench`.
echo "bench: not implemented yet" >&2
exit 1
