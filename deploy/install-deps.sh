#!/bin/sh
# Installs everything Wharf needs to build, test and benchmark on Debian 12
# (or a Debian-based distribution with the same packages). Idempotent: only
# missing packages are installed. Run as root.
set -eu

PKGS="meson ninja-build pkg-config g++ libuv1-dev librocksdb-dev libxxhash-dev
nlohmann-json3-dev libbenchmark-dev libgtest-dev libcrypt-dev libyaml-cpp-dev node-llhttp
android-libboringssl-dev apache2-utils ca-certificates curl openssl python3
python3-pytest skopeo docker-registry docker.io podman busybox-static nginx wrk procps util-linux
tinyproxy-bin
clang libclang-rt-14-dev"

missing=""
for p in $PKGS; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing="$missing $p"
  fi
done
if [ -z "$missing" ]; then
  echo "install-deps: all packages present"
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: need root to install:$missing" >&2
  exit 1
fi
echo "install-deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
# shellcheck disable=SC2086
apt-get -o DPkg::Lock::Timeout=900 install -y --no-install-recommends $missing
