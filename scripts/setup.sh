#!/usr/bin/env bash
# Set up everything the plugin, its demo and its tests need, from nothing; a second run skips what is done.
#  1. Debian packages: QGIS 3.22 with its Python bindings, GDAL, PyQt5, Xvfb (apt, only those missing);
#  2. the plugin's dependency folder (torch, pykrige, ... pinned in requirements/runtime.txt, installed with
#     --no-deps so no second numpy appears), the same folder QGIS desktop and qgis_process use;
#  3. a virtual environment .venv on the system Python (--system-site-packages keeps PyQGIS visible) that sees
#     the dependency folder, with the test packages of requirements/test.txt.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
APT_PACKAGES="python3-qgis qgis-providers qgis python3-gdal gdal-bin python3-pyqt5 python3-venv
  python3-pip python3-matplotlib xvfb xauth"
say() { printf '[setup] %s\n' "$*"; }

missing=()
for pkg in $APT_PACKAGES; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  say "installing Debian packages: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
else
  say "Debian packages present"
fi

SYS_PY=/usr/bin/python3
DEPS=$($SYS_PY "$ROOT/subsidence_plugin/dependencies.py")
stamp() { sha256sum "$1" | cut -c1-16; }
RUNTIME_STAMP="$DEPS/.installed-$(stamp "$ROOT/requirements/runtime.txt")"
if [ ! -f "$RUNTIME_STAMP" ]; then
  say "installing runtime packages into $DEPS"
  mkdir -p "$DEPS"
  $SYS_PY -m pip install -q --disable-pip-version-check --no-input --upgrade --no-deps --target "$DEPS" \
    -r "$ROOT/requirements/runtime.txt" 2>&1 | grep -v -E "Running pip as the 'root' user|^WARNING: Target directory|is ignored: it is neither" || true
  rm -f "$DEPS"/.installed-*
  touch "$RUNTIME_STAMP"
else
  say "runtime packages present in $DEPS"
fi

VENV="$ROOT/.venv"
if [ ! -x "$VENV/bin/python" ]; then
  say "creating $VENV"
  $SYS_PY -m venv --system-site-packages "$VENV"
fi
SITE=$("$VENV/bin/python" -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")
# the dependency folder goes first, as the plugin puts it inside QGIS (see subsidence_plugin/dependencies.py)
echo "import sys; sys.path.insert(0, '$DEPS')" > "$SITE/subsidence_plugin_deps.pth"
CONSTRAINTS="$VENV/system-constraints.txt"
$SYS_PY -c "import numpy, scipy; print(f'numpy=={numpy.__version__}\nscipy=={scipy.__version__}')" > "$CONSTRAINTS"
TEST_STAMP="$VENV/.installed-$(cat "$ROOT/requirements/test.txt" "$ROOT/requirements/distributed.txt" | sha256sum | cut -c1-16)"
if [ ! -f "$TEST_STAMP" ]; then
  say "installing test packages and the optional Dask extra into $VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check --no-input -r "$ROOT/requirements/test.txt" \
    -r "$ROOT/requirements/distributed.txt" -c "$CONSTRAINTS" 2>&1 \
    | grep -v -E "Running pip as the 'root' user|is ignored: it is neither" || true
  rm -f "$VENV"/.installed-*
  touch "$TEST_STAMP"
else
  say "test packages present in $VENV"
fi
"$VENV/bin/python" - <<'PY'
import numpy, scipy, torch, pykrige
from osgeo import gdal
from qgis.core import Qgis
assert numpy.__file__.startswith("/usr/lib/python3/"), f"a second numpy shadows the system one: {numpy.__file__}"
print(f"[setup] ready: QGIS {Qgis.QGIS_VERSION}, GDAL {gdal.__version__}, numpy {numpy.__version__} (system), "
      f"torch {torch.__version__}, pykrige {pykrige.__version__}")
PY
