"""core/ must stay free of QGIS, Qt and the Processing framework, so it runs and tests anywhere."""
import ast
import pathlib

CORE = pathlib.Path(__file__).resolve().parents[1] / "subsidence_plugin" / "core"
FORBIDDEN = ("qgis", "PyQt4", "PyQt5", "PyQt6", "PySide2", "PySide6", "sip", "processing")


def forbidden_imports(source: str):
    """Top-level package names of forbidden imports in a module's source (absolute imports only)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        found += [n for n in names if n.split(".")[0] in FORBIDDEN]
    return found


def test_checker_catches_every_form_of_import():
    source = ("import qgis.core\nfrom qgis.PyQt import QtCore\nimport PyQt5\nfrom processing import run\n"
              "def f():\n    import PyQt6.QtWidgets\nfrom .processing_utils import x\nimport numpy\n")
    assert forbidden_imports(source) == ["qgis.core", "qgis.PyQt", "PyQt5", "processing", "PyQt6.QtWidgets"]


def test_core_modules_import_no_qgis_qt_or_processing():
    modules = sorted(CORE.rglob("*.py"))
    assert len(modules) >= 8
    offenders = {str(m.relative_to(CORE)): forbidden_imports(m.read_text(encoding="utf-8")) for m in modules}
    assert {k: v for k, v in offenders.items() if v} == {}
