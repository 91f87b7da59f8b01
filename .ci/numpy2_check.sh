#!/usr/bin/env bash
# The core's pure-numpy modules on numpy 2.x: a throw-away venv (no system packages) with numpy 2 and scipy.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV=$(mktemp -d)
trap 'rm -rf "$VENV"' EXIT
python3 -m venv "$VENV"
"$VENV/bin/pip" install -q --disable-pip-version-check --no-input "numpy>=2.1,<3" "scipy>=1.14" 2>&1 \
  | grep -v -E "Running pip as the 'root' user|is ignored: it is neither" || true
"$VENV/bin/python" "$ROOT/scripts/validation/numpy2_core.py"
