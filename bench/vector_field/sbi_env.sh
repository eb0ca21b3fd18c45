#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Virtual environment with sbi 0.27.0 (PyPI) for the Python peer benchmark peer_sbi.py.
# Creates it on first use (idempotent; torch with its CUDA wheels is several GB, so this takes
# minutes), then prints ONLY its python path on stdout; pip's output goes to stderr, so that
#     py=$(bench/vector_field/sbi_env.sh) && "$py" bench/vector_field/peer_sbi.py --quick
# works. Location: $OSBI_SBI_VENV, default ~/.cache/osbi/sbi-0.27-venv.
set -euo pipefail
venv="${OSBI_SBI_VENV:-$HOME/.cache/osbi/sbi-0.27-venv}"
py="$venv/bin/python"
ready() { [ -x "$py" ] && "$py" -c 'import sbi, sys; sys.exit(sbi.__version__ != "0.27.0")' >/dev/null 2>&1; }

if ! ready; then
  mkdir -p "$(dirname "$venv")"
  # Two benchmark runs starting at once must not install into the same venv concurrently.
  exec 9>"$venv.lock"
  flock 9
  if ! ready; then
    [ -x "$py" ] || python3 -m venv "$venv" >&2
    "$py" -m pip install 'sbi==0.27.0' >&2
    ready || { echo "sbi_env.sh: sbi 0.27.0 is not importable in $venv" >&2; exit 1; }
  fi
  exec 9>&-
fi
echo "$py"
