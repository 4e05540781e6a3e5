#!/usr/bin/env bash
# Placeholder for `make image-check`.
echo "image-check: not implemented yet" >&2
exit 1
