"""The core runs on numpy 1.24 (Debian 12) and on numpy 2.x, which users' QGIS builds ship: no name that numpy
2.0 removed (NEP 52) appears in the plugin, not even behind a fallback."""
import pathlib
import re

PLUGIN = pathlib.Path(__file__).resolve().parents[2] / "subsidence_plugin"
REMOVED = ("trapz", "product", "cumproduct", "sometrue", "alltrue", "in1d", "row_stack", "NaN", "Inf", "Infinity",
           "NINF", "PINF", "NZERO", "PZERO", "float_", "complex_", "string_", "unicode_", "round_", "asfarray",
           "find_common_type", "msort", "cast", "safe_eval", "set_string_function", "issubclass_", "mat",
           "recfromcsv", "recfromtxt", "deprecate", "disp", "byte_bounds", "who", "source", "lookfor",
           "compat", "geterrobj", "seterrobj", "add_newdoc_ufunc", "add_docstring", "issctype", "maximum_sctype",
           "obj2sctype", "sctype2char", "sctypes", "nbytes", "longfloat", "singlecomplex", "cfloat",
           "longcomplex", "clongfloat", "float96", "float128", "complex192", "complex256", "infty")
PATTERN = re.compile(r"\b(?:np|numpy)\.(" + "|".join(REMOVED) + r")\b")


def removed_names(source: str) -> list:
    return PATTERN.findall(source)


def test_the_scan_finds_removed_names():
    assert removed_names("a = np.trapz(y, x)\nb = numpy.in1d(a, b)\nc = np.trapezoid(y)\nd = np.nan") == \
        ["trapz", "in1d"]


def test_no_name_removed_in_numpy_2_is_used():
    found = {str(p.relative_to(PLUGIN)): removed_names(p.read_text(encoding="utf-8")) for p in PLUGIN.rglob("*.py")}
    assert {k: v for k, v in found.items() if v} == {}
