"""What the benchmark, validation and main-job scripts share: paths, argument parser, result tables, JSON
results, peak memory, pysheds' import and a headless QGIS with the plugin's Processing provider.

Importing this module puts the repository root on ``sys.path``, so that ``subsidence_plugin`` imports from any
script. A script in a subfolder of scripts/ (run from anywhere, e.g. ``.venv/bin/python
scripts/validation/validate_terrain.py``) finds this module with two lines at its top::

    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # scripts/: the harness
    import harness  # noqa: E402  (puts the repository root on sys.path)
"""
from __future__ import annotations

import argparse
import functools
import gc
import json
import os
import resource
import subprocess
import sys
import threading

SCRIPTS = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(SCRIPTS)
DEFAULT_DATA = os.path.join(ROOT, "..", "shared", "data")  # the shared data folder beside the checkout

sys.path.insert(0, ROOT)


# --------------------------------------------------------------------------------------------- command line

def argument_parser(doc: str, data: bool = False) -> argparse.ArgumentParser:
    """The scripts' parser: ``doc`` (the module docstring) as the help text, kept as written; with ``data``, the
    optional first positional argument DATA_FOLDER (default: the shared data folder beside the checkout)."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    if data:
        parser.add_argument("data", nargs="?", default=DEFAULT_DATA)
    return parser


# --------------------------------------------------------------------------------------------- results

def markdown_row(cells) -> str:
    """One markdown table row: each cell as ``str`` between " | ", a cell of None left blank ("| |")."""
    return "|" + "|".join(" " if cell is None else f" {cell} " for cell in cells) + "|"


def markdown_table(columns, rows) -> str:
    """A markdown table: the header row of ``columns``, the separator, one line per row of cells."""
    return "\n".join([markdown_row(columns), "|" + "---|" * len(columns)] + [markdown_row(row) for row in rows])


def print_table(columns, rows) -> None:
    print(markdown_table(columns, rows))


def measure_table(results: dict, spec: str) -> str:
    """Table of measures by data set: ``results`` maps a data set (a column) to {measure: number}; one row per
    measure (in order of first appearance), each number formatted with ``spec``, "n/a" where a data set lacks it."""
    keys = list(dict.fromkeys(key for result in results.values() for key in result))
    rows = [[key] + ["n/a" if result.get(key) is None else format(result[key], spec) for result in results.values()]
            for key in keys]
    return markdown_table(["measure", *results], rows)


def write_json(path: str, data, **options) -> None:
    """``data`` as indented JSON in ``path`` (``options`` go to ``json.dump``); nothing when ``path`` is empty (no
    --json given)."""
    if path:
        with open(path, "w") as fh:
            json.dump(data, fh, indent=2, **options)


# --------------------------------------------------------------------------------------------- peak memory

def status_mb(field: str) -> float:
    """A memory figure of this process from /proc/self/status (``VmRSS``, ``VmHWM``, ...) in MB; 0 if absent."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return 0.0


def reset_peak() -> bool:
    """Reset this process's resident-set high-water mark (VmHWM) to its current resident set; False if the kernel
    does not allow it (then VmHWM is the peak since the start)."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def self_peak_mb() -> float:
    """Peak resident set of this process since its start (ru_maxrss), MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def wait_rusage(proc: subprocess.Popen, timeout: float):
    """(exit status, rusage) of a child, killed after ``timeout`` seconds; its peak MB is ``ru_maxrss / 1024``."""
    timer = threading.Timer(timeout, proc.kill)
    timer.start()
    try:
        _, status, usage = os.wait4(proc.pid, 0)
    finally:
        timer.cancel()
    proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, usage


# --------------------------------------------------------------------------------------------- other tools

def import_pysheds():
    """(Affine, Grid, Raster, ViewFinder) for pysheds 0.5 (needs ``affine<3``), imported quietly: its warnings
    off, PROJ_DATA set for the PROJ that comes with rasterio. Import no GDAL from osgeo in the same process."""
    os.environ.setdefault("PROJ_DATA", "/usr/share/proj")
    import warnings
    warnings.filterwarnings("ignore")
    from affine import Affine
    from pysheds.grid import Grid
    from pysheds.sview import Raster, ViewFinder
    return Affine, Grid, Raster, ViewFinder


# --------------------------------------------------------------------------------------------- headless QGIS

def start_qgis():
    """A headless QGIS with Processing and the plugin's provider: (app, provider); end it with ``stop_qgis``."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from qgis.core import QgsApplication

    app = QgsApplication([], False)
    app.initQgis()
    sys.path.append(os.path.join(QgsApplication.pkgDataPath(), "python", "plugins"))
    from processing.core.Processing import Processing

    Processing.initialize()
    from subsidence_plugin.processing.provider import SubsidenceProvider

    provider = SubsidenceProvider()
    QgsApplication.processingRegistry().addProvider(provider)
    return app, provider


def stop_qgis(app, provider) -> None:
    """Remove the plugin's provider and exit QGIS (clear the project first if the script filled it)."""
    from qgis.core import QgsApplication

    QgsApplication.processingRegistry().removeProvider(provider)
    gc.collect()  # Python wrappers of QGIS objects must go while QGIS still runs
    app.exitQgis()


def console_feedback():
    """A QgsProcessingFeedback that prints progress every 20 % and the algorithms' messages."""
    return _console_feedback_class()()


@functools.lru_cache(maxsize=None)
def _console_feedback_class():
    from qgis.core import QgsProcessingFeedback  # here: the scripts without QGIS do not import it

    class ConsoleFeedback(QgsProcessingFeedback):
        def __init__(self):
            super().__init__()
            self._last = -20
            self.progressChanged.connect(self._progress)

        def _progress(self, value):
            if value >= self._last + 20:
                self._last = int(value // 20 * 20)
                print(f"  {self._last:3d} %", flush=True)

        def pushInfo(self, info):  # noqa: N802
            if not info.startswith("Results:"):
                print(f"  {info}", flush=True)

        def reportError(self, error, fatalError=False):  # noqa: N802, N803
            print(f"  ERROR: {error}", file=sys.stderr, flush=True)

    return ConsoleFeedback
