#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Installs what osbi needs, builds the examples and runs the flagship end to end: online SBI for a 2-D
# advection–diffusion PDE (examples/02_online_advection_diffusion), then its plots.
# Output (progress, summary, .npy files, metrics.csv, PNG plots) goes to ${OSBI_DEMO_OUT:-demo-output/}.
# Extra arguments go to the example (e.g. --quick, --budget N, --grid N, --offline, --estimator fmpe|npse).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
kokkos_root=$("$root/scripts/install-deps.sh")
build=${OSBI_BUILD_DIR:-$root/build}/demo
out=${OSBI_DEMO_OUT:-$root/demo-output}
kokkos_arg=()
[ -n "$kokkos_root" ] && kokkos_arg=(-DKokkos_ROOT="$kokkos_root")

# The plots use Debian's Python with numpy and matplotlib.
if ! /usr/bin/python3 -c "import numpy, matplotlib" 2>/dev/null; then
  echo "[demo] installing python3-numpy python3-matplotlib for the plots" >&2
  "$root/scripts/apt-install.sh" python3-numpy python3-matplotlib
fi

cmake -S "$root" -B "$build" "${kokkos_arg[@]}" -DCMAKE_BUILD_TYPE=Release -DOSBI_BUILD_TESTS=OFF \
      -DOSBI_BUILD_BENCHMARKS=OFF -DOSBI_BUILD_EXAMPLES=ON >/dev/null
cmake --build "$build" -j "$(nproc)" --target osbi_example_02_online_advection_diffusion
mkdir -p "$out"
export OMP_PROC_BIND=${OMP_PROC_BIND:-false}
# The PDE solves take one core (a worker thread on Kokkos::Serial); the trainer (OpenMP) the others.
cores=$(nproc)
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-$(( cores > 1 ? cores - 1 : 1 ))}
"$build/examples/02_online_advection_diffusion/osbi_example_02_online_advection_diffusion" --output "$out" "$@" \
  | grep -v '^VALIDATION \|^IDLE '
/usr/bin/python3 "$root/examples/02_online_advection_diffusion/plot.py" "$out"
