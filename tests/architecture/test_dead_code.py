"""Dead code and repeated literals stay out: every public top-level function and class of the plugin is used
somewhere (plugin, tests or scripts), and the nodata value and the sample-cell limit are written once."""
import ast
import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parents[2]
PLUGIN = ROOT / "subsidence_plugin"
ENTRY_POINTS = {"classFactory", "initGui", "unload", "initProcessing"}


def _sources():
    return {p: p.read_text(encoding="utf-8") for folder in ("subsidence_plugin", "tests", "scripts")
            for p in (ROOT / folder).rglob("*.py")}


def test_every_public_function_and_class_is_used():
    sources = _sources()
    unused = []
    for path, text in sources.items():
        if not path.is_relative_to(PLUGIN):
            continue
        for node in ast.parse(text).body:
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and not node.name.startswith("_") \
                    and node.name not in ENTRY_POINTS:
                word = re.compile(rf"\b{node.name}\b")
                uses = sum(len(word.findall(other)) for other in sources.values())
                if uses < 2:  # the definition itself
                    unused.append(f"{path.relative_to(ROOT)}: {node.name}")
    assert unused == []


def test_nodata_and_the_sample_limit_are_written_once():
    plugin = {p: t for p, t in _sources().items() if p.is_relative_to(PLUGIN)}
    nodata = [str(p.relative_to(ROOT)) for p, t in plugin.items() for line in t.splitlines()
              if re.search(r"(?<![\w.])-9999(\.0)?\b", line) and not line.lstrip().startswith(("#", '"'))
              and "nodata -9999" not in line]
    assert nodata == ["subsidence_plugin/core/io/rasters.py"]
    limits = [str(p.relative_to(ROOT)) for p, t in plugin.items() if re.search(r"\b1_?000_?000\b", t)]
    assert limits == ["subsidence_plugin/core/stats/classes.py"]
