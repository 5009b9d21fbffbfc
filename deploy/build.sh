#!/bin/sh
# Installs the build dependencies (deploy/install-deps.sh) and builds an
# optimised Wharf in ./build. Safe to run again: it reuses the configured
# build directory.
set -eu
cd "$(dirname "$0")/.."
sh deploy/install-deps.sh
[ -f build/build.ninja ] || meson setup build --buildtype=release
ninja -C build
