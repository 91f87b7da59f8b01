#!/usr/bin/env bash
# Set up (idempotent) and run the plugin's main job on the built-in sample study area.
# Writes OUTPUT_DIR (default ./demo_output): the sample area, sample_area.qgz and report.html.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bash "$ROOT/scripts/setup.sh"
export QT_QPA_PLATFORM=offscreen
exec "$ROOT/.venv/bin/python" "$ROOT/scripts/main_job.py" --output "${1:-$ROOT/demo_output}" "${@:2}"
