"""The direction of every import in the plugin, relative ones included (an AST check, after dzetsaka's guardrails).

Rules (``../shared/DESIGN.md``, layout):

* core imports no QGIS, Qt, sip, Processing framework, and nothing of the plugin outside ``core``;
* processing imports nothing of ``gui`` (nor ``plugin.py``);
* no module imports an algorithm module (one defining a ``SubsidenceAlgorithm``), except the provider, which
  registers them, and the docks, which read their parameter keys (class constants);
* a core domain package (terrain, surface, susceptibility, timeseries, points, groundwater, ...) imports only the
  shared packages (io, stats, spatial, ml, reports, progress) and itself; a shared package never imports a domain;
  the same holds between processing's domain folders (its top-level modules are shared); a dock imports no other dock
  and a widget no dock;
* every relative import resolves to a module (or a name of a module) of the plugin;
* ``scale`` (the Dask runner) imports no QGIS, Qt or Processing, and nothing of the plugin but ``core`` and itself;
* ``core`` and ``processing`` are one level deep: ``package/module.py``.
"""
import ast
import pathlib
import shutil
import textwrap

import pytest

PLUGIN = pathlib.Path(__file__).resolve().parents[2] / "subsidence_plugin"
FOREIGN_TO_CORE = ("qgis", "PyQt4", "PyQt5", "PyQt6", "PySide2", "PySide6", "sip", "processing")
CORE_SHARED = {"io", "stats", "spatial", "ml", "reports", "progress"}


def _modules(root: pathlib.Path) -> dict:
    """Dotted name (``subsidence_plugin.core.io.grid``) -> (path, parsed tree) of every module under ``root``."""
    out = {}
    for path in sorted(root.rglob("*.py")):
        parts = [root.name] + list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = (path, ast.parse(path.read_text(encoding="utf-8")))
    return out


def _top_level_names(tree: ast.Module) -> set:
    names = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                names.update(n.id for n in ast.walk(target) if isinstance(n, ast.Name))
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
    return names


def _imports(name: str, path: pathlib.Path, tree: ast.Module, modules: dict):
    """(line, imported module, imported names or None, problem) for every import of a module, relative imports
    resolved against the module's package."""
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name, None, None
        elif isinstance(node, ast.ImportFrom) and node.module != "__future__":
            if node.level == 0:
                yield node.lineno, node.module, [a.name for a in node.names], None
                continue
            if node.level > len(package):
                yield node.lineno, "", None, f"relative import {'.' * node.level}{node.module or ''} leaves the plugin"
                continue
            base = ".".join(package[:len(package) - node.level + 1] + ([node.module] if node.module else []))
            if base not in modules:
                yield node.lineno, base, None, f"relative import resolves to no module of the plugin ({base})"
                continue
            names = []
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                if sub in modules:
                    yield node.lineno, sub, None, None
                elif alias.name in _top_level_names(modules[base][1]) or alias.name == "*":
                    names.append(alias.name)
                else:
                    yield node.lineno, base, None, f"relative import of {alias.name!r}: {base} has no such name"
            if names:
                yield node.lineno, base, names, None


def _algorithm_modules(modules: dict) -> set:
    found = set()
    for name, (_, tree) in modules.items():
        for node in tree.body:
            if isinstance(node, ast.ClassDef) and any(
                    getattr(base, "id", getattr(base, "attr", "")) == "SubsidenceAlgorithm" for base in node.bases):
                found.add(name)
    return found


def _area(name: str, root: str):
    """(layer, unit) of a plugin module: ("core", "io"), ("processing", "terrain"), ("gui", "docks"), ..."""
    parts = name.split(".")[1:]
    if not parts:
        return "plugin", ""
    if parts[0] in ("core", "processing", "gui") and len(parts) > 1:
        return parts[0], parts[1]
    return parts[0], ""


def violations(root: pathlib.Path = PLUGIN) -> list:
    """Every broken rule in the plugin package at ``root``, one line each."""
    modules = _modules(root)
    packages = {name for name, (path, _) in modules.items() if path.name == "__init__.py"}
    algorithms = _algorithm_modules(modules)
    top = root.name
    found = []
    for name, (path, tree) in modules.items():
        where = f"{path.relative_to(root.parent)}"
        layer, unit = _area(name, top)
        depth = len(path.relative_to(root).parts)
        if layer in ("core", "processing") and depth > 3:
            found.append(f"{where}: {layer} packages are one level deep ({layer}/package/module.py)")
        for line, target, names, problem in _imports(name, path, tree, modules):
            at = f"{where}:{line}"
            if problem:
                found.append(f"{at}: {problem}")
                continue
            external = not (target == top or target.startswith(top + "."))
            if layer in ("core", "scale") and external and target.split(".")[0] in FOREIGN_TO_CORE:
                found.append(f"{at}: {layer} imports {target} (no QGIS, Qt or Processing in {layer})")
                continue
            if external:
                continue
            if names is not None and target not in modules:
                for candidate in names:
                    if f"{target}.{candidate}" in modules:
                        target = f"{target}.{candidate}"
            other_layer, other_unit = _area(target, top)
            if layer == "core" and other_layer != "core":
                found.append(f"{at}: core imports {target} (core imports only core)")
            if layer == "scale" and other_layer not in ("core", "scale"):
                found.append(f"{at}: scale imports {target} (scale imports only core and itself)")
            if layer == "processing" and other_layer in ("gui", "plugin"):
                found.append(f"{at}: processing imports {target} (processing never imports gui)")
            targets = {target} | ({f"{target}.{n}" for n in names} if names else set())
            imported_algorithms = targets & algorithms
            if imported_algorithms and name != f"{top}.processing.provider" and not (
                    layer == "gui" and unit == "docks"):
                found.append(f"{at}: imports the algorithm module {sorted(imported_algorithms)[0]} (only the "
                             "provider registers algorithms; shared steps belong in a common module)")
            if layer == other_layer == "core" and unit != other_unit:
                if other_unit not in CORE_SHARED:
                    kind = "shared package" if unit in CORE_SHARED else "domain"
                    found.append(f"{at}: core {kind} {unit} imports the domain {other_unit}")
            if layer == other_layer == "processing" and unit != other_unit and unit != "provider":
                if f"{top}.processing.{other_unit}" in packages:  # folders are domains, modules are shared
                    found.append(f"{at}: processing {unit} imports the processing domain {other_unit}")
            if layer == other_layer == "gui" and other_unit == "docks" and name != target and (
                    unit != "docks" or name.rsplit(".", 1)[0] == target.rsplit(".", 1)[0]):
                found.append(f"{at}: {unit} imports the dock {target} (docks import no dock)")
    return found


def test_the_plugin_keeps_every_import_rule():
    assert len(_modules(PLUGIN)) > 60
    assert violations() == []


def _plant(tmp_path, relative: str, source: str) -> pathlib.Path:
    root = tmp_path / "subsidence_plugin"
    shutil.copytree(PLUGIN, root, ignore=shutil.ignore_patterns("__pycache__"))
    target = root / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    for folder in target.relative_to(root).parents:
        (root / folder / "__init__.py").touch()
    with open(target, "a", encoding="utf-8") as fh:
        fh.write("\n" + textwrap.dedent(source))
    return root


@pytest.mark.parametrize("relative, source, expected", [
    ("core/stats/planted.py", "import qgis.core\n", "core imports qgis.core"),
    ("core/stats/planted.py", "def f():\n    from qgis.PyQt import QtCore\n", "core imports qgis.PyQt"),
    ("core/ml/planted.py", "from PyQt5 import QtWidgets\n", "core imports PyQt5"),
    ("core/io/planted.py", "import processing\n", "core imports processing"),
    ("core/io/planted.py", "from ...processing.base import SubsidenceAlgorithm\n", "core imports only core"),
    ("core/io/planted.py", "from ..processing.base import x\n", "resolves to no module"),
    ("core/terrain/planted.py", "from ...gui.widgets import task_dock\n", "core imports only core"),
    ("core/terrain/planted.py", "from subsidence_plugin.processing import styles\n", "core imports only core"),
    ("processing/terrain/planted.py", "from ...gui.widgets.task_dock import TaskDock\n",
     "processing never imports gui"),
    ("processing/surface/planted.py", "from .kriging import Kriging\n", "imports the algorithm module"),
    ("processing/surface/planted.py", "from . import idw\n", "imports the algorithm module"),
    ("processing/terrain/planted.py", "from .slope import Slope\n", "imports the algorithm module"),
    ("processing/planted.py", "from .terrain.common import run_terrain\n", "processing planted imports the processing domain terrain"),
    ("core/terrain/planted.py", "from ..surface.network import PatchCNN\n", "domain terrain imports the domain surface"),
    ("core/stats/planted.py", "from ..susceptibility import gardlif\n",
     "shared package stats imports the domain susceptibility"),
    ("core/io/planted.py", "from ..sample_area import create_sample_area\n",
     "shared package io imports the domain sample_area"),
    ("processing/factors/planted.py", "from ..surface.common import predict_to_raster\n",
     "processing factors imports the processing domain surface"),
    ("gui/widgets/planted.py", "from ..docks.surface_dock import SurfaceDock\n", "docks import no dock"),
    ("gui/docks/planted.py", "from .surface_dock import SurfaceDock\n", "docks import no dock"),
    ("core/io/planted.py", "from .gird import RasterGrid\n", "resolves to no module of the plugin"),
    ("core/io/planted.py", "from .grid import RasterGird\n", "has no such name"),
    ("core/io/planted.py", "from ....outside import x\n", "leaves the plugin"),
    ("core/io/deeper/planted.py", "x = 1\n", "one level deep"),
    ("scale/planted.py", "from qgis.core import QgsProject\n", "scale imports qgis.core"),
    ("scale/planted.py", "from ..processing.terrain.common import run_terrain\n", "scale imports only core"),
    ("core/terrain/planted.py", "from ...scale.tiles import plan_tiles\n", "core imports only core"),
])
def test_each_rule_catches_a_planted_import(tmp_path, relative, source, expected):
    found = violations(_plant(tmp_path, relative, source))
    assert any(expected in f and "planted.py" in f for f in found), found
    assert all("planted.py" in f or "deeper/__init__.py" in f for f in found), found


def test_parameter_keys_are_class_constants_of_the_algorithms_the_docks_run(qgis_app):
    """Each algorithm a dock runs names every parameter and output as a class constant equal to its key, and
    the docks write no key as a string literal."""
    from subsidence_plugin.processing.surface.idw import InverseDistanceWeighting
    from subsidence_plugin.processing.surface.kriging import Kriging
    from subsidence_plugin.processing.surface.train_patch_cnn import TrainPatchCnn
    from subsidence_plugin.processing.susceptibility.optimize_weights import OptimizeWeights
    from subsidence_plugin.processing.susceptibility.subsidence_inventory import SubsidenceInventory
    from subsidence_plugin.processing.susceptibility.train_susceptibility import TrainSusceptibility

    every_key = set()
    for cls in (InverseDistanceWeighting, Kriging, TrainPatchCnn, OptimizeWeights, SubsidenceInventory,
                TrainSusceptibility):
        algorithm = cls()
        algorithm.initAlgorithm()
        keys = {p.name() for p in algorithm.parameterDefinitions()} | {o.name() for o in algorithm.outputDefinitions()}
        assert all(getattr(cls, key, None) == key for key in keys), cls.__name__
        every_key |= keys
    for dock in (PLUGIN / "gui" / "docks").glob("*.py"):
        source = dock.read_text(encoding="utf-8")
        literal_keys = [node.value for node in ast.walk(ast.parse(source)) if isinstance(node, ast.Constant)
                        and isinstance(node.value, str) and node.value in every_key]
        assert literal_keys == [], dock.name


def test_pure_tests_need_no_qgis():
    """tests/core/ runs without QGIS: no test there imports qgis, Qt or Processing."""
    tests = PLUGIN.parent / "tests" / "core"
    found = {}
    for path in sorted(tests.rglob("*.py")):
        names = [n.module if isinstance(n, ast.ImportFrom) else a.name
                 for n in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
                 if isinstance(n, (ast.Import, ast.ImportFrom)) for a in n.names]
        bad = [n for n in names if n and n.split(".")[0] in FOREIGN_TO_CORE + ("subsidence_plugin.processing",)
               or (n or "").startswith(("subsidence_plugin.processing", "subsidence_plugin.gui"))]
        if bad:
            found[str(path.relative_to(tests))] = bad
    assert len(list(tests.rglob("test_*.py"))) >= 15 and found == {}
