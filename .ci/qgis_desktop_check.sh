#!/usr/bin/env bash
# Install dist/subsidence_plugin.zip into a throw-away QGIS profile, start the real QGIS desktop under Xvfb and
# check (from a startup script) that the plugin loaded without Python errors, its menu, toolbar and provider
# exist; then check that qgis_process enables it and lists its algorithms.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
WORK=$(mktemp -d)
trap '[ -n "${KEEP_WORK:-}" ] || rm -rf "$WORK"' EXIT
ZIP=$(DIST_DIR="$WORK/dist" bash "$ROOT/scripts/package.sh")
export XDG_DATA_HOME="$WORK/data"   # QGIS profiles live under $XDG_DATA_HOME/QGIS/QGIS3/profiles
export SUBSIDENCE_PLUGIN_DEPS
SUBSIDENCE_PLUGIN_DEPS=$(HOME="$HOME" XDG_DATA_HOME="" /usr/bin/python3 "$ROOT/subsidence_plugin/dependencies.py")
PROFILE="$XDG_DATA_HOME/QGIS/QGIS3/profiles/default"
mkdir -p "$PROFILE/python/plugins" "$PROFILE/QGIS"
(cd "$PROFILE/python/plugins" && python3 -m zipfile -e "$ZIP" .)
cat > "$PROFILE/QGIS/QGIS3.ini" <<'INI'
[PythonPlugins]
subsidence_plugin=true
[qgis]
checkVersion=false
showTips=false
INI
export SUBSIDENCE_CI_RESULT="$WORK/desktop.json" SUBSIDENCE_CI_ERRORS="$WORK/python_errors.txt"
export SUBSIDENCE_CI_SHOTS="${SUBSIDENCE_CI_SHOTS:-$WORK/shots}"   # screenshots of the docks (kept if set)
mkdir -p "$SUBSIDENCE_CI_SHOTS"
export PYQGIS_STARTUP="$ROOT/.ci/qgis_startup_hooks.py"
echo "[desktop] starting QGIS under Xvfb on a 1366 x 768 screen (a laptop)"
timeout 300 xvfb-run -a -s "-screen 0 1366x768x24" qgis --nologo --noversioncheck \
  --code "$ROOT/.ci/qgis_desktop_probe.py" >"$WORK/qgis.log" 2>&1 || true
if [ -s "$SUBSIDENCE_CI_ERRORS" ]; then
  echo "[desktop] FAILED: Python errors while QGIS loaded the plugin:"; cat "$SUBSIDENCE_CI_ERRORS"; exit 1
fi
if [ ! -f "$SUBSIDENCE_CI_RESULT" ]; then
  echo "[desktop] QGIS did not report; its output:"; tail -50 "$WORK/qgis.log"; exit 1
fi
cat "$SUBSIDENCE_CI_RESULT"; echo
/usr/bin/python3 - "$SUBSIDENCE_CI_RESULT" "$SUBSIDENCE_CI_ERRORS" <<'PY'
import json, os, sys
result = json.load(open(sys.argv[1]))
errors = open(sys.argv[2]).read() if os.path.exists(sys.argv[2]) else ""
problems = [k for k in ("plugin_loaded", "provider", "menu", "toolbar") if not result.get(k)]
if result.get("probe_error"):
    problems.append("probe error:\n" + result["probe_error"])
if result.get("docks_visible_at_start"):
    problems.append(f"docks open at start: {result['docks_visible_at_start']}")
toolbox = result.get("toolbox_styles", {})
if not toolbox:
    problems.append("the toolbox-like run loaded no layer")
for name, style in sorted(toolbox.items()):  # Processing's own loading skips the saved styles (QGIS 3.22)
    if style["renderer"] == "singlebandgray":
        problems.append(f"toolbox output {name} arrived unstyled (grey)")
    if "(Gray)" in style["legend"]:
        problems.append(f"toolbox output {name}: legend heading {style['legend']!r}")
if toolbox and toolbox.get("PS points", {}).get("renderer") != "graduatedSymbol":
    problems.append(f"toolbox output PS points arrived without its velocity ramp: {toolbox.get('PS points')}")
for name, dock in sorted(result.get("docks", {}).items()):
    if not dock.get("visible"):
        problems.append(f"{name}: not visible after its menu action")
    if not dock.get("fits"):
        problems.append(f"{name}: the main window's frame {dock.get('frame')} does not fit 1366 x 768")
if len(result.get("docks", {})) != 3:
    problems.append(f"docks checked: {sorted(result.get('docks', {}))}")
pick = result.get("series_pick", {})
if not pick.get("points") or "m" not in pick.get("units", []):
    problems.append(f"Time series dock: a picked PS point should plot its series and the nearest head: {pick}")
if errors.strip():
    problems.append("python errors:\n" + errors)
if result.get("algorithms", 0) < 1:
    problems.append("no algorithms")
if result.get("missing_packages") or not result.get("dependencies", "").startswith("torch"):
    problems.append(f"dependencies inside QGIS: missing {result.get('missing_packages')}, {result.get('dependencies')}")
if problems:
    sys.exit("[desktop] FAILED: " + "; ".join(problems))
print(f"[desktop] OK: plugin loaded in QGIS {result['qgis']}, {result['algorithms']} algorithm(s), no Python errors; "
      "docks hidden at start, each opens from the menu and the window fits 1366 x 768; "
      f"{len(toolbox)} toolbox outputs arrived styled ({result.get('toolbox_screenshot')})")
for name, dock in sorted(result["docks"].items()):
    print(f"[desktop] {name}: frame {dock['frame']}, dock {dock['dock_size']}, screenshot {dock['screenshot']}")
print(f"[desktop] Time series: picked {pick['points']}, {len(pick['curves'])} curves, screenshot {pick['screenshot']}")
PY
echo "[qgis_process] plugins enable + list (fresh profile, plugin installed but not enabled)"
export QT_QPA_PLATFORM=offscreen XDG_DATA_HOME="$WORK/data_qp"
mkdir -p "$XDG_DATA_HOME/QGIS/QGIS3/profiles/default/python/plugins"
(cd "$XDG_DATA_HOME/QGIS/QGIS3/profiles/default/python/plugins" && python3 -m zipfile -e "$ZIP" .)
qgis_process.bin plugins enable subsidence_plugin >"$WORK/qp.log" 2>&1 || { cat "$WORK/qp.log"; exit 1; }
qgis_process.bin list 2>/dev/null | tee "$WORK/list.txt" | grep -A20 "^Land subsidence" | grep "subsidence:" 
grep -q "subsidence:createsamplearea" "$WORK/list.txt"
echo "[qgis_process] a torch algorithm end to end"
qgis_process.bin run subsidence:createsamplearea -- SIZE=48 OUTPUT_FOLDER="$WORK/area" >"$WORK/qp_area.log" 2>&1 \
  || { tail -20 "$WORK/qp_area.log"; exit 1; }
qgis_process.bin run subsidence:trainpatchcnn -- "INPUT=$WORK/area/sample_area.gpkg|layername=ps_points" \
  FIELD=velocity "STACK=$WORK/area/dem.tif" EPOCHS=1 "OUTPUT_MODEL=$WORK/cnn.pt" "OUTPUT=$WORK/cnn.tif" \
  "REPORT=$WORK/cnn.html" >"$WORK/qp_cnn.log" 2>&1 || { tail -20 "$WORK/qp_cnn.log"; exit 1; }
test -s "$WORK/cnn.tif" && test -s "$WORK/cnn.pt"
echo "[qgis_process] InSAR series import (a multiple-layer input)"
qgis_process.bin run subsidence:importinsarseries -- "INPUT=$WORK/area/sample_area.gpkg|layername=ps_points" \
  UNITS=1 "OUTPUT=$WORK/series.gpkg" >"$WORK/qp_series.log" 2>&1 || { tail -20 "$WORK/qp_series.log"; exit 1; }
test -s "$WORK/series.gpkg"
qgis_process.bin run subsidence:groundwaterseries -- "INPUT=$WORK/series.gpkg" \
  "GROUNDWATER=$WORK/area/sample_area.gpkg|layername=piezometers" "OUTPUT=$WORK/heads.gpkg" >"$WORK/qp_heads.log" 2>&1 \
  || { tail -20 "$WORK/qp_heads.log"; exit 1; }
test -s "$WORK/heads.gpkg"
echo "[qgis_process] series model: train (1 epoch) and forecast"
qgis_process.bin run subsidence:trainseriesmodel -- "INPUT=$WORK/series.gpkg" \
  "GROUNDWATER=$WORK/area/sample_area.gpkg|layername=piezometers" WINDOW=6 EPOCHS=1 "OUTPUT=$WORK/trained.gpkg" \
  "OUTPUT_MODEL=$WORK/lstm.pt" >"$WORK/qp_train.log" 2>&1 || { tail -20 "$WORK/qp_train.log"; exit 1; }
qgis_process.bin run subsidence:forecastseries -- "INPUT=$WORK/series.gpkg" "MODEL_FILE=$WORK/lstm.pt" \
  "GROUNDWATER=$WORK/area/sample_area.gpkg|layername=piezometers" HORIZON_MONTHS=3 SCENARIO=1 \
  "OUTPUT=$WORK/forecast.gpkg" >"$WORK/qp_forecast.log" 2>&1 || { tail -20 "$WORK/qp_forecast.log"; exit 1; }
test -s "$WORK/forecast.gpkg"
echo "[qgis_process] OK"
