#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Installs what building osbi needs and prints, on stdout, the Kokkos_ROOT to configure with (empty
# when CMake finds a Kokkos by itself). Idempotent: a second run installs nothing. Progress on stderr.
#
#   Kokkos, first match wins: $Kokkos_ROOT; any Kokkos find_package() finds; a Kokkos 3.4.1 built
#   earlier into $OSBI_DEPS_DIR (default ~/.cache/osbi); otherwise build that one now from Debian's
#   `trilinos` source package (which carries Kokkos 3.4.1), Serial + OpenMP, C++20, about a minute.
set -euo pipefail

deps_dir=${OSBI_DEPS_DIR:-$HOME/.cache/osbi}
kokkos_version=3.4.1
kokkos_prefix="$deps_dir/kokkos-$kokkos_version"
say() { echo "[install-deps] $*" >&2; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# --- Debian packages --------------------------------------------------------------------------
packages=(build-essential cmake libeigen3-dev libboost-test-dev libopenmpi-dev openmpi-bin python3-numpy
          bzip2 dpkg-dev)
"$(dirname "$0")/apt-install.sh" "${packages[@]}"

# --- Kokkos ------------------------------------------------------------------------------------
has_kokkos_config() { compgen -G "$1/lib*/cmake/Kokkos/KokkosConfig.cmake" >/dev/null; }

if [ -n "${Kokkos_ROOT:-}" ]; then
  has_kokkos_config "$Kokkos_ROOT" || { say "Kokkos_ROOT=$Kokkos_ROOT holds no lib*/cmake/Kokkos/KokkosConfig.cmake"; exit 1; }
  say "Kokkos: using Kokkos_ROOT=$Kokkos_ROOT"
  echo "$Kokkos_ROOT"
  exit 0
fi

probe=$(mktemp -d)
trap 'rm -rf "$probe"' EXIT
printf 'cmake_minimum_required(VERSION 3.25)\nproject(probe CXX)\nfind_package(Kokkos REQUIRED)\n' > "$probe/CMakeLists.txt"
if ! has_kokkos_config "$kokkos_prefix" && cmake -S "$probe" -B "$probe/build" >/dev/null 2>&1; then
  say "Kokkos: find_package(Kokkos) finds one on this machine; using it"
  echo ""
  exit 0
fi

if has_kokkos_config "$kokkos_prefix"; then
  say "Kokkos: reusing $kokkos_prefix"
  echo "$kokkos_prefix"
  exit 0
fi

say "Kokkos: building $kokkos_version from Debian's trilinos source package into $kokkos_prefix"
# apt-get source needs deb-src entries: derive them from this machine's own deb entries.
if ! apt-get source --print-uris trilinos >/dev/null 2>&1; then
  if [ -f /etc/apt/sources.list.d/debian.sources ]; then
    sed 's/^Types: deb$/Types: deb-src/' /etc/apt/sources.list.d/debian.sources |
      as_root tee /etc/apt/sources.list.d/osbi-deb-src.sources >/dev/null
  elif [ -f /etc/apt/sources.list ]; then
    sed -n 's/^deb /deb-src /p' /etc/apt/sources.list | as_root tee /etc/apt/sources.list.d/osbi-deb-src.list >/dev/null
  else
    say "no Debian sources list found: install Kokkos >= $kokkos_version yourself and set Kokkos_ROOT"; exit 1
  fi
  say "added deb-src entries derived from this machine's sources; apt-get update"
  as_root apt-get update -qq >&2
fi

work="$deps_dir/src"
mkdir -p "$work"
( cd "$work"
  compgen -G "trilinos_*.orig.tar.*" >/dev/null || apt-get source --download-only trilinos >&2
  tarball=$(compgen -G "trilinos_*.orig.tar.*" | head -n 1)
  say "extracting packages/kokkos from $tarball"
  rm -rf kokkos-src && mkdir kokkos-src
  tar -xf "$tarball" -C kokkos-src --strip-components=3 --wildcards '*/packages/kokkos/*'
  cmake -S kokkos-src -B kokkos-build -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX="$kokkos_prefix" \
        -DCMAKE_CXX_STANDARD=20 -DKokkos_ENABLE_SERIAL=ON -DKokkos_ENABLE_OPENMP=ON \
        -DCMAKE_POSITION_INDEPENDENT_CODE=ON -DBUILD_SHARED_LIBS=OFF >&2
  cmake --build kokkos-build -j "$(nproc)" >&2
  cmake --install kokkos-build >&2
  # Keep the install, drop the sources and the 166 MB tarball.
  rm -rf kokkos-src kokkos-build trilinos_*
)
has_kokkos_config "$kokkos_prefix" || { say "Kokkos build finished but $kokkos_prefix holds no KokkosConfig.cmake"; exit 1; }
say "Kokkos: installed $kokkos_prefix"
echo "$kokkos_prefix"
