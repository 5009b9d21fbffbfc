#!/bin/sh
# The comparison suite: Wharf against nginx (static files with sendfile) and
# Debian's docker-registry (the reference registry), over the same blobs, on
# loopback. Servers run on core 0, the load tool on core 1.
#
#   bench/compare.sh            full run (3 rounds), writes bench/RESULTS.md
#   bench/compare.sh --short    a quick smoke run (CI), prints the table only
# Needs the release build (deploy/build.sh) and nginx (deploy/install-deps.sh).
set -eu
cd "$(dirname "$0")/.."
exec /usr/bin/python3 bench/compare.py "$@"
